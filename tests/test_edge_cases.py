"""MODEL.md's edge rules: wipe-outs, V = 0, zero capex, underflow, the crash window, one
contagion per path, overflow refusal, and finite outputs for any valid scenario."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_finite_outputs
from hypothesis import HealthCheck, given, settings
from strategies import valid_overrides

import mcengine
from mcengine.errors import InputError

N = 2000


def run(overrides, n=N, seed=3, name="base"):
    return mcengine.simulate(mcengine.load_scenario(name, overrides), n, seed=seed)


def test_base_outputs_are_finite_and_in_range(base_run):
    ds = base_run
    assert_finite_outputs(ds)
    assert (ds["total_return"] >= 0).all()
    assert (ds["annual_return"] >= -1).all()
    assert ((ds["max_drawdown"] >= 0) & (ds["max_drawdown"] <= 1)).all()
    assert ((ds["open_share"] > 0) & (ds["open_share"] < 1)).all()
    assert set(np.unique(ds["crash_origin"].values)) <= {-1, 0, 1, 2}


def test_zero_training_revenue_wipes_out_training_investors():
    # phi = 0 gives R_T = 0, so V_T = 0 at year 0 and V_prev = 0 wipes the investor at step 1.
    ds = run({"training.brand_moat": 0.0, "training.tech_premium": 0.0})
    training = ds.sel(segment="training")
    assert (training["total_return"] == 0).all()
    assert (training["annual_return"] == -1).all()
    assert (training["max_drawdown"] == 1).all()
    assert_finite_outputs(ds)
    # With V_T = 0 the training peak is 0, so its drawdown is 0 and it never starts a crash.
    assert not (ds["crash_origin"] == 2).any()


def test_wiped_out_investors_stay_wiped_out():
    ds = run({"inference.capex_initial": 60.0})
    inference = ds["total_return"].sel(segment="inference").values
    assert (inference == 0).mean() > 0.5
    assert (ds["annual_return"].sel(segment="inference").values[inference == 0] == -1).all()


def test_zero_capex_stays_zero_and_outputs_stay_finite():
    ds = run({"inference.capex_initial": 0.0})
    assert_finite_outputs(ds)


def test_underflowing_costs_give_finite_outputs():
    # lambda up to 5 * e^(2 * 8.6): log C reaches -1e9, far past exp's underflow, and so do
    # serving cost and token prices. Without the Jevons response demand stays bounded.
    ds = run(
        {
            "training_cost.decline_median": 5.0,
            "training_cost.decline_dispersion": 2.0,
            "inference.cost_pass_through": 1.0,
            "inference.hardware_decline": 3.0,
            "demand.price_elasticity": 0.0,
            "simulation.horizon_years": 50,
        }
    )
    assert_finite_outputs(ds)
    assert (ds["training_cost"] == 0).mean() > 0.2  # lambda * 50 > 745 for Z_lambda > 0.55


def test_wealth_overflow_is_refused_and_names_the_segment():
    # Same, with Jevons on: prices near 0 make demand, and app revenue, grow past 1e308.
    with pytest.raises(
        ValueError,
        match=r"overflows float64 on \d+ of 2000 paths .*: "
        r"applications total_return overflowed",
    ):
        run(
            {
                "training_cost.decline_median": 5.0,
                "training_cost.decline_dispersion": 2.0,
                "inference.cost_pass_through": 1.0,
                "inference.hardware_decline": 3.0,
                "simulation.horizon_years": 50,
            }
        )


def test_crash_threshold_one_means_no_crash():
    ds = run({"valuation.crash_threshold": 1.0})
    assert (ds["crash_origin"] == -1).all()
    assert np.isnan(ds["crash_year"]).all()


def test_crash_threshold_zero_crashes_at_the_first_fall():
    ds = run({"valuation.crash_threshold": 0.0})
    base = run({})
    crashed = ds["crash_origin"].values >= 0
    assert crashed.mean() > 0.95
    years = ds["crash_year"].values[crashed]
    assert years.min() == 1.0 and (years == np.round(years)).all()
    # Same paths until the first crash (common random numbers): any fall comes no later
    # than a fall of more than 65%.
    both = crashed & (base["crash_origin"].values >= 0)
    assert (ds["crash_year"].values[both] <= base["crash_year"].values[both]).all()


def test_crash_year_is_on_the_step_grid_and_within_horizon():
    ds = run({"simulation.steps_per_year": 4, "valuation.crash_threshold": 0.3})
    years = ds["crash_year"].values[ds["crash_origin"].values >= 0]
    assert years.size > 0
    np.testing.assert_allclose(years * 4, np.round(years * 4), atol=1e-12)
    assert years.min() >= 0.25 and years.max() <= 10


def test_only_one_contagion_per_path():
    # A huge hit with a low threshold would re-trigger every step if contagion could repeat;
    # the kernel applies it once, which the path-by-path reference check also pins
    # (tests/test_reference.py::test_kernel_matches_reference[crash_prone]).
    ds = run({"valuation.crash_threshold": 0.05, "valuation.contagion_jump": 5.0})
    assert ((ds["crash_origin"] >= 0) == np.isfinite(ds["crash_year"])).all()
    assert_finite_outputs(ds)


def test_longer_crash_window_finds_more_crashes():
    short = run({"valuation.crash_window_years": 0.5, "simulation.steps_per_year": 4})
    long = run({"valuation.crash_window_years": 10.0, "simulation.steps_per_year": 4})
    assert (long["crash_origin"] >= 0).sum() > (short["crash_origin"] >= 0).sum()


def test_demand_overflow_is_refused_before_running():
    sc = mcengine.load_scenario(
        "base", {"demand.jump_rate": 12, "demand.jump_size": 3, "simulation.horizon_years": 100}
    )
    with pytest.raises(
        ValueError,
        match=r"overflows float64: expected log demand at the horizon"
        r" is 3625 > 710 \(.*demand.jump_rate = 12",
    ):
        mcengine.simulate(sc, 10, seed=1)


def test_overflow_on_a_path_is_refused_with_its_cause():
    # Expected demand is fine, but jumps of +3 at rate 4 over 60 years overflow on some paths.
    sc = mcengine.load_scenario(
        "base",
        {
            "demand.jump_rate": 3.5,
            "demand.jump_size": 3,
            "demand.growth_initial_mean": -2,
            "demand.growth_long_run": -1,
            "simulation.horizon_years": 70,
        },
    )
    with pytest.raises(
        ValueError,
        match=r"overflows float64 on \d+ of 3000 paths \(first: path"
        r" \d+\): demand at the horizon overflowed",
    ):
        mcengine.simulate(sc, 3000, seed=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_paths": 0}, r"n_paths = 0, must be in \[1, 1099511627776\]"),
        ({"n_paths": 2.5}, r"n_paths = 2.5, must be an integer in \[1, 1099511627776\]"),
        ({"n_paths": 10, "seed": -1}, r"seed = -1, must be in \[0, 9223372036854775807\]"),
        ({"n_paths": 10, "seed": "1"}, r"seed = '1', must be an integer"),
        ({"n_paths": 10, "chunk_paths": 0}, r"chunk_paths = 0, must be in"),
        ({"n_paths": 10, "threads": 0}, r"threads = 0, must be in \[1, "),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        mcengine.simulate("base", **kwargs)


# -- property test: any valid scenario gives finite outputs or a named overflow refusal --------


@settings(
    max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(valid_overrides(max_keys=12, max_steps=240, max_value=1e3, edges=True))
def test_any_valid_scenario_gives_finite_outputs_or_a_named_refusal(overrides):
    sc = mcengine.load_scenario("base", overrides)
    try:
        ds = mcengine.simulate(sc, 64, seed=1)
    except ValueError as err:
        assert "overflows float64" in str(err)
        return
    assert_finite_outputs(ds)
    assert (ds["total_return"] >= 0).all() and (ds["annual_return"] >= -1).all()
    assert ((ds["max_drawdown"] >= 0) & (ds["max_drawdown"] <= 1)).all()


def test_no_negative_zeros_in_outputs(base_run):
    # -expm1(0.0) is -0.0; outputs must not show it (nor should they hash differently).
    for name in ("total_return", "max_drawdown", "training_cost", "open_share", "demand"):
        values = base_run[name].values
        assert not np.any((values == 0) & np.signbit(values)), name
