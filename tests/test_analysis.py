"""Scenario comparison and sweeps on common random numbers, with paired difference errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from rich.console import Console

import mcengine
from mcengine.cli import cli
from mcengine.errors import InputError
from mcengine.studies.compare import compare, sweep


@pytest.fixture(scope="module")
def comparison():
    return compare(["base", "training_bust", "agentic_boom"], 20_000, seed=5)


def test_compare_matches_separate_runs(comparison):
    alone = mcengine.summarize(mcengine.simulate("training_bust", 20_000, seed=5))
    np.testing.assert_allclose(
        comparison["estimate"].sel(scenario="training_bust"), alone["estimate"], rtol=1e-12
    )
    assert list(comparison["scenario"].values) == ["base", "training_bust", "agentic_boom"]
    assert comparison.attrs["baseline"] == "base"
    np.testing.assert_allclose(
        comparison["difference"],
        comparison["estimate"] - comparison["estimate"].sel(scenario="base"),
        atol=1e-15,
    )
    assert float(abs(comparison["difference"].sel(scenario="base")).max()) == 0.0


def test_common_random_numbers_shrink_the_errors_of_differences(comparison):
    diff_se = comparison["difference_standard_error"].sel(
        scenario="training_bust", statistic="mean"
    )
    level_se = comparison["standard_error"].sel(statistic="mean")
    independent = np.hypot(level_se.sel(scenario="base"), level_se.sel(scenario="training_bust"))
    # At most 0.75 of the independent error (measured: 0.12, 0.38, 0.68). Training's is the
    # largest: under model 2 its spend answers to its premium, which training_bust raises.
    assert (diff_se < 0.75 * independent).all()


@pytest.mark.slow
@pytest.mark.statistical
def test_paired_batch_errors_match_the_spread_over_seeds():
    diffs = [
        compare(["base", "open_weights_win"], 4000, seed=s)["difference"]
        .sel(scenario="open_weights_win", statistic="mean")
        .values
        for s in range(30)
    ]
    observed = np.std(diffs, axis=0, ddof=1)
    reported = (
        compare(["base", "open_weights_win"], 4000, seed=99)["difference_standard_error"]
        .sel(scenario="open_weights_win", statistic="mean")
        .values
    )
    # 30 seeds and 20 batches: each s.d. is known to about 15-20%; allow a factor of 1.6.
    assert np.all((reported / observed > 1 / 1.6) & (reported / observed < 1.6))


def test_sweep_grid():
    table = sweep(
        "base",
        {"training_cost.decline_median": [0.7, 1.5, 2.3], "open_share.drift": [0.0, 0.4]},
        4000,
        seed=2,
    )
    assert table["estimate"].dims == (
        "training_cost.decline_median",
        "open_share.drift",
        "segment",
        "statistic",
    )
    point = mcengine.summarize(
        mcengine.simulate(
            mcengine.load_scenario(
                "base", {"training_cost.decline_median": 1.5, "open_share.drift": 0.4}
            ),
            4000,
            seed=2,
        )
    )
    np.testing.assert_allclose(
        table["estimate"].sel({"training_cost.decline_median": 1.5, "open_share.drift": 0.4}),
        point["estimate"],
        rtol=1e-12,
    )
    # Faster cost decline thins training's moat: its mean return falls along the axis.
    means = (
        table["estimate"]
        .sel(segment="training", statistic="mean", **{"open_share.drift": 0.0})
        .values
    )
    assert means[0] > means[1] > means[2]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: sweep("base", {"demand.volatility": [0.1, 9.0]}, 100, seed=1),
            r"^sweep: demand.volatility = 9, must be in \[0, 2\]$",
        ),
        (lambda: sweep("base", {}, 100, seed=1), "a sweep varies 1 or 2 keys, not 0"),
        (lambda: compare(["base", "base"], 100, seed=1), "distinct names"),
        (lambda: compare(["base"], 10, seed=1), "need batches >= 2 and at least 2 paths"),
    ],
)
def test_bad_requests(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_cli_compare_and_sweep():
    runner = CliRunner()
    table = runner.invoke(cli, ["compare", "base", "inference_glut", "-n", "2000", "--seed", "1"])
    assert table.exit_code == 0, table.output
    assert "inference: annual return (%)" in table.output and "Δ mean" in table.output
    doc = json.loads(
        runner.invoke(
            cli, ["compare", "base", "inference_glut", "-n", "2000", "--seed", "1", "--json"]
        ).stdout
    )
    assert [row["label"] for row in doc["rows"]] == ["base", "inference_glut"]
    assert doc["rows"][0]["segments"]["training"]["mean"]["difference"] == 0.0
    swept = json.loads(
        runner.invoke(
            cli,
            [
                "sweep",
                "base",
                "--vary",
                "training_cost.decline_median=0.7:2.3:3",
                "-n",
                "2000",
                "--seed",
                "1",
                "--json",
            ],
        ).stdout
    )
    assert [row["label"] for row in swept["rows"]] == ["0.7", "1.5", "2.3"]
    bad = runner.invoke(cli, ["sweep", "base", "--vary", "demand.volatility=0:1"])
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: mcengine sweep: Invalid value")
    missing = runner.invoke(cli, ["compare", "base", "nope"])
    assert missing.exit_code == 2 and 'scenario = "nope"' in missing.stderr


# -- how the variance-based tables and the check table read ----------------------------------
SEGMENTS = ["applications", "inference", "training"]
SOBOL = "independent inputs: Sobol indices apply"


def index_table(method: str = SOBOL, **variables) -> xr.Dataset:
    """A variance-based table of two inputs as the studies return it: each variable
    ``name=(estimates, standard errors)`` over (input, segment), with 95% intervals."""
    data = {}
    for name, (estimate, error) in variables.items():
        estimate, error = np.asarray(estimate, dtype=float), np.asarray(error, dtype=float)
        data[name] = (("input", "segment"), estimate)
        data[f"{name}_standard_error"] = (("input", "segment"), error)
        bounds = np.stack([estimate - 1.96 * error, estimate + 1.96 * error], axis=-1)
        data[f"{name}_ci"] = (("input", "segment", "bound"), bounds)
    coords = {
        "input": ["demand_path", "selection"],
        "kind": ("input", ["shock group", "shock group"]),
        "segment": SEGMENTS,
        "bound": ["low", "high"],
    }
    return xr.Dataset(data, coords=coords, attrs={"method": method, "n_paths": 4096})


def printed(render, *args, **kwargs) -> tuple[list[list[str]], str]:
    """What ``render`` prints at 80 columns: the table rows' cells, and the text with its
    whitespace collapsed (captions wrap)."""
    out = io.StringIO()
    render(*args, console=Console(width=80, file=out, highlight=False), **kwargs)
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines() if "│" in line]
    return rows, " ".join(text.split())


def test_index_cells_are_within_error_of_zero_never_negative_zero():
    from mcengine.present.variance import _index_cell

    assert _index_cell(-0.004, 0.003, -0.004 + 1.96 * 0.003) == "≈0 ± <0.01"
    assert _index_cell(-0.03, 0.02, 0.01) == "≈0 ± 0.02"
    assert _index_cell(-0.001, 0.0001, -0.0008) == "0.00 ± <0.01"  # below 0, but rounds to 0
    assert _index_cell(-0.05, 0.01, -0.03) == "-0.05 ± 0.01"  # below 0 beyond its error
    assert _index_cell(0.52, 0.018, 0.55) == "0.52 ± 0.02"
    assert _index_cell(0.0, 0.0, 0.0) == "0.00 ± 0"
    assert _index_cell(float("nan"), float("nan"), float("nan")) == "n/a"


SOBOL_FIRST = ([[0.10, 0.69, 0.38], [0.55, 0.0, -0.004]], [[0.01, 0.02, 0.01], [0.02, 0, 0.003]])
SOBOL_TOTAL = ([[0.20, 0.81, 0.40], [0.54, 0.0, 0.001]], [[0.02, 0.02, 0.01], [0.02, 0, 0.001]])


def test_sobol_table_shows_each_index_with_its_error_and_explains_first_above_total():
    from mcengine.present.variance import render_indices

    table = index_table(first_order=SOBOL_FIRST, total=SOBOL_TOTAL)
    rows, text = printed(render_indices, table)
    assert rows == [
        ["demand path S1", "0.10 ± 0.01", "0.69 ± 0.02", "0.38 ± 0.01"],
        ["ST", "0.20 ± 0.02", "0.81 ± 0.02", "0.40 ± 0.01"],
        ["selection   S1", "0.55 ± 0.02", "0.00 ± 0", "≈0 ± <0.01"],
        ["ST", "0.54 ± 0.02", "0.00 ± 0", "0.00 ± <0.01"],
    ]
    assert "-0.00" not in text
    assert (
        "≈0: a negative estimate whose 95% interval reaches 0 (a true index is never negative)"
        in text
    )
    assert (
        "S1 ≤ ST holds in truth; S1 above ST here (selection for applications) is sampling "
        "error, within 2 combined standard errors (no interactions to speak of); " + SOBOL
    ) in text
    # First-order above total by more than its errors is named as such, not explained away.
    beyond = index_table(first_order=([[0.1] * 3, [0.6, 0, 0]], [[0.01] * 3] * 2), total=(
        [[0.2] * 3, [0.5, 0, 0]], [[0.01] * 3] * 2
    ))  # fmt: skip
    assert (
        "beyond 2 combined standard errors for selection for applications: raise --sobol-paths"
        in printed(render_indices, beyond)[1]
    )


def test_shapley_caption_says_what_holds_and_checks_it_against_the_sobol_indices():
    from mcengine.present.variance import render_shapley

    sobol = index_table(first_order=SOBOL_FIRST, total=SOBOL_TOTAL)
    method = (
        "independent inputs: in truth each Shapley effect lies between the input's first-order "
        "and total Sobol indices; estimates from other paths may cross them by sampling error, "
        "so compare within both standard errors"
    )
    effects = [[0.15, 0.78, 0.41], [0.50, 0.0, 0.0]]
    errors = [[0.02, 0.01, 0.02], [0.02, 0.0, 0.0]]
    shapley = index_table(method, shapley=(effects, errors))
    rows, text = printed(render_shapley, shapley)
    assert rows == [
        ["demand path", "0.15 ± 0.02", "0.78 ± 0.01", "0.41 ± 0.02"],
        ["selection", "0.50 ± 0.02", "0.00 ± 0", "0.00 ± 0"],
    ]
    assert f"they add up to 1 per segment; ± one bootstrap standard error; {method}" in text
    # 0.41 ± 0.02 above a total of 0.40 ± 0.01, 0.50 ± 0.02 below a first order of 0.55 ±
    # 0.02: both within 2 combined standard errors, as the trial's 0.43 and 0.50 were.
    text = printed(render_shapley, shapley, sobol=sobol)[1]
    assert text.endswith("here each lies within 2 combined standard errors of them")
    effects[1][0] = 0.40
    text = printed(render_shapley, index_table(method, shapley=(effects, errors)), sobol=sobol)[1]
    assert text.endswith(
        "here all but selection for applications lie within 2 combined standard errors"
    )
    # With a copula the Sobol indices are of other inputs: nothing to check against.
    dependent = index_table("dependent inputs: Shapley effects apply", shapley=(effects, errors))
    assert "combined" not in printed(render_shapley, dependent, sobol=sobol)[1]


@pytest.mark.parametrize(
    ("value", "error", "shown"),
    [
        (1.0, 0.0067, "1.0000 ± 0.0067"),  # the report's "1 ± 0.0067"
        (0.28276, 0.0013, "0.2828 ± 0.0013"),  # the trial's "0.283 ± 0.0013"
        (0.0041512, 0.0000123, "0.004151 ± 0.000012"),
        (3.4127, 0.0104, "3.413 ± 0.010"),
        (1234.5, 150.0, "1234 ± 150"),
        (0.2, 0.0, "0.2 ± 0"),  # exact: three significant digits
        (float("nan"), 0.1, "n/a"),
    ],
)
def test_check_figures_show_the_digits_their_error_supports(value, error, shown):
    from mcengine.present.format import target_cell

    assert target_cell(value, error) == shown


@pytest.mark.parametrize(
    ("fields", "unit"),
    [
        ({"observable": "training_cost", "years": (0, 1)}, "× a year"),
        ({"observable": "demand", "years": (2, 5), "statistic": "quantile", "q": 0.9}, "× a year"),
        ({"observable": "open_share", "years": (0,)}, "fraction"),
        ({"observable": "demand", "years": (3,), "statistic": "mean"}, "× year 0"),
        ({"observable": "capex", "years": (2,)}, "model units"),
        (
            {
                "observable": "demand",
                "years": (0, 1),
                "statistic": "probability",
                "between": (5, 9),
            },
            "share of paths",
        ),
        ({"parameter": "inference.useful_life"}, "key value"),
    ],
)
def test_check_figures_state_their_unit(fields, unit):
    from mcengine.model.targets import Source, Target

    source = Source(title="t", publisher="p", year=2025, measured="m")
    target = Target(name="x", label="x", interval=(0.0, 1.0), source=source, **fields)
    assert target.unit == unit
