"""Tails and joint risk against direct computations, in full and streamed summaries."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import mcengine
from mcengine.errors import InputError


@pytest.fixture(scope="module")
def run():
    ds = mcengine.simulate("training_bust", 20_000, seed=12)
    return ds, mcengine.summarize(ds)


def test_correlations(run):
    ds, table = run
    annual = ds["annual_return"].values
    np.testing.assert_allclose(table["correlation_pearson"], np.corrcoef(annual.T), atol=1e-12)
    np.testing.assert_allclose(
        table["correlation_spearman"], stats.spearmanr(annual).statistic, atol=1e-12
    )


def test_joint_loss_and_conditional_means(run):
    ds, table = run
    total = ds["total_return"].values
    annual = ds["annual_return"].values
    origin = ds["crash_origin"].values
    assert float(table["p_all_lose"]) == np.mean((total < 1).all(axis=1))
    masks = {
        "no_crash": origin < 0,
        "crash": origin >= 0,
        "crash_in_applications": origin == 0,
        "crash_in_inference": origin == 1,
        "crash_in_training": origin == 2,
    }
    for condition, mask in masks.items():
        assert int(table["condition_paths"].sel(condition=condition)) == mask.sum()
        if mask.sum() > 1:
            got = table["conditional_mean"].sel(condition=condition).values
            np.testing.assert_allclose(got, annual[mask].mean(axis=0), atol=1e-12)
    years = table["crash_year_probability"]
    assert float(years.sum()) == pytest.approx(float(table["p_crash"]))
    assert list(years["year"].values) == list(range(1, 11))


def test_portfolio_tail(run):
    ds, table = run
    wealth = ds["total_return"].values.mean(axis=1)
    annual = np.where(wealth > 0, wealth ** (1 / 10) - 1, -1.0)
    portfolio = table["portfolio"]
    assert float(portfolio.sel(portfolio_statistic="mean")) == pytest.approx(annual.mean())
    q05 = np.quantile(annual, 0.05)
    assert float(portfolio.sel(portfolio_statistic="var95")) == pytest.approx(-q05)
    worst = np.sort(annual)[: int(0.05 * annual.size)]
    se = float(table["portfolio_standard_error"].sel(portfolio_statistic="cvar95"))
    assert abs(float(portfolio.sel(portfolio_statistic="cvar95")) + worst.mean()) < 4 * se
    # Diversification: the portfolio's 95% ES is below the average of the segments' ES.
    assert float(portfolio.sel(portfolio_statistic="cvar95")) < float(
        table["estimate"].sel(statistic="cvar95").mean()
    )


def test_portfolio_weights(run):
    ds, _ = run
    only_apps = mcengine.summarize(ds, portfolio_weights=[2, 0, 0])
    assert only_apps.attrs["portfolio_weights"] == [1.0, 0.0, 0.0]
    assert float(only_apps["portfolio"].sel(portfolio_statistic="mean")) == pytest.approx(
        float(only_apps["estimate"].sel(segment="applications", statistic="mean")), rel=1e-12
    )
    with pytest.raises(InputError, match=r"weights = \[1, -1, 0\], must be 3 non-negative"):
        mcengine.summarize(ds, portfolio_weights=[1, -1, 0])


def test_streamed_joint_statistics_match(run):
    ds, table = run
    streamed = mcengine.simulate(
        "training_bust", 20_000, seed=12, keep_paths=False, chunk_paths=3000
    )
    for name in ("correlation_pearson", "conditional_mean", "crash_year_probability"):
        np.testing.assert_allclose(streamed[name], table[name], atol=1e-12)
    assert float(streamed["p_all_lose"]) == float(table["p_all_lose"])
    bound = streamed.attrs["quantile_error_bound"]
    diff = abs(streamed["portfolio"] - table["portfolio"]).sel(portfolio_statistic=["q05", "var95"])
    assert float(diff.max()) <= bound
    assert "correlation_spearman" not in streamed


def test_a_constant_segment_has_undefined_correlations(training_wiped_out):
    # A segment whose return never varies has no correlation to measure: NaN (n/a), not 0.
    ds = training_wiped_out
    table = mcengine.summarize(ds)
    for name in ("correlation_pearson", "correlation_spearman"):
        corr = table[name].values
        assert np.isnan(corr[2]).all() and np.isnan(corr[:, 2]).all()
        assert np.isfinite(corr[:2, :2]).all() and corr[0, 0] == corr[1, 1] == 1.0
