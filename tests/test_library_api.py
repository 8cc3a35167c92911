"""The library behaves like numpy's and xarray's (issue 27, point 8), and shows its overrides
(point 7): integral floats as path counts, array-likes wherever lists go, a TypeError that
says what summarize wants, results that name their overrides, and ``ds.mcengine`` tables
for notebooks."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import mcengine
from mcengine.errors import InputError, ScenarioError

N = 600


@pytest.fixture(scope="module")
def run():
    return mcengine.simulate("base", N, seed=3)


# -- path counts -------------------------------------------------------------------------------
def test_an_integral_float_is_a_path_count(run):
    xr.testing.assert_identical(
        mcengine.simulate("base", 6e2, seed=3).drop_attrs(), run.drop_attrs()
    )
    assert mcengine.simulate("base", np.float32(6e2), seed=3).attrs["n_paths"] == N


def test_a_fractional_path_count_is_refused_in_one_line():
    with pytest.raises(InputError, match=r"^n_paths = 600.5, must be an integer in \[1, \d+\]$"):
        mcengine.simulate("base", 600.5, seed=3)


def test_compare_and_sweep_take_float_path_counts():
    table = mcengine.compare(["base", "training_bust"], 4e2, seed=1, batches=4)
    assert int(table.attrs["n_paths"]) == 400
    with pytest.raises(InputError, match=r"n_paths = 400.5, must be an integer"):
        mcengine.sweep("base", {"demand.volatility": [0.1, 0.2]}, 400.5, seed=1)


# -- array-likes -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [np.array([1, 1.5, 3]), (1, 1.5, 3), [np.float32(1), np.int64(1.5 * 2) / 2, 3]],
    ids=["array", "tuple", "numpy scalars"],
)
def test_array_likes_are_lists(value):
    sc = mcengine.load_scenario("base", {"valuation.initial_premium": value})
    assert sc == mcengine.load_scenario("base", {"valuation.initial_premium": [1, 1.5, 3]})
    assert sc.valuation.initial_premium == (1.0, 1.5, 3.0)


def test_numpy_scalars_are_numbers_everywhere():
    overrides = {
        "demand.volatility": np.float32(0.25),
        "simulation.horizon_years": np.int64(5),
        "open_share.drift": {"dist": "pert", "min": np.float64(-0.1), "mode": 0.05, "max": 0.2},
    }
    sc = mcengine.load_scenario("base", overrides)
    assert sc.demand.volatility == 0.25 and sc.simulation.horizon_years == 5
    assert [b.key for b in sc.beliefs] == ["open_share.drift"]
    assert tomllib.loads(sc.to_toml())["simulation"]["horizon_years"] == 5


def test_a_wrong_array_still_names_the_key():
    with pytest.raises(ScenarioError, match=r"valuation.initial_premium = \[1.0, 2.0\], must be"):
        mcengine.load_scenario("base", {"valuation.initial_premium": np.array([1.0, 2.0])})
    with pytest.raises(ScenarioError, match=r"demand.volatility = \[0.1, 0.2\], must be a number"):
        mcengine.load_scenario("base", {"demand.volatility": np.array([0.1, 0.2])})


def test_portfolio_weights_may_be_an_array():
    summary = mcengine.simulate("base", N, seed=3, keep_paths=False, portfolio_weights=(1, 2, 1))
    same = mcengine.simulate(
        "base", N, seed=3, keep_paths=False, portfolio_weights=np.array([1, 2, 1])
    )
    xr.testing.assert_identical(same.drop_attrs(), summary.drop_attrs())


# -- summarize's TypeError ---------------------------------------------------------------------
@pytest.mark.parametrize(("value", "kind"), [(np.zeros(3), "ndarray"), ({}, "dict")])
def test_summarize_says_what_it_wants(value, kind):
    with pytest.raises(
        TypeError,
        match=r"^summarize needs the xarray.Dataset that mcengine.simulate returns \(or a result "
        rf"file read with mcengine.read_result\), not {kind}$",
    ):
        mcengine.summarize(value)
    assert mcengine.read_result is mcengine.results.files.read_result


# -- overrides are visible ---------------------------------------------------------------------
def test_results_name_and_record_their_overrides():
    sc = mcengine.load_scenario("base", {"demand.volatility": 0.3})
    assert (sc.name, sc.label) == ("base", "base + 1 override")
    two = sc.with_overrides({"valuation.initial_premium": np.array([1, 2, 3])})
    assert two.label == "base + 2 overrides" and two.name == "base"
    assert two.overrides_toml() == (
        "demand.volatility = 0.3\nvaluation.initial_premium = [1, 2, 3]\n"
    )
    assert tomllib.loads(two.overrides_toml()) == {
        "demand": {"volatility": 0.3},
        "valuation": {"initial_premium": [1, 2, 3]},
    }
    ds = mcengine.simulate(sc, 100, seed=1)
    assert ds.attrs["scenario_name"] == "base + 1 override"
    assert ds.attrs["overrides"] == "demand.volatility = 0.3\n"
    assert mcengine.summarize(ds).attrs["scenario_name"] == "base + 1 override"
    plain = mcengine.simulate("base", 100, seed=1)
    assert plain.attrs["scenario_name"] == "base" and "overrides" not in plain.attrs


def test_a_belief_override_is_one_line_of_toml():
    table = {"dist": "pert", "min": -0.1, "mode": 0.05, "max": 0.2}
    sc = mcengine.load_scenario("base", {"open_share.drift": table})
    text = sc.overrides_toml()
    assert text.count("\n") == 1 and tomllib.loads(text) == {"open_share": {"drift": table}}


def test_the_cli_header_shows_the_overrides():
    from mcengine.cli import cli

    args = ["run", "--set", "demand.volatility=0.3", "-n", "1000", "--seed", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "scenario base + 1 override: 1,000 paths, seed 1" in result.output


def test_compare_labels_scenarios_by_their_overrides():
    a = mcengine.load_scenario("base", {"demand.volatility": 0.3})
    b = mcengine.load_scenario("base", {"demand.volatility": 0.1})
    one = mcengine.compare(["base", a], 400, seed=1, batches=4)
    assert list(one["scenario"].values) == ["base", "base + 1 override"]
    both = mcengine.compare(["base", a, b], 400, seed=1, batches=4)
    assert list(both["scenario"].values) == [
        "base",
        "base + demand.volatility = 0.3",
        "base + demand.volatility = 0.1",
    ]
    xr.testing.assert_identical(
        both.sel(scenario="base").drop_attrs(), one.sel(scenario="base").drop_attrs()
    )
    with pytest.raises(InputError, match="with distinct names"):
        mcengine.compare([a, a], 400, seed=1, batches=4)


def test_sweep_keeps_its_base_label():
    base = mcengine.load_scenario("base", {"demand.jump_rate": 0.2})
    table = mcengine.sweep(base, {"demand.volatility": np.array([0.1, 0.3])}, 400, seed=1)
    assert table.attrs["scenario_name"] == "base + 1 override"
    assert list(table["demand.volatility"].values) == [0.1, 0.3]


# -- ds.mcengine --------------------------------------------------------------------------------
def test_the_accessor_summarises_like_summarize(run):
    xr.testing.assert_identical(run.mcengine.summary(), mcengine.summarize(run))
    weights = np.array([1, 0, 0])
    xr.testing.assert_identical(
        run.mcengine.summary(weights), mcengine.summarize(run, portfolio_weights=weights)
    )


def test_the_table_renders_as_html_with_standard_errors(run):
    page = run.mcengine.table()._repr_html_()
    assert page.startswith("<p><b>scenario base: 600 paths, seed 3, 10-year horizon</b></p>")
    assert page.count("<table>") == 1 and page.count("<tr>") == 1 + 13  # header, statistics
    for segment in mcengine.layout.SEGMENTS:
        assert f"<th>{segment}</th>" in page
    for label in ("mean annual return", "median", "VaR 95%", "P(wiped out)", "P(contagion crash)"):
        assert label in page
    mean = mcengine.summarize(run)["estimate"].sel(segment="training", statistic="mean")
    assert f"{float(mean) * 100:.2f} ± " in page
    assert page.count(" ± ") >= 3 * 13 + 1
    assert run.mcengine._repr_html_() == page  # shown on its own, it is the table


def test_the_table_as_text_is_the_terminals(run):
    text = repr(run.mcengine.table())
    assert text.splitlines()[0] == "scenario base: 600 paths, seed 3, 10-year horizon"
    assert "mean annual return" in text and " ± " in text and "joint risk" in text
    assert "\x1b[" not in text and all(line == line.rstrip() for line in text.splitlines())

    class Printer:
        def text(self, value):
            self.value = value

    printer = Printer()
    run.mcengine.table()._repr_pretty_(printer, cycle=False)
    assert printer.value == text


def test_the_table_works_on_a_summary_and_refuses_a_comparison():
    summary = mcengine.simulate("base", N, seed=3, keep_paths=False)
    assert "<table>" in summary.mcengine.table()._repr_html_()
    comparison = mcengine.compare(["base", "training_bust"], 400, seed=1, batches=4)
    with pytest.raises(TypeError, match="select one scenario or grid point first"):
        comparison.mcengine.table()
    assert "<table>" in comparison.sel(scenario="training_bust").mcengine.table()._repr_html_()
