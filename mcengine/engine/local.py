"""The in-process executor: :func:`run_local` loops over a plan's chunks (for progress,
stopping and interruptibility) through :func:`~mcengine.engine.chunk.run_range` and
wraps the arrays in an :class:`xarray.Dataset` (:mod:`mcengine.results.dataset`).
"""

from __future__ import annotations

import time

import numpy as np
import xarray as xr

from mcengine.engine.chunk import Partial, run_range
from mcengine.engine.inputs import ProgressCallback, check_memory, numba_threads
from mcengine.engine.plan import RunPlan
from mcengine.results.dataset import (
    attach_inputs,
    attach_parameters,
    attach_years,
    run_attributes,
    to_dataset,
)
from mcengine.stats.fan import attach as attach_fan

__all__ = ["run_local"]


def run_local(plan: RunPlan, progress: ProgressCallback | None = None) -> xr.Dataset:
    """Run ``plan`` in this process: chunk by chunk on Numba's threads, until its path count
    (or, with a target, until the target is met or ``plan.limit``)."""
    scenario, n_paths, stopping = plan.scenario, plan.n_paths, plan.stopping
    settings = plan.settings
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
    done, timed_out = 0, False
    check = None if stopping is None else stopping.check()  # this run's, not the plan's
    with numba_threads(settings.threads):
        for start, stop in plan.ranges():
            if keep_paths and stopping is not None:
                check_memory(stop, reached=start or None)
            run_range(plan, start, stop, partial)
            done = stop
            if progress is not None:
                progress(done, limit)
            if check is not None and done >= n_paths:
                if check.met(summary):
                    break
                # A time limit only decides how many paths: the result still equals a
                # fixed run of the paths it reports.
                seconds = time.perf_counter() - started
                if settings.max_seconds is not None and seconds >= settings.max_seconds:
                    timed_out = True
                    break
    elapsed = time.perf_counter() - started
    partial.overflow.refuse(scenario, done)
    attrs = run_attributes(
        scenario, seed=plan.seed, n_paths=done, sampler=plan.sampler, elapsed=elapsed
    )
    if plan.sampler != "pseudo":
        attrs["replicates"] = np.int64(settings.replicates)
    if check is not None:
        met = (done < limit and not timed_out) or check.met(summary, force=True)
        attrs.update(check.rule.describe(met=met))
        if not met and timed_out:
            attrs["stopping"] = f"target not met within the time limit ({settings.max_seconds:g} s)"
    if not keep_paths:
        result = summary.result(attrs)
    else:
        paths, inputs, parameters, years = partial.paths.result()
        result = to_dataset(paths, attrs)
        if inputs is not None:
            result = attach_inputs(result, inputs)
        if parameters is not None:
            result = attach_parameters(result, parameters, [b.key for b in scenario.beliefs])
        if years is not None:
            result = attach_years(result, years)
    return result if partial.fan is None else attach_fan(result, partial.fan)
