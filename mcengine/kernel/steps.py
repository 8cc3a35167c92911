"""MODEL.md's steps as pure functions of one path's scalars.

Each function is one group of MODEL.md's steps, numbered as there: it takes the path's
current values and the coefficient tuple ``k`` (index it with ``C`` as the vector:
``k[C.DT]``; :func:`coefficient_tuple`) and returns the new values. Nothing here reads or
writes an array, so a function is as callable on one path (a test, a debugger, the
reference) as inside the kernel's lane loop (:mod:`mcengine.kernel.paths`), which loads each
lane's state, calls the steps and stores it back.

They are written for that loop to vectorise: no branches (every "if" of the model is a
select between two computed values, and the special cases of the maths are selects too,
:mod:`mcengine.numerics`), no builtin ``min``/``max`` (inlined, they leave a call in the
loop), no float tests for infinity (LLVM folds several into ``llvm.is.fpclass``, which it
cannot vectorise; the tests are on the bits) and no ``and``/``or``/``not`` on conditions
(they are branches; ``&``, ``|`` and comparisons are not; ``~`` on a Numba boolean is the
integer invert). Arrays passed to inlined functions cost reference-counting calls in the
loop, which is why the state is scalars here.
"""

from __future__ import annotations

import numpy as np
from numba.extending import overload
from numba.np.unsafe.ndarray import to_fixed_tuple

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
from mcengine.layout import (
    FLAG_CAPEX_OVERFLOW,
    FLAG_DEMAND_OVERFLOW,
    FLAG_WEALTH_OVERFLOW,
    WIPE_CASH_SHORTFALL,
    WIPE_NOT_FINITE,
    WIPE_ZERO_VALUE,
    StressColumn,
)
from mcengine.numerics import (
    exp,
    expm1,
    fmax,
    fmin,
    is_neg_inf,
    is_pos_inf,
    is_positive_finite,
    log,
    select,
)

__all__ = [
    "coefficient_tuple",
    "initial_state",
    "correlated_shocks",
    "drivers",
    "inference_q",
    "margin",
    "serving_costs",
    "capex_growth",
    "inference_market",
    "cash_flows",
    "sentiment",
    "training_spend",
    "crash",
    "segment_return",
    "final_outputs",
    "path_flags",
    "wealth_flag",
    "selection",
    "capex_overflowed",
]

_NEG_INF = -np.inf
_N_COEFFICIENTS = int(C.SIZE)


def coefficient_tuple(coef):
    """The coefficient vector as a tuple. Compiled, its values live in registers (or on
    the stack), which no store to the lanes' state can alias, so the lane loop needs no
    run-time alias checks (with the vector, LLVM refused to vectorise for them)."""
    return tuple(coef.tolist())


@overload(coefficient_tuple, inline="always")
def _coefficient_tuple_compiled(coef):
    return lambda coef: to_fixed_tuple(coef, _N_COEFFICIENTS)


@inline_kernel
def initial_state(k, z_lam, z_g):
    """MODEL.md "Initial state" from the per-path draws: ``(lambda, g0, open drift, log Q,
    log r, log p0, log R_A, log R_I, log R_T, ln q_I, m_I)``, the last two model 2's
    investment signals of year 0; the rest of year 0 is the coefficients'."""
    lam = k[C.LAMBDA_MEDIAN] * exp(k[C.LAMBDA_DISPERSION] * z_lam)
    g = k[C.G_MEAN] + k[C.G_SD] * z_g
    open_drift = (k[C.OPEN_DRIFT] + k[C.OPEN_COUPLING] * (lam - k[C.LAMBDA_MEDIAN])) * k[C.DT]
    log_cap = k[C.LOG_CAPACITY0]
    log_q = fmin(0.0, log_cap)
    log_r = -log_cap
    log_p0 = log_price(k[C.LOG_K0], log_r, k)
    _, ra, ri, rt = log_revenues(log_p0, log_q, log_one_minus_sigmoid(k[C.X0]), 0.0, k)
    log_k = k[C.LOG_K0]
    variable, fixed = serving_costs(k, log_k, log_q, log_cap, ri)
    log_qi = inference_q(k, k[C.LOG_FSM_I] + ri + k[C.Z0_I], log_k, log_cap)
    m_i = margin(1.0, variable + fixed)
    return lam, g, open_drift, log_q, log_r, log_p0, ra, ri, rt, log_qi, m_i


@inline_kernel
def serving_costs(k, log_k, log_q, log_cap, log_unit):
    """Step 13's serving cost of inference in units of ``exp(log_unit)``: ``(variable,
    fixed)``, the variable share on the tokens served and the rest on capacity."""
    variable = weighted_exp(k[C.VARIABLE_SHARE], log_k + log_q - log_unit)
    return variable, weighted_exp(1.0 - k[C.VARIABLE_SHARE], log_k + log_cap - log_unit)


@inline_kernel
def inference_q(k, log_vi, log_k, log_cap):
    """Model 2: ln q of inference, its value over the replacement cost of its capacity,
    ``capital_intensity * k * K`` (what building capacity K costs at today's unit cost)."""
    return log_vi - (k[C.LOG_CAPITAL_INTENSITY] + log_k + log_cap)


@inline_kernel
def margin(revenue, cost):
    """Model 2: the operating margin ``1 - cost / revenue`` (any common unit), at least -1:
    a loss beyond the revenue, or no revenue at all (``0/0``), counts as -100%."""
    m = 1.0 - cost / revenue
    return select(m > -1.0, m, -1.0)


@inline_kernel
def correlated_shocks(k, d_cost, d_open, d_demand):
    """Step 1: the driver shocks, correlated by the Cholesky factor (L00 = 1)."""
    e_s = k[C.L10] * d_cost + k[C.L11] * d_open
    e_d = k[C.L20] * d_cost + k[C.L21] * d_open + k[C.L22] * d_demand
    return d_cost, e_s, e_d


@inline_kernel
def drivers(k, shocks, jumps, lam, open_drift, g, log_c, x, log_d, stress):
    """Steps 2-4: training cost, open share, demand (with its jumps). ``shocks`` are
    step 1's; ``stress`` is this step's shocks, by :class:`~mcengine.layout.StressColumn`.
    Returns ``(g, log C, x, log D)``."""
    dt = k[C.DT]
    e_c, e_s, e_d = shocks
    log_c = log_c + (
        -lam * dt + k[C.COST_VOL_SQDT] * e_c + stress[StressColumn.TRAINING_COST]
    )  # 2.
    x = x + (open_drift + k[C.OPEN_VOL_SQDT] * e_s + stress[StressColumn.OPEN_SHARE])  # 3.
    g_new = k[C.G_LONG] + (g - k[C.G_LONG]) * k[C.G_DECAY] + k[C.G_NOISE] * e_d
    log_d = log_d + (0.5 * (g + g_new) * dt + stress[StressColumn.DEMAND])  # 4.
    log_d = select(k[C.JUMP_MU] > 0.0, log_d + k[C.JUMP_SIZE] * jumps, log_d)
    return g_new, log_c, x, log_d


@inline_kernel
def capex_growth(k, log_r, q_change, margin_change):
    """Step 7's log growth of capex over the step: model 1's growth and accelerator (the
    previous step's utilisation ``r``), plus model 2's answers to how inference's ln q and
    operating margin, as last seen, have moved since year 0 (``ln(q/q0)``, ``m - m0``). A
    response that is off (0) adds nothing, so model 1 keeps its bits."""
    accel = k[C.CAPEX_ACCEL_DT] * (exp(log_r) - 1.0)
    growth = select(k[C.CAPEX_ACCEL_DT] != 0.0, k[C.CAPEX_GROWTH_DT] + accel, k[C.CAPEX_GROWTH_DT])
    growth = select(k[C.CAPEX_Q_DT] != 0.0, growth + k[C.CAPEX_Q_DT] * q_change, growth)
    margin_term = k[C.CAPEX_MARGIN_DT] * margin_change
    return select(k[C.CAPEX_MARGIN_DT] != 0.0, growth + margin_term, growth)


@inline_kernel
def inference_market(
    k, t, log_d, log_c, log_p, log_p0, log_r, log_capex, log_cap, q_change, margin_change
):
    """Steps 5-10: quantity demanded, unit cost, capex, capacity, served quantity, price.
    ``q_change`` and ``margin_change`` are model 2's investment signals (see
    :func:`capex_growth`).
    Returns ``(log k, log k at fixed capability, log capex, log capacity, log Q, log r,
    log p)``."""
    log_qd = log_d - log_scale(k[C.PRICE_ELASTICITY], log_p - log_p0)  # 5.
    log_k = k[C.LOG_K0] - k[C.HW_DECLINE] * t + log_scale(k[C.PASS_THROUGH], log_c)  # 6.
    log_k_fixed = log_k - k[C.CAPABILITY_EFFICIENCY] * t  # 6'. (model 2)
    # 7. Capex answers to utilisation, q and margins; zero capex stays zero.
    growth = capex_growth(k, log_r, q_change, margin_change)
    log_capex = select(is_neg_inf(log_capex), log_capex, log_capex + growth)
    log_cap = logaddexp(log_cap - k[C.CAPACITY_DECAY], log_capex + k[C.LOG_BUILD] - log_k)  # 8.
    log_q = fmin(log_qd, log_cap)  # 9.
    log_r = log_qd - log_cap
    log_p = log_price(log_k, log_r, k)  # 10.
    return log_k, log_k_fixed, log_capex, log_cap, log_q, log_r, log_p


@inline_kernel
def cash_flows(k, spend_ratio, log_p, log_q, x, log_c, log_k, log_cap, log_capex, spend, log_v):
    """Steps 11-13: token bill, the segments' revenues, and each segment's cash flow divided
    by its previous value ``V`` (``log_v`` of A, I, T; see
    :func:`~mcengine.kernel.economics.growth_factor`). Returns ``(revenues, cash, m_I)``,
    ``m_I`` inference's operating margin (model 2)."""
    dt = k[C.DT]
    log_va, log_vi, log_vt = log_v
    log_bill, ra, ri, rt = log_revenues(  # 11.-12.
        log_p, log_q, log_one_minus_sigmoid(x), log_c, k
    )
    cash_a = dt * (weighted_exp(1.0 - k[C.APP_OPEX], ra - log_va) - exp(log_bill - log_va))  # 13.
    revenue_i = exp(ri - log_vi)
    variable, fixed = serving_costs(k, log_k, log_q, log_cap, log_vi)
    cash_i = dt * (revenue_i - variable - fixed - exp(log_capex - log_vi))
    kept = 1.0 - k[C.TRAIN_OPEX] - spend_ratio * spend
    cash_t = dt * weighted_exp(kept, rt - log_vt)
    return (ra, ri, rt), (cash_a, cash_i, cash_t), margin(revenue_i, variable + fixed)


@inline_kernel
def sentiment(k, common_shock, shocks, z, stress, g):
    """Step 14: each segment's sentiment, an exact OU step towards fair value; model 2's
    step 14' adds the market's extrapolation of demand growth ``g`` (this step's) beyond
    its long-run rate, the same push to every segment. Off (0), it adds nothing, so the
    bits stay model 1's."""
    common = k[C.SENT_COMMON] * common_shock
    push = k[C.EXTRAPOLATION_DT] * (g - k[C.G_LONG])
    common = select(k[C.EXTRAPOLATION_DT] != 0.0, common + push, common)
    out = (
        z[0] * k[C.SENT_DECAY] + common + k[C.SENT_IDIO] * shocks[0],
        z[1] * k[C.SENT_DECAY] + common + k[C.SENT_IDIO] * shocks[1],
        z[2] * k[C.SENT_DECAY] + common + k[C.SENT_IDIO] * shocks[2],
    )
    return out[0] + stress, out[1] + stress, out[2] + stress


@inline_kernel
def training_spend(k, spend, now, z_t):
    """Step 16's spend multiplier ``M_T`` for the next step: model 1's cut after a crash,
    then model 2's answer to how training's ln q, its value over the fair value of its
    revenue (``z_T`` after contagion; training has no capital stock in the model), has moved
    since year 0."""
    spend = select(now, spend * k[C.SPEND_KEEP], spend)
    change = k[C.SPEND_Q_DT] * (z_t - k[C.Z0_T])
    return select(k[C.SPEND_Q_DT] != 0.0, spend * exp(change), spend)


@inline_kernel
def _window_gap(log_vm, log_peak):
    """log(V- / max(peak, V-)) of one segment (0 where the window's peak is 0)."""
    return select(is_neg_inf(log_peak), 0.0, log_vm - fmax(log_peak, log_vm))


@inline_kernel
def crash(k, log_vm, peaks, crashed):
    """Steps 15-16: the crash test against the window's peaks; returns ``(now, origin)``.

    dd > threshold  <=>  log(V-/max(peak, V-)) < log(1 - threshold), and the segment with the
    largest drawdown has the most negative log ratio (no exp needed). ``log_vm`` are the
    segments' values after step 14, ``peaks`` the peaks of the window's values (``-inf``
    for none). ``now`` is whether contagion starts this step (once per path).
    """
    gap_a = _window_gap(log_vm[0], peaks[0])
    gap_i = _window_gap(log_vm[1], peaks[1])
    gap_t = _window_gap(log_vm[2], peaks[2])
    worst = fmin(0.0, gap_a)  # a strictly larger drawdown wins; ties keep the first
    origin = select(gap_i < worst, 1.0, 0.0)
    worst = fmin(worst, gap_i)
    origin = select(gap_t < worst, 2.0, origin)
    worst = fmin(worst, gap_t)
    return (crashed == 0.0) & (worst < k[C.LOG_CRASH_KEEP]), origin


@inline_kernel
def segment_return(t, dilution, log_v, log_v_new, cash, alive, wipe_t, why, log_w, peak, gap, part):
    """Steps 17-18 for one segment: the investor's growth factor, wealth, drawdown and
    wipe-out. ``alive`` is 1.0 or 0.0, ``why`` a WIPE_* code (as a float), ``peak`` and
    ``gap`` the peak of log W and the least log(W / peak), ``part`` the sum of
    ``ln G - ln(V_n / V_n-1)``. Returns the same seven, updated."""
    gf = growth_factor(log_v_new, log_v, cash)
    was_alive = alive != 0.0
    lives = was_alive & is_positive_finite(gf)
    dies = was_alive != lives
    cause = select(gf <= 0.0, WIPE_CASH_SHORTFALL, WIPE_NOT_FINITE)
    cause = select(is_neg_inf(log_v), WIPE_ZERO_VALUE, cause)
    log_g = log(gf)
    log_w = select(lives, log_w + (log_g - dilution), log_w)
    peak = fmax(peak, log_w)
    return (
        select(lives, 1.0, 0.0),
        select(dies, t, wipe_t),
        select(dies, np.float64(cause), why),
        log_w,
        peak,
        fmin(gap, log_w - peak),  # max drawdown = 1 - exp(min log(W/peak)): expm1 at the end
        select(lives, part + (log_g - (log_v_new - log_v)), part),
    )


@inline_kernel
def final_outputs(k, log_w, alive, min_gap):
    """One segment's outputs at the horizon: ``(total return, annual return, max
    drawdown)``; a wiped-out investor (``alive`` false) returns 0 (annual -1) and drew down
    100%."""
    drawdown = select(min_gap < 0.0, -expm1(min_gap), 0.0)  # (not -0.0)
    return (
        select(alive, exp(log_w), 0.0),
        select(alive, expm1(log_w / k[C.HORIZON]), -1.0),
        select(alive, drawdown, 1.0),
    )


@inline_kernel
def selection(k, z_sel):
    """The selection spread of applications' ln W (MODEL.md "Outputs")."""
    sd = k[C.SELECTION_SD]
    return sd * z_sel - 0.5 * sd * sd


@inline_kernel
def path_flags(capex_overflowed, log_d):
    """The path's own overflow flags (FLAG_*), without the per-segment wealth flags."""
    flag = FLAG_CAPEX_OVERFLOW if capex_overflowed else 0
    if log_d > LOG_MAX:
        flag |= FLAG_DEMAND_OVERFLOW
    return flag


@inline_kernel
def wealth_flag(s, log_w, alive):
    """Segment ``s``'s wealth flag: an alive investor's wealth left float64's range."""
    return FLAG_WEALTH_OVERFLOW << s if (alive and log_w > LOG_MAX) else 0


@inline_kernel
def capex_overflowed(log_capex):
    """Capex at +inf has left float64: the path is flagged and the run refused."""
    return is_pos_inf(log_capex)
