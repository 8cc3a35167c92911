"""Running :func:`mcengine.simulate` on Dask (``client=``): the same bits on a cluster.

The path index space is cut into chunks of ``chunk_paths`` paths, a multiple of the block
(:data:`~mcengine.stats.blocks.BLOCK_PATHS`). Each chunk is one Dask task, a pure function
of (plan, chunk) that calls :func:`~mcengine.engine.primitive.run_range`, as the local
engine does: its random numbers come from the Philox streams of its own path indices, so a
task can run anywhere, any number of times, and give the same bytes. That is the whole
fault-tolerance story: when a worker dies, Dask's scheduler reruns the tasks whose results
it held (``distributed.scheduler.allowed-failures`` times at most), and the result does not
change (``tests/test_dask.py`` kills a worker mid-run).

* Kept paths: one delayed task per chunk; the variables are dask arrays chunked along
  ``path`` (:func:`lazy_paths`). Nothing runs until they are computed or written
  (``ds.to_zarr``), and then each task runs once per compute.
* Summary only: each task streams its chunk into a
  :class:`~mcengine.engine.primitive.Partial` (summary, fan-chart histograms, overflow
  tally) and returns that; a Dask bag tree reduction merges them on the workers. Counts add
  exactly and moments merge in the fixed block tree, so any worker count, chunk size and
  completion order gives the local engine's bits.

Numba and Dask threads: a task sets its Numba thread count to ``threads`` (default 1), so a
worker with ``nthreads`` task threads uses ``nthreads x threads`` cores. Use one single-
threaded process per core (``LocalCluster(processes=True, threads_per_worker=1)``, what
``client="local"`` and ``mcengine run --workers`` start), or give ``threads`` the cores of a
worker that runs one task at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import threading
import time
from collections.abc import Iterator

import numpy as np
import xarray as xr

from mcengine.checks import check_int
from mcengine.engine.chunks import (
    MAX_PATHS,
    ProgressCallback,
    check_memory,
    numba_threads,
)
from mcengine.engine.plan import RunPlan
from mcengine.engine.primitive import Partial, run_range
from mcengine.errors import InputError
from mcengine.extras import require
from mcengine.results.dataset import PathArrays, run_attributes, to_dataset
from mcengine.stats.blocks import BLOCK_PATHS
from mcengine.stats.fan import attach as attach_fan

__all__ = [
    "simulate",
    "map_on",
    "run_chunks",
    "using",
    "local_client",
    "default_chunk_paths",
    "chunk_ranges",
    "TASK_PREFIX",
]

#: Every task that runs the kernel has a key starting with this.
TASK_PREFIX = "mcengine-chunk"
#: Merges per node of the tree reduction.
SPLIT_EVERY = 4


@contextlib.contextmanager
def local_client(n_workers: int | None = None) -> Iterator:
    """A :class:`distributed.Client` on a new :class:`~distributed.LocalCluster` of
    ``n_workers`` processes (default: one per core) with 1 thread each, closed with the
    ``with`` block. Its dashboard takes a free port (``client.dashboard_link``), and only
    critical errors are logged."""
    import logging

    distributed = require("distributed", extra="dask", what='client="local"')
    _check_main_guard()
    # A terminal's Ctrl-C reaches the whole process group. The worker processes would each
    # print a page of tracebacks; started with SIGINT ignored (which a new Python keeps),
    # they leave the interrupt to this process, which closes the cluster.
    with _sigint_ignored():
        cluster = distributed.LocalCluster(
            n_workers=n_workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            # Workers whose scheduler has gone (after an interrupt) log heartbeat failures
            # at ERROR; task failures still reach the client as exceptions.
            silence_logs=logging.CRITICAL,
        )
    with cluster, distributed.Client(cluster) as client:
        yield client


def _check_main_guard() -> None:
    """Refuse, before any process starts, a local cluster that would start the caller's
    script again in every worker.

    Worker processes are spawned: each runs the main script from the top as
    ``__mp_main__`` (Python's multiprocessing rule), and a call that is not under
    ``if __name__ == "__main__":`` would start a cluster inside each worker as it boots,
    which fails with pages of tracebacks. Threads instead of processes would need Numba's
    parallel kernels to run from several threads at once, which its default threading
    layer does not allow, so this refuses with the fix.
    """
    script, line = _main_script_line()
    if script is not None and line is not None and not _guarded(script, line):
        raise InputError(
            f'client="local" starts worker processes that each run {os.path.basename(script)} '
            f"again from the top, and this call (line {line}) is not under `if __name__ == "
            '"__main__":`: put the script\'s work under that guard, or pass a '
            "dask.distributed.Client started there"
        )


def _main_script_line() -> tuple[str | None, int | None]:
    """The main script that spawned workers would run again, and the line of it running
    now (``None`` for a notebook, ``python -c``, ``python -m package`` (a
    ``__main__.py``), forked workers, or a call made after the script's top level)."""
    import sys

    import dask

    if dask.config.get("distributed.worker.multiprocessing-method", "spawn") == "fork":
        return None, None
    main = sys.modules.get("__main__")
    module = getattr(getattr(main, "__spec__", None), "name", None)
    script = getattr(main, "__file__", None)
    if module == "__main__" or (module or "").endswith(".__main__") or not script:
        return None, None
    if os.path.splitext(os.path.basename(script))[0] == "ipython":  # as multiprocessing
        return None, None
    line, frame = None, sys._getframe(1)
    while frame is not None:  # the outermost frame of the script's own top level
        code = frame.f_code
        if code.co_name == "<module>" and os.path.abspath(code.co_filename) == os.path.abspath(
            script
        ):
            line = frame.f_lineno
        frame = frame.f_back
    return script, line


def _guarded(script: str, line: int) -> bool:
    """Whether ``line`` of ``script`` is in the body of ``if __name__ == "__main__":``
    (``True`` when the script cannot be read: then multiprocessing has the last word)."""
    import ast

    try:
        with open(script, encoding="utf-8") as file:
            tree = ast.parse(file.read())
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return True
    for node in ast.walk(tree):
        if not isinstance(node, ast.If) or not any(map(_is_main_test, ast.walk(node.test))):
            continue  # the test may be part of a larger one: `__name__ == "__main__" and ...`
        if node.body[0].lineno <= line <= (node.body[-1].end_lineno or line):
            return True
    return False


def _is_main_test(node) -> bool:
    """Whether ``node`` is ``__name__ == "__main__"`` (either way round)."""
    import ast

    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return False
    sides = {ast.unparse(node.left), ast.unparse(node.comparators[0])}
    return isinstance(node.ops[0], ast.Eq) and sides == {"__name__", "'__main__'"}


@contextlib.contextmanager
def _sigint_ignored():
    """SIGINT ignored in this block (in the main thread; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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


def check_chunk(chunk_paths: int) -> int:
    chunk_paths = check_int("chunk_paths", chunk_paths, 1, MAX_PATHS, count=True)
    if chunk_paths % BLOCK_PATHS:
        raise InputError(
            f"chunk_paths = {chunk_paths}, must be a multiple of {BLOCK_PATHS} (the block "
            "size) with a Dask client"
        )
    return chunk_paths


# -- tasks: pure functions of (plan, chunk) ---------------------------------------------------
def chunk_paths_task(plan: RunPlan, start: int, stop: int) -> PathArrays:
    """Every path of ``[start, stop)``; refuses a float64 overflow like the local engine."""
    partial = Partial.empty(plan, summary=False, keep=True)
    with numba_threads(plan.threads or 1):
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
    with numba_threads(plan.threads or 1):
        return run_range(plan, start, stop, partial)


def _single(item) -> list:
    return [item]


def _merge_all(parts) -> Partial:
    parts = list(parts)
    total = parts[0]
    for part in parts[1:]:
        total = total.merge(part)
    return total


@contextlib.contextmanager
def using(client) -> Iterator:
    """``client``, or for ``"local"`` the client of a LocalCluster that lives for the
    ``with`` block."""
    _check_client(client)
    if isinstance(client, str):
        with local_client() as owned:
            yield owned
    else:
        yield client


def map_on(client, func, items: list, **kwargs) -> list:
    """``[func(item, **kwargs) for item in items]``, one Dask task each on ``client``
    (``"local"``: a LocalCluster for this call), gathered in order."""
    with using(client) as active:
        return active.gather(active.map(func, items, pure=False, **kwargs))


def _check_client(client) -> None:
    if client == "local" or (hasattr(client, "map") and hasattr(client, "compute")):
        return
    raise InputError(f"client = {client!r}, must be None, 'local' or a dask.distributed.Client")


def plan_chunks(client, n_paths: int, chunk_paths: int | None, *, keep_paths: bool) -> int:
    """Paths per task: ``chunk_paths`` checked, or the default for the client's worker
    threads (one thread without a client)."""
    if chunk_paths is None:
        workers = 1 if client is None else sum(client.nthreads().values())
        return default_chunk_paths(n_paths, workers, keep_paths=keep_paths)
    return check_chunk(chunk_paths)


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

    dask, db = _dask("dask"), _dask("dask.bag")
    as_completed = _dask("distributed").as_completed
    token = dask.base.tokenize(name, _identity(plan), ranges, kwargs)
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
    dask, da = _dask("dask"), _dask("dask.array")
    token = dask.base.tokenize(_identity(plan))
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


def _dask(module: str):
    """A module of Dask, which a client means (mcengine[dask]; ``write_zarr`` checks its own
    extra first)."""
    return require(module, extra="dask", what="client")


def _identity(plan: RunPlan) -> tuple:
    """Everything a task's result depends on, for its Dask key: equal keys must mean equal
    results, or the scheduler would hand one run another's (the portfolio weights shape the
    summary; threads do not change a bit)."""
    return (
        plan.scenario.to_toml(),
        plan.seed,
        plan.n_paths,
        plan.chunk_paths,
        plan.keep_paths,
        plan.fan_chart,
        tuple(float(w) for w in plan.portfolio_weights),
    )


def simulate(plan: RunPlan, progress: ProgressCallback | None) -> xr.Dataset:
    """:func:`mcengine.simulate` on Dask, on ``plan.client`` (the plan checked the rest)."""
    client = plan.client
    _check_client(client)
    owned = isinstance(client, str)
    if owned and plan.keep_paths:
        check_memory(plan.n_paths)  # a "local" run brings every path back into memory
    scenario, n_paths = plan.scenario, plan.n_paths
    with using(client) as active:
        chunk_paths = plan_chunks(active, n_paths, plan.chunk_paths, keep_paths=plan.keep_paths)
        plan = dataclasses.replace(plan, chunk_paths=chunk_paths, client=None)
        attrs = run_attributes(
            scenario, seed=plan.seed, n_paths=n_paths, sampler="pseudo", elapsed=0
        )
        attrs["chunk_paths"] = np.int64(chunk_paths)
        if plan.keep_paths:
            del attrs["elapsed_seconds"]  # the work happens when the Dataset is computed
            paths = lazy_paths(plan, attrs)
            return paths.compute() if owned else paths
        started = time.perf_counter()
        ranges = chunk_ranges(n_paths, chunk_paths)
        merged = run_chunks(active, summary_task, plan, ranges, name="summary", progress=progress)
    merged.overflow.refuse(scenario, n_paths)
    attrs["elapsed_seconds"] = time.perf_counter() - started
    result = merged.summary.result(attrs)
    return result if merged.fan is None else attach_fan(result, merged.fan)
