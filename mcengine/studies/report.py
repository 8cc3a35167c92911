"""The HTML report as a study: run every scenario, compare them, take the first one's tornado,
and hand the Datasets to :func:`mcengine.present.html.render_report`."""

from __future__ import annotations

from pathlib import Path

from mcengine.engine.local import simulate
from mcengine.present.html import render_report
from mcengine.results.files import atomic_path
from mcengine.stats.summary import summarize
from mcengine.studies.compare import compare
from mcengine.studies.sensitivity import tornado

__all__ = ["build_report", "write_report"]


def build_report(scenarios, n_paths: int = 100_000, seed: int = 0) -> str:
    """The report's HTML for ``scenarios`` (Scenario objects), ``n_paths`` each, one seed
    for all (common random numbers)."""
    runs = []
    for sc in scenarios:
        ds = simulate(sc, n_paths, seed, fan_chart=True)
        runs.append((sc.name, ds, summarize(ds)))
    comparison = compare(scenarios, n_paths, seed) if len(scenarios) > 1 else None
    first = simulate(scenarios[0], n_paths, seed, record_inputs=True)
    return render_report(runs, comparison, tornado(first), n_paths=n_paths, seed=seed)


def write_report(target: str | Path, scenarios, n_paths: int = 100_000, seed: int = 0) -> Path:
    """Write :func:`build_report` to ``target`` atomically."""
    text = build_report(scenarios, n_paths, seed)
    with atomic_path(target) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(target)
