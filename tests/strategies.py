"""Hypothesis strategies for scenario documents, shared by the property tests."""

from __future__ import annotations

import dataclasses

from hypothesis import strategies as st

from mcengine.model.parameters import SECTIONS

#: Every (section, dataclass field) of the schema.
FIELDS = [(s, f) for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)]
CROSS_FIELD = {
    "valuation.crash_window_years",
    "correlation.cost_open",
    "correlation.cost_demand",
    "correlation.open_demand",
}


def field_values(f, *, max_value: float = 1e6, edges: bool = False):
    """Values inside a field's range (three of them for per-segment lists).

    ``edges`` mixes in the range's end points, where the model's edge rules live.
    """
    rng = f.metadata["range"]
    if rng.choices:
        one = st.sampled_from(rng.choices)
    elif rng.integer:
        one = st.integers(int(rng.lo), int(rng.hi))
    else:
        hi = min(rng.hi, max_value)
        one = st.floats(rng.lo, hi, exclude_min=rng.lo_open, exclude_max=rng.hi_open)
        ends = [v for v in (rng.lo, hi) if rng.contains(v)]
        if edges and ends:
            one = st.one_of(st.sampled_from(ends), one)
    return st.lists(one, min_size=3, max_size=3) if f.metadata["triple"] else one


@st.composite
def valid_overrides(draw, *, max_keys: int = 6, max_steps: int | None = None, **values):
    """``{"section.key": value}`` inside every range, with the cross-field rules kept.

    ``max_steps`` caps horizon x steps_per_year (to bound run time); ``values`` go to
    :func:`field_values`.
    """
    chosen = draw(
        st.lists(st.sampled_from(FIELDS), max_size=max_keys, unique_by=lambda x: id(x[1]))
    )
    out = {f"{s}.{f.name}": draw(field_values(f, **values)) for s, f in chosen}
    for key in CROSS_FIELD:
        out.pop(key, None)
    steps_per_year = out.get("simulation.steps_per_year", 1)
    horizon = out.get("simulation.horizon_years", 10)
    if max_steps is not None and horizon * steps_per_year > max_steps:
        horizon = out["simulation.horizon_years"] = max(1, max_steps // steps_per_year)
    out["valuation.crash_window_years"] = draw(st.floats(0.01, float(horizon)))
    rho = draw(st.floats(-0.5, 0.5))
    out["correlation.cost_open"] = rho
    out["correlation.open_demand"] = -rho
    return out
