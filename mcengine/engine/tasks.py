"""Chunks as tasks: the path index space cut into chunks, each a pure function of (plan,
chunk), run in this process or as Dask tasks on a client and merged in the fixed block tree;
and the lazy Dataset of kept paths, one delayed task per chunk. The Dask executor
(:mod:`mcengine.engine.dask`) and the Zarr writer (:mod:`mcengine.engine.store`) both run
their chunks here.
"""

from __future__ import annotations

import math

from mcengine.engine.chunk import Partial, run_range
from mcengine.engine.inputs import ProgressCallback, numba_threads
from mcengine.engine.plan import RunPlan
from mcengine.extras import require
from mcengine.layout import BLOCK_PATHS
from mcengine.results.dataset import PathArrays, to_dataset

__all__ = [
    "TASK_PREFIX",
    "default_chunk_paths",
    "chunk_ranges",
    "chunk_paths_task",
    "summary_task",
    "plan_chunks",
    "run_chunks",
    "lazy_paths",
    "task_identity",
    "dask_module",
]


#: Every task that runs the kernel has a key starting with this.
TASK_PREFIX = "mcengine-chunk"


#: Merges per node of the tree reduction.
SPLIT_EVERY = 4


def default_chunk_paths(n_paths: int, workers: int, *, keep_paths: bool) -> int:
    """Paths per task: about 4 tasks per worker thread (for balance and retries), at most
    2**18 kept paths (about 70 MB of results) or 2**20 summarised ones, rounded up to
    whole blocks."""
    cap = (1 << 18) if keep_paths else (1 << 20)
    per_task = min(math.ceil(n_paths / (4 * max(workers, 1))), cap)
    return max(1, math.ceil(per_task / BLOCK_PATHS)) * BLOCK_PATHS


def chunk_ranges(n_paths: int, chunk_paths: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of each task's paths."""
    return [(a, min(a + chunk_paths, n_paths)) for a in range(0, n_paths, chunk_paths)]


# -- tasks: pure functions of (plan, chunk) ---------------------------------------------------
def chunk_paths_task(plan: RunPlan, start: int, stop: int) -> PathArrays:
    """Every path of ``[start, stop)``; refuses a float64 overflow like the local engine."""
    partial = Partial.empty(plan, summary=False, keep=True)
    with numba_threads(plan.settings.threads or 1):
        run_range(plan, start, stop, partial)
    partial.overflow.refuse(plan.scenario, stop - start)
    return partial.paths.result()[0]


def summary_task(plan: RunPlan, start: int, stop: int, paths: PathArrays | None = None) -> Partial:
    """The summary of paths ``[start, stop)``, streamed a block at a time (or of ``paths``,
    already simulated)."""
    partial = Partial.empty(plan, summary=True)
    if paths is not None:
        partial.add_paths(paths, start)
        return partial
    with numba_threads(plan.settings.threads or 1):
        return run_range(plan, start, stop, partial)


def _single(item) -> list:
    return [item]


def _merge_all(parts) -> Partial:
    parts = list(parts)
    total = parts[0]
    for part in parts[1:]:
        total = total.merge(part)
    return total


def plan_chunks(client, n_paths: int, chunk_paths: int | None, *, keep_paths: bool) -> int:
    """Paths per task: ``chunk_paths`` (checked by the plan), or the default for the
    client's worker threads (one thread without a client)."""
    if chunk_paths is None:
        workers = 1 if client is None else sum(client.nthreads().values())
        return default_chunk_paths(n_paths, workers, keep_paths=keep_paths)
    return chunk_paths


def run_chunks(
    client,
    task,
    plan: RunPlan,
    ranges: list[tuple[int, int]],
    *,
    name: str,
    progress: ProgressCallback | None,
    **kwargs,
) -> Partial:
    """``task(plan, start, stop, **kwargs)`` (which returns a :class:`Partial`) for each
    range, merged: in this process without a client, else as Dask tasks named
    ``mcengine-chunk-<name>-...`` whose results are tree-reduced on the workers.
    ``progress(done, total)`` follows the finished paths."""
    sizes = [stop - start for start, stop in ranges]
    total, done = sum(sizes), 0
    if client is None:
        merged = None
        for (start, stop), size in zip(ranges, sizes, strict=True):
            part = task(plan, start, stop, **kwargs)
            merged = part if merged is None else merged.merge(part)
            done += size
            if progress is not None:
                progress(done, total)
        return merged

    dask, db = dask_module("dask"), dask_module("dask.bag")
    as_completed = dask_module("distributed").as_completed
    token = dask.base.tokenize(name, task_identity(plan), ranges, kwargs)
    tasks = client.map(
        task,
        [plan] * len(ranges),
        [a for a, _ in ranges],
        [b for _, b in ranges],
        key=[f"{TASK_PREFIX}-{name}-{token}-{i}" for i in range(len(ranges))],
        **kwargs,
    )
    # A bag's partitions are lists: one Partial each.
    bag = db.from_delayed([dask.delayed(_single, pure=True)(t) for t in tasks])
    merged = client.compute(
        bag.reduction(_merge_all, _merge_all, split_every=SPLIT_EVERY, name="mcengine-merge")
    )
    size_of = dict(zip((t.key for t in tasks), sizes, strict=True))
    finished = as_completed(tasks)
    del tasks, bag  # let the scheduler free each chunk's summary once it is merged
    for future in finished:
        done += size_of[future.key]
        if progress is not None:
            progress(done, total)
        del future
    return merged.result()


# -- the two modes ------------------------------------------------------------------------------
def lazy_paths(plan: RunPlan, attrs):
    """The kept-path Dataset with dask arrays chunked along ``path`` (nothing computed)."""
    dask, da = dask_module("dask"), dask_module("dask.array")
    token = dask.base.tokenize(task_identity(plan))
    tasks = [
        (
            stop - start,
            dask.delayed(chunk_paths_task, pure=True)(
                plan, start, stop, dask_key_name=f"{TASK_PREFIX}-{token}-{i}"
            ),
        )
        for i, (start, stop) in enumerate(chunk_ranges(plan.n_paths, plan.chunk_paths))
    ]
    template = PathArrays.empty(0)
    arrays = {}
    for name, empty in template._asdict().items():
        arrays[name] = da.concatenate(
            [
                da.from_delayed(
                    dask.delayed(getattr, pure=True)(task, name),
                    shape=(size, *empty.shape[1:]),
                    dtype=empty.dtype,
                )
                for size, task in tasks
            ]
        )
    return to_dataset(PathArrays(**arrays), attrs)


def dask_module(module: str):
    """A module of Dask, which a client means (mcengine[dask]; ``write_zarr`` checks its own
    extra first)."""
    return require(module, extra="dask", what="client")


def task_identity(plan: RunPlan) -> tuple:
    """Everything a task's result depends on, for its Dask key: equal keys must mean equal
    results, or the scheduler would hand one run another's (the portfolio weights shape the
    summary; threads do not change a bit)."""
    return (
        plan.scenario.to_toml(),
        plan.seed,
        plan.n_paths,
        plan.chunk_paths,
        plan.keep_paths,
        plan.settings.fan_chart,
        tuple(float(w) for w in plan.settings.portfolio_weights),
    )
