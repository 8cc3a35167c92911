"""Scenario comparison and sweeps on common random numbers, with paired difference errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

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
    assert (diff_se < 0.5 * independent).all()


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
