"""Weighing versus voting: the exact split of ln W, its edge cases and closed forms."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

import mcengine
from mcengine.cli import cli
from mcengine.layout import WIPE_CASH_SHORTFALL, WIPE_ZERO_VALUE
from mcengine.stats.attribution import CONTRIBUTIONS

SCENARIOS = {
    "base": {},
    "training_bust": {},
    "monthly": {"simulation.steps_per_year": 12, "simulation.horizon_years": 5},
    # Extreme, but inside float64: sentiment volatility 3 compounds payouts on collapsed
    # values past 1e308 on some paths (refused, see test_edge_cases), and so does the Jevons
    # response when token prices underflow.
    "extreme": {
        "valuation.sentiment_volatility": 1.5,
        "valuation.contagion_jump": 5.0,
        "valuation.crash_threshold": 0.1,
        "demand.volatility": 2.0,
        "training_cost.decline_dispersion": 2.0,
        "demand.price_elasticity": 0.0,
    },
    "long": {"simulation.horizon_years": 100, "valuation.crash_window_years": 10},
}


@pytest.mark.parametrize("case", list(SCENARIOS))
def test_components_sum_to_log_wealth(case):
    name = case if case in mcengine.builtin_scenarios() else "base"
    ds = mcengine.simulate(mcengine.load_scenario(name, SCENARIOS[case] or None), 5000, seed=4)
    alive = ds["wipe_cause"].values == 0
    total = ds["total_return"].values
    parts = ds["components"].values
    # An investor can survive with W below 2.2e-308, where W is subnormal (few significant
    # bits) or 0: there the components are compared with the threshold instead.
    tiny = np.finfo(np.float64).tiny
    shown = alive & (total >= tiny)
    log_w = np.log(total, where=shown, out=np.zeros(alive.shape))
    scale = np.maximum(np.abs(parts).sum(axis=-1), 1.0)
    assert np.all(np.abs(parts.sum(axis=-1) - log_w)[shown] <= 1e-12 * scale[shown])
    assert np.all(parts.sum(axis=-1)[alive & ~shown] < np.log(tiny) + 1e-9)
    assert np.all(parts[~alive] == 0)
    assert np.all(np.isnan(ds["wipe_year"].values[alive]))
    assert np.all(np.isfinite(ds["wipe_year"].values[~alive]))


def test_no_sentiment_component_without_sentiment():
    sc = mcengine.load_scenario(
        "base",
        {
            "valuation.sentiment_volatility": 0.0,
            "valuation.initial_premium": [1, 1, 1],
            "valuation.crash_threshold": 1.0,
        },
    )
    ds = mcengine.simulate(sc, 2000, seed=1)
    assert np.all(ds["components"].sel(component=["sentiment", "contagion"]).values == 0.0)


def test_sentiment_component_follows_the_decaying_premium():
    """z's mean decays deterministically: E[z_H - z_0] = z_0 (exp(-kappa H) - 1)."""
    premium, half_life, horizon = [1.5, 2.0, 3.0], 4.0, 10
    quiet = {
        "valuation.initial_premium": premium,
        "valuation.sentiment_half_life": half_life,
        "valuation.crash_threshold": 1.0,
        "inference.capex_initial": 0.5,
        # model 2's training spend answers to its premium and can wipe training out: off,
        # so that every training path survives and the mean is unconditional
        "training.spend_q_response": 0.0,
    }
    z0 = np.log(premium)
    expected = z0 * (math.exp(-math.log(2) / half_life * horizon) - 1)
    # Without noise the component equals its closed form on every surviving path ...
    exact = mcengine.simulate(
        mcengine.load_scenario("base", {**quiet, "valuation.sentiment_volatility": 0.0}),
        3000,
        seed=2,
    )
    alive = exact["wipe_cause"].values == 0
    sentiment = exact["components"].sel(component="sentiment").values
    for s in range(3):
        np.testing.assert_allclose(sentiment[alive[:, s], s], expected[s], rtol=1e-12)
    # ... and with noise its mean is within 4 s.e. on every path (none is wiped out here
    # for training; the others are checked on all paths' z via the same draws).
    noisy = mcengine.simulate(mcengine.load_scenario("base", quiet), 20000, seed=3)
    alive = noisy["wipe_cause"].values == 0
    sentiment = noisy["components"].sel(component="sentiment").values
    assert alive[:, 2].all()
    x = sentiment[:, 2]
    assert abs(x.mean() - expected[2]) < 4 * x.std(ddof=1) / np.sqrt(x.size)


def test_wipe_out_causes(training_wiped_out):
    zero_value = training_wiped_out
    training = zero_value.sel(segment="training")
    assert np.all(training["wipe_cause"].values == WIPE_ZERO_VALUE)
    assert np.all(training["wipe_year"].values == 1.0)
    shortfall = mcengine.simulate(
        mcengine.load_scenario("base", {"inference.capex_initial": 60.0}), 500, seed=1
    )
    inference = shortfall.sel(segment="inference")
    wiped = inference["wipe_cause"].values != 0
    assert wiped.mean() > 0.5
    assert np.all(inference["wipe_cause"].values[wiped] == WIPE_CASH_SHORTFALL)
    assert np.all(inference["total_return"].values[wiped] == 0)


def test_contributions_add_up_to_the_mean_annual_return():
    full = mcengine.summarize(mcengine.simulate("training_bust", 30000, seed=6))
    assert list(full["component"].values) == list(CONTRIBUTIONS)
    np.testing.assert_allclose(
        full["contribution"].sum("component"),
        full["estimate"].sel(statistic="mean"),
        rtol=1e-12,
        atol=1e-15,
    )
    streamed = mcengine.simulate("training_bust", 30000, seed=6, keep_paths=False, chunk_paths=7000)
    np.testing.assert_allclose(streamed["contribution"], full["contribution"], atol=1e-14)
    np.testing.assert_allclose(
        streamed["contribution_standard_error"], full["contribution_standard_error"], rtol=1e-8
    )
    assert (full["contribution_standard_error"] >= 0).all()


def test_explain_command(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["explain", "-n", "5000", "--seed", "1"])
    assert result.exit_code == 0, result.output
    for text in (
        "fundamentals",
        "sentiment",
        "net payout",
        "wipe-outs",
        "= mean annual return",
        "of which voting",
        "weighing only",
    ):
        assert text in result.output
    doc = json.loads(runner.invoke(cli, ["explain", "-n", "5000", "--seed", "1", "--json"]).stdout)
    training = doc["segments"]["training"]
    total = sum(training[part]["estimate"] for part in CONTRIBUTIONS)
    assert total == pytest.approx(training["mean_annual_return"]["estimate"], abs=1e-12)
    bad = runner.invoke(cli, ["explain", "--set", "demand.volatility=9"])
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: scenarios/base.toml with --set")
