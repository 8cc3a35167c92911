"""Benchmark workloads that ship with the package, for ``mcengine bench`` and other suites.

Benchmark suites install packages; they do not clone them. So the workloads live here, with
stable names, fixed seeds and fixed sizes, and three ways in:

* :func:`run_workload` runs one workload and returns its figures (a plain dict);
* :mod:`mcengine.bench.asv` holds airspeed-velocity classes (numpy's, scipy's and xarray's
  convention): ``from mcengine.bench.asv import *`` in an asv ``benchmarks/`` file;
* :mod:`mcengine.bench.suite` is the full suite of ratios measured side by side
  (``mcengine bench``, ``python -m mcengine.bench``), documented in docs/benchmarks.md.

Example::

    >>> from mcengine.bench import run_workload
    >>> run_workload("base", quick=True)["paths_per_second"]  # doctest: +SKIP
    412345.6
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from mcengine.rng.samplers import fitting_paths

__all__ = ["Workload", "WORKLOADS", "run_workload", "prepare", "execute"]


@dataclass(frozen=True)
class Workload:
    """One named, fixed-size, fixed-seed run of the engine (or of its reference points)."""

    name: str
    description: str
    scenario: str = "base"
    paths: int = 1_000_000
    seed: int = 1
    options: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    kind: str = "engine"  # "engine", "rng_floor" or "reference"

    def sized(self, quick: bool) -> int:
        """The path count: ``paths``, or for a quick run about a tenth of it, rounded down to
        a count the workload's sampler takes (whole replicates; Sobol: powers of two)."""
        if not quick:
            return self.paths
        sampler = self.options.get("sampler", "pseudo")
        return fitting_paths(max(self.paths // 10, 1), sampler)


_W = Workload
WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        _W("base", "base scenario, 10 annual steps, kept paths, all threads"),
        _W("base_1_thread", "the same on one Numba thread", options={"threads": 1}),
        _W("summary_only", "base, streamed into the summary", options={"keep_paths": False}),
        _W("antithetic", "base, antithetic pairs", options={"sampler": "antithetic"}),
        _W("sobol", "base, randomised Sobol points", paths=2**20, options={"sampler": "sobol"}),
        _W("fan_chart", "base with per-year fan-chart bands", options={"fan_chart": True}),
        _W("record_inputs", "base, recording inputs", options={"record_inputs": True}),
        _W("stress", "deepseek_shock (stress overlays)", scenario="deepseek_shock"),
        _W(
            "beliefs",
            "beliefs: base with five uncertain keys, two rank correlations",
            scenario="beliefs",
        ),
        _W(
            "monthly",
            "base with 12 steps a year",
            paths=200_000,
            overrides={"simulation.steps_per_year": 12},
        ),
        _W("rng_floor", "numpy Generator(PCG64) drawing what base consumes", kind="rng_floor"),
        _W("reference", "plain vectorised numpy transcription of the model", kind="reference"),
    )
}


def _load(workload: Workload):
    import mcengine

    return mcengine.load_scenario(workload.scenario, workload.overrides or None)


def prepare(name: str) -> None:
    """Compile (or load from the cache) what workload ``name`` runs, so timings are warm."""
    workload = _lookup(name)
    if workload.kind == "engine":
        import mcengine

        mcengine.simulate(_load(workload), 1024, seed=workload.seed, **workload.options)


def execute(name: str, *, quick: bool = False) -> None:
    """Run workload ``name`` once (what a timing measures)."""
    workload = _lookup(name)
    scenario = _load(workload)
    n = workload.sized(quick)
    if workload.kind == "rng_floor":
        _rng_floor(n, scenario.n_steps)
    elif workload.kind == "reference":
        from mcengine.bench.reference import simulate_reference_numpy

        simulate_reference_numpy(scenario, n, seed=workload.seed + 1)
    else:
        import mcengine

        mcengine.simulate(scenario, n, seed=workload.seed, **workload.options)


def run_workload(name: str, *, quick: bool = False, repeats: int = 3) -> dict[str, Any]:
    """Run workload ``name`` ``repeats`` times, warm, and return its figures.

    Parameters
    ----------
    name : str
        A key of :data:`WORKLOADS`.
    quick : bool, default False
        Tenfold fewer paths (a smoke run).
    repeats : int, default 3
        Timed runs; the best is reported (the least disturbed by a shared machine).

    Returns
    -------
    dict
        ``name``, ``description``, ``paths``, ``seconds`` (best), ``paths_per_second``,
        ``repeats``.
    """
    workload = _lookup(name)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats = {repeats!r}, must be an integer >= 1")
    prepare(name)
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        execute(name, quick=quick)
        best = min(best, time.perf_counter() - started)
    paths = workload.sized(quick)
    return {
        "name": name,
        "description": workload.description,
        "paths": paths,
        "seconds": best,
        "paths_per_second": paths / best,
        "repeats": repeats,
    }


def _lookup(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise ValueError(f"workload = {name!r}, must be one of: {', '.join(WORKLOADS)}") from None


def _rng_floor(n_paths: int, n_steps: int) -> None:
    """numpy's Generator(PCG64) drawing what the model consumes, on one thread."""
    import numpy as np

    rng = np.random.Generator(np.random.PCG64(1))
    rng.standard_normal((n_paths, 3))
    for _ in range(n_steps):
        rng.standard_normal((n_paths, 7))
        rng.random(n_paths)
