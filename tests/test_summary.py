"""summarize(): statistics against direct numpy computations, and honest standard errors."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

import mcengine
from mcengine.errors import ResultFileError
from mcengine.stats.summary import QUANTILES, STATISTICS


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


def test_quantile_error_is_zero_on_an_atom(training_wiped_out):
    ds = training_wiped_out
    table = mcengine.summarize(ds)
    training = table.sel(segment="training")
    assert float(training["estimate"].sel(statistic="q50")) == -1.0
    assert float(training["standard_error"].sel(statistic="q50")) == 0.0


def test_summarize_rejects_datasets_that_are_not_results(base_run):
    with pytest.raises(ResultFileError, match="missing variable 'annual_return'"):
        mcengine.summarize(base_run.drop_vars("annual_return"))
    with pytest.raises(ResultFileError, match="has dims"):
        mcengine.summarize(base_run.assign(demand=base_run["total_return"]))


# -- summary-only (streaming) mode --------------------------------------------------------------
COUNT_STATISTICS = ["p_loss", "p_wiped_out", "p_crash_origin"]
QUANTILE_STATISTICS = ["q05", "q25", "q50", "q75", "q95", "var95", "median_max_drawdown"]


@pytest.mark.parametrize(
    ("name", "chunk_paths"), [("base", 1 << 16), ("training_bust", 777), ("inference_glut", 5000)]
)
def test_summary_only_matches_the_exact_summary(name, chunk_paths):
    n = 140_000  # over two blocks (mcengine.stats.blocks)
    exact = mcengine.summarize(mcengine.simulate(name, n, seed=8))
    streamed = mcengine.simulate(name, n, seed=8, keep_paths=False, chunk_paths=chunk_paths)
    bound = streamed.attrs["quantile_error_bound"]
    assert bound == pytest.approx(1e-6)
    assert exact.attrs["quantile_error_bound"] == 0.0
    assert streamed.attrs["n_paths"] == n and streamed.attrs["seed"] == 8
    est, est_x = streamed["estimate"], exact["estimate"]
    se, se_x = streamed["standard_error"], exact["standard_error"]
    # Counts are exact, and moments too: both merge the same blocks in the same tree.
    moment_statistics = [*COUNT_STATISTICS, "mean", "std"]
    xr.testing.assert_equal(
        est.sel(statistic=moment_statistics), est_x.sel(statistic=moment_statistics)
    )
    xr.testing.assert_equal(
        se.sel(statistic=moment_statistics), se_x.sel(statistic=moment_statistics)
    )
    assert float(streamed["p_crash"]) == float(exact["p_crash"])
    for name in ("contribution", "contribution_standard_error", "correlation_pearson"):
        xr.testing.assert_equal(streamed[name], exact[name])
    # Order statistics: within the stated bound (their errors within two bounds).
    diff = abs(est.sel(statistic=QUANTILE_STATISTICS) - est_x.sel(statistic=QUANTILE_STATISTICS))
    assert float(diff.max()) <= bound
    se_diff = abs(se.sel(statistic=QUANTILE_STATISTICS) - se_x.sel(statistic=QUANTILE_STATISTICS))
    assert float(se_diff.max()) <= 2 * bound / (2 * 1.959963984540054) + 1e-15
    cvar_diff = abs(est.sel(statistic="cvar95") - est_x.sel(statistic="cvar95"))
    assert float(cvar_diff.max()) <= 2 * bound / 0.05


def test_summary_only_bound_is_far_below_the_monte_carlo_error():
    summary = mcengine.simulate("base", 200_000, seed=1, keep_paths=False)
    se = summary["standard_error"].sel(statistic=QUANTILE_STATISTICS)
    # Even at 1e8 paths (s.e. / sqrt(500)) the bound is under a tenth of the smallest
    # quantile s.e. (measured: about 5%), so it adds under 0.5% to the total error.
    assert summary.attrs["quantile_error_bound"] < 0.1 * float(se.min()) / np.sqrt(500)


@pytest.mark.slow
def test_summary_accumulator_merges_in_any_order_to_the_same_bits():
    from mcengine.layout import BLOCK_PATHS
    from mcengine.stats.summary import SummaryAccumulator

    ds = mcengine.simulate("base", 3 * BLOCK_PATHS - 5, seed=3)
    starts = (0, BLOCK_PATHS, 2 * BLOCK_PATHS)

    def accumulate(start):
        acc = SummaryAccumulator(horizon=10)
        block = ds.isel(path=slice(start, start + BLOCK_PATHS))
        acc.add(SimpleNamespace(**{name: block[name].values for name in block.data_vars}), start)
        return acc

    parts = [accumulate(start) for start in starts]
    left = parts[0].merge(parts[1]).merge(parts[2])
    right = parts[2].merge(parts[0].merge(parts[1]))
    a, b, exact = left.result(), right.result(), mcengine.summarize(ds)
    for name in (
        "estimate",
        "standard_error",
        "contribution",
        "correlation_pearson",
        "conditional_mean",
        "portfolio",
    ):
        xr.testing.assert_equal(a[name], b[name])
    for name in ("contribution", "correlation_pearson", "conditional_mean"):
        xr.testing.assert_equal(a[name], exact[name])


def test_paths_must_be_added_in_order():
    from mcengine.stats.summary import SummaryAccumulator

    ds = mcengine.simulate("base", 100, seed=3)
    arrays = SimpleNamespace(**{name: ds[name].values for name in ds.data_vars})
    acc = SummaryAccumulator(horizon=10)
    with pytest.raises(ValueError, match="block 0 starts mid-way"):
        acc.add(arrays, 50)
    acc.add(arrays, 0)
    with pytest.raises(ValueError, match="block 0 is not contiguous"):
        acc.add(arrays, 200)


def unaligned(values: np.ndarray) -> np.ndarray:
    """A copy of ``values`` at an odd byte offset, as Dask sometimes deserialises arrays."""
    raw = np.zeros(values.nbytes + 1, dtype=np.uint8)
    out = np.frombuffer(raw.data, dtype=values.dtype, count=values.size, offset=1)
    out = out.reshape(values.shape)
    out[...] = values
    return out


def test_summaries_are_the_same_bits_whatever_memory_the_paths_sit_in(base_run):
    # numpy's pairwise sums take another order on unaligned data; this once made a Dask
    # run's mean differ from the local one in the last bit.
    moved = base_run.copy(data={k: unaligned(v.values) for k, v in base_run.data_vars.items()})
    assert not moved["annual_return"].values.flags.aligned
    xr.testing.assert_identical(mcengine.summarize(moved), mcengine.summarize(base_run))


def test_summarize_returns_a_summary_unchanged():
    summary = mcengine.simulate("base", 1000, seed=1, keep_paths=False)
    assert mcengine.summarize(summary) is summary


# -- confidence intervals ---------------------------------------------------------------------
def test_intervals_bracket_their_estimates(base_run):
    table = mcengine.summarize(base_run)
    assert (table["ci_low"] <= table["estimate"]).all()
    assert (table["estimate"] <= table["ci_high"]).all()
    low, high = table["p_crash_ci"].values
    assert low < float(table["p_crash"]) < high
    mean = table.sel(statistic="mean")
    np.testing.assert_allclose(
        mean["ci_high"] - mean["estimate"], 1.96 * mean["standard_error"], rtol=1e-3
    )


def test_interval_methods_at_the_edges():
    ds = mcengine.simulate(
        mcengine.load_scenario("base", {"training.brand_moat": 0.0, "training.tech_premium": 0.0}),
        400,
        seed=1,
    )
    training = mcengine.summarize(ds).sel(segment="training")
    # Every training investor is wiped out: the quantile interval sits on the atom, and
    # Wilson's interval for P(wiped out) = 1 is [1 - something, 1], never beyond.
    q50 = training.sel(statistic="q50")
    assert float(q50["ci_low"]) == float(q50["ci_high"]) == -1.0
    wiped = training.sel(statistic="p_wiped_out")
    assert float(wiped["estimate"]) == 1.0 and float(wiped["ci_high"]) == 1.0
    assert 0.98 < float(wiped["ci_low"]) < 1.0  # 1 - z^2/n roughly, n = 400
    origin = training.sel(statistic="p_crash_origin")
    assert float(origin["ci_low"]) == 0.0 and float(origin["ci_high"]) > 0.0


@pytest.mark.slow
@pytest.mark.statistical
def test_intervals_cover_91_to_99_percent():
    """Issue 4: 95% intervals of the mean and the median from 200 independent runs of 2000
    paths cover the value of one run of 10^6 paths (whose own error is 22x smaller)."""
    truth = mcengine.simulate("base", 1_000_000, seed=99, keep_paths=False)["estimate"]
    hits = {"mean": 0, "q50": 0}
    runs = 200
    for k in range(runs):
        table = mcengine.summarize(mcengine.simulate("base", 2000, seed=10_000 + k))
        for stat in hits:
            inside = (table["ci_low"].sel(statistic=stat) <= truth.sel(statistic=stat)) & (
                truth.sel(statistic=stat) <= table["ci_high"].sel(statistic=stat)
            )
            hits[stat] += int(inside.sum())
    for stat, count in hits.items():
        coverage = count / (3 * runs)
        assert 0.91 <= coverage <= 0.99, (stat, coverage)
