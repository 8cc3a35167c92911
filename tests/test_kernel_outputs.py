"""The kernel's bookkeeping outputs against what they must equal by construction.

``components`` telescope ``ln W`` (docs/model.md, "Weighing versus voting") and ``inputs``
are functions of the draws (mcengine.kernel.paths.INPUTS); both are checked here against the
streams' draws directly. Small path counts: the mutation run (docs/testing.md) executes
these as plain Python.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from test_reference import CASES

import mcengine
from mcengine.rng.streams import draw_table
from mcengine.stats.fan import LOG_BIN_WIDTH

N = 24
SEED = 4


@pytest.mark.parametrize("name", ["base", "training_bust", "crash_prone", "no_training_moat"])
def test_components_add_up_to_log_wealth(name):
    overrides = CASES.get(name) or None  # the reference test's cases
    sc = mcengine.load_scenario(name if name in mcengine.builtin_scenarios() else "base", overrides)
    ds = mcengine.simulate(sc, N, seed=SEED)
    parts = ds["components"].values  # (path, segment, component)
    wealth = ds["total_return"].values
    alive = wealth > 0
    np.testing.assert_allclose(
        parts.sum(axis=-1)[alive], np.log(wealth[alive]), rtol=1e-10, atol=1e-10
    )
    assert (parts[~alive] == 0).all()
    assert not np.signbit(ds["max_drawdown"].values).any()  # never -0.0

    val = sc.valuation
    names = list(ds["component"].values)
    crashed = ds["crash_origin"].values >= 0
    hit = val.contagion_jump * np.array(val.contagion_loading)
    expected_hit = np.where(crashed[:, None], -hit, 0.0)
    np.testing.assert_array_equal(parts[..., names.index("contagion")][alive], expected_hit[alive])
    dilution = -sc.n_steps * np.array(val.entrant_dilution)
    np.testing.assert_array_equal(
        parts[..., names.index("dilution")][alive], np.broadcast_to(dilution, alive.shape)[alive]
    )
    selection = parts[..., names.index("selection")]
    assert (selection[:, 1:] == 0).all()
    sd = sc.applications.selection_dispersion
    z_sel = draw_table(SEED, N, sc.n_steps)[0][:, 2]
    np.testing.assert_allclose(
        selection[alive[:, 0], 0], (sd * z_sel - 0.5 * sd * sd)[alive[:, 0]], rtol=1e-14
    )
    if name == "crash_prone":
        assert crashed.any()
    if name == "no_training_moat":
        assert not alive[:, 2].any()


def test_recorded_inputs_are_the_draws_and_their_sums():
    sc = mcengine.load_scenario(
        "base",
        {
            "simulation.steps_per_year": 2,
            "correlation.cost_open": 0.5,
            "correlation.cost_demand": -0.3,
            "demand.jump_rate": 3.0,
        },
    )
    ds = mcengine.simulate(sc, N, seed=SEED, record_inputs=True)
    one = mcengine.simulate(sc, 1, seed=SEED, record_inputs=True)  # a run of one path too
    np.testing.assert_array_equal(one["inputs"].values, ds["inputs"].values[:1])
    got = {k: ds["inputs"].sel(input=k).values for k in ds["input"].values}
    per_path, per_step = draw_table(SEED, N, sc.n_steps)
    tc, d = sc.training_cost, sc.demand
    np.testing.assert_allclose(
        got["decline_rate"], tc.decline_median * np.exp(tc.decline_dispersion * per_path[:, 0])
    )
    np.testing.assert_allclose(
        got["initial_growth"], d.growth_initial_mean + d.growth_initial_sd * per_path[:, 1]
    )
    np.testing.assert_array_equal(got["selection"], per_path[:, 2])
    # Driver shocks are correlated through the Cholesky factor, then summed over the steps
    # and standardised; the jump count is Poisson's inverse CDF of the step's uniform.
    shocks = per_step[..., :3] @ np.linalg.cholesky(sc.correlation_matrix()).T
    root = np.sqrt(sc.n_steps)
    for k, name in enumerate(["cost_shocks", "open_share_shocks", "demand_shocks"]):
        np.testing.assert_allclose(got[name], shocks[..., k].sum(axis=1) / root, atol=1e-12)
    for k, name in enumerate(["common", "applications", "inference", "training"]):
        np.testing.assert_allclose(
            got[f"sentiment_{name}"], per_step[..., 3 + k].sum(axis=1) / root, atol=1e-12
        )
    mu = d.jump_rate / sc.simulation.steps_per_year
    jumps = scipy.stats.poisson.ppf(per_step[..., 7], mu).sum(axis=1)
    np.testing.assert_array_equal(got["demand_jumps"], jumps)
    assert jumps.sum() > 0


@pytest.mark.parametrize(
    ("overrides", "n", "message"),
    [
        (  # near-free compute: app revenue, and wealth, grow past 1e308 on one path
            {
                "training_cost.decline_median": 5.0,
                "training_cost.decline_dispersion": 2.0,
                "inference.cost_pass_through": 1.0,
                "inference.hardware_decline": 3.0,
                "simulation.horizon_years": 50,
            },
            64,
            r"on 1 of 64 paths \(first: path 42\): applications total_return overflowed",
        ),
        (  # +3 log jumps at rate 3.5 for 70 years
            {
                "demand.jump_rate": 3.5,
                "demand.jump_size": 3,
                "demand.growth_initial_mean": -2,
                "demand.growth_long_run": -1,
                "simulation.horizon_years": 70,
            },
            8,
            r"on 1 of 8 paths \(first: path 7\): demand at the horizon overflowed",
        ),
    ],
)
def test_overflow_flags_name_the_path_and_the_cause(overrides, n, message):
    with pytest.raises(ValueError, match=message):
        mcengine.simulate(mcengine.load_scenario("base", overrides), n, seed=1)


def test_fan_chart_years_are_the_states_of_shorter_runs():
    # The draws of a step do not depend on the horizon, so year y of a 6-year run is the end
    # of a y-year run of the same seed (wealth before the applications selection spread).
    overrides = {
        "simulation.steps_per_year": 2,
        "simulation.horizon_years": 6,
        "valuation.crash_window_years": 1,
    }
    fan = mcengine.simulate(
        mcengine.load_scenario("training_bust", overrides), N, seed=SEED, fan_chart=True
    )
    q = fan["quantile"].values
    for year in (1, 4, 6):
        short = mcengine.load_scenario(
            "training_bust", {**overrides, "simulation.horizon_years": year}
        )
        ds = mcengine.simulate(short, N, seed=SEED)
        for driver in ("training_cost", "demand"):
            got = np.log(fan["fan_drivers"].sel(year=year, driver=driver).values)
            exact = np.quantile(np.log(ds[driver].values), q)
            np.testing.assert_allclose(got, exact, rtol=0, atol=LOG_BIN_WIDTH)
        got = fan["fan_drivers"].sel(year=year, driver="open_share").values
        np.testing.assert_allclose(got, np.quantile(ds["open_share"].values, q), atol=1e-4)
        for segment in ("inference", "training"):  # bands are quantiles of log W
            got = fan["fan_wealth"].sel(year=year, segment=segment).values
            with np.errstate(divide="ignore"):
                exact = np.quantile(np.log(ds["total_return"].sel(segment=segment).values), q)
            finite = np.isfinite(exact)
            np.testing.assert_array_equal(got[~finite], 0.0)
            np.testing.assert_allclose(
                np.log(got[finite]), exact[finite], rtol=0, atol=LOG_BIN_WIDTH
            )
