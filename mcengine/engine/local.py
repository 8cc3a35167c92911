"""The library's main entry point and the in-process executor.

:func:`simulate` builds a :class:`~mcengine.engine.plan.RunPlan` (every argument checked
there) and runs it: on Dask (:mod:`mcengine.engine.dask`) with a client, else here with
:func:`run_local`, which loops over the plan's chunks (for progress, stopping and
interruptibility) through :func:`~mcengine.engine.primitive.run_range` and wraps the arrays
in an :class:`xarray.Dataset` (:mod:`mcengine.results.dataset`).
"""

from __future__ import annotations

import time

import numpy as np
import xarray as xr

from mcengine.engine import dask as cluster
from mcengine.engine.chunks import (
    MAX_PATHS,
    ProgressCallback,
    check_memory,
    numba_threads,
)
from mcengine.engine.plan import RunPlan
from mcengine.engine.primitive import Partial, run_range
from mcengine.engine.stopping import StoppingRule
from mcengine.kernel.paths import INPUTS
from mcengine.model.scenario import Scenario
from mcengine.results.dataset import attach_years, run_attributes, to_dataset
from mcengine.rng.samplers import DEFAULT_REPLICATES
from mcengine.stats.fan import attach as attach_fan

__all__ = ["simulate", "run_local", "warm_up", "RunPlan", "StoppingRule", "MAX_PATHS"]


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
    record_years: bool = False,
    sampler: str = "pseudo",
    replicates: int = DEFAULT_REPLICATES,
    draws: np.ndarray | None = None,
    parameter_values: np.ndarray | None = None,
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
        Number of paths, in ``[1, 2**40]`` (an integral float such as ``1e6`` counts). With a
        target, the first batch.
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
        fits in half of this machine's memory. Refused without a target, as is a
        ``stop_statistic`` other than the mean: neither would act.
    portfolio_weights : sequence or array of 3 floats, default equal
        Weights of the segments in the summary's buy-and-hold portfolio (summary-only runs;
        for full runs pass them to :func:`mcengine.summarize`).
    fan_chart : bool, default False
        Add per-year quantile bands of wealth and drivers (``fan_wealth``, ``fan_drivers``;
        see :mod:`mcengine.stats.fan`), computed in the same pass without storing paths x years.
    record_inputs : bool, default False
        Add ``inputs (path, input)``: each path's uncertain inputs (the per-path draws and
        the standardised sums of each shock group; :data:`mcengine.kernel.paths.INPUTS`), for
        :func:`mcengine.studies.sensitivity.tornado`. Needs ``keep_paths`` and no target.
    record_years : bool, default False
        Add ``yearly (path, year_end, quantity)``: each path's record at each year end, year
        0 to the horizon (wealth, the drivers, the token price relative to year 0, serving
        cost, capex, capacity, utilisation and each segment's revenue;
        :data:`mcengine.layout.OBSERVABLES`). Needs ``keep_paths`` and no target; takes
        ``8 x 14 x (years + 1)`` bytes a path.
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
    parameter_values : ndarray, optional
        With ``draws`` (so not with a client): every path's values of the scenario's
        uncertain keys, ``(n_paths, beliefs)`` in ``scenario.beliefs`` order, instead of
        their stream (needed with ``draws`` when the scenario has uncertain keys; see
        :func:`mcengine.kernel.beliefs.values_at`).
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
        For an invalid scenario (file, name or value).
    InputError
        For an invalid argument or combination of arguments (the base of ScenarioError).
    ValueError
        If a quantity of the scenario overflows float64; the message names the cause.
    """
    plan = RunPlan.build(
        scenario,
        n_paths,
        seed,
        keep_paths=keep_paths,
        target_se=target_se,
        rel_tol=rel_tol,
        stop_statistic=stop_statistic,
        max_paths=max_paths,
        portfolio_weights=portfolio_weights,
        fan_chart=fan_chart,
        record_inputs=record_inputs,
        record_years=record_years,
        sampler=sampler,
        replicates=replicates,
        draws=draws,
        parameter_values=parameter_values,
        chunk_paths=chunk_paths,
        threads=threads,
        client=client,
    )
    if plan.client is not None:
        return cluster.simulate(plan, progress)
    return run_local(plan, progress)


def run_local(plan: RunPlan, progress: ProgressCallback | None = None) -> xr.Dataset:
    """Run ``plan`` in this process: chunk by chunk on Numba's threads, until its path count
    (or, with a target, until the target is met or ``plan.limit``)."""
    scenario, n_paths, stopping = plan.scenario, plan.n_paths, plan.stopping
    keep_paths, limit = plan.keep_paths, plan.limit
    if keep_paths:
        # With a target, only the first batch must fit now; later batches are checked as
        # the run grows (a target is often met long before max_paths).
        check_memory(n_paths)
    # The sinks: a summary when only the summary is kept or a target is checked; the kept
    # paths, in one allocation for a fixed run and a block per chunk when the count is open.
    partial = Partial.empty(plan, summary=stopping is not None or not keep_paths, keep=keep_paths)
    summary = partial.summary
    if keep_paths and stopping is None:
        partial.paths.allocate(0, n_paths)

    started = time.perf_counter()
    done = 0
    with numba_threads(plan.threads):
        for start, stop in plan.ranges():
            if keep_paths and stopping is not None:
                check_memory(stop, reached=start or None)
            run_range(plan, start, stop, partial)
            done = stop
            if progress is not None:
                progress(done, limit)
            if stopping is not None and done >= n_paths and stopping.met(summary):
                break
    elapsed = time.perf_counter() - started
    partial.overflow.refuse(scenario, done)
    attrs = run_attributes(
        scenario, seed=plan.seed, n_paths=done, sampler=plan.sampler, elapsed=elapsed
    )
    if plan.sampler != "pseudo":
        attrs["replicates"] = np.int64(plan.replicates)
    if stopping is not None:
        attrs.update(stopping.describe(met=done < limit or stopping.met(summary, force=True)))
    if not keep_paths:
        result = summary.result(attrs)
    else:
        paths, inputs, parameters, years = partial.paths.result()
        result = to_dataset(paths, attrs)
        # CF 1.8: a long_name each, and units where one applies (keys' values mix units).
        if inputs is not None:
            result = result.assign_coords(input=list(INPUTS)).assign(
                inputs=(("path", "input"), inputs)
            )
            result["inputs"].attrs.update(
                long_name="each path's random inputs: its own draws, then each shock "
                "group's standardised sum over the steps",
                units="1",
            )
            result["input"].attrs["long_name"] = "random input"
        if parameters is not None:
            result = result.assign_coords(parameter=[b.key for b in scenario.beliefs]).assign(
                parameters=(("path", "parameter"), parameters)
            )
            result["parameters"].attrs.update(
                long_name="each path's values of the scenario's uncertain keys"
            )
            result["parameter"].attrs["long_name"] = "uncertain scenario key (section.key)"
        if years is not None:
            result = attach_years(result, years)
    return result if partial.fan is None else attach_fan(result, partial.fan)


#: The runs that compile every kernel a command can need: the simulation kernel (its two
#: kinds: shared coefficients, and per-path ones under uncertain keys), the draws of
#: uncertain keys, the samplers, the streamed summary's histograms, fan charts and the
#: exact summary's moments.
_WARM_UP_RUNS = (
    ("base", {"fan_chart": True, "record_inputs": True, "record_years": True}),
    ("base", {"keep_paths": False}),
    ("base", {"sampler": "antithetic"}),
    ("base", {"sampler": "sobol"}),
    ("beliefs", {}),
)


def warm_up() -> float:
    """Compile (or load from Numba's cache) every kernel the engine and its summaries use,
    with small runs (:data:`_WARM_UP_RUNS`), and return the seconds it took. For images and
    CI jobs that would rather pay the compile once, up front (``mcengine warmup``); a first
    run does not need it, since each kernel compiles when first asked for."""
    from mcengine.stats.summary import summarize

    started = time.perf_counter()
    for scenario, options in _WARM_UP_RUNS:
        summarize(simulate(scenario, 1024, seed=1, **options))  # (fits every sampler)
    return time.perf_counter() - started
