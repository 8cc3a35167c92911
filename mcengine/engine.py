"""The engine: chunks of paths through the kernel, threads, progress, and overflow refusal.

:func:`simulate` is the library's main entry point. It splits the path index space into
chunks (for progress and interruptibility), runs the parallel kernel on each, and wraps the
arrays in an :class:`xarray.Dataset` (:mod:`mcengine.dataset`).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import xarray as xr

from mcengine.coefficients import build_coefficients, spend_ratio_schedule, stress_schedule
from mcengine.dataset import PathArrays, run_attributes, to_dataset
from mcengine.errors import InputError, ScenarioError
from mcengine.estimates import mean_standard_error
from mcengine.fan import FanAccumulator
from mcengine.fan import attach as attach_fan
from mcengine.jit import is_cached
from mcengine.kernel import (
    FLAG_CAPEX_OVERFLOW,
    FLAG_DEMAND_OVERFLOW,
    FLAG_WEALTH_OVERFLOW,
    INPUTS,
    simulate_paths,
)
from mcengine.parameters import SEGMENTS
from mcengine.samplers import DEFAULT_REPLICATES, check_sampler, draw_dimension, sobol_draws
from mcengine.scenario import Scenario, load_scenario
from mcengine.streams import MAX_SEED, fresh_seed, key_from_seed
from mcengine.summary import SummaryAccumulator

__all__ = [
    "simulate",
    "StoppingRule",
    "needs_compile",
    "DEFAULT_CHUNK_PATHS",
    "MAX_PATHS",
]

#: Paths per kernel call; only progress reporting and peak memory depend on it.
DEFAULT_CHUNK_PATHS = 1 << 16
#: The path index is 64-bit in the streams; this bound keeps output sizes sane.
MAX_PATHS = 1 << 40
_NO_DRAWS = np.empty((0, 0))
_NO_INPUTS = np.empty((0, 11))

_OVERFLOW_CAUSES = {
    FLAG_CAPEX_OVERFLOW: "inference capex overflowed (demand outran capacity by more than "
    "float64 can hold; lower inference.capex_accelerator or raise inference.capacity_initial)",
    FLAG_DEMAND_OVERFLOW: "demand at the horizon overflowed (lower demand growth or jumps, or "
    "shorten simulation.horizon_years)",
    **{
        FLAG_WEALTH_OVERFLOW << s: f"{segment} total_return overflowed (wealth grew by more "
        "than 1e308; check the scenario's growth and valuation parameters)"
        for s, segment in enumerate(SEGMENTS)
    },
}

ProgressCallback = Callable[[int, int], None]


def needs_compile() -> bool:
    """Whether the next :func:`simulate` in this process compiles the kernel (tens of s)."""
    return not simulate_paths.signatures and not is_cached(simulate_paths)


def check_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ScenarioError(f"{name} = {value!r}, must be an integer in [{lo}, {hi}]")
    if not lo <= int(value) <= hi:
        raise ScenarioError(f"{name} = {value}, must be in [{lo}, {hi}]")
    return int(value)


def simulate(
    scenario: Scenario | str,
    n_paths: int = 1_000_000,
    seed: int | None = None,
    *,
    keep_paths: bool = True,
    target_se: float | None = None,
    rel_tol: float | None = None,
    stop_statistic: str = "mean",
    max_paths: int | None = None,
    portfolio_weights=(1 / 3, 1 / 3, 1 / 3),
    fan_chart: bool = False,
    record_inputs: bool = False,
    sampler: str = "pseudo",
    replicates: int = DEFAULT_REPLICATES,
    draws: np.ndarray | None = None,
    chunk_paths: int | None = None,
    threads: int | None = None,
    progress: ProgressCallback | None = None,
    client=None,
) -> xr.Dataset:
    """Simulate ``n_paths`` paths of ``scenario`` (or until an accuracy target is met).

    Parameters
    ----------
    scenario : Scenario or str
        A scenario, or a built-in name / TOML path passed to :func:`load_scenario`.
    n_paths : int, default 1_000_000
        Number of paths, in ``[1, 2**40]``. With a target, the first batch.
    seed : int, optional
        In ``[0, 2**63 - 1]``. ``None`` draws one from the operating system and records it
        in ``attrs["seed"]``, so the run can be repeated.
    keep_paths : bool, default True
        ``True`` returns every path (memory grows with the path count). ``False`` streams the
        paths into a summary and returns it (as :func:`mcengine.summarize` would), in memory
        that does not grow with the path count; its quantile-based figures are within
        ``attrs["quantile_error_bound"]`` (normally 1e-6) of the exact ones.
    target_se : float, optional
        Stop once the standard error of ``stop_statistic`` is at most this, in every segment.
    rel_tol : float, optional
        Stop once that standard error is at most ``rel_tol`` times the statistic's absolute
        value, in every segment. With both targets, both must hold.
    stop_statistic : str, default ``"mean"``
        The statistic the targets apply to (a name of :data:`mcengine.summary.STATISTICS`).
    max_paths : int, optional
        With a target: stop here even if it is not met (``attrs["stopping"]`` says which).
        Default ``100 * n_paths``, at most ``2**40``, and with ``keep_paths`` at most what
        fits in half of this machine's memory.
    portfolio_weights : sequence of 3 floats, default equal
        Weights of the segments in the summary's buy-and-hold portfolio (summary-only runs;
        for full runs pass them to :func:`mcengine.summarize`).
    fan_chart : bool, default False
        Add per-year quantile bands of wealth and drivers (``fan_wealth``, ``fan_drivers``;
        see :mod:`mcengine.fan`), computed in the same pass without storing paths x years.
    record_inputs : bool, default False
        Add ``inputs (path, input)``: each path's uncertain inputs (the per-path draws and
        the standardised sums of each shock group; :data:`mcengine.kernel.INPUTS`), for
        :func:`mcengine.sensitivity.tornado`. Needs ``keep_paths`` and no target.
    sampler : {"pseudo", "antithetic", "sobol"}, default "pseudo"
        Where the random inputs come from (:mod:`mcengine.samplers`). ``antithetic`` and
        ``sobol`` need ``keep_paths=True`` and no target; their standard errors come from
        ``replicates`` groups of paths. ``sobol`` results depend on ``n_paths`` (no prefix
        property); both are reproducible for the same arguments.
    replicates : int, default 16
        Replicate groups for ``antithetic``/``sobol``; ``n_paths`` must divide into them.
    draws : ndarray, optional
        Every path's random inputs, ``(n_paths, 3 + 8 N)`` in the layout of
        :func:`mcengine.samplers.sobol_draws`, instead of the streams (for designed
        experiments such as :func:`mcengine.sensitivity.sobol_indices`).
    chunk_paths : int, optional
        Paths per kernel call (default 65536); with a target, the block added each time.
        With a client, paths per Dask task: a multiple of
        :data:`~mcengine.blocks.BLOCK_PATHS` (default: see
        :func:`mcengine.cluster.default_chunk_paths`). Results do not depend on it, except
        that a target is checked at block ends.
    threads : int, optional
        Numba threads for this call (default: Numba's setting; with a client, 1 per task).
        Results do not depend on it.
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk (``total`` is ``max_paths``
        when a target is set).
    client : None, "local" or dask.distributed.Client
        Run on Dask (:mod:`mcengine.cluster`; pseudo sampler, no target): one task per
        chunk, a pure function of (scenario, seed, chunk), so lost tasks are recomputed
        and the bits do not change. ``"local"`` starts a :class:`~distributed.LocalCluster`
        (a process per core, 1 thread each) for this call and returns in-memory results.
        With a :class:`~distributed.Client`, kept paths come back as a dask-backed Dataset
        chunked along ``path``: nothing is computed or pulled until asked for (it
        computes on the default Dask scheduler, normally that client).

    Returns
    -------
    xarray.Dataset
        With ``keep_paths``: dimensions ``path`` and ``segment``, variables and attributes
        as in MODEL.md "Outputs". Without: the summary, dims ``(segment, statistic)``. A run
        stopped by a target equals a fixed run of the path count it reports.

    Raises
    ------
    ScenarioError
        For an invalid argument.
    ValueError
        If a quantity of the scenario overflows float64; the message names the cause.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    n_paths = check_int("n_paths", n_paths, 1, MAX_PATHS)
    if chunk_paths is not None:
        chunk_paths = check_int("chunk_paths", chunk_paths, 1, MAX_PATHS)
    seed = fresh_seed() if seed is None else check_int("seed", seed, 0, MAX_SEED)
    if client is not None:
        from mcengine import cluster

        unsupported = {
            "target_se": target_se is not None,
            "rel_tol": rel_tol is not None,
            "record_inputs": record_inputs,
            "draws": draws is not None,
            f"sampler = {sampler!r}": sampler != "pseudo",
            "fan_chart with keep_paths": fan_chart and keep_paths,
        }
        refused = [name for name, used in unsupported.items() if used]
        if refused:
            raise ScenarioError(
                f"client: {', '.join(refused)} cannot run on Dask; run without a client, or "
                "use the pseudo sampler, a fixed path count and (for fan charts) "
                "keep_paths=False"
            )
        return cluster.simulate(
            scenario,
            n_paths,
            seed,
            client=client,
            keep_paths=keep_paths,
            chunk_paths=chunk_paths,
            portfolio_weights=portfolio_weights,
            fan_chart=fan_chart,
            threads=threads,
            progress=progress,
        )
    chunk_paths = DEFAULT_CHUNK_PATHS if chunk_paths is None else chunk_paths
    stopping = None
    if target_se is not None or rel_tol is not None:
        stopping = StoppingRule(target_se, rel_tol, stop_statistic)
        if max_paths is None:  # 100 x the first batch, and for kept paths what fits in memory
            fits = _paths_that_fit() if keep_paths else None
            max_paths = max(n_paths, min(100 * n_paths, MAX_PATHS, fits or MAX_PATHS))
        max_paths = check_int("max_paths", max_paths, n_paths, MAX_PATHS)
    check_sampler(sampler, n_paths, replicates)
    if draws is not None and (
        draws.shape != (n_paths, draw_dimension(scenario.n_steps))
        or sampler != "pseudo"
        or stopping is not None
    ):
        raise ScenarioError(
            f"draws must have shape ({n_paths}, {draw_dimension(scenario.n_steps)}), with the "
            "pseudo sampler and no target"
        )
    if sampler != "pseudo" and (stopping is not None or not keep_paths):
        raise ScenarioError(
            f"sampler = {sampler!r} needs keep_paths=True and no target_se/rel_tol: its "
            "standard errors come from replicate groups of the kept paths"
        )
    if keep_paths:
        # With a target, only the first batch must fit now; later batches are checked as
        # the run grows (a target is often met long before max_paths).
        check_memory(n_paths)
    group = n_paths // replicates if sampler != "pseudo" else n_paths
    limit = n_paths if stopping is None else max_paths
    kernel = KernelInputs.build(scenario, seed, antithetic=sampler == "antithetic")
    horizon = scenario.simulation.horizon_years
    summary = None
    if stopping or not keep_paths:
        summary = SummaryAccumulator(horizon, portfolio_weights)
    # Where each chunk's paths go: one array for a fixed run, a list of blocks when the
    # count is open, one reused buffer when only the summary is kept.
    out = PathArrays.empty(n_paths) if keep_paths and stopping is None else None
    blocks: list[PathArrays] = []
    buffer = None if keep_paths else PathArrays.empty(min(chunk_paths, limit))
    overflow = OverflowTally()
    years = horizon if fan_chart else 0
    yearly = np.empty((min(chunk_paths, limit), years, 6))
    fan = FanAccumulator(years) if fan_chart else None
    if record_inputs and not (keep_paths and stopping is None):
        raise ScenarioError("record_inputs=True needs keep_paths=True and no target")
    inputs = np.empty((n_paths, len(INPUTS))) if record_inputs else None

    started = time.perf_counter()
    done = 0
    with numba_threads(threads):
        while done < limit:
            # A chunk never straddles a replicate group (Sobol draws are per group).
            stop = min(done + chunk_paths, limit, (done // group + 1) * group)
            if done < n_paths:  # with a target, -n is the first batch
                stop = min(stop, n_paths)
            if out is not None:
                part = out.slice(done, stop)
            elif buffer is not None:
                part = buffer.slice(0, stop - done)
            else:
                check_memory(stop, reached=done or None)
                part = PathArrays.empty(stop - done)
                blocks.append(part)
            block_yearly = yearly[: stop - done]
            external = _NO_DRAWS
            if draws is not None:
                external = draws[done:stop]
            elif sampler == "sobol":
                external = sobol_draws(
                    seed, done // group, scenario.n_steps, done % group, stop - done
                )
            block_inputs = inputs[done:stop] if inputs is not None else _NO_INPUTS
            kernel.run(done, part, block_yearly, external, block_inputs)
            overflow.add(part.flags, done)
            if fan is not None:
                fan.add(block_yearly)
            if summary is not None:
                summary.add(part, done)
            done = stop
            if progress is not None:
                progress(done, limit)
            if stopping is not None and done >= n_paths and stopping.met(summary):
                break
    elapsed = time.perf_counter() - started
    overflow.refuse(scenario, done)
    attrs = run_attributes(scenario, seed=seed, n_paths=done, sampler=sampler, elapsed=elapsed)
    if sampler != "pseudo":
        attrs["replicates"] = np.int64(replicates)
    if stopping is not None:
        attrs.update(stopping.describe(met=done < limit or stopping.met(summary, force=True)))
    if not keep_paths:
        result = summary.result(attrs)
    else:
        result = to_dataset(out if out is not None else PathArrays.concatenate(blocks), attrs)
        if inputs is not None:
            result = result.assign_coords(input=list(INPUTS)).assign(
                inputs=(("path", "input"), inputs)
            )
    return result if fan is None else attach_fan(result, fan)


@dataclass(frozen=True)
class KernelInputs:
    """What the kernel needs of a scenario and a seed, built once per run."""

    coefficients: np.ndarray
    spend: np.ndarray
    stress: np.ndarray
    key0: int
    key1: int

    @classmethod
    def build(cls, scenario: Scenario, seed: int, *, antithetic: bool = False) -> KernelInputs:
        return cls(
            build_coefficients(scenario, antithetic=antithetic),
            spend_ratio_schedule(scenario),
            stress_schedule(scenario),
            *key_from_seed(seed),
        )

    def run(
        self,
        first_path: int,
        part: PathArrays,
        yearly: np.ndarray,
        external: np.ndarray = _NO_DRAWS,
        inputs: np.ndarray = _NO_INPUTS,
    ) -> None:
        """Simulate paths ``first_path ..`` into ``part`` (and ``yearly``, if it has years)."""
        simulate_paths(
            self.coefficients,
            self.spend,
            self.stress,
            self.key0,
            self.key1,
            first_path,
            *part.kernel_outputs(),
            yearly,
            external,
            inputs,
        )


@contextlib.contextmanager
def numba_threads(threads: int | None):
    """Run with ``threads`` Numba threads (``None``: Numba's setting), then restore it."""
    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(check_int("threads", threads, 1, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _paths_that_fit() -> int | None:
    """Kept paths that fit in half of this machine's memory (None if unknown)."""
    have = _physical_memory()
    return None if have is None else have // 2 // PathArrays.bytes_per_path()


def check_memory(n_paths: int, *, reached: int | None = None) -> None:
    """Refuse to keep ``n_paths`` paths if they cannot fit in this machine's memory.

    ``reached`` is how many paths a run with a target has already kept (``None``: the run
    has not started). Such a run keeps its paths in blocks and joins them at the end, a
    copy, so it may keep only half of memory.
    """
    need = n_paths * PathArrays.bytes_per_path()
    have = _physical_memory()
    if have is not None and reached is not None:
        have //= 2
    if have is None or need <= have:
        return
    size = (
        f"{need / 2**30:.1f} GiB of per-path results, more than this machine's "
        f"{have / 2**30:.1f} GiB of memory; use keep_paths=False, write the paths to a Zarr "
        "store (write_zarr), or "
    )
    if reached is None:
        raise InputError(f"n_paths = {n_paths} keeps {size}fewer paths")
    raise InputError(
        f"the target was not met after {reached:,} paths, and keeping {n_paths:,} takes "
        f"{size}a lower max_paths"
    )


class StoppingRule:
    """When a run has enough paths: the standard error of one statistic, in every segment,
    is at most ``target_se`` and/or ``rel_tol`` times the statistic's size.

    Checks of the mean read the running moments (cheap, every block); other statistics need
    the order statistics, so they are checked each time the path count grows by a quarter.
    """

    def __init__(self, target_se: float | None, rel_tol: float | None, statistic: str):
        from mcengine.summary import STATISTICS

        if target_se is not None and not (
            isinstance(target_se, int | float) and 0 < target_se < math.inf
        ):
            raise ScenarioError(f"target_se = {target_se!r}, must be a number in (0, inf)")
        if rel_tol is not None and not (isinstance(rel_tol, int | float) and 0 < rel_tol <= 1):
            raise ScenarioError(f"rel_tol = {rel_tol!r}, must be a number in (0, 1]")
        if statistic not in STATISTICS:
            raise ScenarioError(
                f"stop_statistic = {statistic!r}, must be one of {', '.join(STATISTICS)}"
            )
        self.target_se, self.rel_tol, self.statistic = target_se, rel_tol, statistic
        self._last_check = 0

    def met(self, summary: SummaryAccumulator, *, force: bool = False) -> bool:
        if self.statistic == "mean":
            moments = summary.annual_moments()
            values = np.array([m.mean for m in moments])
            # Undefined (NaN, under two paths) never meets a target.
            errors = np.array([mean_standard_error(m.m2, m.n) for m in moments])
        else:
            if not force and summary.n < 1.25 * self._last_check:
                return False
            self._last_check = summary.n
            table = summary.result().sel(statistic=self.statistic)
            values, errors = table["estimate"].values, table["standard_error"].values
        ok = np.ones(values.shape, dtype=bool)
        if self.target_se is not None:
            ok &= errors <= self.target_se
        if self.rel_tol is not None:
            ok &= errors <= self.rel_tol * np.abs(values)
        return bool(ok.all())

    def describe(self, *, met: bool) -> dict:
        out = {
            "stop_statistic": self.statistic,
            "stopping": "target met" if met else "max_paths reached before the target",
        }
        if self.target_se is not None:
            out["target_se"] = float(self.target_se)
        if self.rel_tol is not None:
            out["rel_tol"] = float(self.rel_tol)
        return out


class OverflowTally:
    """Paths whose flags say a quantity left float64's range, over all chunks."""

    def __init__(self) -> None:
        self.count = 0
        self.first_path = -1
        self.first_flags = 0

    def add(self, flags: np.ndarray, offset: int) -> None:
        bad = np.flatnonzero(flags)
        if bad.size and (self.count == 0 or offset + int(bad[0]) < self.first_path):
            self.first_path = offset + int(bad[0])
            self.first_flags = int(flags[bad[0]])
        self.count += bad.size

    def merge(self, other: OverflowTally) -> OverflowTally:
        """The tally of both (the first bad path is the lower one, whatever the order)."""
        first = min((t for t in (self, other) if t.count), key=lambda t: t.first_path, default=self)
        out = OverflowTally()
        out.count = self.count + other.count
        out.first_path, out.first_flags = first.first_path, first.first_flags
        return out

    def refuse(self, scenario: Scenario, n_paths: int) -> None:
        if self.count == 0:
            return
        causes = [text for bit, text in _OVERFLOW_CAUSES.items() if self.first_flags & bit]
        raise ValueError(
            f"scenario '{scenario.name}' overflows float64 on {self.count} of {n_paths} paths "
            f"(first: path {self.first_path}): {'; '.join(causes)}"
        )
