"""Stress overlays: deterministic shocks from [[stress]] tables, validated like every key."""

from __future__ import annotations

import numpy as np
import pytest

import mcengine
from mcengine.errors import ScenarioError
from mcengine.model.scenario import load_scenario


def with_stress(tmp_path, body: str, name: str = "s.toml"):
    path = tmp_path / name
    path.write_text('extends = "base"\n' + body, encoding="utf-8")
    return load_scenario(path)


def test_shocks_move_the_drivers_exactly(tmp_path):
    sc = with_stress(
        tmp_path,
        "[[stress]]\nyear = 3\ndemand = -0.5\nopen_share = 1.0\n"
        "training_cost = -0.25\n"
        "[[stress]]\nyear = 5\ndemand = 0.2\n",
    )
    plain = mcengine.simulate("base", 2000, seed=3)
    shocked = mcengine.simulate(sc, 2000, seed=3)
    np.testing.assert_allclose(np.log(shocked["demand"] / plain["demand"]), -0.3, atol=1e-12)
    np.testing.assert_allclose(
        np.log(shocked["training_cost"] / plain["training_cost"]), -0.25, atol=1e-12
    )
    logit = np.log(shocked["open_share"] / (1 - shocked["open_share"]))
    logit0 = np.log(plain["open_share"] / (1 - plain["open_share"]))
    np.testing.assert_allclose(logit - logit0, 1.0, atol=1e-9)


def test_sentiment_hit_lowers_returns_and_raises_crashes(tmp_path):
    sc = with_stress(tmp_path, "[[stress]]\nyear = 2\nsentiment = -1.0\n")
    plain = mcengine.summarize(mcengine.simulate("base", 5000, seed=4))
    shocked = mcengine.summarize(mcengine.simulate(sc, 5000, seed=4))
    lower = shocked["estimate"].sel(statistic="mean") < plain["estimate"].sel(statistic="mean")
    # Applications and inference lose; training gains under model 2: its spend answers to its
    # premium, so a deflated premium cuts the spend that its investors fund (measured: -4.7%
    # a year against -12.5%).
    assert lower.sel(segment=["applications", "inference"]).all()
    assert not bool(lower.sel(segment="training"))
    assert float(shocked["p_crash"]) > float(plain["p_crash"])


def test_builtin_stress_scenario_round_trips(tmp_path):
    sc = load_scenario("deepseek_shock")
    assert len(sc.stress) == 1 and sc.stress[0].open_share == 1.0
    path = tmp_path / "again.toml"
    path.write_text(sc.to_toml(), encoding="utf-8")
    assert load_scenario(path) == sc
    assert load_scenario("base").stress == ()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[[stress]]\nyear = 1\ndemand = 9\n", "stress[0].demand = 9, must be in [-5, 5]"),
        (
            "[[stress]]\nyear = 1\n[[stress]]\nyear = 2\nsentimnet = 1\n",
            "unknown key stress[1].sentimnet; did you mean stress[1].sentiment?",
        ),
        (
            "[[stress]]\nyear = 1.5\n",
            "stress[0].year = 1.5, must be a step end (a whole year) in (0, 10]",
        ),
        ("[[stress]]\nyear = 11\n", "stress[0].year = 11, must be a step end"),
        ("stress = 3\n", "stress must be a list of [[stress]] tables"),
    ],
)
def test_bad_stress_is_refused(tmp_path, body, message):
    with pytest.raises(ScenarioError) as err:
        with_stress(tmp_path, body)
    assert message in str(err.value)


def test_shocks_with_zero_volatility_are_exact(tmp_path):
    """Issue 5: with every volatility at zero the drivers are deterministic, so a shock's
    effect can be written down."""
    quiet = (
        "[demand]\nvolatility = 0\ngrowth_initial_sd = 0\njump_rate = 0\n"
        "[training_cost]\nvolatility = 0\ndecline_dispersion = 0\n"
        "[open_share]\nvolatility = 0\n"
    )
    plain = with_stress(tmp_path, quiet, "plain.toml")
    shocked = with_stress(
        tmp_path,
        quiet + "[[stress]]\nyear = 4\ndemand = 0.3\ntraining_cost = -1.0\nopen_share = -2.0\n",
        "shocked.toml",
    )
    a = mcengine.simulate(plain, 50, seed=1)
    b = mcengine.simulate(shocked, 50, seed=9)  # any seed: nothing random left in the drivers
    np.testing.assert_allclose(np.log(b["demand"] / a["demand"]), 0.3, atol=1e-12)
    np.testing.assert_allclose(np.log(b["training_cost"] / a["training_cost"]), -1.0, atol=1e-12)
    np.testing.assert_allclose(np.log(a["training_cost"]), -1.25 * 10, atol=1e-12)
    x0 = np.log(0.2 / 0.8) + 10 * 0.05
    np.testing.assert_allclose(np.log(b["open_share"] / (1 - b["open_share"])), x0 - 2.0, atol=1e-9)
