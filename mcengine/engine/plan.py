"""The run plan: every setting of one simulation, checked once, when it is built.

QuantLib's habit (``QL_REQUIRE`` when a ``McSimulation`` is built): a plan that exists is a
valid one, and each rule refuses a contradictory combination with one sentence. The
executors (:func:`mcengine.engine.local.run_local`, :mod:`mcengine.engine.dask`) take a
plan and only run it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np

from mcengine.checks import check_int, plain_data
from mcengine.engine.chunks import (
    _NO_DRAWS,
    DEFAULT_CHUNK_PATHS,
    MAX_PATHS,
    KernelInputs,
    _paths_that_fit,
)
from mcengine.engine.stopping import StoppingRule
from mcengine.errors import InputError
from mcengine.layout import draw_dimension
from mcengine.model.scenario import Scenario, load_scenario
from mcengine.rng.samplers import DEFAULT_REPLICATES, check_sampler, sobol_draws
from mcengine.rng.streams import MAX_SEED, fresh_seed
from mcengine.stats.tails import check_weights

__all__ = ["RunPlan", "EXECUTOR_LIMITS", "refused_settings"]


@dataclass(frozen=True)
class RunPlan:
    """One simulation's settings, valid by construction (build it with :meth:`build`).

    ``stopping`` is the accuracy target (``None``: a fixed run of ``n_paths``), and
    ``max_paths`` its cap; the other fields are :func:`mcengine.simulate`'s arguments.
    """

    scenario: Scenario
    seed: int
    n_paths: int
    keep_paths: bool = True
    stopping: StoppingRule | None = None
    max_paths: int | None = None
    portfolio_weights: tuple = (1 / 3, 1 / 3, 1 / 3)
    fan_chart: bool = False
    record_inputs: bool = False
    record_years: bool = False
    sampler: str = "pseudo"
    replicates: int = DEFAULT_REPLICATES
    draws: np.ndarray | None = None
    parameter_values: np.ndarray | None = None
    chunk_paths: int = DEFAULT_CHUNK_PATHS
    threads: int | None = None
    client: object = None

    @classmethod
    def build(
        cls,
        scenario: Scenario | str,
        n_paths: int,
        seed: int | None,
        *,
        keep_paths: bool = True,
        target_se: float | None = None,
        rel_tol: float | None = None,
        stop_statistic: str = "mean",
        max_paths: int | None = None,
        portfolio_weights=(1 / 3, 1 / 3, 1 / 3),
        fan_chart: bool = False,
        record_inputs: bool = False,
        record_years: bool = False,
        sampler: str = "pseudo",
        replicates: int = DEFAULT_REPLICATES,
        draws: np.ndarray | None = None,
        parameter_values: np.ndarray | None = None,
        chunk_paths: int | None = None,
        threads: int | None = None,
        client=None,
    ) -> RunPlan:
        """Check :func:`mcengine.simulate`'s arguments, alone and together, and return the
        plan. Raises :class:`~mcengine.errors.InputError` with one sentence per rule."""
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        n_paths = check_int("n_paths", n_paths, 1, MAX_PATHS, count=True)
        if chunk_paths is not None:
            chunk_paths = check_int("chunk_paths", chunk_paths, 1, MAX_PATHS, count=True)
        seed = fresh_seed() if seed is None else check_int("seed", seed, 0, MAX_SEED)
        if threads is not None:
            threads = check_int("threads", threads, 1, numba.config.NUMBA_NUM_THREADS)
        idle = [
            name
            for name, used in (
                ("max_paths", max_paths is not None),
                ("stop_statistic", stop_statistic != "mean"),
            )
            if used
        ]
        if idle and target_se is None and rel_tol is None:
            raise InputError(
                f"{' and '.join(idle)} appl{'ies' if len(idle) == 1 else 'y'} to a target: "
                f"add target_se or rel_tol, or drop {'it' if len(idle) == 1 else 'them'}"
            )
        common = {
            "scenario": scenario,
            "seed": seed,
            "n_paths": n_paths,
            "keep_paths": keep_paths,
            "portfolio_weights": _weights(portfolio_weights),
            "fan_chart": fan_chart,
            "threads": threads,
        }
        if client is not None:
            # Every setting the local branch below reads is refused here or used by the
            # Dask executor: none may be dropped in silence.
            _check_dask(
                target_se, rel_tol, record_inputs, draws, sampler, fan_chart, keep_paths,
                record_years, parameter_values,
            )  # fmt: skip
            return cls(**common, chunk_paths=chunk_paths, client=client)
        stopping = None
        if target_se is not None or rel_tol is not None:
            stopping = StoppingRule(target_se, rel_tol, stop_statistic)
            if max_paths is None:  # 100 x the first batch, and for kept paths what fits
                fits = _paths_that_fit() if keep_paths else None
                max_paths = max(n_paths, min(100 * n_paths, MAX_PATHS, fits or MAX_PATHS))
            max_paths = check_int("max_paths", max_paths, n_paths, MAX_PATHS, count=True)
        check_sampler(sampler, n_paths, replicates)
        dimension = draw_dimension(scenario.n_steps)
        if draws is not None and (
            draws.shape != (n_paths, dimension) or sampler != "pseudo" or stopping is not None
        ):
            raise InputError(
                f"draws must have shape ({n_paths}, {dimension}), with the pseudo sampler "
                "and no target"
            )
        if sampler != "pseudo" and (stopping is not None or not keep_paths):
            raise InputError(
                f"sampler = {sampler!r} needs keep_paths=True and no target_se/rel_tol: its "
                "standard errors come from replicate groups of the kept paths"
            )
        if scenario.beliefs and sampler == "sobol":
            raise InputError(
                f"scenario '{scenario.name}' has uncertain keys "
                f"({', '.join(b.key for b in scenario.beliefs)}); the Sobol sampler cannot "
                "draw them yet: use the pseudo or antithetic sampler"
            )
        parameter_values = _check_designed_values(scenario, n_paths, draws, parameter_values)
        if record_inputs and not (keep_paths and stopping is None):
            raise InputError("record_inputs=True needs keep_paths=True and no target")
        if record_years and not (keep_paths and stopping is None):
            raise InputError("record_years=True needs keep_paths=True and no target")
        return cls(
            **common,
            stopping=stopping,
            max_paths=max_paths,
            record_inputs=record_inputs,
            record_years=record_years,
            sampler=sampler,
            replicates=replicates,
            draws=draws,
            parameter_values=parameter_values,
            chunk_paths=DEFAULT_CHUNK_PATHS if chunk_paths is None else chunk_paths,
        )

    @cached_property
    def kernel(self) -> KernelInputs:
        """The kernel's inputs: coefficients, schedules and the Philox key (built once)."""
        return KernelInputs.build(self.scenario, self.seed, antithetic=self.sampler == "antithetic")

    @property
    def recorded_parameters(self) -> int:
        """Uncertain keys whose values kept paths record (with ``record_inputs``)."""
        return len(self.scenario.beliefs) if self.record_inputs else 0

    @property
    def limit(self) -> int:
        """The most paths the run may take: ``n_paths``, or with a target ``max_paths``."""
        return self.n_paths if self.stopping is None else int(self.max_paths)

    @property
    def years(self) -> int:
        """Yearly records the kernel writes, year 0 to the horizon (0 without fan charts or
        per-path yearly records)."""
        recorded = self.fan_chart or self.record_years
        return self.scenario.simulation.horizon_years + 1 if recorded else 0

    @property
    def group(self) -> int:
        """Paths per replicate group (all of them for the pseudo sampler)."""
        return self.n_paths // self.replicates if self.sampler != "pseudo" else self.n_paths

    def ranges(self) -> Iterator[tuple[int, int]]:
        """``[start, stop)`` of each chunk, in order, up to :attr:`limit`: at most
        ``chunk_paths``; never across a replicate group (Sobol points are per group); with
        a target, the first ``n_paths`` are the first batch."""
        done, group = 0, self.group
        while done < self.limit:
            stop = min(done + self.chunk_paths, self.limit, (done // group + 1) * group)
            if done < self.n_paths:
                stop = min(stop, self.n_paths)
            yield done, stop
            done = stop

    def designed_values(self, start: int, stop: int) -> np.ndarray | None:
        """The uncertain keys' values of paths ``[start, stop)`` when they do not come from
        their stream (a designed experiment), else ``None``."""
        if self.parameter_values is None:
            return None
        return self.parameter_values[start:stop]

    def external_draws(self, start: int, stop: int) -> np.ndarray:
        """The draws of paths ``[start, stop)`` when they do not come from the streams."""
        if self.draws is not None:
            return self.draws[start:stop]
        if self.sampler == "sobol":
            group = self.group
            return sobol_draws(
                self.seed, start // group, self.scenario.n_steps, start % group, stop - start
            )
        return _NO_DRAWS


def _weights(weights) -> tuple[float, ...]:
    """The portfolio weights checked now (a list, tuple or array), kept as given: the
    summary normalises them once, as :func:`mcengine.summarize` does, for the same bits."""
    check_weights(weights)
    return tuple(float(w) for w in plain_data(weights))


def _check_designed_values(scenario, n_paths, draws, values) -> np.ndarray | None:
    """Designed values of the uncertain keys come with designed draws, and a scenario with
    uncertain keys needs them with its draws: ``(n_paths, beliefs)``, each inside its key's
    range."""
    keys = [b.key for b in scenario.beliefs]
    if values is None and (draws is None or not keys):
        return None
    shape = (n_paths, len(keys))
    if draws is None or values is None or np.shape(values) != shape:
        raise InputError(
            f"parameter_values must come with draws, as an array of shape {shape} (the values "
            f"of {', '.join(keys) or 'no uncertain keys'} on each path)"
            + (f"; scenario '{scenario.name}' has no uncertain keys" if not keys else "")
        )
    values = np.ascontiguousarray(values, dtype=float)
    for j, belief in enumerate(scenario.beliefs):
        column = values[:, j]
        lo, hi = belief.valid.lo, belief.valid.hi
        inside = np.isfinite(column) & (column >= lo) & (column <= hi)
        inside &= ~((column == lo) & belief.valid.lo_open) & ~(
            (column == hi) & belief.valid.hi_open
        )
        if not inside.all():
            bad = column[~inside][0]
            raise InputError(
                f"parameter_values[:, {j}] ({belief.key}) holds {bad!r}, must be in {belief.valid}"
            )
    return values


#: What each executor cannot run, by the setting that asks for it: the one home of these
#: rules. :meth:`RunPlan.build` applies the Dask ones to :func:`mcengine.simulate`'s
#: arguments; the CLI applies both to its flags before it starts a cluster or a store
#: (:func:`refused_settings`), each in its own spelling.
EXECUTOR_LIMITS = {
    # a Dask task is a pure function of (plan, chunk): no run-length decisions, no
    # replicate groups, no arrays shipped with the plan; fan charts reduce summaries only
    "dask": (
        "target_se",
        "rel_tol",
        "record_inputs",
        "record_years",
        "draws",
        "parameter_values",
        "sampler",
        "fan_chart_with_paths",
    ),
    # a Zarr store holds every path of a fixed-size run, and only the paths
    "zarr": (
        "summary_only",
        "target_se",
        "rel_tol",
        "record_inputs",
        "record_years",
        "draws",
        "parameter_values",
        "sampler",
        "fan_chart",
    ),
}


def refused_settings(
    executor: str,
    *,
    target_se: float | None = None,
    rel_tol: float | None = None,
    record_inputs: bool = False,
    draws: np.ndarray | None = None,
    sampler: str = "pseudo",
    fan_chart: bool = False,
    keep_paths: bool = True,
    record_years: bool = False,
    parameter_values: np.ndarray | None = None,
) -> list[str]:
    """The settings in use that ``executor`` (a key of :data:`EXECUTOR_LIMITS`) cannot run,
    in the order of its rules."""
    used = {
        "summary_only": not keep_paths,
        "target_se": target_se is not None,
        "rel_tol": rel_tol is not None,
        "record_inputs": record_inputs,
        "record_years": record_years,
        "draws": draws is not None,
        "parameter_values": parameter_values is not None,
        "sampler": sampler != "pseudo",
        "fan_chart": fan_chart,
        "fan_chart_with_paths": fan_chart and keep_paths,
    }
    return [name for name in EXECUTOR_LIMITS[executor] if used[name]]


def _check_dask(
    target_se, rel_tol, record_inputs, draws, sampler, fan_chart, keep_paths, record_years,
    parameter_values,
):  # fmt: skip
    refused = refused_settings(
        "dask",
        target_se=target_se,
        rel_tol=rel_tol,
        record_inputs=record_inputs,
        record_years=record_years,
        draws=draws,
        sampler=sampler,
        fan_chart=fan_chart,
        keep_paths=keep_paths,
        parameter_values=parameter_values,
    )
    spelling = {
        "sampler": f"sampler = {sampler!r}",
        "fan_chart_with_paths": "fan_chart with keep_paths",
    }
    if refused:
        raise InputError(
            f"client: {', '.join(spelling.get(name, name) for name in refused)} cannot run on "
            "Dask; run without a client, or use the pseudo sampler, a fixed path count, no "
            "draws or parameter_values, and (for fan charts) keep_paths=False"
        )
