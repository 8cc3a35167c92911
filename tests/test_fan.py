"""Fan charts: streamed per-year bands against a brute-force computation on small n."""

from __future__ import annotations

import numpy as np
import pytest

import mcengine
from mcengine.kernel.coefficients import build_coefficients, spend_ratio_schedule, stress_schedule
from mcengine.kernel.paths import simulate_paths
from mcengine.layout import Yearly
from mcengine.results.dataset import PathArrays
from mcengine.rng.streams import key_from_seed
from mcengine.stats.fan import FAN_QUANTILES, LOG_BIN_WIDTH


def brute_force_yearly(scenario, n, seed):
    """Every path's year-end values, kept in full (what the engine avoids)."""
    out = PathArrays.empty(n)
    yearly = np.empty((n, scenario.simulation.horizon_years + 1, len(Yearly)))
    k0, k1 = key_from_seed(seed)
    simulate_paths(
        build_coefficients(scenario),
        None,
        spend_ratio_schedule(scenario),
        stress_schedule(scenario),
        k0,
        k1,
        0,
        out,
        yearly,
        np.empty((0, 0)),
        np.empty((0, 11)),
    )
    return out, yearly


@pytest.mark.parametrize("name", ["base", "inference_glut"])
def test_bands_match_brute_force(name):
    sc = mcengine.load_scenario(name, {"simulation.steps_per_year": 4})
    n, seed = 3000, 21
    ds = mcengine.simulate(sc, n, seed=seed, fan_chart=True, chunk_paths=700, record_years=True)
    out, yearly = brute_force_yearly(sc, n, seed)
    np.testing.assert_array_equal(ds["total_return"].values, out.total_return)
    # The per-path record is the kernel's, exponentiated (but the open share).
    record = ds["yearly"].values
    share = Yearly.OPEN_SHARE
    np.testing.assert_array_equal(record[..., share], yearly[..., share])
    with np.errstate(divide="ignore"):
        logs = np.log(np.delete(record, share, axis=-1))
    np.testing.assert_allclose(logs, np.delete(yearly, share, axis=-1), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(record[:, 0, Yearly.LOG_TOKEN_PRICE], 1.0)  # year 0: P/P0
    yearly = yearly[:, 1:]  # the bands are of years 1 to the horizon
    q = list(FAN_QUANTILES)
    with np.errstate(divide="ignore"):
        exact_log = np.quantile(yearly, q, axis=0)  # (quantile, year, variable), in logs
    exact_log = np.moveaxis(exact_log, 0, 1)
    fan_w = ds["fan_wealth"].values
    fan_d = ds["fan_drivers"].values
    fan_e = ds["fan_economics"].values
    # Log-binned variables: within one bin in logs (a relative 0.4% in levels).
    for v, got in (
        (0, fan_w[..., 0]),
        (1, fan_w[..., 1]),
        (2, fan_w[..., 2]),
        (3, fan_d[..., 0]),
        (5, fan_d[..., 2]),
        *[
            (v, fan_e[..., v - Yearly.LOG_TOKEN_PRICE])
            for v in range(Yearly.LOG_TOKEN_PRICE, len(Yearly))
        ],
    ):
        exact = exact_log[..., v]
        finite = np.isfinite(exact)
        with np.errstate(divide="ignore"):
            assert np.all(np.abs(np.log(got[finite]) - exact[finite]) <= LOG_BIN_WIDTH)
        assert np.all(got[~finite] == 0.0)  # bands on the wiped-out atom are exactly 0
    np.testing.assert_allclose(fan_d[..., 1], exact_log[..., 4], atol=1e-4)
    assert ds.attrs["fan_relative_error_bound"] == pytest.approx(np.expm1(LOG_BIN_WIDTH))


def test_last_year_matches_the_final_outputs():
    ds = mcengine.simulate("base", 4000, seed=5, fan_chart=True)
    last = ds["fan_wealth"].sel(year=10)
    for segment in ("inference", "training"):  # applications: before the selection spread
        exact = np.quantile(
            np.log(ds["total_return"].sel(segment=segment).values + 1e-300), FAN_QUANTILES
        )
        got = np.log(last.sel(segment=segment).values + 1e-300)
        assert np.all(np.abs(got - exact) <= LOG_BIN_WIDTH)


def test_streamed_and_full_bands_agree_and_summaries_keep_them():
    full = mcengine.simulate("training_bust", 5000, seed=2, fan_chart=True)
    streamed = mcengine.simulate(
        "training_bust", 5000, seed=2, fan_chart=True, keep_paths=False, chunk_paths=999
    )
    np.testing.assert_array_equal(full["fan_wealth"], streamed["fan_wealth"])
    table = mcengine.summarize(full)
    np.testing.assert_array_equal(table["fan_drivers"], full["fan_drivers"])
    assert "fan_wealth" not in mcengine.simulate("base", 100, seed=1)


def test_bands_next_to_the_wiped_out_atom_are_finite():
    # Found by tests/test_fuzz_cli.py: a quantile between W = 0 (log W = -inf) and a finite
    # W interpolated to nan.
    ds = mcengine.simulate("training_bust", 267, seed=3, fan_chart=True)
    assert np.isfinite(ds["fan_wealth"].values).all()
