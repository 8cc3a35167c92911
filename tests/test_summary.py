"""summarize(): statistics against direct numpy computations, and honest standard errors."""

from __future__ import annotations

import numpy as np
import pytest

import mcengine
from mcengine.errors import ResultFileError
from mcengine.summary import QUANTILES, STATISTICS


def test_shape_and_labels(base_run):
    table = mcengine.summarize(base_run)
    assert table["estimate"].dims == ("segment", "statistic")
    assert list(table["segment"].values) == ["applications", "inference", "training"]
    assert list(table["statistic"].values) == list(STATISTICS)
    assert table["standard_error"].dims == ("segment", "statistic")
    for name in ("estimate", "standard_error", "p_crash", "p_crash_standard_error"):
        assert np.isfinite(table[name].values).all()
    assert (table["standard_error"] >= 0).all()
    assert table.attrs["n_paths"] == 20_000


def test_statistics_match_direct_computation(base_run):
    table = mcengine.summarize(base_run)
    for i, seg in enumerate(base_run["segment"].values):
        x = base_run["annual_return"].values[:, i]
        w = base_run["total_return"].values[:, i]
        est = table["estimate"].sel(segment=seg)
        assert est.sel(statistic="mean") == pytest.approx(x.mean(), rel=1e-12)
        assert est.sel(statistic="std") == pytest.approx(x.std(ddof=1), rel=1e-12)
        for q in QUANTILES:
            stat = f"q{round(q * 100):02d}"
            assert est.sel(statistic=stat) == pytest.approx(np.quantile(x, q), rel=1e-12)
        q05 = np.quantile(x, 0.05)
        assert est.sel(statistic="var95") == pytest.approx(-q05)
        # CVaR = minus the mean of the worst 5% (up to the interpolated boundary).
        worst = np.sort(x)[: int(0.05 * x.size)]
        se = float(table["standard_error"].sel(segment=seg, statistic="cvar95"))
        assert abs(float(est.sel(statistic="cvar95")) + worst.mean()) < 4 * se + 1e-4
        assert est.sel(statistic="p_loss") == pytest.approx(np.mean(w < 1))
        assert est.sel(statistic="p_wiped_out") == pytest.approx(np.mean(w == 0))
        mdd = base_run["max_drawdown"].values[:, i]
        assert est.sel(statistic="median_max_drawdown") == pytest.approx(np.median(mdd))
        origin = base_run["crash_origin"].values == i
        assert est.sel(statistic="p_crash_origin") == pytest.approx(origin.mean())
    assert float(table["p_crash"]) == pytest.approx(np.mean(base_run["crash_origin"] >= 0))


def test_standard_errors_match_textbook_formulas(base_run):
    table = mcengine.summarize(base_run)
    n = base_run.sizes["path"]
    x = base_run["annual_return"].values[:, 2]
    se = table["standard_error"].sel(segment="training")
    assert float(se.sel(statistic="mean")) == pytest.approx(x.std(ddof=1) / np.sqrt(n))
    p = np.mean(base_run["total_return"].values[:, 2] < 1)
    assert float(se.sel(statistic="p_loss")) == pytest.approx(np.sqrt(p * (1 - p) / n))


@pytest.mark.statistical
def test_standard_errors_agree_with_the_spread_of_independent_runs():
    """The reported s.e. of the mean and median matches the spread over 40 seeds (within
    the sampling error of a 40-sample standard deviation, about 11%; we allow 35%)."""
    tables = [mcengine.summarize(mcengine.simulate("base", 4000, seed=1000 + k)) for k in range(40)]
    for stat in ("mean", "q50", "p_loss", "cvar95"):
        estimates = np.array([t["estimate"].sel(statistic=stat).values for t in tables])
        reported = np.mean([t["standard_error"].sel(statistic=stat).values for t in tables], axis=0)
        observed = estimates.std(axis=0, ddof=1)
        np.testing.assert_allclose(reported, observed, rtol=0.35, err_msg=stat)


def test_quantile_error_is_zero_on_an_atom():
    ds = mcengine.simulate(
        mcengine.load_scenario("base", {"training.brand_moat": 0.0, "training.tech_premium": 0.0}),
        500,
        seed=1,
    )
    table = mcengine.summarize(ds)
    training = table.sel(segment="training")
    assert float(training["estimate"].sel(statistic="q50")) == -1.0
    assert float(training["standard_error"].sel(statistic="q50")) == 0.0


def test_summarize_rejects_datasets_that_are_not_results(base_run):
    with pytest.raises(ResultFileError, match="missing variable 'annual_return'"):
        mcengine.summarize(base_run.drop_vars("annual_return"))
    with pytest.raises(ResultFileError, match="has dims"):
        mcengine.summarize(base_run.assign(demand=base_run["total_return"]))
