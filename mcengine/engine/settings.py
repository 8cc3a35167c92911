"""Run settings, each declared once: its default, its range, its CLI flag and help, and the
executors that refuse it.

The idiom of :mod:`mcengine.model.parameters` (a scenario key is a dataclass field whose
metadata says what it may be), applied to how a run is done rather than what it simulates.
Everything else reads the declaration: :func:`mcengine.simulate` and
:func:`mcengine.engine.api.write_zarr` take the settings as keywords,
:meth:`~mcengine.engine.plan.RunPlan.build` checks their ranges and refuses what its executor
cannot run, and the CLI generates ``mcengine run``'s options from them
(:mod:`mcengine.cli.options`) and names them by flag in its messages. Adding a setting is a
field here and its effect where it acts.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from mcengine.checks import Range, did_you_mean
from mcengine.layout import MAX_PATHS, STATISTICS
from mcengine.rng.samplers import DEFAULT_REPLICATES, SAMPLERS

__all__ = ["RunSettings", "Setting", "EXECUTORS", "EXECUTOR_REASONS", "declared"]

#: The executors that may refuse a setting, each with what it cannot do.
EXECUTOR_REASONS = {
    # a Dask task is a pure function of (plan, chunk): no run-length decisions, no
    # replicate groups, no arrays shipped with the plan; fan charts reduce summaries only
    "dask": "a Dask task is a pure function of its chunk",
    # a Zarr store holds every path of a fixed-size run, and only the paths
    "zarr": "a Zarr store holds every path of a fixed-size run",
}
EXECUTORS = tuple(EXECUTOR_REASONS)

_PATHS = Range(1, MAX_PATHS, integer=True)


@dataclass(frozen=True)
class Setting:
    """What one run setting may be, and how the CLI offers it.

    ``kind`` says how the CLI reads a value: ``"flag"`` (a switch; ``inverted`` when the
    flag turns the setting off, as ``--summary-only`` does ``keep_paths``), ``"paths"``,
    ``"fraction"``, ``"number"`` (in ``valid``), ``"count"``, ``"choice"`` (one of
    ``valid``), ``"weights"``, ``"threads"`` (bounded by this machine's, which the plan
    checks), or ``"array"`` (library only). ``refused_by`` maps an executor to ``None`` (it
    refuses the setting whenever it is in use) or the name of a switch that must be on as
    well (Dask refuses fan charts of kept paths only). A setting with
    ``applies_to="target"`` does nothing without ``target_se`` or ``rel_tol``, so it is
    refused without one.
    """

    default: Any
    help: str
    kind: str
    flag: str | None = None
    valid: Range | tuple[str, ...] | None = None
    refused_by: dict[str, str | None] = field(default_factory=dict)
    inverted: bool = False
    cli_default: str | None = None
    applies_to: str | None = None


def setting(default: Any, help: str, kind: str, **declared: Any) -> Any:
    """A :class:`RunSettings` field: ``default`` and its :class:`Setting`."""
    declaration = Setting(default, help, kind, **declared)
    return field(default=default, metadata={"setting": declaration})


_ALWAYS: dict[str, str | None] = {"dask": None, "zarr": None}


@dataclass(frozen=True)
class RunSettings:
    """How one run is done; its scenario, path count and seed say what is run.

    Every field is a keyword of :func:`mcengine.simulate`, which documents them. Build with
    :meth:`of` (unknown names are refused with a suggestion); a plan checks the values
    (:meth:`mcengine.engine.plan.RunPlan.build`).
    """

    keep_paths: bool = setting(
        True,
        "Stream paths into the summary instead of keeping them: memory stays flat at any "
        "path count, quantiles within 1e-6. --out then writes the summary.",
        "flag",
        flag="--summary-only",
        inverted=True,
        refused_by={"zarr": None},
    )
    threads: int | None = setting(
        None,
        "Numba threads, at most this machine's (results do not depend on it).",
        "threads",
        flag="--threads",
    )
    target_se: float | None = setting(
        None,
        "Add paths until the standard error of --stop-on is at most this in every segment: "
        "a fraction of annual return (0.0005 or 0.05%, i.e. 0.05 percentage points); -n is "
        "then the first batch. Exit code 1 if --max-paths or --max-seconds comes first.",
        "fraction",
        flag="--target-se",
        valid=Range(0, math.inf, lo_open=True),
        refused_by=_ALWAYS,
    )
    rel_tol: float | None = setting(
        None,
        "Add paths until that standard error is at most this fraction of the statistic "
        "(0.05 or 5%); with --target-se, both must hold.",
        "fraction",
        flag="--rel-tol",
        valid=Range(0, 1, lo_open=True),
        refused_by=_ALWAYS,
    )
    stop_statistic: str = setting(
        "mean",
        "The statistic --target-se/--rel-tol apply to.",
        "choice",
        flag="--stop-on",
        valid=tuple(STATISTICS),
        applies_to="target",
    )
    max_paths: int | None = setting(
        None,
        "With a target: never more paths than this (default 100 x -n).",
        "paths",
        flag="--max-paths",
        valid=_PATHS,
        applies_to="target",
    )
    max_seconds: float | None = setting(
        None,
        "With a target: stop adding paths after this many seconds (a first run's compile "
        "included) even if it is not met (exit code 1; the result equals a fixed run of the "
        "paths it reports).",
        "number",
        flag="--max-seconds",
        valid=Range(0, math.inf, lo_open=True),
        applies_to="target",
        refused_by=_ALWAYS,
    )
    sampler: str = setting(
        "pseudo",
        "Random inputs: independent paths, antithetic pairs, or randomised Sobol points "
        "(errors then come from --replicates groups).",
        "choice",
        flag="--sampler",
        valid=tuple(SAMPLERS),
        refused_by=_ALWAYS,
    )
    replicates: int = setting(
        DEFAULT_REPLICATES,
        "Replicate groups for antithetic/sobol standard errors (not for pseudo).",
        "count",
        flag="--replicates",
        valid=Range(2, math.inf, integer=True),
    )
    record_inputs: bool = setting(
        False,
        "Keep each path's uncertain inputs in --out FILE.nc (for mcengine plot --kind tornado).",
        "flag",
        flag="--record-inputs",
        refused_by=_ALWAYS,
    )
    record_years: bool = setting(
        False,
        "Keep each path's year-end record in --out FILE.nc: wealth, drivers, token price, "
        "serving cost, capex, capacity, utilisation, revenues.",
        "flag",
        flag="--record-years",
        refused_by=_ALWAYS,
    )
    fan_chart: bool = setting(
        False,
        "Add per-year quantile bands of wealth and drivers to --out and --json ('fan'); "
        "draw them with mcengine plot FILE --kind fan.",
        "flag",
        flag="--fan-chart",
        refused_by={"dask": "keep_paths", "zarr": None},
    )
    portfolio_weights: tuple = setting(
        (1 / 3, 1 / 3, 1 / 3),
        "Portfolio weights of applications, inference, training for the joint-risk table.",
        "weights",
        flag="--weights",
        cli_default="1,1,1",
    )
    chunk_paths: int | None = setting(
        None,
        "Paths per Dask task and per Zarr chunk (a multiple of 65536; default: automatic).",
        "paths",
        flag="--chunk-paths",
        valid=_PATHS,
    )
    draws: np.ndarray | None = setting(
        None, "Every path's random inputs instead of the streams.", "array", refused_by=_ALWAYS
    )
    parameter_values: np.ndarray | None = setting(
        None,
        "Every path's values of the uncertain keys, with draws.",
        "array",
        refused_by=_ALWAYS,
    )

    @classmethod
    def of(cls, settings: RunSettings | None = None, **changes: Any) -> RunSettings:
        """``settings`` (default: every default) with ``changes``; an unknown name is a
        ``TypeError``, as a function's unknown keyword is, with the closest name."""
        unknown = [name for name in changes if name not in declared()]
        if unknown:
            raise TypeError(
                f"{unknown[0]!r} is not a run setting"
                + did_you_mean(unknown[0], list(declared()))
                + f" (the settings: {', '.join(declared())})"
            )
        return dataclasses.replace(settings or cls(), **changes)

    def in_use(self, name: str) -> bool:
        """Whether setting ``name`` asks for something: its value is not the default."""
        default, value = declared()[name].default, getattr(self, name)
        if default is None:
            return value is not None
        if isinstance(default, tuple):  # weights, given as any sequence or array
            return tuple(np.ravel(value).tolist()) != default
        return bool(value != default)

    def refused(self, executor: str) -> list[str]:
        """The settings in use that ``executor`` (one of :data:`EXECUTORS`) cannot run."""
        refused = []
        for name, declaration in declared().items():
            if executor not in declaration.refused_by or not self.in_use(name):
                continue
            also = declaration.refused_by[executor]
            if also is None or getattr(self, also):
                refused.append(name)
        return refused


_DECLARED = MappingProxyType(
    {f.name: f.metadata["setting"] for f in dataclasses.fields(RunSettings)}
)


def declared() -> Mapping[str, Setting]:
    """Each run setting's declaration, by name, in declaration order (read-only)."""
    return _DECLARED
