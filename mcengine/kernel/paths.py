"""The path kernel: one pass per path, the time loop inside, parallel over paths.

:func:`simulate_paths` follows MODEL.md step by step (the numbers in the comments are its
steps). It reads the coefficient vector of :mod:`mcengine.kernel.coefficients`, draws from
:mod:`mcengine.rng.streams` and prices with :mod:`mcengine.kernel.economics`. Nothing of size
paths x steps is allocated: per path it keeps a few scalars, an 8-slot draw buffer and the
crash window's ring of the last ``w`` segment values.

Paths are independent and their randomness is a function of (key, path index), so the
results are the same for any thread count or chunking.
"""

from __future__ import annotations

import numpy as np

from mcengine.jit import parallel_kernel, prange
from mcengine.kernel.coefficients import LOG_MAX, C
from mcengine.kernel.economics import (
    growth_factor,
    log_one_minus_sigmoid,
    log_price,
    log_revenues,
    log_scale,
    logaddexp,
    poisson_inverse,
    sigmoid,
    weighted_exp,
)
from mcengine.layout import Input, names
from mcengine.numerics import exp, expm1, log
from mcengine.rng.streams import STATE_SIZE, path_draws, step_draws

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

#: Why an investor was wiped out (``wipe_cause``); 0 = not wiped out.
WIPE_CASH_SHORTFALL = 1  # G <= 0: cash needs exceeded the segment's value
WIPE_ZERO_VALUE = 2  # V_prev = 0: nothing left to invest in
WIPE_NOT_FINITE = 3  # G not finite

#: Path flags: a quantity left float64's range, so the run must be refused (engine.py).
#: The wealth flag is shifted left by the segment index (4, 8, 16 for A, I, T).
FLAG_CAPEX_OVERFLOW = 1
FLAG_DEMAND_OVERFLOW = 2
FLAG_WEALTH_OVERFLOW = 4

_NEG_INF = -np.inf
_U53 = 2.0**-53


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
    n_steps = int(coef[C.N_STEPS])
    window = int(coef[C.WINDOW])
    dt = coef[C.DT]
    horizon = coef[C.HORIZON]
    steps_per_year = int(round(1.0 / dt))
    antithetic = coef[C.ANTITHETIC] != 0.0
    use_external = external.shape[0] > 0
    record = inputs.shape[0] > 0
    log_fsm = np.array([coef[C.LOG_FSM_A], coef[C.LOG_FSM_I], coef[C.LOG_FSM_T]])
    z0 = np.array([coef[C.Z0_A], coef[C.Z0_I], coef[C.Z0_T]])
    hit = np.array([coef[C.HIT_A], coef[C.HIT_I], coef[C.HIT_T]])
    dilution = np.array([coef[C.DILUTION_A], coef[C.DILUTION_I], coef[C.DILUTION_T]])
    for i in prange(n_paths):
        path = np.uint64(first_path + i)
        # Antithetic pairs: odd paths replay their even neighbour's stream, mirrored.
        stream_path = path >> np.uint64(1) if antithetic else path
        mirror = antithetic and (path & np.uint64(1)) == np.uint64(1)
        draw = np.empty(8)
        shock_sums = np.zeros(8)
        stream = np.empty(STATE_SIZE, dtype=np.uint64)
        ring = np.empty((window, 3))
        log_v = np.empty(3)
        log_rev = np.empty(3)
        cash = np.empty(3)
        z = z0.copy()
        log_w = np.zeros(3)
        log_peak_w = np.zeros(3)
        min_gap_w = np.zeros(3)
        alive = np.ones(3, dtype=np.bool_)
        flag = 0

        # Per-path draws and the year-0 state.
        if use_external:
            for j in range(3):
                draw[j] = external[i, j]
        else:
            path_draws(key0, key1, stream_path, stream, draw)
            if mirror:
                for j in range(3):
                    draw[j] = -draw[j]
        z_lam, z_g, z_sel = draw[0], draw[1], draw[2]
        lam = coef[C.LAMBDA_MEDIAN] * exp(coef[C.LAMBDA_DISPERSION] * z_lam)
        g = coef[C.G_MEAN] + coef[C.G_SD] * z_g
        open_drift = (
            coef[C.OPEN_DRIFT] + coef[C.OPEN_COUPLING] * (lam - coef[C.LAMBDA_MEDIAN])
        ) * dt
        log_c = 0.0
        x = coef[C.X0]
        log_d = 0.0
        log_k = coef[C.LOG_K0]
        log_cap = coef[C.LOG_CAPACITY0]
        log_capex = coef[C.LOG_CAPEX0]
        spend_mult = 1.0
        log_q = min(0.0, log_cap)
        log_r = -log_cap
        log_p0 = log_price(log_k, log_r, coef)
        log_p = log_p0
        _, log_rev[0], log_rev[1], log_rev[2] = log_revenues(
            log_p0, log_q, log_one_minus_sigmoid(x), log_c, coef
        )
        log_rev0 = log_rev.copy()
        cash_part = np.zeros(3)  # sum over steps of ln G - ln(V_n / V_n-1)
        wipe_t = np.full(3, np.nan)
        wipe_why = np.zeros(3, dtype=np.int8)
        for s in range(3):
            log_v[s] = log_fsm[s] + log_rev[s] + z[s]
            ring[0, s] = log_v[s]
        crashed = False
        crash_t = np.nan
        origin = -1

        for n in range(1, n_steps + 1):
            t = n * dt
            if use_external:  # 1.
                for j in range(8):
                    draw[j] = external[i, 3 + 8 * (n - 1) + j]
            else:
                step_draws(key0, key1, stream_path, n, stream, draw)
                if mirror:
                    for j in range(7):
                        draw[j] = -draw[j]
                    # 1 - U on the same 2**-53 grid, kept inside [0, 1).
                    draw[7] = 1.0 - draw[7] - _U53
            e_c = draw[0]
            e_s = coef[C.L10] * draw[0] + coef[C.L11] * draw[1]
            e_d = coef[C.L20] * draw[0] + coef[C.L21] * draw[1] + coef[C.L22] * draw[2]
            if record:
                shock_sums[0] += e_c
                shock_sums[1] += e_s
                shock_sums[2] += e_d
                for j in range(4):
                    shock_sums[4 + j] += draw[3 + j]
            log_c += -lam * dt + coef[C.COST_VOL_SQDT] * e_c + stress[n, 3]  # 2.
            x += open_drift + coef[C.OPEN_VOL_SQDT] * e_s + stress[n, 2]  # 3.
            g_new = coef[C.G_LONG] + (g - coef[C.G_LONG]) * coef[C.G_DECAY] + coef[C.G_NOISE] * e_d
            log_d += 0.5 * (g + g_new) * dt + stress[n, 0]  # 4.
            if coef[C.JUMP_MU] > 0.0:
                jumps = poisson_inverse(draw[7], coef[C.JUMP_MU], coef[C.JUMP_P0])
                log_d += coef[C.JUMP_SIZE] * jumps
                if record:
                    shock_sums[3] += jumps
            g = g_new
            log_qd = log_d - log_scale(coef[C.PRICE_ELASTICITY], log_p - log_p0)  # 5.
            log_k = (
                coef[C.LOG_K0] - coef[C.HW_DECLINE] * t + log_scale(coef[C.PASS_THROUGH], log_c)
            )  # 6.
            if log_capex != _NEG_INF:  # 7. (zero capex stays zero)
                growth = coef[C.CAPEX_GROWTH_DT]
                if coef[C.CAPEX_ACCEL_DT] != 0.0:
                    growth += coef[C.CAPEX_ACCEL_DT] * (exp(log_r) - 1.0)
                log_capex += growth
                if log_capex == np.inf:
                    flag |= FLAG_CAPEX_OVERFLOW
                    break
            log_cap = logaddexp(
                log_cap - coef[C.CAPACITY_DECAY], log_capex + coef[C.LOG_BUILD] - log_k
            )  # 8.
            log_q = min(log_qd, log_cap)  # 9.
            log_r = log_qd - log_cap
            log_p = log_price(log_k, log_r, coef)  # 10.
            log_bill, log_rev[0], log_rev[1], log_rev[2] = log_revenues(  # 11.-12.
                log_p, log_q, log_one_minus_sigmoid(x), log_c, coef
            )
            # 13. Cash flows, each divided by the previous segment value (see growth_factor).
            cash[0] = dt * (
                weighted_exp(1.0 - coef[C.APP_OPEX], log_rev[0] - log_v[0])
                - exp(log_bill - log_v[0])
            )
            cash[1] = dt * (
                exp(log_rev[1] - log_v[1])
                - weighted_exp(coef[C.VARIABLE_SHARE], log_k + log_q - log_v[1])
                - weighted_exp(1.0 - coef[C.VARIABLE_SHARE], log_k + log_cap - log_v[1])
                - exp(log_capex - log_v[1])
            )
            margin = 1.0 - coef[C.TRAIN_OPEX] - spend_ratio[n] * spend_mult
            cash[2] = dt * weighted_exp(margin, log_rev[2] - log_v[2])
            # 14. Sentiment: exact OU step towards fair value.
            common = coef[C.SENT_COMMON] * draw[3]
            for s in range(3):
                z[s] = z[s] * coef[C.SENT_DECAY] + common + coef[C.SENT_IDIO] * draw[4 + s]
                z[s] += stress[n, 1]
            # 15. Crash test against the peak of the last `window` values, in logs:
            # dd > threshold  <=>  log(V-/max(peak, V-)) < log(1 - threshold), and the segment
            # with the largest drawdown has the most negative log ratio (no exp needed).
            if not crashed:
                worst_gap = 0.0
                worst_s = 0
                filled = min(n, window)
                for s in range(3):
                    log_vm = log_fsm[s] + log_rev[s] + z[s]
                    log_peak = _NEG_INF
                    for j in range(filled):
                        log_peak = max(log_peak, ring[j, s])
                    gap = 0.0  # dd = 0 where the peak is 0
                    if log_peak != _NEG_INF:
                        gap = log_vm - max(log_peak, log_vm)
                    if gap < worst_gap:
                        worst_gap = gap
                        worst_s = s
                if worst_gap < coef[C.LOG_CRASH_KEEP]:  # 16. Contagion, once per path.
                    crashed = True
                    crash_t = t
                    origin = worst_s
                    for s in range(3):
                        z[s] -= hit[s]
                    spend_mult *= coef[C.SPEND_KEEP]
                    log_capex += coef[C.LOG_CAPEX_KEEP]
            # 17. Investor returns.
            for s in range(3):
                log_v_new = log_fsm[s] + log_rev[s] + z[s]
                if alive[s]:
                    gf = growth_factor(log_v_new, log_v[s], cash[s])
                    if not (gf > 0.0 and gf < np.inf):
                        alive[s] = False
                        wipe_t[s] = t
                        if log_v[s] == _NEG_INF:
                            wipe_why[s] = WIPE_ZERO_VALUE
                        elif gf <= 0.0:
                            wipe_why[s] = WIPE_CASH_SHORTFALL
                        else:
                            wipe_why[s] = WIPE_NOT_FINITE
                    else:
                        log_g = log(gf)
                        log_w[s] += log_g - dilution[s]
                        cash_part[s] += log_g - (log_v_new - log_v[s])
                        log_peak_w[s] = max(log_peak_w[s], log_w[s])
                        # Max drawdown = 1 - exp(min log(W/peak)): one expm1 at the end.
                        min_gap_w[s] = min(min_gap_w[s], log_w[s] - log_peak_w[s])
                log_v[s] = log_v_new  # 18.
                ring[n % window, s] = log_v_new
            year = n // steps_per_year - 1
            if n % steps_per_year == 0 and year < yearly.shape[1]:
                for s in range(3):
                    yearly[i, year, s] = log_w[s] if alive[s] else _NEG_INF
                yearly[i, year, 3] = log_c
                yearly[i, year, 4] = sigmoid(x)
                yearly[i, year, 5] = log_d

        # At the end: the selection spread on applications, then the outputs.
        sd = coef[C.SELECTION_SD]
        selection = sd * z_sel - 0.5 * sd * sd
        if alive[0]:
            log_w[0] += selection
        for s in range(3):
            if not alive[s]:
                total_return[i, s] = 0.0
                annual_return[i, s] = -1.0
            else:
                if log_w[s] > LOG_MAX:
                    flag |= FLAG_WEALTH_OVERFLOW << s
                total_return[i, s] = exp(log_w[s])
                annual_return[i, s] = expm1(log_w[s] / horizon)
            if not alive[s]:
                max_drawdown[i, s] = 1.0
            elif min_gap_w[s] < 0.0:
                max_drawdown[i, s] = -expm1(min_gap_w[s])
            else:
                max_drawdown[i, s] = 0.0  # never below its peak (and not -0.0)
            # ln W = fundamentals + sentiment + contagion + cash flow + dilution + selection,
            # telescoped from the steps (docs/model.md, "Weighing versus voting").
            for k in range(6):
                components[i, s, k] = 0.0
            if alive[s]:
                contagion = -hit[s] if crashed else 0.0
                components[i, s, 0] = log_rev[s] - log_rev0[s]
                components[i, s, 1] = z[s] - z0[s] - contagion
                components[i, s, 2] = contagion
                components[i, s, 3] = cash_part[s]
                components[i, s, 4] = -n_steps * dilution[s]
                if s == 0:
                    components[i, s, 5] = selection
            wipe_year[i, s] = wipe_t[s]
            wipe_cause[i, s] = wipe_why[s]
        if log_d > LOG_MAX:
            flag |= FLAG_DEMAND_OVERFLOW
        crash_year[i] = crash_t
        crash_origin[i] = origin
        training_cost[i] = exp(log_c)
        open_share[i] = sigmoid(x)
        demand[i] = exp(log_d)
        flags[i] = flag
        if record:
            # Per-path inputs: the draws fixed per path, then the shock groups' sums over the
            # steps, standardised (sum / sqrt(steps); the jump count as is).
            inputs[i, 0] = lam
            inputs[i, 1] = coef[C.G_MEAN] + coef[C.G_SD] * z_g
            inputs[i, 2] = z_sel
            root = np.sqrt(n_steps)
            for j in range(8):
                inputs[i, 3 + j] = shock_sums[j] if j == 3 else shock_sums[j] / root
