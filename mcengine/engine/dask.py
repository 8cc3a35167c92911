"""Running :func:`mcengine.simulate` on Dask (``client=``): the same bits on a cluster.

The path index space is cut into chunks of ``chunk_paths`` paths, a multiple of the block
(:data:`~mcengine.layout.BLOCK_PATHS`). Each chunk is one Dask task, a pure function
of (plan, chunk) that calls :func:`~mcengine.engine.chunk.run_range`, as the local
engine does: its random numbers come from the Philox streams of its own path indices, so a
task can run anywhere, any number of times, and give the same bytes. That is the whole
fault-tolerance story: when a worker dies, Dask's scheduler reruns the tasks whose results
it held (``distributed.scheduler.allowed-failures`` times at most), and the result does not
change (``tests/test_dask.py`` kills a worker mid-run).

* Kept paths: one delayed task per chunk; the variables are dask arrays chunked along
  ``path`` (:func:`lazy_paths`). Nothing runs until they are computed or written
  (``ds.to_zarr``), and then each task runs once per compute.
* Summary only: each task streams its chunk into a
  :class:`~mcengine.engine.chunk.Partial` (summary, fan-chart histograms, overflow
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
import os
import signal
import threading
import time
from collections.abc import Iterator

import numpy as np
import xarray as xr

from mcengine.engine.inputs import ProgressCallback, check_memory
from mcengine.engine.plan import RunPlan, check_client
from mcengine.engine.tasks import chunk_ranges, lazy_paths, plan_chunks, run_chunks, summary_task
from mcengine.errors import InputError
from mcengine.extras import require
from mcengine.results.dataset import run_attributes
from mcengine.stats.fan import attach as attach_fan

__all__ = ["simulate", "map_on", "using", "local_client"]


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


@contextlib.contextmanager
def using(client) -> Iterator:
    """``client``, or for ``"local"`` the client of a LocalCluster that lives for the
    ``with`` block."""
    check_client(client)
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


def simulate(plan: RunPlan, progress: ProgressCallback | None) -> xr.Dataset:
    """:func:`mcengine.simulate` on Dask, on ``plan.client`` (the plan checked the rest)."""
    client = plan.client
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
