"""One self-contained HTML page per analysis: tables and figures, inline SVG, no network.

Rendering only: :func:`render_report` takes finished Datasets (``mcengine.studies.report``
runs the simulations). ``mcengine report SCENARIO... -o report.html`` writes it: for each
scenario the summary table,
the weighing-versus-voting waterfall, return distributions and a fan chart; then, for
several scenarios, the comparison on common random numbers; and the tornado of the first.
"""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING

import xarray as xr

from mcengine._version import __version__
from mcengine.extras import LazyModule, pyplot
from mcengine.present import plots
from mcengine.present.format import (
    STATISTIC_LABELS,
    cell,
    cell_of,
    interval_text,
    target_cell,
    target_unit,
)

if TYPE_CHECKING:
    import matplotlib.pyplot as plt
else:  # imported by the first figure; needs mcengine[plot]
    plt = LazyModule(pyplot)

__all__ = ["render_report", "summary_table", "SECTIONS"]

SECTIONS = ("summary", "waterfall", "distributions", "fan chart", "comparison", "tornado")


def _svg(fig: plt.Figure) -> str:
    buffer = io.StringIO()
    try:
        # Text as <text>, not glyph paths: smaller, and no glyph ids repeated across the
        # page's several inline SVGs.
        with plt.rc_context({"svg.fonttype": "none"}):
            fig.savefig(buffer, format="svg")
    finally:
        plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prologue: the SVG is inline


def summary_table(table: xr.Dataset) -> str:
    segments = [str(s) for s in table["segment"].values]
    head = "".join(f"<th>{html.escape(s)}</th>" for s in segments)
    rows = []
    for stat in table["statistic"].values:
        at = table.sel(statistic=stat)
        cells = "".join(
            f"<td>{cell_of(at, 'estimate', 'standard_error', segment=s)}</td>" for s in segments
        )
        rows.append(
            f"<tr><th>{html.escape(STATISTIC_LABELS.get(str(stat), str(stat)))}</th>{cells}</tr>"
        )
    crash = cell(float(table["p_crash"]), float(table["p_crash_standard_error"]))
    return (
        f"<table><tr><th>statistic</th>{head}</tr>{''.join(rows)}</table>"
        f"<p>P(contagion crash) = {crash} %. Annual returns and probabilities in %; ± is one "
        "Monte Carlo standard error, in percentage points; n/a: cannot be estimated.</p>"
    )


def _comparison_table(table: xr.Dataset) -> str:
    rows = []
    for name in table["scenario"].values:
        mean = table.sel(scenario=name, statistic="mean")
        cells = "".join(
            f"<td>{cell_of(mean, 'estimate', 'standard_error', segment=s)} (Δ "
            f"{cell_of(mean, 'difference', 'difference_standard_error', sign=True, segment=s)})"
            "</td>"
            for s in table["segment"].values
        )
        rows.append(f"<tr><th>{html.escape(str(name))}</th>{cells}</tr>")
    head = "".join(f"<th>{html.escape(str(s))}</th>" for s in table["segment"].values)
    return (
        f"<table><tr><th>scenario: mean annual return (%)</th>{head}</tr>{''.join(rows)}"
        "</table><p>Δ: difference from the first scenario, with its own standard error "
        "from paired batches (common random numbers).</p>"
    )


def _validation_table(table: xr.Dataset) -> str:
    rows = []
    for name in table["target"].values:
        row = table.sel(target=name)
        est, se = float(row["estimate"]), float(row["standard_error"])
        verdict = "pass" if bool(row["passed"]) else "<b>FAIL</b>"
        source = (
            f"{html.escape(str(row['source_publisher'].values))} "
            f"({int(row['source_year'])}), <i>{html.escape(str(row['source_title'].values))}</i>: "
            f"{html.escape(str(row['measured'].values))}"
        )
        rows.append(
            f"<tr><th>{html.escape(str(row['label'].values))}<br><small>"
            f"{html.escape(str(row['description'].values))}</small></th>"
            f"<td style='white-space:nowrap'>{target_cell(est, se)}<br>"
            f"<small>{html.escape(target_unit(row))}</small></td>"
            f"<td>{html.escape(interval_text(float(row['low']), float(row['high'])))}</td>"
            f"<td>{verdict}</td>"
            f"<td style='text-align:left'><small>{source}</small></td></tr>"
        )
    passed = int(table["passed"].sum())
    return (
        f"<p>Against {html.escape(str(table.attrs['targets']))}: {passed} of "
        f"{table.sizes['target']} targets pass.</p><table><tr><th>target</th><th>model ± s.e."
        "</th><th>interval</th><th></th><th style='text-align:left'>source</th></tr>"
        f"{''.join(rows)}</table>"
    )


def render_report(
    runs: list[tuple[str, xr.Dataset, xr.Dataset]],
    comparison: xr.Dataset | None,
    tornado: xr.Dataset,
    *,
    n_paths: int,
    seed: int,
    validation: list[tuple[str, xr.Dataset]] = (),
) -> str:
    """The report's HTML from finished results: ``runs`` holds, per scenario, its name, its
    kept paths (with fan-chart bands) and their summary; ``comparison`` is
    :func:`mcengine.compare`'s table (or ``None`` for one scenario); ``tornado`` is the first
    scenario's tornado table; ``validation`` each scenario's check against sourced targets
    (:func:`mcengine.studies.validation.check`). Nothing is simulated here
    (:mod:`mcengine.studies.report` runs them)."""
    parts = []
    for scenario_name, ds, table in runs:
        name = html.escape(scenario_name)
        parts.append(f"<h2 id='summary-{name}'>Summary: {name}</h2>{summary_table(table)}")
        parts.append(
            f"<h2 id='waterfall-{name}'>Weighing versus voting: {name}</h2>"
            f"{_svg(plots.waterfall(table))}"
        )
        parts.append(
            f"<h2 id='distributions-{name}'>Return distributions: {name}</h2>"
            f"{_svg(plots.distributions(ds))}"
        )
        parts.append(f"<h2 id='fan-{name}'>Fan chart: {name}</h2>{_svg(plots.fan_chart(ds))}")
    if comparison is not None:
        parts.append(
            f"<h2 id='comparison'>Comparison</h2>{_comparison_table(comparison)}"
            f"{_svg(plots.comparison(comparison))}"
        )
    parts.append(
        f"<h2 id='tornado'>Tornado: {html.escape(runs[0][0])}</h2>{_svg(plots.tornado(tornado))}"
    )
    for scenario_name, table in validation:
        name = html.escape(scenario_name)
        parts.append(
            f"<h2 id='validation-{name}'>Validation: {name}</h2>{_validation_table(table)}"
        )
    names = ", ".join(html.escape(name) for name, _, _ in runs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>mcengine report: {names}</title>
<style>
body {{ font-family: sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
th:first-child {{ text-align: left; }}
svg {{ max-width: 100%; height: auto; }}
</style></head><body>
<h1>mcengine report: {names}</h1>
<p>{n_paths:,} paths per scenario, seed {seed}, mcengine {html.escape(__version__)}. Every
figure carries its Monte Carlo error; the page needs no network.</p>
{"".join(parts)}
</body></html>
"""
