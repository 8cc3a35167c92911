"""The scenario schema: every section, key, base value and valid range of MODEL.md.

Each section is a frozen dataclass whose fields carry their range in ``metadata``, so the
schema, the defaults and the validation rules have one home. :mod:`mcengine.model.scenario` builds
on these classes; nothing else defines a range.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from mcengine.checks import Range, plain_data, show_value
from mcengine.errors import ScenarioError
from mcengine.layout import N_SEGMENTS, SEGMENTS

__all__ = [
    "SECTIONS",
    "Simulation",
    "TrainingCost",
    "OpenShare",
    "Demand",
    "Correlation",
    "Inference",
    "Training",
    "Applications",
    "Valuation",
    "Stress",
]


def _param(default: Any, rng: Range, meaning: str, *, triple: bool = False) -> Any:
    return field(default=default, metadata={"range": rng, "meaning": meaning, "triple": triple})


def closed(lo: float, hi: float = math.inf) -> Range:
    return Range(lo, hi)


def positive(hi: float) -> Range:
    return Range(0.0, hi, lo_open=True)


def check_value(label: str, value: Any, rng: Range, *, triple: bool) -> Any:
    """Validate one value against its range; return it normalised (float, int or tuple).

    ``label`` is the ``section.key`` named in the message. numpy numbers and array-likes
    count as numbers and lists.
    """
    value = plain_data(value)
    if triple:
        if not isinstance(value, list) or len(value) != N_SEGMENTS:
            raise ScenarioError(
                f"{label} = {show_value(value)}, must be a list of {N_SEGMENTS} numbers "
                f"({', '.join(SEGMENTS)}), each in {rng}"
            )
        return tuple(
            check_value(f"{label}[{i}]", v, rng, triple=False) for i, v in enumerate(value)
        )
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number:
        raise ScenarioError(f"{label} = {show_value(value)}, {rng.requirement(number=True)}")
    exact_int = math.isfinite(value) and float(value).is_integer()
    discrete = rng.integer or bool(rng.choices)
    if not math.isfinite(value) or (discrete and not exact_int) or not rng.contains(value):
        raise ScenarioError(f"{label} = {show_value(value)}, {rng.requirement()}")
    return int(value) if discrete else float(value)


class _Section:
    """Validation shared by every section: each field against its declared range."""

    def __post_init__(self) -> None:
        section = SECTION_NAMES[type(self)]
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = check_value(
                f"{section}.{f.name}",
                getattr(self, f.name),
                f.metadata["range"],
                triple=f.metadata["triple"],
            )
            object.__setattr__(self, f.name, value)


@dataclass(frozen=True)
class Simulation(_Section):
    horizon_years: int = _param(10, Range(1, 100, integer=True), "years simulated")
    steps_per_year: int = _param(1, Range(choices=(1, 2, 4, 12)), "steps per year")


@dataclass(frozen=True)
class TrainingCost(_Section):
    decline_median: float = _param(1.25, closed(0, 5), "median lambda, log-rate per year")
    decline_dispersion: float = _param(0.4, closed(0, 2), "lognormal sigma of lambda across paths")
    volatility: float = _param(0.15, closed(0, 2), "annual noise on logC")


@dataclass(frozen=True)
class OpenShare(_Section):
    initial: float = _param(
        0.2, Range(0, 1, lo_open=True, hi_open=True), "open-weight share of tokens today"
    )
    drift: float = _param(0.05, closed(-5, 5), "logit drift per year")
    cost_coupling: float = _param(0.5, closed(-5, 5), "extra drift per unit of lambda above median")
    volatility: float = _param(0.35, closed(0, 3), "logit noise per sqrt(year)")


@dataclass(frozen=True)
class Demand(_Section):
    growth_initial_mean: float = _param(1.386, closed(-2, 5), "today's log growth of tokens")
    growth_initial_sd: float = _param(0.4, closed(0, 2), "across paths")
    growth_long_run: float = _param(0.22, closed(-1, 3), "long-run log growth")
    growth_reversion: float = _param(0.45, closed(0, 10), "speed g reverts, per year")
    volatility: float = _param(0.2, closed(0, 2), "noise on g per sqrt(year)")
    jump_rate: float = _param(0.15, closed(0, 12), "adoption jumps per year")
    jump_size: float = _param(0.4, closed(-3, 3), "log size of a jump")
    price_elasticity: float = _param(0.3, closed(0, 3), "Jevons response to price")


@dataclass(frozen=True)
class Correlation(_Section):
    cost_open: float = _param(0.0, closed(-1, 1), "driver shock correlation")
    cost_demand: float = _param(0.0, closed(-1, 1), "driver shock correlation")
    open_demand: float = _param(0.0, closed(-1, 1), "driver shock correlation")


@dataclass(frozen=True)
class Inference(_Section):
    hardware_decline: float = _param(0.2, closed(0, 3), "log decline of serving cost per year")
    cost_pass_through: float = _param(0.12, closed(0, 1), "share of logC passed to serving cost")
    markup: float = _param(0.6, closed(0, 10), "normal markup over serving cost")
    capacity_initial: float = _param(0.9, positive(10), "capacity / demand today")
    capital_intensity: float = _param(2.0, positive(20), "capex per unit of annual serving cost")
    useful_life: float = _param(5.0, closed(0.5, 30), "years")
    capex_initial: float = _param(2.0, closed(0, 100), "capex per year today")
    capex_growth: float = _param(0.1, closed(-2, 2), "log growth of capex at balance")
    capex_accelerator: float = _param(1.0, closed(0, 10), "response of capex growth to r-1")
    capex_q_response: float = _param(
        0.5, closed(0, 5), "model 2: capex growth per unit of ln(q / q0)"
    )
    capex_margin_response: float = _param(
        0.5, closed(0, 5), "model 2: capex growth per unit of margin - margin0"
    )
    capability_efficiency: float = _param(
        2.38, closed(0, 10), "model 2: log fall a year of fixed-capability cost"
    )
    capacity_upgrade: float = _param(
        0.0, closed(0, 3), "model 2: log growth a year of capacity in place"
    )
    price_floor: float = _param(0.7, closed(0, 5), "lowest price as a multiple of serving cost")
    scarcity_elasticity: float = _param(0.5, closed(0, 5), "price response to r")
    scarcity_cap: float = _param(3.0, closed(1), "largest r that moves price")
    variable_cost_share: float = _param(
        0.5, closed(0, 1), "share of serving cost that scales with use"
    )
    crash_capex_cut: float = _param(0.0, closed(0, 1), "capex cut after a crash (model 1: 0.3)")


@dataclass(frozen=True)
class Training(_Section):
    brand_moat: float = _param(0.2, closed(0, 1), "share of closed-token revenue the brand keeps")
    tech_premium: float = _param(0.35, closed(0, 1), "extra share while the technical lead lasts")
    moat_erosion: float = _param(0.3, closed(0, 5), "how fast cost decline erodes it")
    cut_max: float = _param(0.9, closed(0, 1), "cap on the closed-model cut")
    spend_ratio_initial: float = _param(1.6, closed(0, 20), "training spend / revenue today")
    spend_ratio_long_run: float = _param(0.4, closed(0, 20), "long-run ratio")
    spend_ratio_half_life: float = _param(4.0, positive(100), "years")
    opex: float = _param(0.25, closed(0, 1), "other costs / revenue")
    crash_spend_cut: float = _param(0.0, closed(0, 1), "spend cut after a crash (model 1: 0.4)")
    spend_q_response: float = _param(
        0.3, closed(0, 5), "model 2: spend growth per unit of z_T - z_T0"
    )


@dataclass(frozen=True)
class Applications(_Section):
    markup: float = _param(0.5, closed(0, 20), "app revenue / token bill today, minus 1")
    value_elasticity: float = _param(0.45, closed(0, 1), "fall of value per token with usage")
    opex: float = _param(0.45, closed(0, 1), "other costs / revenue")
    selection_dispersion: float = _param(1.0, closed(0, 3), "sigma of the winner-picking spread")


@dataclass(frozen=True)
class Valuation(_Section):
    fair_sales_multiple: tuple[float, float, float] = _param(
        (6.0, 6.0, 8.0), positive(100), "A, I, T: fair price / sales", triple=True
    )
    initial_premium: tuple[float, float, float] = _param(
        (1.0, 1.5, 2.5), positive(20), "A, I, T: today's price / fair value", triple=True
    )
    sentiment_half_life: float = _param(5.0, positive(100), "years")
    sentiment_volatility: float = _param(0.25, closed(0, 3), "per sqrt(year)")
    sentiment_common: float = _param(
        0.6, closed(0, 1), "share of sentiment variance that is common"
    )
    growth_extrapolation: float = _param(
        0.0, closed(0, 10), "model 2: premium drift per excess growth"
    )
    crash_threshold: float = _param(
        0.65, closed(0, 1), "fall within the window that counts as a crash"
    )
    crash_window_years: float = _param(2.0, positive(100), "years (at most the horizon)")
    contagion_jump: float = _param(0.5, closed(0, 5), "log sentiment hit")
    contagion_loading: tuple[float, float, float] = _param(
        (0.6, 0.8, 1.0), closed(0, 5), "A, I, T", triple=True
    )
    entrant_dilution: tuple[float, float, float] = _param(
        (0.12, 0.03, 0.03), closed(0, 1), "A, I, T per year", triple=True
    )


@dataclass(frozen=True)
class Stress(_Section):
    """One deterministic shock (a ``[[stress]]`` table), applied at the step ending at
    ``year``: an addition to MODEL.md documented in docs/model.md, "Stress overlays"."""

    year: float = _param(1.0, positive(100), "when, in years: the end of a step")
    demand: float = _param(0.0, closed(-5, 5), "log shock to demand")
    sentiment: float = _param(0.0, closed(-5, 5), "log hit to every segment's premium")
    open_share: float = _param(0.0, closed(-10, 10), "logit jump of the open-weight share")
    training_cost: float = _param(0.0, closed(-5, 5), "log shock to the training-cost index")


#: Section name -> class, in the order of MODEL.md.
SECTIONS: dict[str, type] = {
    "simulation": Simulation,
    "training_cost": TrainingCost,
    "open_share": OpenShare,
    "demand": Demand,
    "correlation": Correlation,
    "inference": Inference,
    "training": Training,
    "applications": Applications,
    "valuation": Valuation,
}
SECTION_NAMES = {cls: name for name, cls in SECTIONS.items()} | {Stress: "stress"}
