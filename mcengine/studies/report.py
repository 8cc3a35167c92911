"""The HTML report as a study: run every scenario, compare them, take the first one's tornado,
check each against sourced targets, and hand the Datasets to
:func:`mcengine.present.html.render_report`."""

from __future__ import annotations

from pathlib import Path

from mcengine.engine.api import simulate
from mcengine.extras import pyplot
from mcengine.present.html import render_report
from mcengine.results.files import atomic_path
from mcengine.stats.summary import summarize
from mcengine.studies.compare import compare
from mcengine.studies.sensitivity import tornado
from mcengine.studies.validation import check

__all__ = ["build_report", "write_report"]


def build_report(scenarios, n_paths: int = 100_000, seed: int = 0, targets=None) -> str:
    """The report's HTML for ``scenarios`` (Scenario objects), ``n_paths`` each, one seed
    for all (common random numbers), with each scenario checked against ``targets`` (a
    targets file or built-in name; ``None``: no validation section)."""
    pyplot()  # its figures need mcengine[plot]: say so before the simulations, not after
    runs = []
    for sc in scenarios:
        ds = simulate(sc, n_paths, seed, fan_chart=True)
        runs.append((sc.name, ds, summarize(ds)))
    comparison = compare(scenarios, n_paths, seed) if len(scenarios) > 1 else None
    first = simulate(scenarios[0], n_paths, seed, record_inputs=True)
    validation = (
        []
        if targets is None
        else [(sc.name, check(sc, targets, n_paths, seed)) for sc in scenarios]
    )
    return render_report(
        runs, comparison, tornado(first), n_paths=n_paths, seed=seed, validation=validation
    )


def write_report(
    target: str | Path, scenarios, n_paths: int = 100_000, seed: int = 0, targets=None
) -> Path:
    """Write :func:`build_report` to ``target`` atomically."""
    text = build_report(scenarios, n_paths, seed, targets)
    with atomic_path(target) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(target)
