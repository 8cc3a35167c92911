"""The path kernel: blocks of LANES paths in lockstep, the time loop inside, parallel over
blocks.

:func:`simulate_paths` runs each block through MODEL.md's steps, which are the functions
of :mod:`mcengine.kernel.steps` (one lane each), inside lane loops: per step, the draws of
every lane (:func:`mcengine.rng.streams.step_draws_lanes`, whose Philox loop LLVM
vectorises), the demand jumps, the crash window's peaks, then one loop over the lanes
through steps 1-18 (written for vectorisation, not yet vectorised: docs/architecture.md).
The state of a block is one flat array (about 20 kB) that stays in the L1 cache; nothing
of size paths x steps is allocated.

Paths are independent and their randomness is a function of (key, path index), so the
results are the same for any thread count or chunking; lanes past the last path of a call
are computed and dropped.
"""

from __future__ import annotations

import numpy as np

from mcengine.jit import kernel, parallel_kernel, prange
from mcengine.kernel.coefficients import C
from mcengine.kernel.economics import poisson_inverse, sigmoid
from mcengine.kernel.steps import (
    FLAG_CAPEX_OVERFLOW,
    FLAG_DEMAND_OVERFLOW,
    FLAG_WEALTH_OVERFLOW,
    STATE_SIZE,
    WIPE_CASH_SHORTFALL,
    WIPE_NOT_FINITE,
    WIPE_ZERO_VALUE,
    S,
    cash_flows,
    crash,
    drivers,
    final_wealth,
    inference_market,
    investor_returns,
    load_coefficients,
    max_drawdown,
    path_flags,
    sentiment,
    start_path,
    total_and_annual,
)
from mcengine.layout import LANES, Input, PathDraw, StepDraw, names
from mcengine.numerics import exp
from mcengine.rng.streams import LANE_WORDS, path_draws_lanes, step_draws_lanes

__all__ = [
    "simulate_paths",
    "FLAG_CAPEX_OVERFLOW",
    "FLAG_DEMAND_OVERFLOW",
    "FLAG_WEALTH_OVERFLOW",
    "WIPE_CASH_SHORTFALL",
    "WIPE_ZERO_VALUE",
    "WIPE_NOT_FINITE",
    "INPUTS",
]

#: Columns of the ``inputs`` output (sensitivity analysis).
INPUTS = names(Input)

_NEG_INF = -np.inf
_PATH_DRAWS = len(PathDraw)
_STEP_DRAWS = len(StepDraw)
_JUMP_SLOT = int(S.DRAWS) + int(StepDraw.JUMP) * LANES
_Z_SEL = int(S.PATH_DRAWS) + int(PathDraw.SELECTION) * LANES
# Jump counts the lane loop settles (a Poisson(0.15) count exceeds 4 once in 50,000 steps);
# a lane with more is finished by poisson_inverse.
_JUMP_TERMS = 4


@parallel_kernel
def simulate_paths(
    coef,
    spend_ratio,
    stress,
    key0,
    key1,
    first_path,
    total_return,
    annual_return,
    max_drawdown,
    crash_year,
    crash_origin,
    training_cost,
    open_share,
    demand,
    components,
    wipe_year,
    wipe_cause,
    flags,
    yearly,
    external,
    inputs,
):
    """Simulate paths ``first_path .. first_path + len(flags) - 1`` into the output arrays.

    Outputs have ``n`` rows (``(n, 3)`` for the per-segment ones, ``(n, 3, 6)`` for the
    components of ``ln W``) and are fully written. ``yearly`` is ``(n, years, 6)`` for fan
    charts (log W of A, I, T, then log C, s, log D at each year end) or ``(n, 0, 6)``.
    ``external`` is ``(n, 3 + 8 N)`` draws to use instead of the Philox streams (the per-path
    normals, then per step the seven normals and the jump uniform), or ``(0, 0)``.
    ``stress`` is ``(N + 1, 4)`` deterministic shocks per step (demand, sentiment, open
    share, training cost; docs/model.md "Stress overlays"), zeros without stress.
    ``inputs`` is ``(n, 11)`` for sensitivity analysis (see :data:`INPUTS`) or ``(0, 11)``.
    """
    n_paths = flags.shape[0]
    for block in prange((n_paths + LANES - 1) // LANES):
        _simulate_block(
            coef, spend_ratio, stress, key0, key1, first_path, block * LANES,
            total_return, annual_return, max_drawdown, crash_year, crash_origin,
            training_cost, open_share, demand, components, wipe_year, wipe_cause, flags,
            yearly, external, inputs,
        )  # fmt: skip


@kernel
def _simulate_block(
    coef, spend_ratio, stress, key0, key1, first_path, start,
    total_return, annual_return, max_drawdown, crash_year, crash_origin,
    training_cost, open_share, demand, components, wipe_year, wipe_cause, flags,
    yearly, external, inputs,
):  # fmt: skip
    """Paths ``start .. start + LANES - 1`` of the call (those below ``len(flags)``)."""
    n_paths = flags.shape[0]
    n_steps = int(coef[C.N_STEPS])
    window = int(coef[C.WINDOW])
    dt = coef[C.DT]
    steps_per_year = int(round(1.0 / dt))
    antithetic = coef[C.ANTITHETIC] != 0.0
    jumps_on = coef[C.JUMP_MU] > 0.0
    st = np.empty(STATE_SIZE)
    load_coefficients(st, coef)
    ring = np.empty(window * 3 * LANES)  # the crash window's last w segment values
    words = np.empty(LANE_WORDS, dtype=np.uint64)
    first = first_path + start

    if external.shape[0] > 0:
        _external_draws(external, start, n_paths, 0, _PATH_DRAWS, st, S.PATH_DRAWS)
    else:
        path_draws_lanes(key0, key1, first, antithetic, st, S.PATH_DRAWS)
    for lane in range(LANES):
        start_path(st, lane)
    for s in range(3):
        for lane in range(LANES):
            ring[s * LANES + lane] = st[S.LOG_V_A + s * LANES + lane]

    for n in range(1, n_steps + 1):
        t = n * dt
        if external.shape[0] > 0:  # 1.
            column = _PATH_DRAWS + _STEP_DRAWS * (n - 1)
            _external_draws(external, start, n_paths, column, _STEP_DRAWS, st, S.DRAWS)
        else:
            step_draws_lanes(key0, key1, first, antithetic, n, words, st, S.DRAWS)
        if jumps_on:
            _jumps(st, coef[C.JUMP_MU], coef[C.JUMP_P0])
        _window_peaks(st, ring, min(n, window))
        stress_demand, stress_sentiment = stress[n, 0], stress[n, 1]
        stress_open, stress_cost = stress[n, 2], stress[n, 3]
        spend = spend_ratio[n]
        for lane in range(LANES):  # 2.-18.: the vectorised body
            drivers(st, lane, jumps_on, stress_demand, stress_open, stress_cost)
            inference_market(st, lane, t)
            cash_flows(st, lane, spend)
            sentiment(st, lane, stress_sentiment)
            crash(st, lane, t)
            investor_returns(st, lane, t)
        slot = (n % window) * 3 * LANES
        for s in range(3):
            for lane in range(LANES):
                ring[slot + s * LANES + lane] = st[S.LOG_V_A + s * LANES + lane]
        year = n // steps_per_year - 1
        if n % steps_per_year == 0 and year < yearly.shape[1]:
            _record_year(st, start, n_paths, year, yearly)
    _finish(
        st, start, total_return, annual_return, max_drawdown, crash_year, crash_origin,
        training_cost, open_share, demand, components, wipe_year, wipe_cause, flags, inputs,
    )  # fmt: skip


@kernel
def _external_draws(external, start, n_paths, column, count, st, offset):
    """Draws ``column .. column + count - 1`` of the block's rows of ``external``."""
    for j in range(count):
        for lane in range(LANES):
            row = min(start + lane, n_paths - 1)  # lanes past the end repeat the last path
            st[offset + j * LANES + lane] = external[row, column + j]


@kernel
def _jumps(st, mu, p0):
    """This step's demand jumps, Poisson(mu) by inverse CDF of the jump uniform: the first
    terms of :func:`~mcengine.kernel.economics.poisson_inverse`'s sum as a lane loop, the
    rare longer sums lane by lane (the same counts)."""
    ratios = (mu / 1.0, mu / 2.0, mu / 3.0, mu / 4.0)
    unsettled = 0
    for lane in range(LANES):
        u = st[_JUMP_SLOT + lane]
        count = 0.0
        p = p0
        cdf = p
        for j in range(_JUMP_TERMS):
            more = u > cdf and p > 0.0
            count = count + 1.0 if more else count
            p = p * ratios[j] if more else p
            cdf = cdf + p if more else cdf
        st[S.JUMPS + lane] = count
        unsettled += 1 if (u > cdf and p > 0.0) else 0
    if unsettled:
        for lane in range(LANES):
            if st[S.JUMPS + lane] == _JUMP_TERMS:
                st[S.JUMPS + lane] = poisson_inverse(st[_JUMP_SLOT + lane], mu, p0)


@kernel
def _window_peaks(st, ring, filled):
    """``S.PEAK_*``: the peak of each segment's last ``filled`` values (step 15)."""
    for s in range(3):
        for lane in range(LANES):
            st[S.PEAK_A + s * LANES + lane] = _NEG_INF
        for j in range(filled):
            for lane in range(LANES):
                o = S.PEAK_A + s * LANES + lane
                st[o] = max(st[o], ring[(j * 3 + s) * LANES + lane])


@kernel
def _record_year(st, start, n_paths, year, yearly):
    """One year's column of the fan chart record: log W of A, I, T, log C, s, log D."""
    for lane in range(min(LANES, n_paths - start)):
        i = start + lane
        for s in range(3):
            alive = st[S.ALIVE_A + s * LANES + lane] != 0.0
            yearly[i, year, s] = st[S.LOG_W_A + s * LANES + lane] if alive else _NEG_INF
        yearly[i, year, 3] = st[S.LOG_C + lane]
        yearly[i, year, 4] = sigmoid(st[S.X + lane])
        yearly[i, year, 5] = st[S.LOG_D + lane]


@kernel
def _finish(
    st, start, total_return, annual_return, max_drawdown_out, crash_year, crash_origin,
    training_cost, open_share, demand, components, wipe_year, wipe_cause, flags, inputs,
):  # fmt: skip
    """The outputs of the block's paths (MODEL.md "Outputs")."""
    n_steps = int(st[C.N_STEPS])
    horizon = st[C.HORIZON]
    record = inputs.shape[0] > 0
    for lane in range(min(LANES, flags.shape[0] - start)):
        i = start + lane
        crashed = st[S.CRASHED + lane] != 0.0
        for s in range(3):
            o = s * LANES + lane
            alive = st[S.ALIVE_A + o] != 0.0
            log_w, selection = final_wealth(st, lane, s)
            total_return[i, s], annual_return[i, s] = total_and_annual(log_w, alive, horizon)
            max_drawdown_out[i, s] = max_drawdown(st[S.MIN_GAP_W_A + o], alive)
            # ln W = fundamentals + sentiment + contagion + cash flow + dilution + selection,
            # telescoped from the steps (docs/model.md, "Weighing versus voting").
            for c in range(6):
                components[i, s, c] = 0.0
            if alive:
                contagion = -st[C.HIT_A + s] if crashed else 0.0
                components[i, s, 0] = st[S.LOG_REV_A + o] - st[S.LOG_REV0_A + o]
                components[i, s, 1] = st[S.Z_A + o] - st[C.Z0_A + s] - contagion
                components[i, s, 2] = contagion
                components[i, s, 3] = st[S.CASH_PART_A + o]
                components[i, s, 4] = -n_steps * st[C.DILUTION_A + s]
                if s == 0:
                    components[i, s, 5] = selection
            wipe_year[i, s] = st[S.WIPE_T_A + o]
            wipe_cause[i, s] = int(st[S.WIPE_WHY_A + o])
        crash_year[i] = st[S.CRASH_T + lane]
        crash_origin[i] = int(st[S.ORIGIN + lane])
        training_cost[i] = exp(st[S.LOG_C + lane])
        open_share[i] = sigmoid(st[S.X + lane])
        demand[i] = exp(st[S.LOG_D + lane])
        flags[i] = path_flags(st, lane)
        if record:
            # Per-path inputs: the draws fixed per path, then the shock groups' sums over
            # the steps, standardised (sum / sqrt(steps); the jump count as is).
            inputs[i, 0] = st[S.LAM + lane]
            inputs[i, 1] = st[S.G_PATH + lane]
            inputs[i, 2] = st[_Z_SEL + lane]
            root = np.sqrt(n_steps)
            for j in range(8):
                total = st[S.SUM_COST + j * LANES + lane]
                inputs[i, 3 + j] = total if j == 3 else total / root
