"""The Numba kernel against the plain-numpy transcription of MODEL.md, on the same draws.

The kernel works in log space (docs/model.md, "Numerics"); the reference is a literal,
linear-space transcription. Fed identical Philox draws they must agree path by path.
Tolerances: 1e-9 relative on every output, except that wealth is compared with an absolute
1e-9 as well, because a path whose G = (V + F)/V_prev lands within rounding of zero is
"wiped out" in one and left with W ~ 1e-17 in the other; annual returns are compared where
W > 1e-6 for the same reason.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import mcengine
from mcengine.bench.reference import simulate_reference
from mcengine.model.scenario import load_scenario
from mcengine.rng.streams import draw_table

CASES = {
    # the point scenarios (tests/test_beliefs.py checks beliefs against them path by path)
    **{name: {} for name in mcengine.builtin_scenarios() if not load_scenario(name).beliefs},
    "quarterly": {"simulation.steps_per_year": 4},
    "monthly_short_window": {
        "simulation.steps_per_year": 12,
        "simulation.horizon_years": 5,
        "valuation.crash_window_years": 0.25,
    },
    "window_equals_horizon": {"simulation.horizon_years": 4, "valuation.crash_window_years": 4},
    "correlated": {
        "correlation.cost_open": 0.5,
        "correlation.cost_demand": -0.3,
        "correlation.open_demand": 0.2,
    },
    "no_reversion": {"demand.growth_reversion": 0.0},
    "zero_floor_and_elasticity": {
        "inference.price_floor": 0.0,
        "inference.scarcity_elasticity": 0.0,
    },
    "jumpy": {"demand.jump_rate": 6.0, "demand.jump_size": -0.3},
    "crash_prone": {"valuation.crash_threshold": 0.3, "valuation.contagion_jump": 2.0},
    "no_selection": {"applications.selection_dispersion": 0.0},
    "full_capex_cut": {"inference.crash_capex_cut": 1.0, "valuation.crash_threshold": 0.4},
    # model 2's installed-base upgrades and extrapolating sentiment (off in base)
    "upgrades_and_extrapolation": {
        "inference.capacity_upgrade": 0.5,
        "valuation.growth_extrapolation": 1.5,
    },
    "unit_value_elasticity": {"applications.value_elasticity": 1.0},
    # No training revenue: V_T = 0 from the start, so training investors are wiped out at
    # the first step (nothing left to invest in).
    "no_training_moat": {"training.brand_moat": 0.0, "training.tech_premium": 0.0},
    # ...and a low crash threshold: a segment worth 0 throughout has no drawdown, so it
    # never sets off a crash.
    "no_training_moat_crash_prone": {
        "training.brand_moat": 0.0,
        "training.tech_premium": 0.0,
        "valuation.crash_threshold": 0.3,
    },
}


#: Paths per case. The mutation run (docs/testing.md) runs the kernel as plain Python and
#: lowers this through the environment.
REFERENCE_PATHS = int(os.environ.get("MCENGINE_REFERENCE_PATHS", "1500"))


@pytest.mark.parametrize("case", [*CASES, "stress_quarterly"])
def test_kernel_matches_reference(case):
    name = case if case in mcengine.builtin_scenarios() else "base"
    if case == "stress_quarterly":
        sc = mcengine.Scenario.from_mapping(
            {
                "simulation": {"steps_per_year": 4},
                "stress": [
                    {
                        "year": 2.5,
                        "demand": -0.7,
                        "sentiment": -0.4,
                        "open_share": 0.5,
                        "training_cost": 0.3,
                    },
                    {"year": 6, "sentiment": 0.3},
                ],
            }
        )
    else:
        sc = mcengine.load_scenario(name, CASES[case] or None)
    n, seed = REFERENCE_PATHS, 11
    ds = mcengine.simulate(sc, n, seed=seed)
    per_path, per_step = draw_table(seed, n, sc.n_steps)
    assert_matches_reference(
        ds, simulate_reference(sc, per_path, lambda step: per_step[:, step - 1])
    )


def assert_matches_reference(ds, ref) -> None:
    w = ds["total_return"].values
    np.testing.assert_allclose(w, ref["total_return"], rtol=1e-9, atol=1e-9)
    alive = (w > 1e-6) & (ref["total_return"] > 1e-6)
    np.testing.assert_allclose(
        ds["annual_return"].values[alive], ref["annual_return"][alive], rtol=1e-9
    )
    np.testing.assert_allclose(ds["max_drawdown"].values, ref["max_drawdown"], rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(ds["crash_origin"].values, ref["crash_origin"])
    np.testing.assert_allclose(ds["crash_year"].values, ref["crash_year"], rtol=1e-12)
    for name_ in ("training_cost", "open_share", "demand"):
        np.testing.assert_allclose(ds[name_].values, ref[name_], rtol=1e-9, atol=1e-300)
    # The knife-edge exception must stay rare.
    assert np.mean(alive) > 0.9 * np.mean(ref["total_return"] > 1e-6)
    # Wiped out: when and why, wherever both agree that the investor was wiped out.
    both = (w == 0) & (ref["total_return"] == 0)
    np.testing.assert_array_equal(ds["wipe_year"].values[both], ref["wipe_year"][both])
    np.testing.assert_array_equal(ds["wipe_cause"].values[both], ref["wipe_cause"][both])
    np.testing.assert_array_equal(ds["annual_return"].values[both], -1.0)
    assert np.isnan(ds["wipe_year"].values[w > 0]).all()
    assert (ds["wipe_cause"].values[w > 0] == 0).all()


def mirrored(per_path, per_step):
    """The draws of antithetic pairs: path 2k replays stream k, path 2k + 1 mirrors it."""
    odd_path = -per_path
    odd_step = np.concatenate([-per_step[..., :7], 1.0 - per_step[..., 7:] - 2.0**-53], axis=-1)

    def pairs(even, odd):
        return np.stack([even, odd], axis=1).reshape(-1, *even.shape[1:])

    return pairs(per_path, odd_path), pairs(per_step, odd_step)


def test_antithetic_pairs_match_the_reference_on_mirrored_draws():
    sc = mcengine.load_scenario("training_bust")
    n, seed = 2 * max(REFERENCE_PATHS // 2, 2), 5
    ds = mcengine.simulate(sc, n, seed=seed, sampler="antithetic", replicates=2)
    per_path, per_step = mirrored(*draw_table(seed, n // 2, sc.n_steps))
    assert_matches_reference(
        ds, simulate_reference(sc, per_path, lambda step: per_step[:, step - 1])
    )


@pytest.mark.parametrize("n", [REFERENCE_PATHS, 1])
def test_external_draws_match_the_reference(n):
    sc = mcengine.load_scenario("inference_glut", {"simulation.steps_per_year": 2})
    rng = np.random.default_rng(8)
    per_path = rng.standard_normal((n, 3))
    per_step = rng.standard_normal((n, sc.n_steps, 8))
    per_step[..., 7] = rng.random((n, sc.n_steps))
    draws = np.concatenate([per_path, per_step.reshape(n, -1)], axis=1)
    ds = mcengine.simulate(sc, n, seed=1, draws=draws)
    assert_matches_reference(
        ds, simulate_reference(sc, per_path, lambda step: per_step[:, step - 1])
    )


@pytest.mark.statistical
@pytest.mark.parametrize("name", ["base", "training_bust"])
def test_reference_with_numpy_draws_agrees_in_distribution(name):
    """Independent random numbers, same model: means and P(loss) within 4 combined s.e."""
    from mcengine.bench.reference import simulate_reference_numpy

    sc = mcengine.load_scenario(name)
    n = 40_000
    ours = mcengine.summarize(mcengine.simulate(sc, n, seed=5))
    ref = simulate_reference_numpy(sc, n, seed=6)
    for i, segment in enumerate(ours["segment"].values):
        x = ref["annual_return"][:, i]
        for stat, value, se in (
            ("mean", x.mean(), x.std(ddof=1) / np.sqrt(n)),
            ("p_loss", np.mean(ref["total_return"][:, i] < 1), None),
        ):
            mine = ours.sel(segment=segment, statistic=stat)
            p = float(mine["estimate"])
            se = se if se is not None else np.sqrt(p * (1 - p) / n)
            combined = np.hypot(float(mine["standard_error"]), se)
            assert abs(p - value) < 4 * combined, (segment, stat)
