"""Variance-based sensitivity as text: each input's share of each output's variance,
Sobol indices (first-order and total) and Shapley effects, ± their bootstrap errors."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.console import Console

from mcengine.present.format import NOT_DEFINED, error_text, number, output_dim, segment_grid

if TYPE_CHECKING:
    import xarray as xr
    from rich.table import Table

__all__ = ["render_indices", "render_shapley"]


def _index_cell(value: float, error: float, high: float) -> str:
    """A variance share ``value ± error`` to two decimals, never a negative zero: a
    negative estimate whose 95% interval reaches 0 (``high >= 0``) reads ``≈0``, within
    its error of 0, since a true index is never negative."""
    if not math.isfinite(value):
        return NOT_DEFINED
    error = error_text(error, 2)
    if value < 0 and high >= 0:
        return f"≈0 ± {error}"
    text = number(value)
    return f"{text.lstrip('-') if float(text) == 0 else text} ± {error}"


def _index_at(table: xr.Dataset, index: str, **where) -> tuple[float, float, float]:
    """An index's estimate, standard error and upper 95% bound at ``where``."""
    at = table.sel(where)
    high = at[f"{index}_ci"].sel(bound="high")
    return float(at[index]), float(at[f"{index}_standard_error"]), float(high)


def _pairs_text(pairs: list[tuple[str, str]], limit: int = 3) -> str:
    """``selection for applications, ...``: (input, segment) pairs, or how many cells."""
    if len(pairs) > limit:
        return f"{len(pairs)} cells"
    return ", ".join(f"{name.replace('_', ' ')} for {segment}" for name, segment in pairs)


_SEGMENT_VARIANCE = "the segment's annual-return variance"
_RETURN_VARIANCE = "the annual-return variance"


def _variance_of(table: xr.Dataset, segments: str) -> str:
    """What the study splits: ``segments`` (the annual-return variance), or an output's
    variance (the essay's ordering: the variance of its indicator)."""
    if output_dim(table) == "segment":
        return segments
    return "the variance of the ordering's indicator (1 on paths in that order)"


def _variance_grid(table: xr.Dataset, title: str, rows) -> tuple[Table, bool]:
    """A variance-based table: ``rows`` of ``(label, index, input)``, each cell the
    index ± its standard error; and whether a cell reads ``≈0``."""
    dim = output_dim(table)
    grid = segment_grid(table[dim].values, "input", title, None, wrap_first=True)
    near_zero = False
    for label, index, name in rows:
        cells = []
        for s in table[dim].values:
            cells.append(_index_cell(*_index_at(table, index, input=name, **{dim: s})))
        near_zero |= any(c.startswith("≈0") for c in cells)
        grid.add_row(label, *cells)
    return grid, near_zero


def _print_captioned(grid: Table, caption: str, console: Console | None) -> None:
    grid.caption, grid.caption_justify = caption, "left"
    (console or Console(highlight=False)).print(grid)


_NEAR_ZERO = "≈0: a negative estimate whose 95% interval reaches 0 (a true index is never negative)"


def render_indices(table: xr.Dataset, console: Console | None = None) -> None:
    """Sobol indices: each input's first-order (S1) and total (ST) share of each segment's
    return variance, ± its bootstrap standard error; the caption says where an estimate
    of S1 exceeds ST, and whether by more than its errors."""
    labels = {name: _input_label(table, name) for name in table["input"].values}
    width = max(len(label) for label in labels.values())
    rows = []
    for name, label in labels.items():
        rows.append((f"{label:<{width}} S1", "first_order", name))
        rows.append((f"{'':<{width}} ST", "total", name))
    grid, near_zero = _variance_grid(
        table,
        "variance-based sensitivity: first-order (S1) and total (ST) Sobol index by input, "
        f"{int(table.attrs['n_paths']):,}-path Saltelli design",
        rows,
    )
    caption = [
        f"S1: the share of {_variance_of(table, _SEGMENT_VARIANCE)} the input explains alone; "
        "ST: with all its interactions; ± one bootstrap standard error (95% intervals in "
        "JSON)"
    ]
    if near_zero:
        caption.append(_NEAR_ZERO)
    above, beyond = [], []
    dim = output_dim(table)
    for name in table["input"].values:
        for s in table[dim].values:
            first, first_se, _ = _index_at(table, "first_order", input=name, **{dim: s})
            total, total_se, _ = _index_at(table, "total", input=name, **{dim: s})
            if first > total:
                above.append((str(name), str(s)))
                if first - total > 2 * math.hypot(first_se, total_se):
                    beyond.append((str(name), str(s)))
    if above:
        error = (
            f"beyond 2 combined standard errors for {_pairs_text(beyond)}: raise --sobol-paths"
            if beyond
            else "within 2 combined standard errors (no interactions to speak of)"
        )
        caption.append(
            f"S1 ≤ ST holds in truth; S1 above ST here ({_pairs_text(above)}) is sampling "
            f"error, {error}"
        )
    caption.append(str(table.attrs["method"]))
    _print_captioned(grid, "; ".join(caption), console)


def render_shapley(
    table: xr.Dataset, console: Console | None = None, *, sobol: xr.Dataset | None = None
) -> None:
    """Shapley effects: each input's share of each segment's return variance, ± its
    bootstrap standard error. With ``sobol`` (:func:`~mcengine.studies.sensitivity.
    sobol_indices` of the same scenario) and independent inputs, the caption says whether
    each effect lies within 2 combined standard errors (the root sum of their squares) of
    its first-order and total indices."""
    rows = [(_input_label(table, name), "shapley", name) for name in table["input"].values]
    grid, near_zero = _variance_grid(
        table,
        f"Shapley effects: each input's share of {_variance_of(table, _RETURN_VARIANCE)}, "
        f"{int(table.attrs['n_paths']):,} base paths x {2 ** table.sizes['input']:,} subsets",
        rows,
    )
    caption = [f"they add up to 1 per {output_dim(table)}; ± one bootstrap standard error"]
    if near_zero:
        caption.append(_NEAR_ZERO)
    caption.append(str(table.attrs["method"]))
    dependent = table.attrs["method"].startswith("dependent")
    if sobol is not None and not dependent:
        outside = []
        dim = output_dim(table)
        for name in table["input"].values:
            for s in table[dim].values:
                at = {"input": name, dim: s}
                effect, se, _ = _index_at(table, "shapley", **at)
                first, first_se, _ = _index_at(sobol, "first_order", **at)
                total, total_se, _ = _index_at(sobol, "total", **at)
                if first - effect > 2 * math.hypot(se, first_se) or (
                    effect - total > 2 * math.hypot(se, total_se)
                ):
                    outside.append((str(name), str(s)))
        caption.append(
            f"here all but {_pairs_text(outside)} lie within 2 combined standard errors"
            if outside
            else "here each lies within 2 combined standard errors of them"
        )
    _print_captioned(grid, "; ".join(caption), console)


def _input_label(table: xr.Dataset, name) -> str:
    kind = str(table["kind"].sel(input=name).values)
    return str(name) if kind == "belief" else str(name).replace("_", " ")
