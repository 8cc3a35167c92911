"""What people read: the rich summary table, the JSON form, and the progress bar."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import xarray as xr
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

__all__ = [
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
    "indices_to_json",
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
    "std": "std of annual return",
    "q05": "5% quantile",
    "q25": "25% quantile",
    "q50": "median",
    "q75": "75% quantile",
    "q95": "95% quantile",
    "var95": "VaR 95%",
    "cvar95": "CVaR 95%",
    "p_loss": "P(loss)",
    "p_wiped_out": "P(wiped out)",
    "median_max_drawdown": "median max drawdown",
    "p_crash_origin": "P(crash starts here)",
}


def _fmt(value: float, error: float, stat: str) -> str:
    if stat in _PERCENT:
        return f"{value * 100:6.2f}% ± {error * 100:.2f}"
    return f"{value:.4g} ± {error:.2g}"


def _segment_grid(
    segments, first: str, title: str, caption: str | None = None, *, wrap_first: bool = False
) -> Table:
    """A table with a label column and one right-aligned column per segment."""
    grid = Table(title=title, caption=caption, title_justify="left")
    if wrap_first:
        grid.add_column(first, overflow="fold")
    else:
        grid.add_column(first, no_wrap=True)
    for seg in segments:
        grid.add_column(str(seg), justify="right", overflow="fold")
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
    title = (
        f"scenario {attrs.get('scenario_name', '?')}: {int(attrs.get('n_paths', 0)):,} "
        f"paths, seed {attrs.get('seed', '?')}"
    )
    how = attrs.get("standard_errors")
    caption = "± is one Monte Carlo standard error" + (f" ({how})" if how else "")
    grid = _segment_grid(table["segment"].values, "statistic", title, caption)
    for stat in table["statistic"].values:
        row = [STATISTIC_LABELS.get(str(stat), str(stat))]
        for seg in table["segment"].values:
            cell = table.sel(segment=seg, statistic=stat)
            row.append(_fmt(float(cell["estimate"]), float(cell["standard_error"]), str(stat)))
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
    console.print(
        f"P(contagion crash) = {float(table['p_crash']) * 100:.2f}% "
        f"± {float(table['p_crash_standard_error']) * 100:.2f}"
    )
    if "portfolio" in table:
        _render_joint(table, console)
    if elapsed is not None:
        n = int(attrs.get("n_paths", 0))
        console.print(f"{elapsed:.2f} s ({n / max(elapsed, 1e-9):,.0f} paths/s)")
    if out is not None:
        console.print(f"wrote {out}")


def _render_joint(table: xr.Dataset, console: Console) -> None:
    segments = [str(s) for s in table["segment"].values]
    grid = _segment_grid(segments, "measure", "joint risk")
    for seg in segments:
        corr = table["correlation_pearson"].sel(segment=seg)
        grid.add_row(f"correlation with {seg}", *[f"{float(v):+.2f}" for v in corr.values])
    for condition in ("no_crash", "crash"):
        mean = table["conditional_mean"].sel(condition=condition) * 100
        error = table["conditional_mean_standard_error"].sel(condition=condition) * 100
        grid.add_row(
            f"mean annual return, {condition.replace('_', ' ')}",
            *[
                f"{float(mean.sel(segment=s)):6.2f}% ± {float(error.sel(segment=s)):.2f}"
                for s in segments
            ],
        )
    console.print(grid)
    weights = ", ".join(f"{w:.2f}" for w in table.attrs.get("portfolio_weights", []))
    p = table["portfolio"] * 100
    pe = table["portfolio_standard_error"] * 100
    console.print(
        f"portfolio ({weights}): mean {float(p.sel(portfolio_statistic='mean')):.2f}% ± "
        f"{float(pe.sel(portfolio_statistic='mean')):.2f}, VaR 95% "
        f"{float(p.sel(portfolio_statistic='var95')):.2f}%, CVaR 95% "
        f"{float(p.sel(portfolio_statistic='cvar95')):.2f}% ± "
        f"{float(pe.sel(portfolio_statistic='cvar95')):.2f}; P(all three lose) = "
        f"{float(table['p_all_lose']) * 100:.2f}% ± "
        f"{float(table['p_all_lose_standard_error']) * 100:.2f}"
    )
    years = table["crash_year_probability"] * 100
    console.print(
        "P(crash in year): "
        + ", ".join(
            f"{int(y)}: {float(v):.1f}%"
            for y, v in zip(years["year"].values, years.values, strict=True)
        )
    )


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
    for key in ("stopping", "stop_statistic", "target_se", "rel_tol", "standard_errors"):
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


_PARTS = {
    "fundamental": "fundamentals (weighing)",
    "sentiment": "sentiment (voting)",
    "contagion": "contagion hit",
    "cash_flow": "cash paid out less raised",
    "dilution": "entrant dilution",
    "selection": "selection spread",
    "wipe_out": "wiped-out investors",
}


def render_waterfall(table: xr.Dataset, console: Console | None = None) -> None:
    """Print where each segment's mean annual return comes from, part by part."""
    console = console or Console(highlight=False)
    attrs = table.attrs
    grid = _segment_grid(
        table["segment"].values,
        "part",
        f"scenario {attrs.get('scenario_name', '?')}: {int(attrs.get('n_paths', 0)):,} "
        f"paths, seed {attrs.get('seed', '?')}: where the mean annual return comes from",
        "percentage points a year; ± is one Monte Carlo standard error",
    )
    for part in table["component"].values:
        value = table["contribution"].sel(component=part) * 100
        error = table["contribution_standard_error"].sel(component=part) * 100
        cells = [
            f"{float(value.sel(segment=seg)):+7.2f} ± {float(error.sel(segment=seg)):.2f}"
            for seg in table["segment"].values
        ]
        grid.add_row(_PARTS.get(str(part), str(part)), *cells)
    grid.add_section()
    voting = table["contribution"].sel(component=["sentiment", "contagion"]).sum("component")
    mean = table["estimate"].sel(statistic="mean")
    grid.add_row(
        "= mean annual return",
        *[
            f"{float(mean.sel(segment=seg)) * 100:+7.2f} ± "
            f"{float(table['standard_error'].sel(segment=seg, statistic='mean')) * 100:.2f}"
            for seg in table["segment"].values
        ],
    )
    grid.add_row(
        "  of which voting",
        *[f"{float(voting.sel(segment=seg)) * 100:+7.2f}" for seg in table["segment"].values],
    )
    grid.add_row(
        "  weighing only",
        *[
            f"{float((mean - voting).sel(segment=seg)) * 100:+7.2f}"
            for seg in table["segment"].values
        ],
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


def _compact(value: float, error: float) -> str:
    return f"{value * 100:.2f} ±{error * 100:.2f}"


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
    for seg in table["segment"].values:
        grid = Table(
            title=f"{seg}: annual return (%), {int(table.attrs['n_paths']):,} paths per row, "
            f"seed {table.attrs['seed']}, common random numbers",
            title_justify="left",
            caption=f"± one s.e.; Δ mean is the difference from the first row, its s.e. from "
            f"{int(table.attrs['batches'])} paired batches",
        )
        grid.add_column(dim.replace("|", ", "), overflow="fold")
        for label in (*_COMPARED.values(), "Δ mean", "P(crash)"):
            grid.add_column(label, justify="right", overflow="fold", min_width=6)
        flat = rows.sel(segment=seg)
        for i, label in enumerate(labels):
            row = flat.isel({row_dim: i})
            cells = [
                _compact(
                    float(row["estimate"].sel(statistic=k)),
                    float(row["standard_error"].sel(statistic=k)),
                )
                for k in _COMPARED
            ]
            cells.append(
                _compact(
                    float(row["difference"].sel(statistic="mean")),
                    float(row["difference_standard_error"].sel(statistic="mean")),
                )
            )
            cells.append(_compact(float(row["p_crash"]), float(row["p_crash_standard_error"])))
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
        f"scenario {table.attrs.get('scenario_name', '?')}: mean annual return (%) in "
        f"each input's bottom -> top decile, {int(table.attrs.get('n_paths', 0)):,} paths",
        "one ensemble, no re-runs; inputs ordered by their largest swing",
        wrap_first=True,
    )
    for name in table["input"].values:
        row = table.sel(input=name)
        cells = [
            f"{float(row['mean'].sel(segment=s, side='low')) * 100:.1f} -> "
            f"{float(row['mean'].sel(segment=s, side='high')) * 100:.1f}"
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


def render_indices(table: xr.Dataset, console: Console | None = None) -> None:
    """Sobol indices: first-order / total share of each segment's return variance."""
    console = console or Console(highlight=False)
    grid = _segment_grid(
        table["segment"].values,
        "input group",
        "variance-based sensitivity: first-order / total Sobol index by input group, "
        f"{int(table.attrs['n_paths']):,}-path Saltelli design",
        "share of each segment's annual-return variance; 95% bootstrap intervals in JSON",
        wrap_first=True,
    )
    for group in table["group"].values:
        grid.add_row(
            str(group).replace("_", " "),
            *[
                f"{float(table['first_order'].sel(group=group, segment=s)):.2f} / "
                f"{float(table['total'].sel(group=group, segment=s)):.2f}"
                for s in table["segment"].values
            ],
        )
    console.print(grid)


def indices_to_json(table: xr.Dataset) -> dict:
    return {
        str(group): {
            str(seg): {
                name: {
                    "estimate": float(table[name].sel(group=group, segment=seg)),
                    "ci95": [float(v) for v in table[f"{name}_ci"].sel(group=group, segment=seg)],
                }
                for name in ("first_order", "total")
            }
            for seg in table["segment"].values
        }
        for group in table["group"].values
    }
