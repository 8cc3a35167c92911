"""What people read in a terminal: the rich tables of each result, and a scenario's beliefs.

Each ``render_*`` function prints one result Dataset to a :class:`rich.console.Console`
(by default stdout, 80 columns when piped); :mod:`mcengine.present.views` says which
renders which result kind. Numbers and labels come from :mod:`mcengine.present.format`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from rich.console import Console
from rich.table import Table

from mcengine.present.format import (
    PART_LABELS,
    STATISTIC_LABELS,
    VOTING_PARTS,
    cell,
    cell_of,
    comparison_rows,
    error_text,
    interval_text,
    number,
    run_title,
    segment_grid,
    target_cell,
    target_unit,
)
from mcengine.present.variance import render_indices, render_shapley

if TYPE_CHECKING:
    from pathlib import Path

    import xarray as xr

    from mcengine.model.scenario import Scenario

__all__ = [
    "render_summary",
    "render_waterfall",
    "render_comparison",
    "render_tornado",
    "render_voi",
    "render_check",
    "render_calibration",
    "render_verdict",
    "belief_lines",
]


def render_summary(
    table: xr.Dataset,
    *,
    elapsed: float | None = None,
    out: Path | None = None,
    compiling: bool = False,
    console: Console | None = None,
) -> None:
    """Print the summary as a table: statistics down, segments across, each with ± s.e.;
    then the run's ``elapsed`` seconds with its rate in paths/s (no rate when the run was
    mostly ``compiling``: it would be the compiler's), and where it wrote its paths (``out``).
    """
    console = console or Console(highlight=False)
    attrs = table.attrs
    how = attrs.get("standard_errors")
    caption = (
        "annual returns and probabilities in %; ± is one Monte Carlo standard error, in "
        "percentage points" + (f" ({how})" if how else "")
    )
    grid = segment_grid(table["segment"].values, "statistic", run_title(attrs), caption)
    for stat in table["statistic"].values:
        row = [STATISTIC_LABELS.get(str(stat), str(stat))]
        for seg in table["segment"].values:
            where = {"segment": seg, "statistic": stat}
            row.append(cell_of(table, "estimate", "standard_error", **where))
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
    if elapsed is not None and not compiling:
        n = int(attrs.get("n_paths", 0))
        console.print(f"{elapsed:.2f} s ({n / max(elapsed, 1e-9):,.0f} paths/s)")
    if out is not None:
        console.print(f"wrote {out}")
    if elapsed is not None and compiling:
        console.print(f"{elapsed:.2f} s, most of it compiling (paths/s: run it again)")


def _render_joint(table: xr.Dataset, console: Console) -> None:
    segments = [str(s) for s in table["segment"].values]
    grid = segment_grid(
        segments,
        "measure",
        "joint risk",
        "corr.: Pearson correlation of annual returns; means of annual return in %, ± one "
        "standard error in percentage points",
    )
    for seg in segments:
        corr = table["correlation_pearson"].sel(segment=seg)
        grid.add_row(f"corr. {seg}", *[number(v, "+.2f") for v in corr.values])
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
        + " ".join(number(float(v) * 100, ".1f") for v in years.values)
    )


def render_waterfall(table: xr.Dataset, console: Console | None = None) -> None:
    """Print where each segment's mean annual return comes from, part by part."""
    console = console or Console(highlight=False)
    attrs = table.attrs
    grid = segment_grid(
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
        grid.add_row(label, *[number(float(part.sel(segment=s)) * 100, "+.2f") for s in segments])
    console.print(grid)


_COMPARED = {"mean": "mean", "q50": "median", "p_loss": "P(loss)", "cvar95": "CVaR95"}


def render_comparison(table: xr.Dataset, dim: str = "scenario", console: Console | None = None):
    """One table per segment: a row per scenario (or grid point), each figure ± s.e. in
    percent, and the difference of the mean from the first row with its own (paired) s.e."""
    console = console or Console(highlight=False)
    labels, rows, row_dim = comparison_rows(table, dim)
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


def render_tornado(table: xr.Dataset, console: Console | None = None) -> None:
    """The tornado as a table: inputs by importance, each segment's low -> high mean."""
    console = console or Console(highlight=False)
    grid = segment_grid(
        table["segment"].values,
        "input",
        f"{run_title(table.attrs)}: mean annual return (%) in each input's bottom -> top decile",
        "one ensemble, no re-runs; inputs ordered by their largest swing",
        wrap_first=True,
    )
    for name in table["input"].values:
        row = table.sel(input=name)
        cells = [
            f"{number(float(row['mean'].sel(segment=s, side='low')) * 100, '.1f')} -> "
            f"{number(float(row['mean'].sel(segment=s, side='high')) * 100, '.1f')}"
            for s in table["segment"].values
        ]
        grid.add_row(str(row["label"].values), *cells)
    console.print(grid)


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
        f"{number(100 * float(table['value']))}%. {a['method']}",
        title_justify="left",
        caption_justify="left",
    )
    grid.add_column("knowing", overflow="fold")
    grid.add_column("worth", justify="right", no_wrap=True)
    grid.add_column("changes", justify="right", no_wrap=True)
    grid.add_column("A / I / T", justify="right", no_wrap=True)
    grid.add_row(
        "everything (EVPI)",
        f"{number(100 * float(table['evpi']))} ± "
        f"{error_text(100 * float(table['evpi_standard_error']), 2)}",
        "",
        _weights(table["weights_perfect"].values),
    )
    for name in table["input"].values:
        row = table.sel(input=name)
        label = str(name) if str(row["kind"].values) == "belief" else str(row["label"].values)
        grid.add_row(
            label,
            f"{number(100 * float(row['evppi']))} ± "
            f"{error_text(100 * float(row['evppi_standard_error']), 2)}",
            f"{100 * float(row['decision_changes']):.0f}%",
            _weights(row["weights_informed"].values),
        )
    console.print(grid)


#: What each unit of :attr:`mcengine.model.targets.Target.unit` means, in the caption.
_UNIT_NOTES = {
    "× a year": "× a year: the yearly growth factor, 0.35 for 65% less a year",
    "× year 0": "× year 0: relative to today",
    "fraction": "a fraction, 0.2 for 20%",
    "share of paths": "share of paths: a fraction, 0.2 for 20%",
    "key value": "key value: a scenario key's value, in the key's unit",
    "model units": "model units: as docs/calibration.md gives them",
}


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
            number(row["before"], ".3g") + mark(row["passed_before"]),
            number(row["after"], ".3g") + mark(row["passed_after"]),
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
            number(row["start"], ".3g"),
            number(row["fitted"], ".3g"),
            number(row["standard_error"], ".3g"),
        )
    console.print(keys)


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
    grid = segment_grid(
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
