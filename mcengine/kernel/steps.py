"""MODEL.md's steps as functions of one lane of a block of paths.

The kernel (:mod:`mcengine.kernel.paths`) advances :data:`~mcengine.layout.LANES` paths in
lockstep. Their state lives in one flat float64 array: slot ``S.X`` of lane ``lane`` is
``st[S.X + lane]`` (each slot is ``LANES`` wide; per-segment slots are three in a row, segment
``s`` at ``S.Z_A + s * LANES``). Each function below is one group of MODEL.md's steps for one
lane, numbered as there; the kernel calls them inside lane loops. They are written
branch-free so that LLVM can vectorise those loops: every "if" of the model is a select
between two computed values, and the special cases of the maths are selects too
(:mod:`mcengine.numerics`). The builtins ``min``/``max`` are avoided (inlined, they leave a
call in the loop), as are tests for infinity (LLVM folds them into ``llvm.is.fpclass``).

The coefficient vector is the head of the same array (``st[C.X]``, :func:`load_coefficients`),
so that every access is one base with constant offsets. (LLVM still reports the lane loop
as unsafe to vectorise, a coefficient load against the lane stores; hoisting coefficients
into scalars is the next step, docs/architecture.md.) A per-path parameter vector would
become lane slots.
"""

from __future__ import annotations

import enum

import numpy as np

from mcengine.jit import inline_kernel
from mcengine.kernel.coefficients import LOG_MAX, C
from mcengine.kernel.economics import (
    growth_factor,
    log_one_minus_sigmoid,
    log_price,
    log_revenues,
    log_scale,
    logaddexp,
    weighted_exp,
)
from mcengine.layout import LANES, PathDraw, StepDraw
from mcengine.numerics import exp, expm1, fmax, fmin, log

__all__ = [
    "S",
    "STATE_SIZE",
    "COEFFICIENTS",
    "load_coefficients",
    "start_path",
    "drivers",
    "inference_market",
    "cash_flows",
    "sentiment",
    "crash",
    "investor_returns",
    "FLAG_CAPEX_OVERFLOW",
    "FLAG_DEMAND_OVERFLOW",
    "FLAG_WEALTH_OVERFLOW",
    "WIPE_CASH_SHORTFALL",
    "WIPE_ZERO_VALUE",
    "WIPE_NOT_FINITE",
]

#: Why an investor was wiped out (``wipe_cause``); 0 = not wiped out.
WIPE_CASH_SHORTFALL = 1  # G <= 0: cash needs exceeded the segment's value
WIPE_ZERO_VALUE = 2  # V_prev = 0: nothing left to invest in
WIPE_NOT_FINITE = 3  # G not finite

#: Path flags: a quantity left float64's range, so the run must be refused (engine.chunks).
#: The wealth flag is shifted left by the segment index (4, 8, 16 for A, I, T).
FLAG_CAPEX_OVERFLOW = 1
FLAG_DEMAND_OVERFLOW = 2
FLAG_WEALTH_OVERFLOW = 4

_NEG_INF = -np.inf
_INF = np.inf
_NAN = np.nan


#: The state array starts with the coefficient vector (``st[C.X]`` is coefficient ``X``),
#: rounded up to whole cache lines; then the lane slots.
COEFFICIENTS = (int(C.SIZE) + 7) // 8 * 8


class S(enum.IntEnum):
    """Offsets of the per-lane state in the block's flat state array."""

    @staticmethod
    def _generate_next_value_(name, start, count, last_values):
        return COEFFICIENTS + count * LANES

    # the drivers
    LAM = enum.auto()  # training-cost decline rate lambda (per path)
    G_PATH = enum.auto()  # initial demand growth g0 (per path)
    OPEN_DRIFT = enum.auto()  # (mu_x + coupling (lambda - median)) dt
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
    LOG_BILL = enum.auto()
    SPEND_MULT = enum.auto()
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
    # crash
    CRASHED = enum.auto()  # 1.0 or 0.0
    CRASH_T = enum.auto()
    ORIGIN = enum.auto()
    CAPEX_OVERFLOW = enum.auto()  # 1.0 once log capex reached +inf
    # sums of the shocks over the steps (recorded inputs), in Input's order from COST_SHOCKS
    SUM_COST = enum.auto()
    SUM_OPEN = enum.auto()
    SUM_DEMAND = enum.auto()
    SUM_JUMPS = enum.auto()
    SUM_COMMON = enum.auto()
    SUM_A = enum.auto()
    SUM_I = enum.auto()
    SUM_T = enum.auto()
    # the draws: per path (PathDraw's order), then this step's (StepDraw's order)
    PATH_DRAWS = enum.auto()
    _PATH_DRAW_1 = enum.auto()
    _PATH_DRAW_2 = enum.auto()
    DRAWS = enum.auto()
    _DRAW_1 = enum.auto()
    _DRAW_2 = enum.auto()
    _DRAW_3 = enum.auto()
    _DRAW_4 = enum.auto()
    _DRAW_5 = enum.auto()
    _DRAW_6 = enum.auto()
    _DRAW_7 = enum.auto()
    END = enum.auto()


#: Size of a block's state array.
STATE_SIZE = int(S.END)
assert (len(StepDraw) - 1) * LANES == S._DRAW_7 - S.DRAWS
assert len(PathDraw) * LANES == S.DRAWS - S.PATH_DRAWS


@inline_kernel
def load_coefficients(st, coef):
    """Put the coefficient vector at the head of a block's state array."""
    for c in range(coef.shape[0]):
        st[c] = coef[c]


def _draw(slot):
    return int(S.DRAWS) + int(slot) * LANES


_E_COST = _draw(StepDraw.COST)
_E_OPEN = _draw(StepDraw.OPEN_SHARE)
_E_DEMAND = _draw(StepDraw.DEMAND)
_E_COMMON = _draw(StepDraw.SENTIMENT_COMMON)
_E_IDIO = _draw(StepDraw.SENTIMENT_APPLICATIONS)  # then inference, training
_Z_LAM = int(S.PATH_DRAWS) + int(PathDraw.DECLINE_RATE) * LANES
_Z_G = int(S.PATH_DRAWS) + int(PathDraw.INITIAL_GROWTH) * LANES
_Z_SEL = int(S.PATH_DRAWS) + int(PathDraw.SELECTION) * LANES


@inline_kernel
def start_path(st, lane):
    """The year-0 state from the per-path draws (MODEL.md "Initial state")."""
    lam = st[C.LAMBDA_MEDIAN] * exp(st[C.LAMBDA_DISPERSION] * st[_Z_LAM + lane])
    st[S.LAM + lane] = lam
    g = st[C.G_MEAN] + st[C.G_SD] * st[_Z_G + lane]
    st[S.G_PATH + lane] = g
    st[S.G + lane] = g
    st[S.OPEN_DRIFT + lane] = (
        st[C.OPEN_DRIFT] + st[C.OPEN_COUPLING] * (lam - st[C.LAMBDA_MEDIAN])
    ) * st[C.DT]
    st[S.LOG_C + lane] = 0.0
    x = st[C.X0]
    st[S.X + lane] = x
    st[S.LOG_D + lane] = 0.0
    log_k = st[C.LOG_K0]
    st[S.LOG_K + lane] = log_k
    log_cap = st[C.LOG_CAPACITY0]
    st[S.LOG_CAP + lane] = log_cap
    st[S.LOG_CAPEX + lane] = st[C.LOG_CAPEX0]
    st[S.SPEND_MULT + lane] = 1.0
    log_q = fmin(0.0, log_cap)
    st[S.LOG_Q + lane] = log_q
    log_r = -log_cap
    st[S.LOG_R + lane] = log_r
    log_p0 = log_price(log_k, log_r, st)
    st[S.LOG_P0 + lane] = log_p0
    st[S.LOG_P + lane] = log_p0
    _, ra, ri, rt = log_revenues(log_p0, log_q, log_one_minus_sigmoid(x), 0.0, st)
    st[S.LOG_REV_A + lane] = ra
    st[S.LOG_REV_I + lane] = ri
    st[S.LOG_REV_T + lane] = rt
    for s in range(3):
        o = s * LANES + lane
        rev = st[S.LOG_REV_A + o]
        z0 = st[C.Z0_A + s]
        st[S.LOG_REV0_A + o] = rev
        st[S.Z_A + o] = z0
        st[S.LOG_V_A + o] = st[C.LOG_FSM_A + s] + rev + z0
        st[S.LOG_W_A + o] = 0.0
        st[S.LOG_PEAK_W_A + o] = 0.0
        st[S.MIN_GAP_W_A + o] = 0.0
        st[S.CASH_PART_A + o] = 0.0
        st[S.ALIVE_A + o] = 1.0
        st[S.WIPE_T_A + o] = _NAN
        st[S.WIPE_WHY_A + o] = 0.0
    st[S.CRASHED + lane] = 0.0
    st[S.CRASH_T + lane] = _NAN
    st[S.ORIGIN + lane] = -1.0
    st[S.CAPEX_OVERFLOW + lane] = 0.0
    for j in range(8):
        st[S.SUM_COST + j * LANES + lane] = 0.0


@inline_kernel
def drivers(st, lane, jumps_on, stress_demand, stress_open, stress_cost):
    """Steps 1-4: correlated shocks, training cost, open share, demand (with its jumps)."""
    dt = st[C.DT]
    d0 = st[_E_COST + lane]
    d1 = st[_E_OPEN + lane]
    d2 = st[_E_DEMAND + lane]
    e_c = d0  # 1.
    e_s = st[C.L10] * d0 + st[C.L11] * d1
    e_d = st[C.L20] * d0 + st[C.L21] * d1 + st[C.L22] * d2
    st[S.SUM_COST + lane] += e_c
    st[S.SUM_OPEN + lane] += e_s
    st[S.SUM_DEMAND + lane] += e_d
    for j in range(4):
        st[S.SUM_COMMON + j * LANES + lane] += st[_E_COMMON + j * LANES + lane]
    lam = st[S.LAM + lane]
    st[S.LOG_C + lane] += -lam * dt + st[C.COST_VOL_SQDT] * e_c + stress_cost  # 2.
    st[S.X + lane] += st[S.OPEN_DRIFT + lane] + st[C.OPEN_VOL_SQDT] * e_s + stress_open  # 3.
    g = st[S.G + lane]
    g_new = st[C.G_LONG] + (g - st[C.G_LONG]) * st[C.G_DECAY] + st[C.G_NOISE] * e_d
    log_d = st[S.LOG_D + lane] + (0.5 * (g + g_new) * dt + stress_demand)  # 4.
    jumps = st[S.JUMPS + lane]
    st[S.LOG_D + lane] = log_d + st[C.JUMP_SIZE] * jumps if jumps_on else log_d
    st[S.SUM_JUMPS + lane] += jumps if jumps_on else 0.0
    st[S.G + lane] = g_new


@inline_kernel
def inference_market(st, lane, t):
    """Steps 5-10: quantity demanded, unit cost, capex, capacity, served quantity, price."""
    log_p = st[S.LOG_P + lane]
    log_qd = st[S.LOG_D + lane] - log_scale(
        st[C.PRICE_ELASTICITY], log_p - st[S.LOG_P0 + lane]
    )  # 5.
    log_c = st[S.LOG_C + lane]
    log_k = st[C.LOG_K0] - st[C.HW_DECLINE] * t + log_scale(st[C.PASS_THROUGH], log_c)  # 6.
    # 7. Capex grows, faster while demand outruns capacity; zero capex stays zero.
    log_capex = st[S.LOG_CAPEX + lane]
    accel = st[C.CAPEX_ACCEL_DT] * (exp(st[S.LOG_R + lane]) - 1.0)
    growth = st[C.CAPEX_GROWTH_DT] + accel if st[C.CAPEX_ACCEL_DT] != 0.0 else st[C.CAPEX_GROWTH_DT]
    log_capex = log_capex + growth if log_capex != _NEG_INF else log_capex
    # Capex at +inf overflows float64: the path is flagged and the run refused.
    st[S.CAPEX_OVERFLOW + lane] = 1.0 if log_capex == _INF else st[S.CAPEX_OVERFLOW + lane]
    st[S.LOG_CAPEX + lane] = log_capex
    log_cap = logaddexp(
        st[S.LOG_CAP + lane] - st[C.CAPACITY_DECAY], log_capex + st[C.LOG_BUILD] - log_k
    )  # 8.
    st[S.LOG_CAP + lane] = log_cap
    st[S.LOG_Q + lane] = fmin(log_qd, log_cap)  # 9.
    log_r = log_qd - log_cap
    st[S.LOG_R + lane] = log_r
    st[S.LOG_K + lane] = log_k
    st[S.LOG_P + lane] = log_price(log_k, log_r, st)  # 10.


@inline_kernel
def cash_flows(st, lane, spend_ratio):
    """Steps 11-13: token bill, segment revenues, and each segment's cash flow divided by
    its previous value (see :func:`~mcengine.kernel.economics.growth_factor`)."""
    dt = st[C.DT]
    log_k = st[S.LOG_K + lane]
    log_q = st[S.LOG_Q + lane]
    log_bill, ra, ri, rt = log_revenues(  # 11.-12.
        st[S.LOG_P + lane], log_q, log_one_minus_sigmoid(st[S.X + lane]), st[S.LOG_C + lane], st
    )
    st[S.LOG_BILL + lane] = log_bill
    st[S.LOG_REV_A + lane] = ra
    st[S.LOG_REV_I + lane] = ri
    st[S.LOG_REV_T + lane] = rt
    log_va = st[S.LOG_V_A + lane]
    log_vi = st[S.LOG_V_I + lane]
    log_vt = st[S.LOG_V_T + lane]
    st[S.CASH_A + lane] = dt * (  # 13.
        weighted_exp(1.0 - st[C.APP_OPEX], ra - log_va) - exp(log_bill - log_va)
    )
    st[S.CASH_I + lane] = dt * (
        exp(ri - log_vi)
        - weighted_exp(st[C.VARIABLE_SHARE], log_k + log_q - log_vi)
        - weighted_exp(1.0 - st[C.VARIABLE_SHARE], log_k + st[S.LOG_CAP + lane] - log_vi)
        - exp(st[S.LOG_CAPEX + lane] - log_vi)
    )
    margin = 1.0 - st[C.TRAIN_OPEX] - spend_ratio * st[S.SPEND_MULT + lane]
    st[S.CASH_T + lane] = dt * weighted_exp(margin, rt - log_vt)


@inline_kernel
def sentiment(st, lane, stress_sentiment):
    """Step 14: sentiment, an exact OU step towards fair value, per segment."""
    common = st[C.SENT_COMMON] * st[_E_COMMON + lane]
    for s in range(3):
        o = s * LANES + lane
        z = st[S.Z_A + o] * st[C.SENT_DECAY] + common + st[C.SENT_IDIO] * st[_E_IDIO + o]
        st[S.Z_A + o] = z + stress_sentiment


@inline_kernel
def crash(st, lane, t):
    """Steps 15-16: the crash test against the window's peak, then contagion, once per path.

    dd > threshold  <=>  log(V-/max(peak, V-)) < log(1 - threshold), and the segment with the
    largest drawdown has the most negative log ratio (no exp needed). ``S.PEAK_*`` hold the
    peaks of the window's values (``-inf`` for none).
    """
    worst_gap = 0.0
    worst_s = 0.0
    for s in range(3):
        o = s * LANES + lane
        log_vm = st[C.LOG_FSM_A + s] + st[S.LOG_REV_A + o] + st[S.Z_A + o]
        log_peak = st[S.PEAK_A + o]
        gap = log_vm - fmax(log_peak, log_vm) if log_peak != _NEG_INF else 0.0
        worse = gap < worst_gap
        worst_gap = gap if worse else worst_gap
        worst_s = float(s) if worse else worst_s
    crashed = st[S.CRASHED + lane] != 0.0
    now = not crashed and worst_gap < st[C.LOG_CRASH_KEEP]  # 16. Contagion
    st[S.CRASHED + lane] = 1.0 if (crashed or now) else 0.0
    st[S.CRASH_T + lane] = t if now else st[S.CRASH_T + lane]
    st[S.ORIGIN + lane] = worst_s if now else st[S.ORIGIN + lane]
    for s in range(3):
        o = s * LANES + lane
        st[S.Z_A + o] = st[S.Z_A + o] - st[C.HIT_A + s] if now else st[S.Z_A + o]
    spend = st[S.SPEND_MULT + lane]
    st[S.SPEND_MULT + lane] = spend * st[C.SPEND_KEEP] if now else spend
    capex = st[S.LOG_CAPEX + lane]
    st[S.LOG_CAPEX + lane] = capex + st[C.LOG_CAPEX_KEEP] if now else capex


@inline_kernel
def investor_returns(st, lane, t):
    """Steps 17-18: each alive investor's growth factor, wealth, drawdown and wipe-out."""
    for s in range(3):
        o = s * LANES + lane
        log_v = st[S.LOG_V_A + o]
        log_v_new = st[C.LOG_FSM_A + s] + st[S.LOG_REV_A + o] + st[S.Z_A + o]
        gf = growth_factor(log_v_new, log_v, st[S.CASH_A + o])
        was_alive = st[S.ALIVE_A + o] != 0.0
        ok = gf > 0.0 and gf < _INF
        dies = was_alive and not ok
        lives = was_alive and ok
        st[S.ALIVE_A + o] = 1.0 if lives else 0.0
        st[S.WIPE_T_A + o] = t if dies else st[S.WIPE_T_A + o]
        why = (
            WIPE_ZERO_VALUE
            if log_v == _NEG_INF
            else (WIPE_CASH_SHORTFALL if gf <= 0.0 else WIPE_NOT_FINITE)
        )
        st[S.WIPE_WHY_A + o] = float(why) if dies else st[S.WIPE_WHY_A + o]
        log_g = log(gf)
        log_w = st[S.LOG_W_A + o]
        log_w = log_w + (log_g - st[C.DILUTION_A + s]) if lives else log_w
        st[S.LOG_W_A + o] = log_w
        cash_part = st[S.CASH_PART_A + o]
        st[S.CASH_PART_A + o] = cash_part + (log_g - (log_v_new - log_v)) if lives else cash_part
        peak = fmax(st[S.LOG_PEAK_W_A + o], log_w)
        st[S.LOG_PEAK_W_A + o] = peak
        # Max drawdown = 1 - exp(min log(W/peak)): one expm1 at the end.
        st[S.MIN_GAP_W_A + o] = fmin(st[S.MIN_GAP_W_A + o], log_w - peak)
        st[S.LOG_V_A + o] = log_v_new  # 18.


@inline_kernel
def final_wealth(st, lane, s):
    """ln W at the horizon: the selection spread applies to applications only."""
    sd = st[C.SELECTION_SD]
    selection = sd * st[_Z_SEL + lane] - 0.5 * sd * sd
    log_w = st[S.LOG_W_A + s * LANES + lane]
    alive = st[S.ALIVE_A + s * LANES + lane] != 0.0
    return log_w + selection if (s == 0 and alive) else log_w, selection


@inline_kernel
def path_flags(st, lane):
    """The overflow flags of a finished path (FLAG_*)."""
    flag = FLAG_CAPEX_OVERFLOW if st[S.CAPEX_OVERFLOW + lane] != 0.0 else 0
    if st[S.LOG_D + lane] > LOG_MAX:
        flag |= FLAG_DEMAND_OVERFLOW
    for s in range(3):
        log_w, _ = final_wealth(st, lane, s)
        if st[S.ALIVE_A + s * LANES + lane] != 0.0 and log_w > LOG_MAX:
            flag |= FLAG_WEALTH_OVERFLOW << s
    return flag


@inline_kernel
def total_and_annual(log_w, alive, horizon):
    if not alive:
        return 0.0, -1.0
    return exp(log_w), expm1(log_w / horizon)


@inline_kernel
def max_drawdown(min_gap, alive):
    if not alive:
        return 1.0
    return -expm1(min_gap) if min_gap < 0.0 else 0.0  # never below its peak (and not -0.0)
