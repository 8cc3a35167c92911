"""The engine: chunks of paths through the kernel, threads, progress, and overflow refusal.

:func:`simulate` is the library's main entry point. It splits the path index space into
chunks (for progress and interruptibility), runs the parallel kernel on each, and wraps the
arrays in an :class:`xarray.Dataset` (:mod:`mcengine.results.dataset`).
"""

from __future__ import annotations

import time

import numpy as np
import xarray as xr

from mcengine.checks import check_int
from mcengine.engine import dask as cluster
from mcengine.engine.chunks import (
    _NO_DRAWS,
    _NO_INPUTS,
    DEFAULT_CHUNK_PATHS,
    MAX_PATHS,
    KernelInputs,
    OverflowTally,
    ProgressCallback,
    _paths_that_fit,
    check_memory,
    needs_compile,
    numba_threads,
)
from mcengine.engine.stopping import StoppingRule
from mcengine.errors import ScenarioError
from mcengine.kernel.paths import INPUTS
from mcengine.model.scenario import Scenario, load_scenario
from mcengine.results.dataset import PathArrays, run_attributes, to_dataset
from mcengine.rng.samplers import DEFAULT_REPLICATES, check_sampler, draw_dimension, sobol_draws
from mcengine.rng.streams import MAX_SEED, fresh_seed
from mcengine.stats.fan import FanAccumulator
from mcengine.stats.fan import attach as attach_fan
from mcengine.stats.summary import SummaryAccumulator

__all__ = ["simulate", "StoppingRule", "needs_compile", "DEFAULT_CHUNK_PATHS", "MAX_PATHS"]


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
        The statistic the targets apply to (a name of :data:`mcengine.stats.summary.STATISTICS`).
    max_paths : int, optional
        With a target: stop here even if it is not met (``attrs["stopping"]`` says which).
        Default ``100 * n_paths``, at most ``2**40``, and with ``keep_paths`` at most what
        fits in half of this machine's memory.
    portfolio_weights : sequence of 3 floats, default equal
        Weights of the segments in the summary's buy-and-hold portfolio (summary-only runs;
        for full runs pass them to :func:`mcengine.summarize`).
    fan_chart : bool, default False
        Add per-year quantile bands of wealth and drivers (``fan_wealth``, ``fan_drivers``;
        see :mod:`mcengine.stats.fan`), computed in the same pass without storing paths x years.
    record_inputs : bool, default False
        Add ``inputs (path, input)``: each path's uncertain inputs (the per-path draws and
        the standardised sums of each shock group; :data:`mcengine.kernel.paths.INPUTS`), for
        :func:`mcengine.studies.sensitivity.tornado`. Needs ``keep_paths`` and no target.
    sampler : {"pseudo", "antithetic", "sobol"}, default "pseudo"
        Where the random inputs come from (:mod:`mcengine.rng.samplers`). ``antithetic`` and
        ``sobol`` need ``keep_paths=True`` and no target; their standard errors come from
        ``replicates`` groups of paths. ``sobol`` results depend on ``n_paths`` (no prefix
        property); both are reproducible for the same arguments.
    replicates : int, default 16
        Replicate groups for ``antithetic``/``sobol``; ``n_paths`` must divide into them.
    draws : ndarray, optional
        Every path's random inputs, ``(n_paths, 3 + 8 N)`` in the layout of
        :func:`mcengine.rng.samplers.sobol_draws`, instead of the streams (for designed
        experiments such as :func:`mcengine.studies.sensitivity.sobol_indices`).
    chunk_paths : int, optional
        Paths per kernel call (default 65536); with a target, the block added each time.
        With a client, paths per Dask task: a multiple of
        :data:`~mcengine.stats.blocks.BLOCK_PATHS` (default: see
        :func:`mcengine.engine.dask.default_chunk_paths`). Results do not depend on it, except
        that a target is checked at block ends.
    threads : int, optional
        Numba threads for this call (default: Numba's setting; with a client, 1 per task).
        Results do not depend on it.
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk (``total`` is ``max_paths``
        when a target is set).
    client : None, "local" or dask.distributed.Client
        Run on Dask (:mod:`mcengine.engine.dask`; pseudo sampler, no target): one task per
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
