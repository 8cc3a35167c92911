"""Driver processes against their closed forms, within stated standard errors (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import mcengine
from mcengine.rng.streams import draw_table

pytestmark = pytest.mark.statistical
N = 40_000
SEED = 314159


def _run(overrides, n=N, seed=SEED):
    return mcengine.simulate(mcengine.load_scenario("base", overrides), n, seed=seed)


def _assert_normal_moments(sample, mean, var):
    n = sample.size
    # Mean: s.e. sqrt(var/n). Variance: s.e. var*sqrt(2/(n-1)) for normal data. Within 4 s.e.
    assert abs(sample.mean() - mean) < 4 * np.sqrt(var / n)
    assert abs(sample.var(ddof=1) - var) < 4 * var * np.sqrt(2 / (n - 1))
    assert stats.kstest((sample - mean) / np.sqrt(var), "norm").pvalue > 1e-3


@pytest.mark.parametrize("steps_per_year", [1, 4, 12])
def test_log_training_cost_is_gaussian_without_dispersion(steps_per_year):
    lam, sigma, horizon = 1.25, 0.15, 10
    ds = _run(
        {"training_cost.decline_dispersion": 0.0, "simulation.steps_per_year": steps_per_year},
        n=N // steps_per_year,
    )
    _assert_normal_moments(np.log(ds["training_cost"].values), -lam * horizon, sigma**2 * horizon)


@pytest.mark.parametrize("steps_per_year", [1, 12])
def test_logit_open_share_is_gaussian_without_coupling(steps_per_year):
    s0, drift, vol, horizon = 0.2, 0.05, 0.35, 10
    ds = _run(
        {"open_share.cost_coupling": 0.0, "simulation.steps_per_year": steps_per_year},
        n=N // steps_per_year,
    )
    s = ds["open_share"].values
    _assert_normal_moments(
        np.log(s / (1 - s)), np.log(s0 / (1 - s0)) + drift * horizon, vol**2 * horizon
    )


@pytest.mark.parametrize(("kappa", "steps_per_year"), [(0.45, 1), (0.45, 4), (0.0, 1), (3.0, 12)])
def test_deterministic_demand_follows_the_trapezoid_of_the_ou_mean(kappa, steps_per_year):
    g0, g_long, horizon = 1.386, 0.22, 10
    ds = _run(
        {
            "demand.volatility": 0.0,
            "demand.jump_rate": 0.0,
            "demand.growth_initial_sd": 0.0,
            "demand.growth_reversion": kappa,
            "simulation.steps_per_year": steps_per_year,
        },
        n=64,
    )
    dt = 1 / steps_per_year
    t = np.arange(horizon * steps_per_year + 1) * dt
    g = g_long + (g0 - g_long) * np.exp(-kappa * t)
    expected = np.sum(0.5 * (g[1:] + g[:-1])) * dt
    np.testing.assert_allclose(np.log(ds["demand"].values), expected, rtol=1e-12)


def test_demand_jumps_are_poisson():
    rate, size, horizon = 0.7, 0.25, 10
    ds = _run(
        {
            "demand.volatility": 0.0,
            "demand.growth_initial_sd": 0.0,
            "demand.growth_initial_mean": 0.0,
            "demand.growth_long_run": 0.0,
            "demand.jump_rate": rate,
            "demand.jump_size": size,
        }
    )
    counts = np.log(ds["demand"].values) / size
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    mu = rate * horizon
    n = counts.size
    assert abs(counts.mean() - mu) < 4 * np.sqrt(mu / n)
    # Var of the sample variance of a Poisson: (mu + 2 mu^2 (n/(n-1))) / n, approximately.
    assert abs(counts.var(ddof=1) - mu) < 4 * np.sqrt((mu + 2 * mu**2) / n)
    observed = np.bincount(np.round(counts).astype(int), minlength=25)[:15]
    expected = stats.poisson.pmf(np.arange(15), mu) * n
    keep = expected > 20
    assert (
        stats.chisquare(
            observed[keep], expected[keep] * observed[keep].sum() / expected[keep].sum()
        ).pvalue
        > 1e-3
    )


def test_demand_growth_ou_variance():
    """With no jumps, log D is Gaussian with the variance of the integrated exact OU."""
    kappa, vol, sd0, horizon = 0.45, 0.2, 0.4, 10
    ds = _run(
        {
            "demand.jump_rate": 0.0,
            "demand.growth_reversion": kappa,
            "demand.volatility": vol,
            "demand.growth_initial_sd": sd0,
        }
    )
    # Exact covariance of g on the grid, then the trapezoid sum's variance.
    t = np.arange(horizon + 1.0)
    decay = np.exp(-kappa * np.abs(t[:, None] - t[None, :]))
    tmin = np.minimum(t[:, None], t[None, :])
    cov = sd0**2 * np.exp(-kappa * (t[:, None] + t[None, :])) + vol**2 / (2 * kappa) * (
        decay - np.exp(-kappa * (t[:, None] + t[None, :]))
    )
    del tmin
    weights = np.full(horizon + 1, 1.0)
    weights[[0, -1]] = 0.5
    var = weights @ cov @ weights
    g_long, g0 = 0.22, 1.386
    mean = np.sum(weights * (g_long + (g0 - g_long) * np.exp(-kappa * t)))
    _assert_normal_moments(np.log(ds["demand"].values), mean, var)


def test_selection_spread_is_the_exact_mean_preserving_factor():
    n = 5000
    with_spread = _run({"applications.selection_dispersion": 1.3}, n=n)
    without = _run({"applications.selection_dispersion": 0.0}, n=n)
    z_sel = draw_table(SEED, n, 10)[0][:, 2]
    w1 = with_spread["total_return"].sel(segment="applications").values
    w0 = without["total_return"].sel(segment="applications").values
    alive = w0 > 0
    np.testing.assert_allclose(
        w1[alive] / w0[alive], np.exp(1.3 * z_sel[alive] - 0.5 * 1.3**2), rtol=1e-12
    )
    np.testing.assert_array_equal(w1[~alive], 0.0)
    for seg in ("inference", "training"):
        np.testing.assert_array_equal(
            with_spread["total_return"].sel(segment=seg), without["total_return"].sel(segment=seg)
        )
