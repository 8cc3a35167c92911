"""Scenario -> the flat float64 vector of derived constants the kernel reads.

Everything that does not change along a path (logs, exponentials, Cholesky factors, OU
coefficients) is computed here once, in Python, so the step loop does no redundant
transcendental work. :class:`C` names each slot; kernels index ``coef[C.NAME]``, which Numba
folds to a constant.

Zero parameters become ``-inf`` logs (``log(capex_initial = 0)``); the kernel treats ``-inf``
as an exact zero (``docs/model.md``, "Numerics").
"""

from __future__ import annotations

import enum
import math
from types import SimpleNamespace

import numpy as np

from mcengine.layout import StressColumn
from mcengine.model.parameters import SECTIONS
from mcengine.model.scenario import Scenario
from mcengine.numerics import (
    cholesky,
    exp,
    exp_array,
    expm1,
    expm1_array,
    log,
    log1p,
    log1p_array,
    log_array,
)

__all__ = [
    "C",
    "build_coefficients",
    "coefficient_rows",
    "spend_ratio_schedule",
    "stress_schedule",
    "crash_window_steps",
    "LOG_MAX",
]

#: Largest log that exp() maps to a finite float64: numerics.log of the largest float64, and
#: ln 2, as literals (calling the compiled log at import took a tenth of a second of every
#: start; ``tests/test_numerics.py`` checks that they are its bits).
LOG_MAX = float.fromhex("0x1.62e42fefa39efp+9")
_LN2 = float.fromhex("0x1.62e42fefa39efp-1")


class C(enum.IntEnum):
    """Slots of the coefficient vector."""

    DT = 0
    N_STEPS = enum.auto()
    HORIZON = enum.auto()
    WINDOW = enum.auto()
    # training cost
    LAMBDA_MEDIAN = enum.auto()
    LAMBDA_DISPERSION = enum.auto()
    COST_VOL_SQDT = enum.auto()
    # open share
    X0 = enum.auto()
    OPEN_DRIFT = enum.auto()
    OPEN_COUPLING = enum.auto()
    OPEN_VOL_SQDT = enum.auto()
    # demand
    G_MEAN = enum.auto()
    G_SD = enum.auto()
    G_LONG = enum.auto()
    G_DECAY = enum.auto()
    G_NOISE = enum.auto()
    JUMP_MU = enum.auto()
    JUMP_P0 = enum.auto()
    JUMP_SIZE = enum.auto()
    PRICE_ELASTICITY = enum.auto()
    # Cholesky factor of the driver correlation (L00 = 1, L01 = L02 = L12 = 0)
    L10 = enum.auto()
    L11 = enum.auto()
    L20 = enum.auto()
    L21 = enum.auto()
    L22 = enum.auto()
    # inference
    LOG_K0 = enum.auto()
    HW_DECLINE = enum.auto()
    PASS_THROUGH = enum.auto()
    LOG_MARKUP_I = enum.auto()
    LOG_CAPACITY0 = enum.auto()
    LOG_BUILD = enum.auto()
    CAPACITY_DECAY = enum.auto()
    LOG_CAPEX0 = enum.auto()
    CAPEX_GROWTH_DT = enum.auto()
    CAPEX_ACCEL_DT = enum.auto()
    LOG_FLOOR = enum.auto()
    SCARCITY_ELASTICITY = enum.auto()
    LOG_SCARCITY_CAP = enum.auto()
    VARIABLE_SHARE = enum.auto()
    LOG_CAPEX_KEEP = enum.auto()
    # model 2: investment that answers to returns; serving cost at fixed capability
    LOG_CAPITAL_INTENSITY = enum.auto()
    CAPEX_Q_DT = enum.auto()
    CAPEX_MARGIN_DT = enum.auto()
    CAPABILITY_EFFICIENCY = enum.auto()
    # training
    BRAND_MOAT = enum.auto()
    TECH_PREMIUM = enum.auto()
    MOAT_EROSION = enum.auto()
    CUT_MAX = enum.auto()
    TRAIN_OPEX = enum.auto()
    SPEND_KEEP = enum.auto()
    SPEND_Q_DT = enum.auto()  # model 2
    # applications
    LOG_MARKUP_A = enum.auto()
    VALUE_ELASTICITY = enum.auto()
    APP_OPEX = enum.auto()
    SELECTION_SD = enum.auto()
    # valuation, per segment A, I, T
    LOG_FSM_A = enum.auto()
    LOG_FSM_I = enum.auto()
    LOG_FSM_T = enum.auto()
    Z0_A = enum.auto()
    Z0_I = enum.auto()
    Z0_T = enum.auto()
    SENT_DECAY = enum.auto()
    SENT_COMMON = enum.auto()
    SENT_IDIO = enum.auto()
    EXTRAPOLATION_DT = enum.auto()
    LOG_CRASH_KEEP = enum.auto()
    HIT_A = enum.auto()
    HIT_I = enum.auto()
    HIT_T = enum.auto()
    DILUTION_A = enum.auto()
    DILUTION_I = enum.auto()
    DILUTION_T = enum.auto()
    ANTITHETIC = enum.auto()
    SIZE = enum.auto()


# The formulas below take a number, or an array of each path's values (per-path
# parameters, :func:`coefficient_rows`): mcengine's own maths either way, the same bits.
def _exp(x):
    return exp_array(x) if isinstance(x, np.ndarray) else exp(x)


def _ln(x):
    return log_array(x) if isinstance(x, np.ndarray) else log(x)


def _log1p(x):
    return log1p_array(x) if isinstance(x, np.ndarray) else log1p(x)


def _expm1(x):
    return expm1_array(x) if isinstance(x, np.ndarray) else expm1(x)


def _sqrt(x):
    return np.sqrt(x) if isinstance(x, np.ndarray) else math.sqrt(x)  # correctly rounded


def _log0(x):
    """log x, with log 0 = -inf (a zero parameter)."""
    if isinstance(x, np.ndarray):
        return np.where(x > 0, log_array(np.where(x > 0, x, 1.0)), -math.inf)
    return log(x) if x > 0 else -math.inf


def _ou_scale(kappa, dt):
    """sqrt((1 - exp(-2 kappa dt)) / (2 kappa)), the exact OU noise per unit volatility
    (-expm1 for 1 - a**2 without cancellation at small kappa; sqrt(dt) at kappa = 0)."""
    if isinstance(kappa, np.ndarray):
        safe = np.where(kappa > 0, kappa, 1.0)
        return np.where(kappa > 0, _sqrt(-_expm1(-2.0 * safe * dt) / (2.0 * safe)), math.sqrt(dt))
    return math.sqrt(-expm1(-2.0 * kappa * dt) / (2.0 * kappa)) if kappa > 0 else math.sqrt(dt)


def crash_window_steps(scenario: Scenario) -> int:
    """w = round(crash_window_years * steps_per_year), at least 1 (halves round up)."""
    w = math.floor(scenario.valuation.crash_window_years * scenario.simulation.steps_per_year + 0.5)
    return max(1, w)


def spend_ratio_schedule(scenario: Scenario) -> np.ndarray:
    """rho_T(t_n) for n = 0..N: the training spend ratio at each step."""
    tr = scenario.training
    t = np.arange(scenario.n_steps + 1) / scenario.simulation.steps_per_year
    lr, init = tr.spend_ratio_long_run, tr.spend_ratio_initial
    # 2**-y as exp(-y ln 2) by mcengine.numerics: neither numpy's SIMD loops nor libm.
    halvings = [exp(-(x / tr.spend_ratio_half_life) * _LN2) for x in t.tolist()]
    return lr + (init - lr) * np.array(halvings)


def stress_schedule(scenario: Scenario) -> np.ndarray:
    """Shocks per step ``(N + 1, len(StressColumn))``, by :class:`~mcengine.layout.StressColumn`."""
    out = np.zeros((scenario.n_steps + 1, len(StressColumn)))
    for shock in scenario.stress:
        n = round(shock.year * scenario.simulation.steps_per_year)
        out[n, StressColumn.DEMAND] += shock.demand
        out[n, StressColumn.SENTIMENT] += shock.sentiment
        out[n, StressColumn.OPEN_SHARE] += shock.open_share
        out[n, StressColumn.TRAINING_COST] += shock.training_cost
    return out


def expected_log_demand(scenario: Scenario) -> float:
    """E[log D] at the horizon under the exact OU mean of g and the Poisson jumps."""
    d = scenario.demand
    horizon = scenario.simulation.horizon_years
    dt = 1.0 / scenario.simulation.steps_per_year
    t = np.arange(scenario.n_steps + 1) * dt
    mean_g = d.growth_long_run + (d.growth_initial_mean - d.growth_long_run) * exp_array(
        -d.growth_reversion * t
    )
    trapezoid = float(np.sum(0.5 * (mean_g[1:] + mean_g[:-1])) * dt)
    return trapezoid + d.jump_rate * d.jump_size * horizon + sum(s.demand for s in scenario.stress)


def build_coefficients(scenario: Scenario, *, antithetic: bool = False) -> np.ndarray:
    """The kernel's coefficient vector for ``scenario``.

    Raises
    ------
    ValueError
        If the scenario's expected demand at the horizon overflows float64, which no valid
        model output can represent.
    """
    log_d = expected_log_demand(scenario)
    if log_d > LOG_MAX:
        d = scenario.demand
        raise ValueError(
            f"scenario '{scenario.name}' overflows float64: expected log demand at the horizon "
            f"is {log_d:.0f} > {LOG_MAX:.0f} (demand.growth_initial_mean = "
            f"{d.growth_initial_mean:g}, demand.growth_long_run = {d.growth_long_run:g}, "
            f"demand.jump_rate = {d.jump_rate:g}, demand.jump_size = {d.jump_size:g}, "
            f"simulation.horizon_years = {scenario.simulation.horizon_years})"
        )
    c = np.zeros(C.SIZE)
    _drivers(scenario, c)
    _segments(scenario, c)
    _valuation(scenario, c)
    c[C.ANTITHETIC] = 1.0 if antithetic else 0.0
    return c


def coefficient_rows(scenario: Scenario, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The coefficients the scenario's uncertain keys change, path by path, for their
    values ``(n, len(scenario.beliefs))`` (:mod:`mcengine.model.beliefs`): ``(slots,
    columns)``, the slots ``(k,)`` and each path's value of them ``(k, n)``; the kernel
    takes every other slot from the run's vector (:func:`build_coefficients`).

    The same formulas as :func:`build_coefficients`, on arrays: a path whose values equal
    the point scenario's gets its vector to the bit. (The overflow check of expected demand
    is the kernel's per-path flag here.)
    """
    changed = _Changed()
    view = _with_values(scenario, values)
    _drivers(view, changed)
    _segments(view, changed)
    _valuation(view, changed)
    slots = np.array(sorted(changed), dtype=np.int64)
    columns = np.empty((len(slots), values.shape[0]))
    for m, slot in enumerate(slots):
        columns[m] = changed[slot]
    return slots, columns


class _Changed(dict):
    """Stands in for the coefficient vector and keeps only the slots set to arrays (those
    that depend on an uncertain key)."""

    def __setitem__(self, key, value) -> None:
        if isinstance(value, np.ndarray) and value.ndim == 1:
            super().__setitem__(int(key[1]), value)


def _with_values(scenario: Scenario, values: np.ndarray) -> SimpleNamespace:
    """The scenario's sections as namespaces, each uncertain key holding its column of
    ``values`` (an element of a per-segment list, in its place in the tuple)."""
    sections = {name: dict(vars(getattr(scenario, name))) for name in SECTIONS}
    for j, belief in enumerate(scenario.beliefs):
        section, name, index = belief.location
        column = np.ascontiguousarray(values[:, j])
        if index is None:
            sections[section][name] = column
        else:
            triple = list(sections[section][name])
            triple[index] = column
            sections[section][name] = tuple(triple)
    return SimpleNamespace(
        **{name: SimpleNamespace(**fields) for name, fields in sections.items()},
        n_steps=scenario.n_steps,
        correlation_matrix=scenario.correlation_matrix,
    )


def _drivers(scenario: Scenario, c: np.ndarray) -> None:
    """Time grid, the three drivers and their correlation (Cholesky factor)."""
    sim, tc, op, d = (
        scenario.simulation,
        scenario.training_cost,
        scenario.open_share,
        scenario.demand,
    )
    dt = 1.0 / sim.steps_per_year
    c[..., C.DT] = dt
    c[..., C.N_STEPS] = scenario.n_steps
    c[..., C.HORIZON] = sim.horizon_years
    c[..., C.WINDOW] = crash_window_steps(scenario)

    c[..., C.LAMBDA_MEDIAN] = tc.decline_median
    c[..., C.LAMBDA_DISPERSION] = tc.decline_dispersion
    c[..., C.COST_VOL_SQDT] = tc.volatility * _sqrt(dt)

    c[..., C.X0] = _ln(op.initial / (1.0 - op.initial))
    c[..., C.OPEN_DRIFT] = op.drift
    c[..., C.OPEN_COUPLING] = op.cost_coupling
    c[..., C.OPEN_VOL_SQDT] = op.volatility * _sqrt(dt)

    c[..., C.G_MEAN] = d.growth_initial_mean
    c[..., C.G_SD] = d.growth_initial_sd
    c[..., C.G_LONG] = d.growth_long_run
    kappa = d.growth_reversion
    a = _exp(-kappa * dt)
    c[..., C.G_DECAY] = a
    c[..., C.G_NOISE] = d.volatility * _ou_scale(kappa, dt)
    c[..., C.JUMP_MU] = d.jump_rate * dt
    c[..., C.JUMP_P0] = _exp(-d.jump_rate * dt)
    c[..., C.JUMP_SIZE] = d.jump_size
    c[..., C.PRICE_ELASTICITY] = d.price_elasticity

    chol = cholesky(scenario.correlation_matrix())
    c[..., C.L10], c[..., C.L11] = chol[1, 0], chol[1, 1]
    c[..., C.L20], c[..., C.L21], c[..., C.L22] = chol[2, 0], chol[2, 1], chol[2, 2]


def _segments(scenario: Scenario, c: np.ndarray) -> None:
    """Inference, training and applications economics."""
    inf, tr, app = scenario.inference, scenario.training, scenario.applications
    dt = 1.0 / scenario.simulation.steps_per_year
    c[..., C.LOG_K0] = -_log1p(inf.markup)
    c[..., C.HW_DECLINE] = inf.hardware_decline
    c[..., C.PASS_THROUGH] = inf.cost_pass_through
    c[..., C.LOG_MARKUP_I] = _log1p(inf.markup)
    c[..., C.LOG_CAPACITY0] = _ln(inf.capacity_initial)
    c[..., C.LOG_BUILD] = _ln(dt / inf.capital_intensity)
    # Step 8': wear-out, less model 2's upgrades in place (0 for GPUs; DWDM on fibre)
    c[..., C.CAPACITY_DECAY] = dt / inf.useful_life - inf.capacity_upgrade * dt
    c[..., C.LOG_CAPEX0] = _log0(inf.capex_initial)
    c[..., C.CAPEX_GROWTH_DT] = inf.capex_growth * dt
    c[..., C.CAPEX_ACCEL_DT] = inf.capex_accelerator * dt
    c[..., C.LOG_FLOOR] = _log0(inf.price_floor)
    c[..., C.SCARCITY_ELASTICITY] = inf.scarcity_elasticity
    c[..., C.LOG_SCARCITY_CAP] = _ln(inf.scarcity_cap)
    c[..., C.VARIABLE_SHARE] = inf.variable_cost_share
    c[..., C.LOG_CAPEX_KEEP] = _log0(1.0 - inf.crash_capex_cut)
    c[..., C.LOG_CAPITAL_INTENSITY] = _ln(inf.capital_intensity)
    c[..., C.CAPEX_Q_DT] = inf.capex_q_response * dt
    c[..., C.CAPEX_MARGIN_DT] = inf.capex_margin_response * dt
    c[..., C.CAPABILITY_EFFICIENCY] = inf.capability_efficiency

    c[..., C.BRAND_MOAT] = tr.brand_moat
    c[..., C.TECH_PREMIUM] = tr.tech_premium
    c[..., C.MOAT_EROSION] = tr.moat_erosion
    c[..., C.CUT_MAX] = tr.cut_max
    c[..., C.TRAIN_OPEX] = tr.opex
    c[..., C.SPEND_KEEP] = 1.0 - tr.crash_spend_cut
    c[..., C.SPEND_Q_DT] = tr.spend_q_response * dt

    c[..., C.LOG_MARKUP_A] = _log1p(app.markup)
    c[..., C.VALUE_ELASTICITY] = app.value_elasticity
    c[..., C.APP_OPEX] = app.opex
    c[..., C.SELECTION_SD] = app.selection_dispersion


def _valuation(scenario: Scenario, c: np.ndarray) -> None:
    """Fair multiples, sentiment, crash and contagion, dilution."""
    val = scenario.valuation
    dt = 1.0 / scenario.simulation.steps_per_year
    for i, slot in enumerate((C.LOG_FSM_A, C.LOG_FSM_I, C.LOG_FSM_T)):
        c[..., slot] = _ln(val.fair_sales_multiple[i])
    for i, slot in enumerate((C.Z0_A, C.Z0_I, C.Z0_T)):
        c[..., slot] = _ln(val.initial_premium[i])
    kappa_s = _LN2 / val.sentiment_half_life
    c[..., C.SENT_DECAY] = _exp(-kappa_s * dt)
    ou_scale = val.sentiment_volatility * _ou_scale(kappa_s, dt)
    c[..., C.SENT_COMMON] = ou_scale * _sqrt(val.sentiment_common)
    c[..., C.SENT_IDIO] = ou_scale * _sqrt(1.0 - val.sentiment_common)
    c[..., C.EXTRAPOLATION_DT] = val.growth_extrapolation * dt  # step 14' (model 2)
    # A crash is a fall of more than the threshold: log(V/peak) < log(1 - threshold).
    c[..., C.LOG_CRASH_KEEP] = _log0(1.0 - val.crash_threshold)
    for i, slot in enumerate((C.HIT_A, C.HIT_I, C.HIT_T)):
        c[..., slot] = val.contagion_jump * val.contagion_loading[i]
    for i, slot in enumerate((C.DILUTION_A, C.DILUTION_I, C.DILUTION_T)):
        c[..., slot] = val.entrant_dilution[i] * dt
