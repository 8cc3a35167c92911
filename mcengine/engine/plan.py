"""The run plan: every setting of one simulation, checked once, when it is built.

QuantLib's habit (``QL_REQUIRE`` when a ``McSimulation`` is built): a plan that exists is a
valid one, and each rule refuses a contradictory combination with one sentence. The
executors (:func:`mcengine.engine.local.run_local`, :mod:`mcengine.engine.dask`) take a
plan and only run it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np

from mcengine.checks import check_in, check_int, did_you_mean, plain_data, shown
from mcengine.engine.inputs import (
    DEFAULT_CHUNK_PATHS,
    MAX_PATHS,
    NO_DRAWS,
    KernelInputs,
    paths_that_fit,
)
from mcengine.engine.settings import EXECUTOR_REASONS, EXECUTORS, RunSettings, declared
from mcengine.engine.stopping import StoppingRule
from mcengine.errors import InputError
from mcengine.layout import BLOCK_PATHS, draw_dimension
from mcengine.model.scenario import Scenario, load_scenario
from mcengine.rng.samplers import check_sampler, sobol_draws
from mcengine.rng.streams import MAX_SEED, fresh_seed
from mcengine.stats.tails import check_weights

__all__ = ["RunPlan", "check_client"]


@dataclass(frozen=True)
class RunPlan:
    """One simulation, valid by construction (build it with :meth:`build`).

    ``settings`` are :func:`mcengine.simulate`'s keywords as given; the other fields are
    what the plan derived from them: ``stopping`` the accuracy target (``None``: a fixed run
    of ``n_paths``) and ``max_paths`` its cap, ``chunk_paths`` the paths per kernel call or
    task, the checked ``parameter_values``, and the Dask ``client`` (``None``: in-process).
    """

    scenario: Scenario
    seed: int
    n_paths: int
    settings: RunSettings = RunSettings()
    stopping: StoppingRule | None = None
    max_paths: int | None = None
    chunk_paths: int = DEFAULT_CHUNK_PATHS
    parameter_values: np.ndarray | None = None
    client: object = None

    @classmethod
    def build(
        cls,
        scenario: Scenario | str,
        n_paths: int,
        seed: int | None,
        settings: RunSettings | None = None,
        *,
        client=None,
        executor: str | None = None,
        **changes,
    ) -> RunPlan:
        """Check the run's settings (``settings`` with ``changes``, as
        :meth:`RunSettings.of` takes them), alone and together, for where it runs: in this
        process, on Dask with a ``client``, and into a store with ``executor="zarr"``;
        return the plan.
        Raises :class:`~mcengine.errors.InputError` with one sentence per rule."""
        s = RunSettings.of(settings, **changes)
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        n_paths = check_int("n_paths", n_paths, 1, MAX_PATHS, count=True)
        seed = fresh_seed() if seed is None else check_int("seed", seed, 0, MAX_SEED)
        if s.threads is not None:
            check_int("threads", s.threads, 1, numba.config.NUMBA_NUM_THREADS)
        s = _checked(s)
        targeted = s.target_se is not None or s.rel_tol is not None
        idle = [
            name
            for name, declaration in declared().items()
            if declaration.applies_to == "target" and s.in_use(name)
        ]
        if idle and not targeted:
            raise InputError(
                f"{' and '.join(idle)} appl{'ies' if len(idle) == 1 else 'y'} to a target: "
                f"add target_se or rel_tol, or drop {'it' if len(idle) == 1 else 'them'}"
            )
        if executor is not None and executor not in EXECUTORS:
            raise InputError(
                f"executor = {executor!r}, must be None or one of {', '.join(EXECUTORS)}"
            )
        executors = [name for name in (executor, "dask" if client else None) if name]
        for name in executors:
            _refuse(s, name)
        if client is not None:
            check_client(client)
        stopping, max_paths = None, s.max_paths
        if targeted:
            stopping = StoppingRule(s.target_se, s.rel_tol, s.stop_statistic)
            if max_paths is None:  # 100 x the first batch, and for kept paths what fits
                fits = paths_that_fit() if s.keep_paths else None
                max_paths = max(n_paths, min(100 * n_paths, MAX_PATHS, fits or MAX_PATHS))
            max_paths = check_int("max_paths", max_paths, n_paths, MAX_PATHS, count=True)
        check_sampler(s.sampler, n_paths, s.replicates)
        dimension = draw_dimension(scenario.n_steps)
        if s.draws is not None and (
            s.draws.shape != (n_paths, dimension) or s.sampler != "pseudo" or targeted
        ):
            raise InputError(
                f"draws must have shape ({n_paths}, {dimension}), with the pseudo sampler "
                "and no target"
            )
        if s.sampler != "pseudo" and (targeted or not s.keep_paths):
            raise InputError(
                f"sampler = {s.sampler!r} needs keep_paths=True and no target_se/rel_tol: its "
                "standard errors come from replicate groups of the kept paths"
            )
        if scenario.beliefs and s.sampler == "sobol":
            raise InputError(
                f"scenario '{scenario.name}' has uncertain keys "
                f"({', '.join(b.key for b in scenario.beliefs)}); the Sobol sampler cannot "
                "draw them yet: use the pseudo or antithetic sampler"
            )
        for name in ("record_inputs", "record_years"):
            if getattr(s, name) and not (s.keep_paths and not targeted):
                raise InputError(f"{name}=True needs keep_paths=True and no target")
        return cls(
            scenario=scenario,
            seed=seed,
            n_paths=n_paths,
            settings=s,
            stopping=stopping,
            max_paths=max_paths,
            chunk_paths=_chunk_paths(s.chunk_paths, executors),
            parameter_values=_check_designed_values(scenario, n_paths, s.draws, s.parameter_values),
            client=client,
        )

    @property
    def keep_paths(self) -> bool:
        return self.settings.keep_paths

    @property
    def sampler(self) -> str:
        return self.settings.sampler

    @cached_property
    def kernel(self) -> KernelInputs:
        """The kernel's inputs: coefficients, schedules and the Philox key (built once)."""
        return KernelInputs.build(self.scenario, self.seed, antithetic=self.sampler == "antithetic")

    @property
    def recorded_parameters(self) -> int:
        """Uncertain keys whose values kept paths record (with ``record_inputs``)."""
        return len(self.scenario.beliefs) if self.settings.record_inputs else 0

    @property
    def limit(self) -> int:
        """The most paths the run may take: ``n_paths``, or with a target ``max_paths``."""
        return self.n_paths if self.stopping is None else int(self.max_paths)

    @property
    def years(self) -> int:
        """Yearly records the kernel writes, year 0 to the horizon (0 without fan charts or
        per-path yearly records)."""
        recorded = self.settings.fan_chart or self.settings.record_years
        return self.scenario.simulation.horizon_years + 1 if recorded else 0

    @property
    def group(self) -> int:
        """Paths per replicate group (all of them for the pseudo sampler)."""
        replicates = self.settings.replicates
        return self.n_paths // replicates if self.sampler != "pseudo" else self.n_paths

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
        if self.settings.draws is not None:
            return self.settings.draws[start:stop]
        if self.sampler == "sobol":
            group = self.group
            return sobol_draws(
                self.seed, start // group, self.scenario.n_steps, start % group, stop - start
            )
        return NO_DRAWS


def _checked(s: RunSettings) -> RunSettings:
    """``s`` with each value checked against its declared range (the same :class:`Range`
    as scenario keys) and the weights as a tuple; the rules between settings are
    :meth:`RunPlan.build`'s."""
    for name, declaration in declared().items():
        value = getattr(s, name)
        if declaration.kind == "flag" and not isinstance(value, bool | np.bool_):
            raise InputError(f"{name} = {shown(value)}, must be True or False")
        if value is None or declaration.valid is None:
            continue
        if isinstance(declaration.valid, tuple):
            if value not in declaration.valid:
                raise InputError(
                    f"{name} = {value!r}, must be one of {', '.join(declaration.valid)}"
                    + did_you_mean(value, list(declaration.valid))
                )
        else:
            s = dataclasses.replace(s, **{name: check_in(name, value, declaration.valid)})
    # The weights are kept as given: the summary normalises them once, as
    # mcengine.summarize does, for the same bits.
    check_weights(s.portfolio_weights)
    return dataclasses.replace(
        s, portfolio_weights=tuple(float(w) for w in plain_data(s.portfolio_weights))
    )


def _refuse(s: RunSettings, executor: str) -> None:
    """Refuse the settings ``executor`` cannot run, each named as given."""
    refused = s.refused(executor)
    if not refused:
        return
    spelled = []
    for name in refused:
        also = declared()[name].refused_by[executor]
        value = getattr(s, name)
        if also is not None:
            spelled.append(f"{name} with {also}")
        elif isinstance(value, str):
            spelled.append(f"{name} = {value!r}")
        elif isinstance(value, bool | np.bool_) and declared()[name].default is not False:
            spelled.append(f"{name}={value}")  # a switch turned off: keep_paths=False
        else:
            spelled.append(name)
    if executor == "dask":
        raise InputError(
            f"client: {', '.join(spelled)} cannot run on Dask; run without a client, or use "
            "the pseudo sampler, a fixed path count, no draws or parameter_values, and (for "
            "fan charts) keep_paths=False"
        )
    raise InputError(
        f"{', '.join(spelled)} cannot run into a Zarr store (write_zarr): "
        f"{EXECUTOR_REASONS[executor]}"
    )


def check_client(client) -> None:
    """Refuse anything but ``None``, ``"local"`` or a Dask client."""
    if client == "local" or (hasattr(client, "map") and hasattr(client, "compute")):
        return
    raise InputError(f"client = {client!r}, must be None, 'local' or a dask.distributed.Client")


def _chunk_paths(chunk_paths: int | None, executors: list[str]) -> int | None:
    """Paths per kernel call (default :data:`DEFAULT_CHUNK_PATHS`); on Dask or into a
    store, per task or chunk: a multiple of the block (``None``: chosen when it runs, for
    the cluster)."""
    if not executors:
        return DEFAULT_CHUNK_PATHS if chunk_paths is None else chunk_paths
    if chunk_paths is not None and chunk_paths % BLOCK_PATHS:
        where = "with a Dask client" if "dask" in executors else "for a Zarr store"
        raise InputError(
            f"chunk_paths = {chunk_paths}, must be a multiple of {BLOCK_PATHS} (the block "
            f"size) {where}"
        )
    return chunk_paths


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
        inside = np.isfinite(column) & belief.valid.contains(column)
        if not inside.all():
            bad = column[~inside][0]
            raise InputError(
                f"parameter_values[:, {j}] ({belief.key}) holds {bad!r}, must be in {belief.valid}"
            )
    return values
