"""What people read: the rich summary table, the JSON form, and the progress bar."""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path

import numpy as np
import xarray as xr
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from mcengine.model.scenario import Scenario

__all__ = [
    "belief_lines",
    "json_ready",
    "cell",
    "cell_of",
    "PART_LABELS",
    "render_summary",
    "summary_to_json",
    "progress_reporter",
    "render_waterfall",
    "waterfall_to_json",
    "render_comparison",
    "comparison_to_json",
    "render_tornado",
    "tornado_to_json",
    "render_indices",
    "render_shapley",
    "render_voi",
    "render_check",
    "check_to_json",
    "target_cell",
    "interval_text",
    "target_unit",
    "run_title",
    "render_calibration",
    "voi_to_json",
    "indices_to_json",
    "render_verdict",
    "verdict_to_json",
]

_PERCENT = {
    "mean",
    "std",
    "q05",
    "q25",
    "q50",
    "q75",
    "q95",
    "var95",
    "cvar95",
    "p_loss",
    "p_wiped_out",
    "median_max_drawdown",
    "p_crash_origin",
}
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


#: Tables print what cannot be estimated (NaN) as this, JSON as null.
UNDEFINED = "n/a"
#: Most decimals a table shows: at 10**7 paths and more, a standard error of a few
#: thousandths of a percentage point still shows one significant digit.
_MAX_DECIMALS = 3


def _decimals(error: float) -> int:
    """Decimals that show two significant digits of ``error`` (at least 2, at most 3)."""
    if not math.isfinite(error) or error <= 0:
        return 2
    return min(max(2, 1 - math.floor(math.log10(error))), _MAX_DECIMALS)


def _number(value: float, decimals: int = 2, *, sign: bool = False) -> str:
    if not math.isfinite(value):
        return UNDEFINED
    return f"{value:{'+' if sign else ''}.{decimals}f}"


def _error(error: float, decimals: int) -> str:
    if not math.isfinite(error):
        return UNDEFINED
    if error == 0:
        return "0"  # exact: e.g. a proportion of 0 paths, or a part that is always 0
    if error < 0.5 * 10.0**-decimals:
        return f"<{10.0**-decimals:.{decimals}f}"
    return f"{error:.{decimals}f}"


def cell(
    value: float, error: float, *, scale: float = 100.0, sign: bool = False, sep: str = " ± "
) -> str:
    """``value ± error`` (both times ``scale``): the error to two significant digits and
    the value to the same decimals; ``n/a`` for what is undefined."""
    v, e = value * scale, error * scale
    if not math.isfinite(v):
        return UNDEFINED
    decimals = _decimals(e)
    return f"{_number(v, decimals, sign=sign)}{sep}{_error(e, decimals)}"


def _segment_grid(
    segments, first: str, title: str, caption: str | None = None, *, wrap_first: bool = False
) -> Table:
    """A table with a label column and one right-aligned column per segment."""
    grid = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    if wrap_first:
        grid.add_column(first, overflow="fold")
    else:
        grid.add_column(first, no_wrap=True)
    for seg in segments:
        grid.add_column(str(seg), justify="right", no_wrap=True)
    return grid


def render_summary(
    table: xr.Dataset,
    *,
    elapsed: float | None = None,
    out: Path | None = None,
    console: Console | None = None,
) -> None:
    """Print the summary as a table: statistics down, segments across, each with ± s.e."""
    console = console or Console(highlight=False)
    attrs = table.attrs
    how = attrs.get("standard_errors")
    caption = (
        "annual returns and probabilities in %; ± is one Monte Carlo standard error, in "
        "percentage points" + (f" ({how})" if how else "")
    )
    grid = _segment_grid(table["segment"].values, "statistic", run_title(attrs), caption)
    for stat in table["statistic"].values:
        row = [STATISTIC_LABELS.get(str(stat), str(stat))]
        scale = 100.0 if str(stat) in _PERCENT else 1.0
        for seg in table["segment"].values:
            where = {"segment": seg, "statistic": stat}
            row.append(cell_of(table, "estimate", "standard_error", scale=scale, **where))
        grid.add_row(*row)
    console.print(grid)
    if "stopping" in attrs:
        console.print(
            f"stopped at {int(attrs['n_paths']):,} paths: {attrs['stopping']} "
            f"(s.e. of {attrs['stop_statistic']})"
        )
    bound = float(attrs.get("quantile_error_bound", 0.0))
    if bound:
        console.print(f"summary-only run: quantile-based figures within {bound:.0e} of exact")
    crash = cell_of(table, "p_crash", "p_crash_standard_error")
    console.print(f"P(contagion crash) = {crash} %")
    if "portfolio" in table:
        _render_joint(table, console)
    if elapsed is not None:
        n = int(attrs.get("n_paths", 0))
        console.print(f"{elapsed:.2f} s ({n / max(elapsed, 1e-9):,.0f} paths/s)")
    if out is not None:
        console.print(f"wrote {out}")


def cell_of(
    table: xr.Dataset, value: str, error: str, *, sign: bool = False, scale: float = 100.0, **where
) -> str:
    """:func:`cell` of ``table[value]`` and ``table[error]`` at ``where`` (in %)."""
    return cell(
        float(table[value].sel(where)), float(table[error].sel(where)), scale=scale, sign=sign
    )


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


def _render_joint(table: xr.Dataset, console: Console) -> None:
    segments = [str(s) for s in table["segment"].values]
    grid = _segment_grid(
        segments,
        "measure",
        "joint risk",
        "corr.: Pearson correlation of annual returns; means of annual return in %, ± one "
        "standard error in percentage points",
    )
    for seg in segments:
        corr = table["correlation_pearson"].sel(segment=seg)
        grid.add_row(f"corr. {seg}", *[_number(float(v), sign=True) for v in corr.values])
    mean = ("conditional_mean", "conditional_mean_standard_error")
    for condition in ("no_crash", "crash"):
        grid.add_row(
            f"mean, {condition.replace('_', ' ')}",
            *[cell_of(table, *mean, condition=condition, segment=s) for s in segments],
        )
    console.print(grid)
    weights = ", ".join(f"{w:.2f}" for w in table.attrs.get("portfolio_weights", []))

    def portfolio(statistic: str) -> str:
        pair = ("portfolio", "portfolio_standard_error")
        return cell_of(table, *pair, portfolio_statistic=statistic)

    all_lose = cell_of(table, "p_all_lose", "p_all_lose_standard_error")
    console.print(f"portfolio, buy and hold ({weights}), in %:")
    console.print(f"  mean annual return {portfolio('mean')}")
    console.print(f"  VaR 95% {portfolio('var95')}, CVaR 95% {portfolio('cvar95')}")
    console.print(f"  P(all three lose) = {all_lose}")
    console.print("  (it compounds its total wealth: on every path its annual return is at least")
    console.print("  the weighted mean of the segments', so its mean can exceed every segment's)")
    years = table["crash_year_probability"]
    console.print(
        f"P(crash in year 1..{years.sizes['year']}), %: "
        + " ".join(_number(float(v) * 100, 1) for v in years.values)
    )


def json_ready(doc):
    """``doc`` with every NaN or infinite float replaced by ``None`` (JSON ``null``): what
    cannot be estimated is undefined, and JSON has no NaN."""
    if isinstance(doc, dict):
        return {k: json_ready(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [json_ready(v) for v in doc]
    if isinstance(doc, float) and not math.isfinite(doc):
        return None
    return doc


def _estimate(table: xr.Dataset, value: str, error: str | None = None, **where) -> dict:
    """``{"estimate", "standard_error"}`` of ``table[value]`` at ``where``; the error is
    ``table[error]``, by default the variable ``value + "_standard_error"``."""
    error = error or f"{value}_standard_error"
    return {
        "estimate": float(table[value].sel(where)),
        "standard_error": float(table[error].sel(where)),
    }


def _run_header(table: xr.Dataset) -> dict:
    return {
        "scenario": str(table.attrs.get("scenario_name", "")),
        "seed": int(table.attrs.get("seed", -1)),
        "n_paths": int(table.attrs.get("n_paths", 0)),
    }


def _joint_to_json(table: xr.Dataset) -> dict:
    def pairs(name: str, dim: str) -> dict:
        return {str(key): _estimate(table, name, **{dim: key}) for key in table[dim].values}

    out = {
        "correlation_pearson": table["correlation_pearson"].values.tolist(),
        "p_all_lose": _estimate(table, "p_all_lose"),
        "portfolio_weights": list(table.attrs.get("portfolio_weights", [])),
        "portfolio": pairs("portfolio", "portfolio_statistic"),
        "crash_year_probability": pairs("crash_year_probability", "year"),
        "conditional_mean": {
            str(c): {
                str(s): _estimate(table, "conditional_mean", segment=s, condition=c)
                for s in table["segment"].values
            }
            for c in table["condition"].values
        },
    }
    if "correlation_spearman" in table:
        out["correlation_spearman"] = table["correlation_spearman"].values.tolist()
    return out


def summary_to_json(table: xr.Dataset, *, elapsed: float | None = None) -> dict:
    """The summary as plain JSON-ready data (documented in README "JSON output")."""
    segments = {}
    for seg in table["segment"].values:
        segments[str(seg)] = {
            str(stat): {
                **_estimate(table, "estimate", "standard_error", segment=seg, statistic=stat),
                "ci95": [
                    float(table["ci_low"].sel(segment=seg, statistic=stat)),
                    float(table["ci_high"].sel(segment=seg, statistic=stat)),
                ],
            }
            for stat in table["statistic"].values
        }
    doc = {
        **_run_header(table),
        "quantile_error_bound": float(table.attrs.get("quantile_error_bound", 0.0)),
        "p_crash": {
            **_estimate(table, "p_crash"),
            "ci95": [float(v) for v in table["p_crash_ci"].values],
        },
        "segments": segments,
    }
    if "portfolio" in table:
        doc["joint"] = _joint_to_json(table)
    if "fan_wealth" in table:
        doc["fan"] = {
            "years": [int(y) for y in table["year"].values],
            "quantiles": [float(q) for q in table["quantile"].values],
            "wealth": {
                str(s): table["fan_wealth"].sel(segment=s).values.tolist()
                for s in table["segment"].values
            },
            "drivers": {
                str(d): table["fan_drivers"].sel(driver=d).values.tolist()
                for d in table["driver"].values
            },
            "relative_error_bound": float(table.attrs["fan_relative_error_bound"]),
        }
    doc["sampler"] = str(table.attrs.get("sampler", "pseudo"))
    stopping = ("stopping", "target_met", "stop_statistic", "target_se", "rel_tol")
    for key in (*stopping, "standard_errors"):
        if key in table.attrs:
            doc[key] = table.attrs[key]
    if elapsed is not None:
        doc["elapsed_seconds"] = elapsed
    return doc


@contextlib.contextmanager
def progress_reporter(*, enabled: bool, delay: float = 1.0):
    """Yield a ``progress(done, total)`` callback that shows a bar after ``delay`` seconds."""
    if not enabled:
        yield None
        return
    started = time.perf_counter()
    bar = Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} paths"),
        TimeRemainingColumn(),
        transient=True,
        console=Console(stderr=True),
    )
    task = None

    def report(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            if time.perf_counter() - started < delay and done < total:
                return
            bar.start()
            task = bar.add_task("run", total=total)
        bar.update(task, completed=done)

    try:
        yield report
    finally:
        if task is not None:
            bar.stop()


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


def render_waterfall(table: xr.Dataset, console: Console | None = None) -> None:
    """Print where each segment's mean annual return comes from, part by part."""
    console = console or Console(highlight=False)
    attrs = table.attrs
    grid = _segment_grid(
        table["segment"].values,
        "part",
        f"{run_title(attrs)}: where the mean annual return comes from",
        "percentage points a year; voting is sentiment and the contagion hit, the rest is "
        "weighing; ± is one Monte Carlo standard error",
    )
    segments = table["segment"].values
    pair = ("contribution", "contribution_standard_error")
    for part in table["component"].values:
        cells = [cell_of(table, *pair, sign=True, component=part, segment=s) for s in segments]
        grid.add_row(PART_LABELS.get(str(part), str(part)), *cells)
    grid.add_section()
    voting = table["contribution"].sel(component=list(VOTING_PARTS)).sum("component")
    mean = table["estimate"].sel(statistic="mean")
    total = ("estimate", "standard_error")
    grid.add_row(
        "= mean annual return",
        *[cell_of(table, *total, sign=True, statistic="mean", segment=s) for s in segments],
    )
    for label, part in (("  of which voting", voting), ("  weighing only", mean - voting)):
        grid.add_row(
            label, *[_number(float(part.sel(segment=s)) * 100, sign=True) for s in segments]
        )
    console.print(grid)


def waterfall_to_json(table: xr.Dataset) -> dict:
    """The contributions as JSON-ready data: ``segments -> part -> estimate/standard_error``."""
    return {
        **_run_header(table),
        "segments": {
            str(seg): {
                **{
                    str(part): _estimate(table, "contribution", segment=seg, component=part)
                    for part in table["component"].values
                },
                "mean_annual_return": _estimate(
                    table, "estimate", "standard_error", segment=seg, statistic="mean"
                ),
            }
            for seg in table["segment"].values
        },
    }


_COMPARED = {"mean": "mean", "q50": "median", "p_loss": "P(loss)", "cvar95": "CVaR95"}


def _rows(table: xr.Dataset, dim: str) -> tuple[list[str], xr.Dataset, str]:
    """Labels and a table with one ``row`` per scenario or grid point."""
    if dim == "scenario":
        return [str(s) for s in table["scenario"].values], table.rename(scenario="row"), "row"
    keys = dim.split("|")
    stacked = table.stack(row=keys)
    labels = [
        ", ".join(f"{float(v):g}" for v in point)
        for point in (p if isinstance(p, tuple) else (p,) for p in stacked["row"].values)
    ]
    return labels, stacked, "row"


def render_comparison(table: xr.Dataset, dim: str = "scenario", console: Console | None = None):
    """One table per segment: a row per scenario (or grid point), each figure ± s.e. in
    percent, and the difference of the mean from the first row with its own (paired) s.e."""
    console = console or Console(highlight=False)
    labels, rows, row_dim = _rows(table, dim)
    keys = dim.replace("|", ", ")
    # Each cell is two lines, the estimate over "± s.e.", so that seven columns fit 80.
    for seg in table["segment"].values:
        grid = Table(
            title=f"{seg}: annual return (%), {int(table.attrs['n_paths']):,} paths per row, "
            f"seed {table.attrs['seed']}, common random numbers"
            + ("" if dim == "scenario" else f"; rows: {keys}"),
            title_justify="left",
            caption=f"± one s.e. in percentage points; Δ mean is the difference from the first "
            f"row (ref), its s.e. from {int(table.attrs['batches'])} paired batches",
            caption_justify="left",
        )
        grid.add_column("scenario" if dim == "scenario" else "value", no_wrap=True)
        for label in (*_COMPARED.values(), "Δ mean", "P(crash)"):
            grid.add_column(label, justify="right", no_wrap=True)
        flat = rows.sel(segment=seg)
        for i, label in enumerate(labels):
            row = flat.isel({row_dim: i})
            pairs = [
                (row["estimate"].sel(statistic=k), row["standard_error"].sel(statistic=k))
                for k in _COMPARED
            ]
            pairs.append(
                (
                    row["difference"].sel(statistic="mean"),
                    row["difference_standard_error"].sel(statistic="mean"),
                )
            )
            pairs.append((row["p_crash"], row["p_crash_standard_error"]))
            cells = [cell(float(v), float(e), sep="\n± ") for v, e in pairs]
            if i == 0:
                cells[len(_COMPARED)] = "ref"
            grid.add_row(label, *cells)
        console.print(grid)


def comparison_to_json(table: xr.Dataset, dim: str = "scenario") -> dict:
    """The comparison as JSON-ready rows (one per scenario or grid point)."""
    labels, rows, row_dim = _rows(table, dim)
    out = []
    for i, label in enumerate(labels):
        row = rows.isel({row_dim: i})
        entry = {"label": label, "p_crash": float(row["p_crash"]), "segments": {}}
        for seg in table["segment"].values:
            cell = row.sel(segment=seg)
            entry["segments"][str(seg)] = {
                str(k): {
                    **_estimate(cell, "estimate", "standard_error", statistic=k),
                    "difference": float(cell["difference"].sel(statistic=k)),
                    "difference_standard_error": float(
                        cell["difference_standard_error"].sel(statistic=k)
                    ),
                }
                for k in table["statistic"].values
            }
        out.append(entry)
    return {"seed": int(table.attrs["seed"]), "n_paths": int(table.attrs["n_paths"]), "rows": out}


def render_tornado(table: xr.Dataset, console: Console | None = None) -> None:
    """The tornado as a table: inputs by importance, each segment's low -> high mean."""
    console = console or Console(highlight=False)
    grid = _segment_grid(
        table["segment"].values,
        "input",
        f"{run_title(table.attrs)}: mean annual return (%) in each input's bottom -> top decile",
        "one ensemble, no re-runs; inputs ordered by their largest swing",
        wrap_first=True,
    )
    for name in table["input"].values:
        row = table.sel(input=name)
        cells = [
            f"{_number(float(row['mean'].sel(segment=s, side='low')) * 100, 1)} -> "
            f"{_number(float(row['mean'].sel(segment=s, side='high')) * 100, 1)}"
            for s in table["segment"].values
        ]
        grid.add_row(str(row["label"].values), *cells)
    console.print(grid)


def tornado_to_json(table: xr.Dataset) -> dict:
    return {
        **_run_header(table),
        "inputs": [
            {
                "input": str(name),
                "label": str(table["label"].sel(input=name).values),
                "segments": {
                    str(seg): {
                        side: {
                            "mean": float(table["mean"].sel(input=name, segment=seg, side=side)),
                            "standard_error": float(
                                table["standard_error"].sel(input=name, segment=seg, side=side)
                            ),
                        }
                        for side in ("low", "high")
                    }
                    for seg in table["segment"].values
                },
            }
            for name in table["input"].values
        ],
    }


def _index_cell(value: float, error: float, high: float) -> str:
    """A variance share ``value ± error`` to two decimals, never a negative zero: a
    negative estimate whose 95% interval reaches 0 (``high >= 0``) reads ``≈0``, within
    its error of 0, since a true index is never negative."""
    if not math.isfinite(value):
        return UNDEFINED
    error_text = _error(error, 2)
    if value < 0 and high >= 0:
        return f"≈0 ± {error_text}"
    text = _number(value, 2)
    return f"{text.lstrip('-') if float(text) == 0 else text} ± {error_text}"


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


def _output_dim(table: xr.Dataset) -> str:
    """The dimension a variance-based study's outputs lie along: ``segment`` (each
    segment's return) or its :class:`~mcengine.studies.designs.Output`'s own (e.g. the
    essay's ordering): the one that is neither ``input`` nor ``bound``."""
    return next(str(d) for d in table.dims if d not in ("input", "bound"))


_SEGMENT_VARIANCE = "the segment's annual-return variance"
_RETURN_VARIANCE = "the annual-return variance"


def _variance_of(table: xr.Dataset, segments: str) -> str:
    """What the study splits: ``segments`` (the annual-return variance), or an output's
    variance (the essay's ordering: the variance of its indicator)."""
    if _output_dim(table) == "segment":
        return segments
    return "the variance of the ordering's indicator (1 on paths in that order)"


def _variance_grid(table: xr.Dataset, title: str, rows) -> tuple[Table, bool]:
    """A variance-based table: ``rows`` of ``(label, index, input)``, each cell the
    index ± its standard error; and whether a cell reads ``≈0``."""
    dim = _output_dim(table)
    grid = _segment_grid(table[dim].values, "input", title, None, wrap_first=True)
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
    dim = _output_dim(table)
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
    caption = [f"they add up to 1 per {_output_dim(table)}; ± one bootstrap standard error"]
    if near_zero:
        caption.append(_NEAR_ZERO)
    caption.append(str(table.attrs["method"]))
    dependent = table.attrs["method"].startswith("dependent")
    if sobol is not None and not dependent:
        outside = []
        dim = _output_dim(table)
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


def indices_to_json(table: xr.Dataset, names=("first_order", "total")) -> dict:
    """Each input's indices per segment (``names``: ``("shapley",)`` for Shapley effects),
    with their 95% intervals and standard errors; undefined ones as null."""
    dim = _output_dim(table)
    return {
        "method": str(table.attrs["method"]),
        "inputs": {
            str(name): {
                "kind": str(table["kind"].sel(input=name).values),
                **{
                    str(seg): {
                        index: {
                            "estimate": _finite(table[index].sel({"input": name, dim: seg})),
                            "standard_error": _finite(
                                table[f"{index}_standard_error"].sel({"input": name, dim: seg})
                            ),
                            "ci95": [
                                _finite(v)
                                for v in table[f"{index}_ci"].sel({"input": name, dim: seg})
                            ],
                        }
                        for index in names
                    }
                    for seg in table[dim].values
                },
            }
            for name in table["input"].values
        },
    }


def _weights(values) -> str:
    return " / ".join(f"{100 * float(w):.0f}" for w in values)


def render_voi(table: xr.Dataset, console: Console | None = None) -> None:
    """EVPI and each input's EVPPI in annual-return points, with the allocations."""
    console = console or Console(highlight=False)
    a = table.attrs
    goal = (
        "expected annual return"
        if a["objective"] == "mean"
        else f"mean - {a['risk_aversion']:g} x CVaR{100 * a['alpha']:g}% of the loss"
    )
    grid = Table(
        title=f"{run_title(a)}: what knowing it is worth to an allocator maximising {goal} "
        f"({a['decisions']} allocations, step {a['step']:g})",
        caption="worth: the expected gain in annual-return points (%), ± one standard error; "
        "changes: the share of paths whose best allocation it changes; A / I / T: the "
        "average best allocation with it (applications / inference / training, %). Without "
        f"information: {_weights(table['weights'].values)}, worth "
        f"{_number(100 * float(table['value']))}%. {a['method']}",
        title_justify="left",
        caption_justify="left",
    )
    grid.add_column("knowing", overflow="fold")
    grid.add_column("worth", justify="right", no_wrap=True)
    grid.add_column("changes", justify="right", no_wrap=True)
    grid.add_column("A / I / T", justify="right", no_wrap=True)
    grid.add_row(
        "everything (EVPI)",
        f"{_number(100 * float(table['evpi']))} ± "
        f"{_error(100 * float(table['evpi_standard_error']), 2)}",
        "",
        _weights(table["weights_perfect"].values),
    )
    for name in table["input"].values:
        row = table.sel(input=name)
        label = str(name) if str(row["kind"].values) == "belief" else str(row["label"].values)
        grid.add_row(
            label,
            f"{_number(100 * float(row['evppi']))} ± "
            f"{_error(100 * float(row['evppi_standard_error']), 2)}",
            f"{100 * float(row['decision_changes']):.0f}%",
            _weights(row["weights_informed"].values),
        )
    console.print(grid)


def voi_to_json(table: xr.Dataset) -> dict:
    a = table.attrs
    return {
        **_run_header(table),
        **{k: a[k] for k in ("objective", "risk_aversion", "alpha", "decisions", "step", "method")},
        "weights": table["weights"].values.tolist(),
        "value": float(table["value"]),
        "evpi": {
            "estimate": float(table["evpi"]),
            "standard_error": float(table["evpi_standard_error"]),
            "weights": table["weights_perfect"].values.tolist(),
        },
        "evppi": [
            {
                "input": str(name),
                "kind": str(table["kind"].sel(input=name).values),
                "estimate": float(table["evppi"].sel(input=name)),
                "standard_error": float(table["evppi_standard_error"].sel(input=name)),
                "decision_changes": float(table["decision_changes"].sel(input=name)),
                "weights": table["weights_informed"].sel(input=name).values.tolist(),
            }
            for name in table["input"].values
        ],
    }


def _figure(value: float) -> str:
    return UNDEFINED if not math.isfinite(value) else f"{value:.3g}"


#: What each unit of :attr:`mcengine.model.targets.Target.unit` means, in the caption.
_UNIT_NOTES = {
    "× a year": "× a year: the yearly growth factor, 0.35 for 65% less a year",
    "× year 0": "× year 0: relative to today",
    "fraction": "a fraction, 0.2 for 20%",
    "share of paths": "share of paths: a fraction, 0.2 for 20%",
    "key value": "key value: a scenario key's value, in the key's unit",
    "model units": "model units: as docs/calibration.md gives them",
}


def target_unit(row: xr.Dataset) -> str:
    """The unit of one target's model figure and interval (a row of
    :func:`mcengine.studies.validation.check`; :attr:`mcengine.model.targets.Target.unit`)."""
    return str(row["unit"].values)


def target_cell(value: float, error: float) -> str:
    """A target's model figure ``value ± error``: the error to two significant digits and
    the value to the same decimals (targets span orders of magnitude, so no fixed
    number of decimals); an exact figure (error 0) to three significant digits."""
    if not math.isfinite(value):
        return UNDEFINED
    if not math.isfinite(error) or error <= 0:
        return f"{_figure(value)} ± {UNDEFINED if not math.isfinite(error) else '0'}"
    decimals = max(0, 1 - math.floor(math.log10(error)))
    return f"{value:.{decimals}f} ± {error:.{decimals}f}"


def interval_text(low: float, high: float) -> str:
    """``[0.2, 0.4]``, or an open-ended criterion's ``≥ 1.42`` / ``≤ 0.78``."""
    if not math.isfinite(high):
        return f"≥ {_figure(low)}"
    if not math.isfinite(low):
        return f"≤ {_figure(high)}"
    return f"[{_figure(low)}, {_figure(high)}]"


def render_check(table: xr.Dataset, console: Console | None = None) -> None:
    """The validation report: each target's model figure ± SE and its unit against its
    interval, and the sources, numbered."""
    console = console or Console(highlight=False)
    a = table.attrs
    passed = int(table["passed"].sum())
    units = [target_unit(table.sel(target=name)) for name in table["target"].values]
    notes = "; ".join(_UNIT_NOTES.get(u, u) for u in dict.fromkeys(units))
    grid = Table(
        title=f"{run_title(a)}: checked against {a['targets']} ({passed} of "
        f"{table.sizes['target']} pass)",
        caption="model: the estimate ± one Monte Carlo standard error (95% intervals in "
        f"--json), in the unit under it, as is the interval ({notes}). A target passes when "
        "the estimate lies in its interval (rule 'within') or its 95% interval overlaps it "
        "('overlaps'). What each measures, and its source:",
        title_justify="left",
        caption_justify="left",
    )
    grid.add_column("target", overflow="fold")
    grid.add_column("model", justify="right", no_wrap=True)
    grid.add_column("interval", justify="right", no_wrap=True)
    grid.add_column("", no_wrap=True)
    for k, (name, unit) in enumerate(zip(table["target"].values, units, strict=True), start=1):
        row = table.sel(target=name)
        grid.add_row(
            f"[{k}] {row['label'].values}",
            f"{target_cell(float(row['estimate']), float(row['standard_error']))}\n{unit}",
            interval_text(float(row["low"]), float(row["high"])),
            "pass" if bool(row["passed"]) else "FAIL",
        )
    console.print(grid)
    for k, name in enumerate(table["target"].values, start=1):
        row = table.sel(target=name)
        console.print(
            f"[{k}] {row['source_publisher'].values} ({int(row['source_year'])}), "
            f'"{row["source_title"].values}": {row["measured"].values}',
            soft_wrap=False,
        )


def check_to_json(table: xr.Dataset) -> dict:
    return {
        **_run_header(table),
        "targets": str(table.attrs["targets"]),
        "all_passed": bool(table.attrs["all_passed"]),
        "results": [
            {
                "target": str(name),
                "label": str(table["label"].sel(target=name).values),
                "description": str(table["description"].sel(target=name).values),
                "estimate": _finite(table["estimate"].sel(target=name)),
                "standard_error": _finite(table["standard_error"].sel(target=name)),
                "ci95": [
                    _finite(table["ci_low"].sel(target=name)),
                    _finite(table["ci_high"].sel(target=name)),
                ],
                "interval": [  # an open end (a criterion's) is null
                    _finite(table["low"].sel(target=name)),
                    _finite(table["high"].sel(target=name)),
                ],
                "unit": target_unit(table.sel(target=name)),
                "rule": str(table["rule"].sel(target=name).values),
                "passed": bool(table["passed"].sel(target=name)),
                "mapping": str(table["mapping"].sel(target=name).values),
                "source": {
                    "title": str(table["source_title"].sel(target=name).values),
                    "publisher": str(table["source_publisher"].sel(target=name).values),
                    "year": int(table["source_year"].sel(target=name)),
                    "measured": str(table["measured"].sel(target=name).values),
                },
            }
            for name in table["target"].values
        ],
    }


def render_calibration(report: xr.Dataset, console: Console | None = None) -> None:
    """Before and after for every target, and each fitted key with its standard error."""
    console = console or Console(highlight=False)
    a = report.attrs
    grid = Table(
        title=f"scenario {a['scenario_name']} calibrated to {a['targets']} "
        f"({a['evaluations']} evaluations of {int(a['n_paths']):,} paths, seed {int(a['seed'])})",
        title_justify="left",
    )
    grid.add_column("target", overflow="fold")
    grid.add_column("before", justify="right", no_wrap=True)
    grid.add_column("after", justify="right", no_wrap=True)
    grid.add_column("interval", justify="right", no_wrap=True)
    for name in report["target"].values:
        row = report.sel(target=name)
        mark = lambda ok: "" if bool(ok) else " FAIL"  # noqa: E731
        grid.add_row(
            str(row["label"].values),
            _figure(float(row["before"])) + mark(row["passed_before"]),
            _figure(float(row["after"])) + mark(row["passed_after"]),
            interval_text(float(row["low"]), float(row["high"])),
        )
    console.print(grid)
    keys = Table(
        title="fitted keys (standard error from the local Jacobian)",
        caption=f"cost {a['cost']:.4g} (half the sum of squared misses over the targets' "
        f"half-widths); {a['status']}",
        title_justify="left",
        caption_justify="left",
    )
    keys.add_column("key", no_wrap=True)
    keys.add_column("start", justify="right")
    keys.add_column("fitted", justify="right")
    keys.add_column("± se", justify="right")
    for key in report["key"].values:
        row = report.sel(key=key)
        keys.add_row(
            str(key) + ("" if bool(row["identified"]) else " (not identified)"),
            _figure(float(row["start"])),
            _figure(float(row["fitted"])),
            _figure(float(row["standard_error"])),
        )
    console.print(keys)


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def belief_lines(scenario: Scenario) -> list[str]:
    """A line per uncertain key: its distribution, its 5/50/95% quantiles (of the draws,
    after truncation to the key's range) and the share cut off (``mcengine show``)."""
    lines = []
    for belief in scenario.beliefs:
        q05, q50, q95 = belief.ppf(np.array([0.05, 0.5, 0.95]))
        cut = (
            f"; {belief.cut:.2%} cut off by the range {belief.valid}" if belief.cut >= 5e-5 else ""
        )
        lines.append(
            f"{belief.key} ~ {belief.describe()}: 5% {q05:.4g}, 50% {q50:.4g}, 95% {q95:.4g}{cut}"
        )
    dependence = scenario.dependence
    if dependence is not None:
        for a, b, rho in dependence.spearman:
            lines.append(f"spearman({a}, {b}) = {rho:g} ({dependence.copula} copula)")
    return lines


#: Short names of the segments in an ordering's row label (a table of three scenarios
#: fits 80 columns).
_SHORT = {"applications": "apps", "inference": "infer", "training": "train"}


def render_verdict(
    table: xr.Dataset, console: Console | None = None, *, attribution: dict | None = None
) -> None:
    """The essay's verdict: each ordering's share of paths per scenario ± its standard
    error, the essay's row marked; then, per scenario in ``attribution``, its Shapley
    effects (or Sobol indices) on the essay's ordering."""
    console = console or Console(highlight=False)
    grid = _segment_grid(
        table["scenario"].values,
        "ordering",
        f"the essay's verdict: % of paths in each ordering of the segments' annual returns, "
        f"{int(table.attrs['n_paths']):,} paths a scenario, seed {int(table.attrs['seed'])}",
        "± one Monte Carlo standard error (Wilson 95% intervals in --json); apps: "
        "applications, infer: inference, train: training; * the essay's order (applications "
        "best, training worst); tie: two segments wiped out alike",
        wrap_first=True,
    )
    for ordering in table["ordering"].values:
        label = " > ".join(_SHORT.get(s, s) for s in str(ordering).split(" > "))
        essay = bool(table["essay"].sel(ordering=ordering))
        grid.add_row(f"{label} *" if essay else label, *_share_cells(table, "", ordering=ordering))
    grid.add_section()  # the essay's halves on their own
    for event in table["event"].values:
        label = str(event).replace("applications", "apps")
        grid.add_row(label, *_share_cells(table, "event_", event=event))
    console.print(grid)
    for scenario, indices in (attribution or {}).items():
        console.print(f"\nwhat decides the essay's ordering under {scenario}:")
        if "shapley" in indices:
            render_shapley(indices, console)
        else:
            render_indices(indices, console)


def _share_cells(table: xr.Dataset, prefix: str, **at) -> list[str]:
    """One row of the verdict: the share ``at`` an ordering or event (its variables
    prefixed ``prefix``) ± its standard error, per scenario."""
    row = table.sel(at)
    return [
        cell(
            float(row[f"{prefix}probability"].sel(scenario=s)),
            float(row[f"{prefix}standard_error"].sel(scenario=s)),
        )
        for s in table["scenario"].values
    ]


def _shares_to_json(table: xr.Dataset, dim: str, prefix: str) -> dict:
    """Per scenario, per value of ``dim`` (orderings or events): the share with its
    standard error and 95% interval (variables prefixed ``prefix``)."""
    return {
        str(s): {
            str(key): {
                "probability": _finite(at[f"{prefix}probability"].sel({dim: key})),
                "standard_error": _finite(at[f"{prefix}standard_error"].sel({dim: key})),
                "ci95": [
                    _finite(at[f"{prefix}ci_low"].sel({dim: key})),
                    _finite(at[f"{prefix}ci_high"].sel({dim: key})),
                ],
            }
            for key in table[dim].values
        }
        for s in table["scenario"].values
        for at in [table.sel(scenario=s)]
    }


def verdict_to_json(table: xr.Dataset, attribution: dict | None = None) -> dict:
    """Each scenario's probability per ordering with its standard error and 95% interval;
    ``attribution``: per scenario, its indices (:func:`indices_to_json`)."""
    return {
        "seed": int(table.attrs["seed"]),
        "n_paths": int(table.attrs["n_paths"]),
        "essay": str(table["ordering"].values[table["essay"].values][0]),
        "scenarios": _shares_to_json(table, "ordering", ""),
        "events": _shares_to_json(table, "event", "event_"),
        "attribution": {
            str(scenario): indices_to_json(
                indices, ("shapley",) if "shapley" in indices else ("first_order", "total")
            )
            for scenario, indices in (attribution or {}).items()
        },
    }
