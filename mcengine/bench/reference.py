"""A plain, vectorised numpy transcription of the model (MODEL.md and docs/model.md's
"Model 2"), in linear space.

It is the independent reference for the Numba kernel: written straight from the equations
(no log-space rewrites, no shared helpers with :mod:`mcengine.kernel.paths`), vectorised over paths
with the time loop in Python. Two uses:

* tests feed it the engine's own Philox draws (:func:`mcengine.rng.streams.draw_table`) and
  require the same per-path results to ~1e-9 (``tests/test_reference.py``);
* benchmarks feed it numpy ``Generator`` draws and time it against the engine.

Zero values follow MODEL.md; the one place where linear arithmetic would turn a zero into
``nan`` (zero capex times an overflowing growth factor) is written out. The tests keep to
scenarios whose other intermediate values stay inside float64; ``docs/model.md``
("Numerics") says how the kernel handles the extremes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mcengine.model.scenario import Scenario

StepDraws = Callable[[int], np.ndarray]


__all__ = ["simulate_reference", "simulate_reference_numpy"]


def _revenues(p, q, s, c, sc: Scenario):
    tr, app = sc.training, sc.applications
    bill = p * q
    phi = np.minimum(tr.cut_max, tr.brand_moat + tr.tech_premium * c**tr.moat_erosion)
    r_t = (1.0 - s) * phi * bill
    r_i = bill - r_t
    v = (1.0 + app.markup) * q ** (-app.value_elasticity)
    r_a = v * q
    return bill, np.stack([r_a, r_i, r_t], axis=1)


def _serving(k, q, cap, sc: Scenario):
    """Inference's serving cost: the variable share on tokens served, the rest on capacity."""
    share = sc.inference.variable_cost_share
    return k * (share * q + (1 - share) * cap)


def _tobin_q(v_i, k, cap, sc: Scenario):
    """Model 2: inference's value over the replacement cost of its capacity."""
    return v_i / (sc.inference.capital_intensity * k * cap)


def _margin(revenue, cost):
    """Model 2: the operating margin, at least -1 (and -1 without revenue)."""
    m = 1.0 - cost / revenue
    return np.where(m > -1.0, m, -1.0)


def _price(k, r, sc: Scenario):
    inf = sc.inference
    scarce = k * (1.0 + inf.markup) * np.minimum(r, inf.scarcity_cap) ** inf.scarcity_elasticity
    return np.maximum(inf.price_floor * k, scarce)


def simulate_reference(
    sc: Scenario, per_path: np.ndarray, step_draws: StepDraws
) -> dict[str, np.ndarray]:
    """Run MODEL.md on ``len(per_path)`` paths.

    ``per_path`` holds ``(Z_lambda, Z_g, Z_sel)`` per path; ``step_draws(n)`` returns the
    ``(paths, 8)`` draws of step ``n`` in the layout of :func:`mcengine.rng.streams.step_draws`.
    Returns the per-path outputs under MODEL.md's names.
    """
    sim, tc, op, d = sc.simulation, sc.training_cost, sc.open_share, sc.demand
    inf, tr, app, val = sc.inference, sc.training, sc.applications, sc.valuation
    n = per_path.shape[0]
    dt = 1.0 / sim.steps_per_year
    n_steps = sim.horizon_years * sim.steps_per_year
    chol = np.linalg.cholesky(sc.correlation_matrix())
    fsm = np.array(val.fair_sales_multiple)
    w_steps = max(1, int(np.floor(val.crash_window_years * sim.steps_per_year + 0.5)))

    lam = tc.decline_median * np.exp(tc.decline_dispersion * per_path[:, 0])
    g = d.growth_initial_mean + d.growth_initial_sd * per_path[:, 1]
    log_c = np.zeros(n)
    x = np.full(n, np.log(op.initial / (1.0 - op.initial)))
    log_d = np.zeros(n)
    k0 = 1.0 / (1.0 + inf.markup)
    cap = np.full(n, inf.capacity_initial)
    capex = np.full(n, inf.capex_initial)
    spend_mult = np.ones(n)
    q = np.minimum(1.0, cap)
    r_prev = 1.0 / cap
    p0 = _price(np.full(n, k0), r_prev, sc)
    p_prev = p0
    _, rev = _revenues(p0, q, 1.0 / (1.0 + np.exp(-x)), np.ones(n), sc)
    z = np.tile(np.log(np.array(val.initial_premium)), (n, 1))
    v_prev = fsm * rev * np.exp(z)
    # Model 2's investment signals, as last observed: inference's q and operating margin.
    tobin_q = _tobin_q(v_prev[:, 1], k0, cap, sc)
    margin = _margin(rev[:, 1], _serving(k0, q, cap, sc))
    tobin_q0, margin0 = tobin_q, margin  # capex answers to their moves since year 0
    history = [v_prev]
    wealth = np.ones((n, 3))
    peak_w = np.ones((n, 3))
    mdd = np.zeros((n, 3))
    crash_year = np.full(n, np.nan)
    crash_origin = np.full(n, -1, dtype=np.int8)
    wipe_year = np.full((n, 3), np.nan)
    wipe_cause = np.zeros((n, 3), dtype=np.int8)
    kappa_d = d.growth_reversion
    a = np.exp(-kappa_d * dt)
    g_noise = np.sqrt((1 - a * a) / (2 * kappa_d)) if kappa_d > 0 else np.sqrt(dt)
    kappa = np.log(2.0) / val.sentiment_half_life
    b = np.exp(-kappa * dt)
    s_noise = val.sentiment_volatility * np.sqrt((1 - b * b) / (2 * kappa))
    rho = val.sentiment_common

    with np.errstate(all="ignore"):
        for step in range(1, n_steps + 1):
            t = step * dt
            draws = step_draws(step)
            eps = draws[:, :3] @ chol.T
            shock = {
                k: sum(getattr(x, k) for x in sc.stress if round(x.year / dt) == step)
                for k in ("demand", "sentiment", "open_share", "training_cost")
            }
            log_c += -lam * dt + tc.volatility * np.sqrt(dt) * eps[:, 0] + shock["training_cost"]
            x += (op.drift + op.cost_coupling * (lam - tc.decline_median)) * dt
            x += op.volatility * np.sqrt(dt) * eps[:, 1] + shock["open_share"]
            s = 1.0 / (1.0 + np.exp(-x))
            g_new = (
                d.growth_long_run + (g - d.growth_long_run) * a + d.volatility * g_noise * eps[:, 2]
            )
            mu = d.jump_rate * dt
            jumps = _poisson_inverse(draws[:, 7], mu)
            log_d += 0.5 * (g + g_new) * dt + d.jump_size * jumps + shock["demand"]
            g = g_new
            qd = np.exp(log_d) * (p_prev / p0) ** (-d.price_elasticity)
            c = np.exp(log_c)
            k = k0 * np.exp(-inf.hardware_decline * t + inf.cost_pass_through * log_c)
            # Zero capex stays zero: written out, because 0 * exp(huge) is 0 * inf = nan.
            capex_growth = np.exp(
                (
                    inf.capex_growth
                    + inf.capex_accelerator * (r_prev - 1.0)
                    + inf.capex_q_response * np.log(tobin_q / tobin_q0)
                    + inf.capex_margin_response * (margin - margin0)
                )
                * dt
            )
            capex = np.where(capex > 0, capex * capex_growth, 0.0)
            decay = dt / inf.useful_life - inf.capacity_upgrade * dt  # 8'.
            cap = cap * np.exp(-decay) + capex * dt / (inf.capital_intensity * k)
            q = np.minimum(qd, cap)
            r = qd / cap
            p = _price(k, r, sc)
            bill, rev = _revenues(p, q, s, c, sc)
            rho_t = tr.spend_ratio_long_run + (
                tr.spend_ratio_initial - tr.spend_ratio_long_run
            ) * 2.0 ** (-t / tr.spend_ratio_half_life)
            serving = _serving(k, q, cap, sc)
            margin = _margin(rev[:, 1], serving)
            cash = np.stack(
                [
                    (rev[:, 0] - bill - app.opex * rev[:, 0]) * dt,
                    (rev[:, 1] - serving - capex) * dt,
                    rev[:, 2] * (1 - tr.opex - rho_t * spend_mult) * dt,
                ],
                axis=1,
            )
            shocks = np.sqrt(rho) * draws[:, 3:4] + np.sqrt(1 - rho) * draws[:, 4:7]
            push = val.growth_extrapolation * (g - d.growth_long_run) * dt  # 14'.
            z = z * b + (s_noise * shocks + push[:, None]) + shock["sentiment"]
            v_minus = fsm * rev * np.exp(z)
            peak = np.max(np.stack(history[-w_steps:]), axis=0)
            dd = np.where(peak == 0, 0.0, 1.0 - v_minus / np.maximum(peak, v_minus))
            worst = np.max(dd, axis=1)
            new_crash = (crash_origin < 0) & (worst > val.crash_threshold)
            crash_year[new_crash] = t
            crash_origin[new_crash] = np.argmax(dd, axis=1)[new_crash]
            hit = val.contagion_jump * np.array(val.contagion_loading)
            z[new_crash] -= hit
            spend_mult[new_crash] *= 1.0 - tr.crash_spend_cut
            capex[new_crash] *= 1.0 - inf.crash_capex_cut
            # training's ln q is z_T; spend answers to its move since year 0
            z0_t = np.log(val.initial_premium[2])
            spend_mult *= np.exp(tr.spend_q_response * (z[:, 2] - z0_t) * dt)
            v = fsm * rev * np.exp(z)
            tobin_q = _tobin_q(v[:, 1], k, cap, sc)
            growth = (v + cash) / v_prev
            dead = (v_prev == 0) | ~(growth > 0) | ~np.isfinite(growth) | (wealth == 0)
            # Why: nothing left to invest in (2), cash needs beyond the value (1), or overflow.
            newly = dead & (wealth > 0)
            wipe_year[newly] = t
            cause = np.where(v_prev == 0, 2, np.where(growth <= 0, 1, 3))
            wipe_cause[newly] = cause[newly]
            wealth = np.where(
                dead, 0.0, wealth * growth * np.exp(-np.array(val.entrant_dilution) * dt)
            )
            peak_w = np.maximum(peak_w, wealth)
            mdd = np.maximum(mdd, 1.0 - wealth / peak_w)
            p_prev, r_prev, v_prev = p, r, v
            history.append(v)

    sd = app.selection_dispersion
    wealth[:, 0] *= np.exp(sd * per_path[:, 2] - 0.5 * sd * sd)
    annual = np.where(wealth > 0, wealth ** (1.0 / sim.horizon_years) - 1.0, -1.0)
    return {
        "total_return": wealth,
        "annual_return": annual,
        "max_drawdown": mdd,
        "crash_year": crash_year,
        "crash_origin": crash_origin,
        "wipe_year": wipe_year,
        "wipe_cause": wipe_cause,
        "training_cost": np.exp(log_c),
        "open_share": 1.0 / (1.0 + np.exp(-x)),
        "demand": np.exp(log_d),
    }


def _poisson_inverse(u: np.ndarray, mu: float) -> np.ndarray:
    """Inverse-CDF Poisson counts, vectorised (same convention as the kernel)."""
    count = np.zeros(u.shape, dtype=np.int64)
    if mu == 0:
        return count
    term = np.full(u.shape, np.exp(-mu))
    cdf = term.copy()
    active = u > cdf
    while active.any():
        count[active] += 1
        term = np.where(active, term * mu / np.maximum(count, 1), term)
        cdf = np.where(active, cdf + term, cdf)
        active = active & (u > cdf) & (term > 0)
    return count


def simulate_reference_numpy(sc: Scenario, n_paths: int, seed: int) -> dict[str, np.ndarray]:
    """The reference driven by numpy's ``Generator(PCG64)`` instead of the engine's streams.

    Same model, independent random numbers: its results must agree with the engine's in
    distribution (``tests/test_reference.py``), and it is the speed baseline of the
    benchmarks.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    per_path = rng.standard_normal((n_paths, 3))

    def step_draws(_step: int) -> np.ndarray:
        draws = np.empty((n_paths, 8))
        draws[:, :7] = rng.standard_normal((n_paths, 7))
        draws[:, 7] = rng.random(n_paths)
        return draws

    return simulate_reference(sc, per_path, step_draws)
