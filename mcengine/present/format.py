"""Numbers, cells and labels: what every presenter (text, JSON, figures, HTML) shares.

One rule for what cannot be estimated: a NaN (:data:`mcengine.stats.estimates.UNDEFINED`)
reads :data:`NOT_DEFINED` (``n/a``) in a table and ``null`` in JSON
(:func:`mcengine.present.encode.json_ready`). Every figure a table prints goes through
:func:`number`, every standard error through :func:`error_text`, and an estimate with its
error through :func:`cell` (or :func:`target_cell` for a validation target).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "NOT_DEFINED",
    "STATISTIC_LABELS",
    "PART_LABELS",
    "VOTING_PARTS",
    "number",
    "error_text",
    "cell",
    "cell_of",
    "target_cell",
    "interval_text",
    "target_unit",
    "run_title",
    "segment_grid",
    "comparison_rows",
    "output_dim",
]

#: Tables print what cannot be estimated (NaN) as this, JSON as null.
NOT_DEFINED = "n/a"
#: Most decimals a table shows: at 10**7 paths and more, a standard error of a few
#: thousandths of a percentage point still shows one significant digit.
_MAX_DECIMALS = 3

#: The summary's statistics, in the words tables and figures use (all in %: returns,
#: quantiles, VaR/CVaR and drawdowns are fractions, probabilities are shares of paths).
STATISTIC_LABELS = {
    "mean": "mean annual return",
    "std": "std deviation",
    "q05": "5% quantile",
    "q25": "25% quantile",
    "q50": "median",
    "q75": "75% quantile",
    "q95": "95% quantile",
    "var95": "VaR 95%",
    "cvar95": "CVaR 95%",
    "p_loss": "P(loss)",
    "p_wiped_out": "P(wiped out)",
    "median_max_drawdown": "median drawdown",
    "p_crash_origin": "P(crash starts here)",
}
#: The parts of the mean annual return, in the words tables and figures use.
PART_LABELS = {
    "fundamental": "fundamentals",
    "sentiment": "sentiment",
    "contagion": "contagion hit",
    "cash_flow": "net payout",
    "dilution": "entrant dilution",
    "selection": "selection spread",
    "wipe_out": "wipe-outs",
}
#: The voting parts; the rest is weighing.
VOTING_PARTS = ("sentiment", "contagion")


def number(value: float, spec: str = ".2f") -> str:
    """``value`` in the format ``spec`` (``".2f"``, ``"+.2f"``, ``".1f"``, ``".3g"``...), or
    :data:`NOT_DEFINED` when it is undefined (NaN; also an infinite value)."""
    value = float(value)
    return format(value, spec) if math.isfinite(value) else NOT_DEFINED


def error_text(error: float, decimals: int) -> str:
    """A standard error to ``decimals``: ``0`` when exact (a proportion of 0 paths, or a part
    that is always 0), ``<0.01`` when it rounds to 0, :data:`NOT_DEFINED` when undefined."""
    if error == 0:
        return "0"
    if math.isfinite(error) and error < 0.5 * 10.0**-decimals:
        return f"<{10.0**-decimals:.{decimals}f}"
    return number(error, f".{decimals}f")


def _decimals(error: float) -> int:
    """Decimals that show two significant digits of ``error`` (at least 2, at most 3)."""
    if not math.isfinite(error) or error <= 0:
        return 2
    return min(max(2, 1 - math.floor(math.log10(error))), _MAX_DECIMALS)


def cell(
    value: float, error: float, *, scale: float = 100.0, sign: bool = False, sep: str = " ± "
) -> str:
    """``value ± error`` (both times ``scale``): the error to two significant digits and
    the value to the same decimals; ``n/a`` for what is undefined."""
    v, e = value * scale, error * scale
    if not math.isfinite(v):
        return NOT_DEFINED
    decimals = _decimals(e)
    spec = f"{'+' if sign else ''}.{decimals}f"
    return f"{number(v, spec)}{sep}{error_text(e, decimals)}"


def cell_of(
    table: xr.Dataset, value: str, error: str, *, sign: bool = False, scale: float = 100.0, **where
) -> str:
    """:func:`cell` of ``table[value]`` and ``table[error]`` at ``where`` (in %)."""
    return cell(
        float(table[value].sel(where)), float(table[error].sel(where)), scale=scale, sign=sign
    )


def target_cell(value: float, error: float) -> str:
    """A target's model figure ``value ± error``: the error to two significant digits and
    the value to the same decimals (targets span orders of magnitude, so no fixed
    number of decimals); an exact figure (error 0) to three significant digits."""
    if not math.isfinite(value):
        return NOT_DEFINED
    if not math.isfinite(error) or error <= 0:
        return f"{number(value, '.3g')} ± {'0' if math.isfinite(error) else NOT_DEFINED}"
    decimals = max(0, 1 - math.floor(math.log10(error)))
    return f"{value:.{decimals}f} ± {error:.{decimals}f}"


def interval_text(low: float, high: float) -> str:
    """``[0.2, 0.4]``, or an open-ended criterion's ``≥ 1.42`` / ``≤ 0.78``."""
    if not math.isfinite(high):
        return f"≥ {number(low, '.3g')}"
    if not math.isfinite(low):
        return f"≤ {number(high, '.3g')}"
    return f"[{number(low, '.3g')}, {number(high, '.3g')}]"


def target_unit(row: xr.Dataset) -> str:
    """The unit of one target's model figure and interval (a row of
    :func:`mcengine.studies.validation.check`; :attr:`mcengine.model.targets.Target.unit`)."""
    return str(row["unit"].values)


def _count(n: int, noun: str = "path") -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def run_title(attrs) -> str:
    """The run header: scenario, paths, seed and horizon."""
    horizon = attrs.get("horizon_years")
    return (
        f"scenario {attrs.get('scenario_name', '?')}: {_count(int(attrs.get('n_paths', 0)))}, "
        f"seed {attrs.get('seed', '?')}"
        + (f", {int(horizon)}-year horizon" if horizon is not None else "")
    )


def segment_grid(
    columns, first: str, title: str, caption: str | None = None, *, wrap_first: bool = False
) -> Table:
    """A rich table with a label column ``first`` and one right-aligned column per entry
    of ``columns`` (the segments, or the scenarios)."""
    grid = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    if wrap_first:
        grid.add_column(first, overflow="fold")
    else:
        grid.add_column(first, no_wrap=True)
    for column in columns:
        grid.add_column(str(column), justify="right", no_wrap=True)
    return grid


def comparison_rows(table: xr.Dataset, dim: str) -> tuple[list[str], xr.Dataset, str]:
    """Labels and a table with one ``row`` per scenario (``dim="scenario"``) or grid point
    of a sweep (``dim``: its keys joined by ``|``)."""
    if dim == "scenario":
        return [str(s) for s in table["scenario"].values], table.rename(scenario="row"), "row"
    keys = dim.split("|")
    stacked = table.stack(row=keys)
    labels = [
        ", ".join(f"{float(v):g}" for v in point)
        for point in (p if isinstance(p, tuple) else (p,) for p in stacked["row"].values)
    ]
    return labels, stacked, "row"


def output_dim(table: xr.Dataset) -> str:
    """The dimension a variance-based study's outputs lie along: ``segment`` (each
    segment's return) or its :class:`~mcengine.studies.designs.Output`'s own (e.g. the
    essay's ordering): the one that is neither ``input`` nor ``bound``."""
    return next(str(d) for d in table.dims if d not in ("input", "bound"))
