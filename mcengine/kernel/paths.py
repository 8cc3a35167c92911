"""The path kernel: blocks of LANES paths in lockstep, the time loop inside, ranges of
blocks in parallel threads.

:func:`simulate_paths` runs each block of :data:`~mcengine.layout.LANES` paths through
MODEL.md's steps, the pure functions of :mod:`mcengine.kernel.steps`. Per step: the draws
of every lane (:func:`mcengine.rng.lanes.step_draws_lanes`), the demand jumps, the crash
window's peaks, then three loops over the lanes (steps 2-10, 11-13, 14-18) that load each
lane's state, run the steps and store it back; after the last step one more computes the
outputs. They have a constant trip count, no branches and no calls, so LLVM vectorises them
(``tests/test_vectorised.py`` checks its remarks).

A block's state is one flat array: slot ``S.X`` of lane ``lane`` is ``st[S.X + lane]``, each
slot ``LANES`` wide, per-segment slots three in a row (segment ``s`` at
``S.Z_A + s * LANES``). Constant offsets from one base let LLVM prove that the lanes' loads
and stores never overlap. At 39 kB it fits a 48 kB L1 data cache; nothing of size paths x
steps is allocated.

Paths are independent and their randomness is a function of (key, path index), so the
results are the same for any thread count, chunking or block; lanes past the last path of a
call are computed and dropped.
"""

from __future__ import annotations

import enum

import numpy as np
from numba import types
from numba.extending import intrinsic, overload

from mcengine.jit import inline_kernel, kernel, run_blocks, say_if_compiling
from mcengine.kernel.coefficients import C
from mcengine.kernel.economics import poisson_inverse, sigmoid, sigmoid_call
from mcengine.kernel.steps import (
    capex_overflowed,
    cash_flows,
    coefficient_tuple,
    correlated_shocks,
    crash,
    drivers,
    final_outputs,
    inference_market,
    inference_q,
    initial_state,
    path_flags,
    segment_return,
    selection,
    sentiment,
    training_spend,
    wealth_flag,
)
from mcengine.layout import (
    LANES,
    N_SEGMENTS,
    Component,
    Input,
    PathDraw,
    Segment,
    StepDraw,
    StressColumn,
    Yearly,
    names,
)
from mcengine.numerics import exp, select
from mcengine.rng.lanes import LANE_WORDS, path_draws_lanes, step_draws_lanes

__all__ = [
    "simulate_paths",
    "S",
    "STATE_SIZE",
    "INPUTS",
]

#: Columns of the ``inputs`` output (sensitivity analysis).
INPUTS = names(Input)


class S(enum.IntEnum):
    """Offsets of the per-lane state in a block's flat state array."""

    @staticmethod
    def _generate_next_value_(name, start, count, last_values):
        return count * LANES

    # this step's draws (StepDraw's order), first: step_draws_lanes writes at offset 0
    DRAWS = enum.auto()
    _DRAW_1 = enum.auto()
    _DRAW_2 = enum.auto()
    _DRAW_3 = enum.auto()
    _DRAW_4 = enum.auto()
    _DRAW_5 = enum.auto()
    _DRAW_6 = enum.auto()
    _DRAW_7 = enum.auto()
    # the drivers
    LAM = enum.auto()  # training-cost decline rate lambda (per path)
    G_PATH = enum.auto()  # initial demand growth g0 (per path)
    OPEN_DRIFT = enum.auto()  # (mu_x + coupling (lambda - median)) dt (per path)
    G = enum.auto()
    LOG_C = enum.auto()
    X = enum.auto()  # open share logit
    LOG_D = enum.auto()
    JUMPS = enum.auto()  # this step's demand jumps
    # inference market
    LOG_K = enum.auto()
    LOG_CAP = enum.auto()
    LOG_CAPEX = enum.auto()
    LOG_Q = enum.auto()
    LOG_R = enum.auto()
    LOG_P = enum.auto()
    LOG_P0 = enum.auto()
    SPEND_MULT = enum.auto()
    LOG_K_FIXED = enum.auto()  # log serving cost at fixed capability (model 2)
    LOG_Q_I = enum.auto()  # ln q of inference after the last step (model 2)
    MARGIN_I = enum.auto()  # inference's operating margin in the last step (model 2)
    LOG_Q0_I = enum.auto()  # ln q and the margin of year 0 (model 2)
    MARGIN0_I = enum.auto()
    CAPEX_OVERFLOW = enum.auto()  # 1.0 once log capex reached +inf
    # crash
    CRASHED = enum.auto()  # 1.0 or 0.0
    CRASH_T = enum.auto()
    ORIGIN = enum.auto()
    # per segment A, I, T
    Z_A = enum.auto()
    Z_I = enum.auto()
    Z_T = enum.auto()
    LOG_V_A = enum.auto()
    LOG_V_I = enum.auto()
    LOG_V_T = enum.auto()
    LOG_REV_A = enum.auto()
    LOG_REV_I = enum.auto()
    LOG_REV_T = enum.auto()
    LOG_REV0_A = enum.auto()
    LOG_REV0_I = enum.auto()
    LOG_REV0_T = enum.auto()
    CASH_A = enum.auto()  # this step's cash flow over the previous value
    CASH_I = enum.auto()
    CASH_T = enum.auto()
    PEAK_A = enum.auto()  # peak of the crash window's values
    PEAK_I = enum.auto()
    PEAK_T = enum.auto()
    LOG_W_A = enum.auto()
    LOG_W_I = enum.auto()
    LOG_W_T = enum.auto()
    LOG_PEAK_W_A = enum.auto()
    LOG_PEAK_W_I = enum.auto()
    LOG_PEAK_W_T = enum.auto()
    MIN_GAP_W_A = enum.auto()  # min over steps of log(W / peak W)
    MIN_GAP_W_I = enum.auto()
    MIN_GAP_W_T = enum.auto()
    CASH_PART_A = enum.auto()  # sum over steps of ln G - ln(V_n / V_n-1)
    CASH_PART_I = enum.auto()
    CASH_PART_T = enum.auto()
    ALIVE_A = enum.auto()  # 1.0 or 0.0
    ALIVE_I = enum.auto()
    ALIVE_T = enum.auto()
    WIPE_T_A = enum.auto()
    WIPE_T_I = enum.auto()
    WIPE_T_T = enum.auto()
    WIPE_WHY_A = enum.auto()
    WIPE_WHY_I = enum.auto()
    WIPE_WHY_T = enum.auto()
    # sums of the shocks over the steps (recorded inputs), in Input's order from COST_SHOCKS
    SUM_COST = enum.auto()
    SUM_OPEN = enum.auto()
    SUM_DEMAND = enum.auto()
    SUM_JUMPS = enum.auto()
    SUM_COMMON = enum.auto()
    SUM_A = enum.auto()
    SUM_I = enum.auto()
    SUM_T = enum.auto()
    # the per-path draws (PathDraw's order)
    PATH_DRAWS = enum.auto()
    _PATH_DRAW_1 = enum.auto()
    _PATH_DRAW_2 = enum.auto()
    # the outputs at the horizon, per segment A, I, T, then the drivers'
    TOTAL_A = enum.auto()
    TOTAL_I = enum.auto()
    TOTAL_T = enum.auto()
    ANNUAL_A = enum.auto()
    ANNUAL_I = enum.auto()
    ANNUAL_T = enum.auto()
    DRAWDOWN_A = enum.auto()
    DRAWDOWN_I = enum.auto()
    DRAWDOWN_T = enum.auto()
    TRAINING_COST = enum.auto()
    OPEN_SHARE = enum.auto()
    DEMAND = enum.auto()
    END = enum.auto()


#: Size of a block's state array. With per-path parameters, each lane's coefficients
#: follow it: coefficient ``j`` of lane ``lane`` at ``st[STATE_SIZE + j * LANES + lane]``.
STATE_SIZE = int(S.END)
_N_COEFFICIENTS = int(C.SIZE)
_BLOCK_SIZE = STATE_SIZE + _N_COEFFICIENTS * LANES
assert (len(StepDraw) - 1) * LANES == S._DRAW_7 - S.DRAWS
assert S.DRAWS == 0
assert len(PathDraw) * LANES == S.TOTAL_A - S.PATH_DRAWS

_NEG_INF = -np.inf
_PATH_DRAWS = len(PathDraw)
_STEP_DRAWS = len(StepDraw)
_N_INPUT_SUMS = len(Input) - len(PathDraw)
_COMPONENTS = len(Component)


@intrinsic
def _load_lane_coefficients(typingctx, st, lane):
    """The ``C.SIZE`` values ``st[STATE_SIZE + j * LANES + lane]`` as a tuple: straight-line
    loads at constant offsets from the state array, which LLVM vectorises with the lane loop
    and drops where a coefficient is unused. (A view of ``st`` with ``to_fixed_tuple``
    would leave reference-counting calls in the loop, which stop vectorisation.)"""
    result = types.UniTuple(types.float64, _N_COEFFICIENTS)

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        index = context.cast(builder, args[1], sig.args[1], types.intp)
        values = []
        for j in range(_N_COEFFICIENTS):
            offset = context.get_constant(types.intp, STATE_SIZE + j * LANES)
            values.append(builder.load(builder.gep(data, [builder.add(index, offset)])))
        return context.make_tuple(builder, result, values)

    return result(st, lane), codegen


def lane_coefficients(kb, st, lane):
    """The coefficients of lane ``lane``: ``kb``, the block's tuple (every lane alike), or
    with ``kb = None`` (per-path parameters) the lane's own, stored after its state."""
    if kb is not None:
        return kb
    return tuple(st[STATE_SIZE + j * LANES + lane] for j in range(_N_COEFFICIENTS))


@overload(lane_coefficients, inline="always")
def _lane_coefficients(kb, st, lane):
    if isinstance(kb, types.NoneType):
        return lambda kb, st, lane: _load_lane_coefficients(st, lane)
    return lambda kb, st, lane: kb


@kernel
def _store_lane_rows(coef, rows, st, start):
    slots, values = rows
    last = values.shape[1] - 1
    for j in range(_N_COEFFICIENTS):
        for lane in range(LANES):
            st[STATE_SIZE + j * LANES + lane] = coef[j]
    for m in range(slots.shape[0]):
        base = STATE_SIZE + slots[m] * LANES
        for lane in range(LANES):  # lanes past the last path repeat it
            st[base + lane] = values[m, min(start + lane, last)]


def block_coefficients(coef, rows, st, start):
    """The coefficient source of the block from path ``start``: the tuple of ``coef`` when
    every path shares it (``rows is None``), else ``None``, after storing each lane's
    coefficients after its state (for :func:`lane_coefficients`): ``coef`` but for the
    slots of ``rows = (slots, values)``, where lane ``l`` takes ``values[:, start + l]``."""
    if rows is None:
        return coefficient_tuple(coef)
    _store_lane_rows(coef, rows, st, start)
    return None


@overload(block_coefficients, inline="always")
def _block_coefficients(coef, rows, st, start):
    if isinstance(rows, types.NoneType):
        return lambda coef, rows, st, start: coefficient_tuple(coef)

    def per_lane(coef, rows, st, start):
        _store_lane_rows(coef, rows, st, start)

    return per_lane


def _slot(base, position):
    return int(base) + int(position) * LANES


_D_COST = _slot(S.DRAWS, StepDraw.COST)
_D_OPEN = _slot(S.DRAWS, StepDraw.OPEN_SHARE)
_D_DEMAND = _slot(S.DRAWS, StepDraw.DEMAND)
_D_COMMON = _slot(S.DRAWS, StepDraw.SENTIMENT_COMMON)
_D_A = _slot(S.DRAWS, StepDraw.SENTIMENT_APPLICATIONS)
_D_I = _slot(S.DRAWS, StepDraw.SENTIMENT_INFERENCE)
_D_T = _slot(S.DRAWS, StepDraw.SENTIMENT_TRAINING)
_D_JUMP = _slot(S.DRAWS, StepDraw.JUMP)
_Z_LAM = _slot(S.PATH_DRAWS, PathDraw.DECLINE_RATE)
_Z_G = _slot(S.PATH_DRAWS, PathDraw.INITIAL_GROWTH)
_Z_SEL = _slot(S.PATH_DRAWS, PathDraw.SELECTION)
# Arguments as int64 values, not literals (Numba compiles a function once per literal).
_I0 = np.int64(0)
_I_PATH_DRAWS = np.int64(_PATH_DRAWS)
_I_STEP_DRAWS = np.int64(_STEP_DRAWS)
_I_PATH_SLOT = np.int64(S.PATH_DRAWS)
_I_DRAW_SLOT = np.int64(S.DRAWS)
# Jump counts the lane loop settles (a Poisson(0.15) count exceeds 4 once in 50,000 steps);
# a lane with more is finished by poisson_inverse.
_JUMP_TERMS = 4


def simulate_paths(
    coef,
    rows,
    spend_ratio,
    stress,
    key0,
    key1,
    first_path,
    out,
    yearly,
    external,
    inputs,
):
    """Simulate paths ``first_path .. first_path + n - 1`` into ``out``.

    ``out`` is a :class:`mcengine.results.dataset.PathArrays` of ``n`` rows (a named tuple:
    the kernel writes each array by its name, ``(n, 3)`` for the per-segment ones,
    ``(n, 3, 6)`` for the components of ``ln W`` by :class:`~mcengine.layout.Component`);
    every element is written. ``rows`` is ``None`` (every path has the coefficients
    ``coef``) or ``(slots, values)``: the slots per-path parameters change, ``(k,)``, and
    each path's values of them, ``(k, n)`` (never the structural slots, steps and window).
    ``yearly`` is ``(n, years + 1, len(Yearly))``: year 0 (the initial state) to the
    horizon, each year's record (:class:`~mcengine.layout.Yearly`), or ``(n, 0, ...)``.
    ``external`` is ``(n, 3 + 8 N)`` draws to use instead of the Philox streams (the per-path
    normals, then per step the seven normals and the jump uniform), or ``(0, 0)``.
    ``stress`` is ``(N + 1, len(StressColumn))`` deterministic shocks per step (columns by
    :class:`~mcengine.layout.StressColumn`; docs/model.md "Stress overlays"), zeros without
    stress.
    ``inputs`` is ``(n, 11)`` for sensitivity analysis (see :data:`INPUTS`) or ``(0, 11)``.
    """
    n_blocks = (out.flags.shape[0] + LANES - 1) // LANES
    args = (coef, rows, spend_ratio, stress, key0, key1, first_path, out, yearly, external, inputs)
    say_if_compiling(_simulate_blocks, args + (0, 0), "the simulation kernel", "15 to 30 s by CPU")
    run_blocks(_simulate_blocks, args, n_blocks)


@kernel
def _simulate_blocks(
    coef, rows, spend_ratio, stress, key0, key1, first_path, out, yearly, external, inputs,
    first_block, end_block,
):  # fmt: skip
    """Blocks ``first_block .. end_block - 1`` of :func:`simulate_paths`, each the paths
    ``start .. start + LANES - 1`` of the call (those below its path count)."""
    n_paths = out.flags.shape[0]
    st = np.empty(_BLOCK_SIZE)
    words = np.empty(LANE_WORDS, dtype=np.uint64)
    n_steps = int(coef[C.N_STEPS])
    window = int(coef[C.WINDOW])
    dt = coef[C.DT]
    steps_per_year = int(round(1.0 / dt))
    antithetic = coef[C.ANTITHETIC] != 0.0
    ring = np.empty(window * N_SEGMENTS * LANES)  # the crash window's last w segment values
    for block in range(first_block, end_block):
        start = block * LANES
        k = block_coefficients(coef, rows, st, start)  # a tuple, or None: per lane in st
        first = first_path + start

        if external.shape[0] > 0:
            _external_draws(external, start, n_paths, _I0, _I_PATH_DRAWS, st, _I_PATH_SLOT)
        else:
            path_draws_lanes(key0, key1, first, antithetic, words, st)  # at offset 0
            for j in range(_PATH_DRAWS * LANES):
                st[S.PATH_DRAWS + j] = st[j]
        _start_lanes(st, k)
        _push_window(st, ring, _I0)
        if yearly.shape[1] > 0:
            _record_year(st, start, n_paths, _I0, yearly)

        for n in range(1, n_steps + 1):
            if external.shape[0] > 0:  # 1.
                column = _PATH_DRAWS + _STEP_DRAWS * (n - 1)
                _external_draws(external, start, n_paths, column, _I_STEP_DRAWS, st, _I_DRAW_SLOT)
            else:
                step_draws_lanes(key0, key1, first, antithetic, n, words, st)
            if rows is not None or coef[C.JUMP_MU] > 0.0:
                _jumps(st, k)
            _window_peaks(st, ring, min(n, window))
            shocks = (
                stress[n, StressColumn.DEMAND],
                stress[n, StressColumn.SENTIMENT],
                stress[n, StressColumn.OPEN_SHARE],
                stress[n, StressColumn.TRAINING_COST],
            )
            _market_lanes(st, k, n * dt, shocks)  # 2.-10.
            _cash_lanes(st, k, spend_ratio[n])  # 11.-13.
            _value_lanes(st, k, n * dt, shocks[StressColumn.SENTIMENT])  # 14.-18.
            _push_window(st, ring, (n % window) * N_SEGMENTS * LANES)
            year = n // steps_per_year
            if n % steps_per_year == 0 and year < yearly.shape[1]:
                _record_year(st, start, n_paths, year, yearly)
        _final_lanes(st, k)
        _finish(st, k, n_steps, start, out, inputs)


@kernel
def _start_lanes(st, kb):
    """Year 0 of every lane (MODEL.md "Initial state")."""
    for lane in range(LANES):
        k = lane_coefficients(kb, st, lane)
        lam, g, open_drift, log_q, log_r, log_p0, ra, ri, rt, log_qi, margin_i = initial_state(
            k, st[_Z_LAM + lane], st[_Z_G + lane]
        )
        st[S.LAM + lane] = lam
        st[S.G_PATH + lane] = g
        st[S.G + lane] = g
        st[S.OPEN_DRIFT + lane] = open_drift
        st[S.LOG_C + lane] = 0.0
        st[S.X + lane] = k[C.X0]
        st[S.LOG_D + lane] = 0.0
        st[S.LOG_K + lane] = k[C.LOG_K0]
        st[S.LOG_CAP + lane] = k[C.LOG_CAPACITY0]
        st[S.LOG_CAPEX + lane] = k[C.LOG_CAPEX0]
        st[S.LOG_Q + lane] = log_q
        st[S.LOG_R + lane] = log_r
        st[S.LOG_P0 + lane] = log_p0
        st[S.LOG_P + lane] = log_p0
        st[S.SPEND_MULT + lane] = 1.0
        st[S.LOG_K_FIXED + lane] = k[C.LOG_K0]
        st[S.LOG_Q_I + lane] = log_qi
        st[S.MARGIN_I + lane] = margin_i
        st[S.LOG_Q0_I + lane] = log_qi
        st[S.MARGIN0_I + lane] = margin_i
        st[S.CAPEX_OVERFLOW + lane] = 0.0
        st[S.CRASHED + lane] = 0.0
        st[S.CRASH_T + lane] = np.nan
        st[S.ORIGIN + lane] = -1.0
        revenues = (ra, ri, rt)
        z0 = (k[C.Z0_A], k[C.Z0_I], k[C.Z0_T])
        log_fsm = (k[C.LOG_FSM_A], k[C.LOG_FSM_I], k[C.LOG_FSM_T])
        for s in range(N_SEGMENTS):
            o = s * LANES + lane
            st[S.LOG_REV_A + o] = revenues[s]
            st[S.LOG_REV0_A + o] = revenues[s]
            st[S.Z_A + o] = z0[s]
            st[S.LOG_V_A + o] = log_fsm[s] + revenues[s] + z0[s]
            st[S.LOG_W_A + o] = 0.0
            st[S.LOG_PEAK_W_A + o] = 0.0
            st[S.MIN_GAP_W_A + o] = 0.0
            st[S.CASH_PART_A + o] = 0.0
            st[S.ALIVE_A + o] = 1.0
            st[S.WIPE_T_A + o] = np.nan
            st[S.WIPE_WHY_A + o] = 0.0
        for j in range(_N_INPUT_SUMS):
            st[S.SUM_COST + j * LANES + lane] = 0.0


@kernel
def _market_lanes(st, kb, t, stress):
    """Steps 1-10 of every lane: the drivers and the inference market.

    This and the next two are the vectorised loops: no branches, no calls, every access
    ``st[constant + lane]``. They are three loops, not one, because one holds more values
    than there are vector registers, and the spills cost more than the stores between them.
    """
    for lane in range(LANES):
        k = lane_coefficients(kb, st, lane)
        shocks = correlated_shocks(k, st[_D_COST + lane], st[_D_OPEN + lane], st[_D_DEMAND + lane])
        # The recorded inputs' sums of each shock group over the steps (cheap, so always).
        st[S.SUM_COST + lane] += shocks[0]
        st[S.SUM_OPEN + lane] += shocks[1]
        st[S.SUM_DEMAND + lane] += shocks[2]
        st[S.SUM_JUMPS + lane] += select(k[C.JUMP_MU] > 0.0, st[S.JUMPS + lane], 0.0)
        st[S.SUM_COMMON + lane] += st[_D_COMMON + lane]
        st[S.SUM_A + lane] += st[_D_A + lane]
        st[S.SUM_I + lane] += st[_D_I + lane]
        st[S.SUM_T + lane] += st[_D_T + lane]
        g, log_c, x, log_d = drivers(  # 1.-4.
            k, shocks, st[S.JUMPS + lane], st[S.LAM + lane], st[S.OPEN_DRIFT + lane],
            st[S.G + lane], st[S.LOG_C + lane], st[S.X + lane], st[S.LOG_D + lane], stress,
        )  # fmt: skip
        log_k, log_k_fixed, log_capex, log_cap, log_q, log_r, log_p = inference_market(  # 5.-10.
            k, t, log_d, log_c, st[S.LOG_P + lane], st[S.LOG_P0 + lane], st[S.LOG_R + lane],
            st[S.LOG_CAPEX + lane], st[S.LOG_CAP + lane],
            st[S.LOG_Q_I + lane] - st[S.LOG_Q0_I + lane],
            st[S.MARGIN_I + lane] - st[S.MARGIN0_I + lane],
        )  # fmt: skip
        overflow = st[S.CAPEX_OVERFLOW + lane]
        st[S.CAPEX_OVERFLOW + lane] = select(capex_overflowed(log_capex), 1.0, overflow)
        st[S.G + lane] = g
        st[S.LOG_C + lane] = log_c
        st[S.X + lane] = x
        st[S.LOG_D + lane] = log_d
        st[S.LOG_K + lane] = log_k
        st[S.LOG_K_FIXED + lane] = log_k_fixed
        st[S.LOG_CAPEX + lane] = log_capex
        st[S.LOG_CAP + lane] = log_cap
        st[S.LOG_Q + lane] = log_q
        st[S.LOG_R + lane] = log_r
        st[S.LOG_P + lane] = log_p


@kernel
def _cash_lanes(st, kb, spend_ratio):
    """Steps 11-13 of every lane: revenues and cash flows (``S.LOG_REV_*``, ``S.CASH_*``)."""
    for lane in range(LANES):
        k = lane_coefficients(kb, st, lane)
        rev, cash, margin_i = cash_flows(
            k, spend_ratio, st[S.LOG_P + lane], st[S.LOG_Q + lane], st[S.X + lane],
            st[S.LOG_C + lane], st[S.LOG_K + lane], st[S.LOG_CAP + lane],
            st[S.LOG_CAPEX + lane], st[S.SPEND_MULT + lane],
            (st[S.LOG_V_A + lane], st[S.LOG_V_I + lane], st[S.LOG_V_T + lane]),
        )  # fmt: skip
        st[S.LOG_REV_A + lane] = rev[0]
        st[S.LOG_REV_I + lane] = rev[1]
        st[S.LOG_REV_T + lane] = rev[2]
        st[S.CASH_A + lane] = cash[0]
        st[S.CASH_I + lane] = cash[1]
        st[S.CASH_T + lane] = cash[2]
        st[S.MARGIN_I + lane] = margin_i


@kernel
def _value_lanes(st, kb, t, stress_sentiment):
    """Steps 14-18 of every lane: sentiment, the crash test and contagion, returns."""
    for lane in range(LANES):
        k = lane_coefficients(kb, st, lane)
        rev = (st[S.LOG_REV_A + lane], st[S.LOG_REV_I + lane], st[S.LOG_REV_T + lane])
        z = sentiment(  # 14.
            k,
            st[_D_COMMON + lane],
            (st[_D_A + lane], st[_D_I + lane], st[_D_T + lane]),
            (st[S.Z_A + lane], st[S.Z_I + lane], st[S.Z_T + lane]),
            stress_sentiment,
            st[S.G + lane],  # 14'. this step's demand growth (model 2)
        )
        log_vm = (
            k[C.LOG_FSM_A] + rev[0] + z[0],
            k[C.LOG_FSM_I] + rev[1] + z[1],
            k[C.LOG_FSM_T] + rev[2] + z[2],
        )
        crashed = st[S.CRASHED + lane]
        peaks = (st[S.PEAK_A + lane], st[S.PEAK_I + lane], st[S.PEAK_T + lane])
        now, origin = crash(k, log_vm, peaks, crashed)  # 15.
        # 16. Contagion, once per path: sentiment hit, training spend cut, capex cut; then
        # model 2's investment signals for the next step (q of inference, training spend).
        z_after = (
            select(now, z[0] - k[C.HIT_A], z[0]),
            select(now, z[1] - k[C.HIT_I], z[1]),
            select(now, z[2] - k[C.HIT_T], z[2]),
        )
        st[S.CRASHED + lane] = select(now, 1.0, crashed)
        st[S.CRASH_T + lane] = select(now, t, st[S.CRASH_T + lane])
        st[S.ORIGIN + lane] = select(now, origin, st[S.ORIGIN + lane])
        st[S.SPEND_MULT + lane] = training_spend(k, st[S.SPEND_MULT + lane], now, z_after[2])
        log_capex = st[S.LOG_CAPEX + lane]
        st[S.LOG_CAPEX + lane] = select(now, log_capex + k[C.LOG_CAPEX_KEEP], log_capex)
        st[S.LOG_Q_I + lane] = inference_q(
            k, k[C.LOG_FSM_I] + rev[1] + z_after[1], st[S.LOG_K + lane], st[S.LOG_CAP + lane]
        )
        # 17.-18., segment by segment, written out: a loop over segments indexes tuples by
        # a variable, a switch, which LLVM does not vectorise.
        _segment_step(st, lane, t, k[C.DILUTION_A], k[C.LOG_FSM_A] + rev[0] + z_after[0])
        _segment_step(st, LANES + lane, t, k[C.DILUTION_I], k[C.LOG_FSM_I] + rev[1] + z_after[1])
        _segment_step(
            st, 2 * LANES + lane, t, k[C.DILUTION_T], k[C.LOG_FSM_T] + rev[2] + z_after[2]
        )
        st[S.Z_A + lane] = z_after[0]
        st[S.Z_I + lane] = z_after[1]
        st[S.Z_T + lane] = z_after[2]


@inline_kernel
def _segment_step(st, o, t, dilution, log_v_new):
    """Steps 17-18 of the segment at state offset ``o`` (straight-line loads and stores
    around :func:`~mcengine.kernel.steps.segment_return`: an array passed to an inlined
    function with branches would leave reference-counting calls in the loop)."""
    alive, wipe_t, why, log_w, peak, gap, part = segment_return(
        t, dilution, st[S.LOG_V_A + o], log_v_new, st[S.CASH_A + o],
        st[S.ALIVE_A + o], st[S.WIPE_T_A + o], st[S.WIPE_WHY_A + o], st[S.LOG_W_A + o],
        st[S.LOG_PEAK_W_A + o], st[S.MIN_GAP_W_A + o], st[S.CASH_PART_A + o],
    )  # fmt: skip
    st[S.ALIVE_A + o] = alive
    st[S.WIPE_T_A + o] = wipe_t
    st[S.WIPE_WHY_A + o] = why
    st[S.LOG_W_A + o] = log_w
    st[S.LOG_PEAK_W_A + o] = peak
    st[S.MIN_GAP_W_A + o] = gap
    st[S.CASH_PART_A + o] = part
    st[S.LOG_V_A + o] = log_v_new


@kernel
def _external_draws(external, start, n_paths, column, count, st, offset):
    """Draws ``column .. column + count - 1`` of the block's rows of ``external``."""
    for j in range(count):
        for lane in range(LANES):
            row = min(start + lane, n_paths - 1)  # lanes past the end repeat the last path
            st[offset + j * LANES + lane] = external[row, column + j]


@kernel
def _jumps(st, kb):
    """This step's demand jumps, Poisson(mu) by inverse CDF of the jump uniform: the first
    terms of :func:`~mcengine.kernel.economics.poisson_inverse`'s sum as a lane loop, the
    rare longer sums lane by lane (the same counts)."""
    unsettled = 0
    for lane in range(LANES):
        k = lane_coefficients(kb, st, lane)
        mu = k[C.JUMP_MU]
        ratios = (mu / 1.0, mu / 2.0, mu / 3.0, mu / 4.0)
        u = st[_D_JUMP + lane]
        count = 0.0
        p = k[C.JUMP_P0]
        cdf = p
        for j in range(_JUMP_TERMS):
            more = u > cdf and p > 0.0
            count = select(more, count + 1.0, count)
            p = select(more, p * ratios[j], p)
            cdf = select(more, cdf + p, cdf)
        st[S.JUMPS + lane] = count
        unsettled += 1 if (u > cdf and p > 0.0) else 0
    if unsettled:
        for lane in range(LANES):
            if st[S.JUMPS + lane] == _JUMP_TERMS:
                k = lane_coefficients(kb, st, lane)
                u = st[_D_JUMP + lane]
                st[S.JUMPS + lane] = poisson_inverse(u, k[C.JUMP_MU], k[C.JUMP_P0])


@kernel
def _window_peaks(st, ring, filled):
    """``S.PEAK_*``: the peak of each segment's last ``filled`` values (step 15)."""
    for s in range(N_SEGMENTS):
        for lane in range(LANES):
            st[S.PEAK_A + s * LANES + lane] = -np.inf
        for j in range(filled):
            for lane in range(LANES):
                o = S.PEAK_A + s * LANES + lane
                st[o] = max(st[o], ring[(j * N_SEGMENTS + s) * LANES + lane])


@kernel
def _push_window(st, ring, slot):
    """Step 18's values into the crash window's ring, at ``slot``."""
    for s in range(N_SEGMENTS):
        for lane in range(LANES):
            ring[slot + s * LANES + lane] = st[S.LOG_V_A + s * LANES + lane]


@kernel
def _record_year(st, start, n_paths, year, yearly):
    """One year's record (:class:`~mcengine.layout.Yearly`): log W of A, I, T, log C, s,
    log D, then the token price relative to year 0, serving cost, capex, capacity,
    utilisation and each segment's revenue, in logs."""
    for lane in range(min(LANES, n_paths - start)):
        i = start + lane
        for s in range(N_SEGMENTS):
            alive = st[S.ALIVE_A + s * LANES + lane] != 0.0
            log_w = st[S.LOG_W_A + s * LANES + lane] if alive else -np.inf
            yearly[i, year, Yearly.LOG_WEALTH_APPLICATIONS + s] = log_w
            revenue = st[S.LOG_REV_A + s * LANES + lane]
            yearly[i, year, Yearly.LOG_REVENUE_APPLICATIONS + s] = revenue
        yearly[i, year, Yearly.LOG_TRAINING_COST] = st[S.LOG_C + lane]
        yearly[i, year, Yearly.OPEN_SHARE] = sigmoid_call(st[S.X + lane])
        yearly[i, year, Yearly.LOG_DEMAND] = st[S.LOG_D + lane]
        yearly[i, year, Yearly.LOG_TOKEN_PRICE] = st[S.LOG_P + lane] - st[S.LOG_P0 + lane]
        yearly[i, year, Yearly.LOG_SERVING_COST] = st[S.LOG_K + lane]
        yearly[i, year, Yearly.LOG_CAPEX] = st[S.LOG_CAPEX + lane]
        yearly[i, year, Yearly.LOG_CAPACITY] = st[S.LOG_CAP + lane]
        yearly[i, year, Yearly.LOG_UTILISATION] = st[S.LOG_R + lane]
        efficiency = st[S.LOG_K + lane] - st[S.LOG_K_FIXED + lane]
        price = st[S.LOG_P + lane] - st[S.LOG_P0 + lane]
        yearly[i, year, Yearly.LOG_FIXED_CAPABILITY_PRICE] = price - efficiency
        yearly[i, year, Yearly.LOG_FIXED_CAPABILITY_COST] = st[S.LOG_K_FIXED + lane]
        yearly[i, year, Yearly.LOG_Q_INFERENCE] = st[S.LOG_Q_I + lane]


@kernel
def _final_lanes(st, kb):
    """The float outputs of every lane (MODEL.md "Outputs"), as a vectorised lane loop:
    their exp and expm1 are most of the cost of finishing a path."""
    for lane in range(LANES):
        k = lane_coefficients(kb, st, lane)
        spread = selection(k, st[_Z_SEL + lane])
        for_a = _final_segment(st, k, lane, spread)
        for_i = _final_segment(st, k, LANES + lane, 0.0)
        for_t = _final_segment(st, k, 2 * LANES + lane, 0.0)
        st[S.TOTAL_A + lane], st[S.ANNUAL_A + lane], st[S.DRAWDOWN_A + lane] = for_a
        st[S.TOTAL_I + lane], st[S.ANNUAL_I + lane], st[S.DRAWDOWN_I + lane] = for_i
        st[S.TOTAL_T + lane], st[S.ANNUAL_T + lane], st[S.DRAWDOWN_T + lane] = for_t
        st[S.TRAINING_COST + lane] = exp(st[S.LOG_C + lane])
        st[S.OPEN_SHARE + lane] = sigmoid(st[S.X + lane])
        st[S.DEMAND + lane] = exp(st[S.LOG_D + lane])


@inline_kernel
def _final_wealth(st, o, spread):
    """``(alive, ln W)`` at the horizon of the segment at state offset ``o``: ``spread`` is
    the selection spread (applications only), added to an alive investor's ln W."""
    alive = st[S.ALIVE_A + o] != 0.0
    return alive, st[S.LOG_W_A + o] + select(alive, spread, 0.0)


@inline_kernel
def _final_segment(st, k, o, spread):
    """:func:`~mcengine.kernel.steps.final_outputs` of the segment at state offset ``o``
    (``spread`` as for :func:`_final_wealth`)."""
    alive, log_w = _final_wealth(st, o, spread)
    return final_outputs(k, log_w, alive, st[S.MIN_GAP_W_A + o])


@kernel
def _finish(st, kb, n_steps, start, out, inputs):
    """The outputs of the block's paths into ``out`` (MODEL.md "Outputs")."""
    record = inputs.shape[0] > 0
    components = out.components
    for lane in range(min(LANES, out.flags.shape[0] - start)):
        k = lane_coefficients(kb, st, lane)
        i = start + lane
        crashed = st[S.CRASHED + lane] != 0.0
        spread = selection(k, st[_Z_SEL + lane])
        flag = path_flags(st[S.CAPEX_OVERFLOW + lane] != 0.0, st[S.LOG_D + lane])
        for s in range(N_SEGMENTS):
            o = s * LANES + lane
            alive, log_w = _final_wealth(st, o, spread if s == Segment.APPLICATIONS else 0.0)
            flag |= wealth_flag(s, log_w, alive)
            out.total_return[i, s] = st[S.TOTAL_A + o]
            out.annual_return[i, s] = st[S.ANNUAL_A + o]
            out.max_drawdown[i, s] = st[S.DRAWDOWN_A + o]
            # ln W = fundamentals + sentiment + contagion + cash flow + dilution + selection,
            # telescoped from the steps (docs/model.md, "Weighing versus voting").
            for c in range(_COMPONENTS):
                components[i, s, c] = 0.0
            if alive:
                contagion = -k[C.HIT_A + s] if crashed else 0.0
                components[i, s, Component.FUNDAMENTAL] = st[S.LOG_REV_A + o] - st[S.LOG_REV0_A + o]
                components[i, s, Component.SENTIMENT] = st[S.Z_A + o] - k[C.Z0_A + s] - contagion
                components[i, s, Component.CONTAGION] = contagion
                components[i, s, Component.CASH_FLOW] = st[S.CASH_PART_A + o]
                components[i, s, Component.DILUTION] = -n_steps * k[C.DILUTION_A + s]
                if s == Segment.APPLICATIONS:
                    components[i, s, Component.SELECTION] = spread
            out.wipe_year[i, s] = st[S.WIPE_T_A + o]
            out.wipe_cause[i, s] = int(st[S.WIPE_WHY_A + o])
        out.crash_year[i] = st[S.CRASH_T + lane]
        out.crash_origin[i] = int(st[S.ORIGIN + lane])
        out.training_cost[i] = st[S.TRAINING_COST + lane]
        out.open_share[i] = st[S.OPEN_SHARE + lane]
        out.demand[i] = st[S.DEMAND + lane]
        out.flags[i] = flag
        if record:
            # Per-path inputs: the draws fixed per path, then the shock groups' sums over
            # the steps, standardised (sum / sqrt(steps); the jump count as is).
            inputs[i, Input.DECLINE_RATE] = st[S.LAM + lane]
            inputs[i, Input.INITIAL_GROWTH] = st[S.G_PATH + lane]
            inputs[i, Input.SELECTION] = st[_Z_SEL + lane]
            root = np.sqrt(n_steps)
            for j in range(_N_INPUT_SUMS):
                total = st[S.SUM_COST + j * LANES + lane]
                jumps = j == Input.DEMAND_JUMPS - Input.COST_SHOCKS
                inputs[i, Input.COST_SHOCKS + j] = total if jumps else total / root
