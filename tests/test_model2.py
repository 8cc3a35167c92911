"""Model 2 on simulated paths: a boom and its bust through q, margins and idle capacity
(docs/model.md, "Model 2: investment that answers to returns")."""

from __future__ import annotations

import numpy as np
import pytest

import mcengine
from mcengine.model.scenario import load_scenario

N_PATHS = 20_000


@pytest.fixture(scope="module")
def base_years():
    return mcengine.simulate("base", N_PATHS, seed=7, record_years=True)


def _record(ds, quantity):
    return ds["yearly"].sel(quantity=quantity).values


def _mean_and_se(x):
    return x.mean(), x.std(ddof=1) / np.sqrt(x.size)


def test_capex_growth_rises_with_q_and_falls_below_q_one(base_years):
    # Each year's capex growth against the q investors saw at the end of the year before:
    # where q < 1 capex falls, and the mean growth rises from one band of ln q to the next,
    # each step by more than 5 standard errors (path-years of one path are correlated; the
    # margins are wide for that).
    log_q = np.log(_record(base_years, "q_inference"))[:, :-1]
    growth = np.diff(np.log(_record(base_years, "capex")), axis=1)
    edges = (-np.inf, 0.0, 0.5, 1.0, 1.5, np.inf)
    bands = [
        growth[(log_q >= lo) & (log_q < hi)] for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    assert min(b.size for b in bands) > 500
    estimates = [_mean_and_se(b) for b in bands]
    below_one, se = estimates[0]
    assert below_one + 5 * se < 0
    for (lower, se_lower), (upper, se_upper) in zip(estimates[:-1], estimates[1:], strict=True):
        assert upper - lower > 5 * np.hypot(se_lower, se_upper)


def test_crash_paths_boom_then_bust(base_years):
    # Sentiment raises q, q raises capex, the crash (its contagion hit on z) lowers q, and
    # capex falls: on crash paths capex peaks and ends well below its peak; on the others it
    # keeps growing. Medians of log capex, with the order-statistic spread as a check.
    crashed = np.isfinite(base_years["crash_year"].values)
    assert 0.1 < crashed.mean() < 0.9
    log_capex = np.log(_record(base_years, "capex"))
    crash_path = np.median(log_capex[crashed], axis=0)
    other_path = np.median(log_capex[~crashed], axis=0)
    peak = crash_path.argmax()
    assert 0 < peak < log_capex.shape[1] - 1
    assert crash_path[-1] < crash_path[peak] - np.log(1.5)  # a third off the peak or more
    assert other_path[-1] == other_path.max()  # still growing at the horizon
    assert other_path[-1] - crash_path[-1] > np.log(3)
    # and q on crash paths ends below the others'
    log_q = np.log(_record(base_years, "q_inference"))
    assert np.median(log_q[crashed, -1]) < np.median(log_q[~crashed, -1])


def test_fixed_capability_price_is_the_served_price_less_efficiency(base_years):
    sc = load_scenario("base")
    eta = sc.inference.capability_efficiency
    years = base_years["year_end"].values
    efficiency = np.broadcast_to(-eta * years, (N_PATHS, years.size))
    served = np.log(_record(base_years, "token_price"))
    fixed = np.log(_record(base_years, "fixed_capability_price"))
    np.testing.assert_allclose(fixed - served, efficiency, atol=1e-9)
    cost = np.log(_record(base_years, "serving_cost"))
    fixed_cost = np.log(_record(base_years, "fixed_capability_cost"))
    np.testing.assert_allclose(fixed_cost - cost, efficiency, atol=1e-9)


def test_results_say_model_2(base_years):
    assert base_years.attrs["model"] == "2"


# -- steps 8' and 14': off in the AI scenarios, on in the telecom back-test ---------------------
def test_capacity_upgraded_in_place_grows_at_its_rate_less_wear():
    # With no capex, capacity only wears out and is upgraded in place: ln K_t = ln K_0 +
    # (capacity_upgrade - 1/useful_life) t, exactly (a closed form of step 8').
    sc = load_scenario("base", {"inference.capex_initial": 0.0, "inference.capacity_upgrade": 0.5})
    ds = mcengine.simulate(sc, 64, seed=1, record_years=True)
    log_k = np.log(_record(ds, "capacity"))
    years = np.arange(sc.simulation.horizon_years + 1)
    expected = np.log(sc.inference.capacity_initial) + (0.5 - 1 / sc.inference.useful_life) * years
    np.testing.assert_allclose(log_k, np.broadcast_to(expected, log_k.shape), rtol=0, atol=1e-12)


def test_extrapolation_pushes_every_premium_by_its_excess_growth():
    # Step 14' on one path's scalars: the push is growth_extrapolation * (g - g_LR) * dt on
    # each segment, and with the key at 0 the step is model 1's to the bit.
    from mcengine.jit import kernel
    from mcengine.kernel import steps
    from mcengine.kernel.coefficients import build_coefficients
    from mcengine.kernel.steps import coefficient_tuple

    @kernel
    def sentiment(k, common_shock, shocks, z, stress, g):  # (steps' helpers run in kernels)
        return steps.sentiment(k, common_shock, shocks, z, stress, g)

    z, shocks, g = (0.1, 0.4, 0.9), (0.3, -0.2, 0.5), 0.95
    off = sentiment(
        coefficient_tuple(build_coefficients(load_scenario("base"))), 0.7, shocks, z, 0.0, g
    )
    sc = load_scenario("base", {"valuation.growth_extrapolation": 2.0})
    on = sentiment(coefficient_tuple(build_coefficients(sc)), 0.7, shocks, z, 0.0, g)
    push = 2.0 * (g - sc.demand.growth_long_run) / sc.simulation.steps_per_year
    np.testing.assert_allclose(np.subtract(on, off), push, rtol=1e-12)
    model_1 = sentiment(
        coefficient_tuple(build_coefficients(load_scenario("base"))), 0.7, shocks, z, 0.0, 5.0
    )
    assert model_1 == off  # g does not enter while the key is 0


def test_extrapolation_inflates_the_premium_while_demand_outgrows_its_long_run_rate():
    # Demand growing at ln 2 and reverting to ln 1.25: with extrapolation the carriers'
    # median wealth rises for years, then falls as the growth reverts; without, it does not.
    keys = {"demand.growth_long_run": 0.22, "valuation.growth_extrapolation": 2.0}
    ds = mcengine.simulate(load_scenario("telecom_1997", keys), 4000, seed=3, record_years=True)
    wealth = np.median(_record(ds, "wealth_inference"), axis=0)
    peak = int(np.argmax(wealth))
    assert 2 <= peak <= 6 and wealth[peak] > 1.5 and wealth[-1] < 0.8 * wealth[peak]
    keys["valuation.growth_extrapolation"] = 0.0
    off = mcengine.simulate(load_scenario("telecom_1997", keys), 4000, seed=3, record_years=True)
    assert np.median(_record(off, "wealth_inference"), axis=0)[peak] < wealth[peak] / 1.5
