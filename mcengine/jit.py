"""The one home of mcengine's Numba settings.

Every kernel is compiled through :func:`kernel` or :func:`inline_kernel` so that the
compilation flags live here and nowhere else, and every path-parallel kernel runs through
:func:`run_blocks`, so that the threading does too.

* ``cache=True``: compiled machine code is stored beside the module, so a second process
  loads it in a fraction of a second instead of compiling again (about 20 s).
* ``fastmath`` is off. The model relies on IEEE infinities (``-inf`` stands for a log of
  zero, see ``docs/model.md``), which ``nnan``/``ninf`` fast-math would break. Setting the
  environment variable ``MCENGINE_FASTMATH=1`` opts into the safe subset
  (``contract``, ``afn``, ``reassoc`` are *not* used; only ``arcp``) and warns, because it
  changes the last bits of the results.
* ``error_model="numpy"``: division by zero gives ``inf``/``nan`` instead of raising, which
  the kernels handle explicitly.
* ``nogil``: the kernels are serial and release the GIL; :func:`run_blocks` runs one over
  contiguous ranges of its blocks on a pool of threads. Numba's ``parallel=True`` did the
  same with ``prange`` at a higher compile cost: its own passes, and one more layer of LLVM
  optimising the whole kernel again (docs/benchmarks.md, "Where the cold compile goes").
  The results are the same bits either way: each block's paths depend only on (key, path).
"""

from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numba
import numba.core.imputils
from numba.core.registry import CPUDispatcher
from numba.core.typing.typeof import Purpose, typeof

from mcengine.errors import COMPILE_LOG

__all__ = [
    "kernel",
    "inline_kernel",
    "run_blocks",
    "fastmath_flags",
    "say_if_compiling",
    "COMPILE_LOG",
]


def fastmath_flags() -> set[str] | bool:
    """Return the fast-math flags in force (``False`` unless opted in)."""
    if os.environ.get("MCENGINE_FASTMATH", "") not in ("", "0"):
        warnings.warn(
            "MCENGINE_FASTMATH is set: results may differ in the last bits from the "
            "reference build, and golden-hash tests will not hold",
            RuntimeWarning,
            stacklevel=2,
        )
        return {"arcp"}
    return False


_FLAGS = {
    "cache": True,
    "nogil": True,
    "error_model": "numpy",
    "fastmath": fastmath_flags(),
    "no_cfunc_wrapper": True,
}

#: Decorator for serial helper kernels, compiled and cached one by one.
kernel = numba.njit(**_FLAGS)


class _KernelsOnly(CPUDispatcher):
    """A helper compiled without a CPython wrapper: callable from kernels only. Called from
    Python, it says so (Numba would call the missing wrapper and crash)."""

    def __call__(self, *args, **kwargs):
        name = f"{self.py_func.__module__}.{self.py_func.__qualname__}"
        raise TypeError(f"{name} runs inside kernels only: call it from a @kernel function")


def inline_kernel(func=None, *, wrapper: bool = False):
    """Decorator for the helpers the lane loops call: each is compiled (and cached) once,
    and LLVM inlines it at every call site (``forceinline``: the ``alwaysinline``
    attribute), which a vectorised loop needs (a call stops vectorisation).

    Numba's own ``inline="always"`` did the same on Numba's IR instead, copying and retyping
    the callee at every call site: it took the cold compile from 15 s to 33 s (inlining
    Philox everywhere), and the 22 transcendentals of a step are about 60 such sites.

    A helper has no CPython wrapper (building a hundred of them took 1.5 s of the cold
    compile), so Python cannot call it (tests call one through a :func:`kernel`), unless
    ``wrapper``: the helpers library code calls from Python (:mod:`mcengine.numerics`), and
    Philox's (without their wrappers the draws' lane loop ran at half the speed, a cause not
    found; ``mcengine bench`` shows it).
    """
    if func is None:
        return lambda f: inline_kernel(f, wrapper=wrapper)
    options = {**_FLAGS, "forceinline": True, "no_cpython_wrapper": not wrapper}
    dispatcher = numba.njit(**options)(func)
    if not wrapper and isinstance(dispatcher, CPUDispatcher):  # (NUMBA_DISABLE_JIT: as is)
        dispatcher.__class__ = _KernelsOnly
    return dispatcher


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(numba.config.NUMBA_NUM_THREADS, "mcengine")
        return _POOL


def run_blocks(dispatcher, args: tuple, n_blocks: int) -> None:
    """``dispatcher(*args, first, end)`` over blocks ``0 .. n_blocks - 1``, split into one
    contiguous range per thread (Numba's thread count: ``numba.set_num_threads``,
    ``NUMBA_NUM_THREADS``), the last in the calling thread. ``dispatcher`` is a serial
    ``nogil`` kernel whose blocks write disjoint parts of its outputs."""
    parts = max(min(numba.get_num_threads(), n_blocks), 1)
    bounds = [n_blocks * j // parts for j in range(parts + 1)]
    pool = _pool() if parts > 1 else None
    futures = [pool.submit(dispatcher, *args, bounds[j], bounds[j + 1]) for j in range(parts - 1)]
    try:
        dispatcher(*args, bounds[-2], bounds[-1])
    finally:
        for future in futures:  # waits for all, then raises the first error
            future.result()


def _compiles(dispatcher, args: tuple) -> bool:
    """Whether calling ``dispatcher(*args)`` compiles: no machine code for these argument
    types in memory or in the on-disk cache. It reads Numba's cache index (a private API),
    so any surprise counts as compiled: the worst case is a missing notice."""
    if not hasattr(dispatcher, "overloads"):  # NUMBA_DISABLE_JIT: a plain function
        return False
    try:
        types = tuple(typeof(a, Purpose.argument) for a in args)
        if types in dispatcher.overloads:
            return False
        index = dispatcher._cache._cache_file._load_index()
    except Exception:
        return False
    return not any(key[0] == types for key in index)


def say_if_compiling(dispatcher, args: tuple, what: str, wait: str) -> None:
    """Log (logger ``mcengine``, level WARNING) before a call that compiles ``what``, with
    the expected ``wait``. A log record, not a warning: a library user sees the line on
    stderr (Python's last-resort handler) and a test suite that turns warnings into errors
    still runs; the CLI prints it as a plain line. The code is cached, so once per machine."""
    if _compiles(dispatcher, args):
        COMPILE_LOG.warning("compiling %s (first run of this kind only, %s)...", what, wait)


# Tuples indexed by IntEnum members, as arrays are (``k[C.DT]`` on the coefficient tuple):
# Numba types the index as a static value it cannot make a literal (``Omitted``) and has
# no lowering for it; this one extracts the member's integer position.
@numba.core.imputils.lower_builtin("static_getitem", numba.types.BaseTuple, numba.types.Omitted)
def _static_getitem_enum(context, builder, sig, args):
    tuple_type, index_type = sig.args
    if not isinstance(index_type.value, int):  # not ours: Numba's own error, as before
        raise NotImplementedError(f"static_getitem({tuple_type}, {index_type})")
    index = int(index_type.value)
    if not 0 <= index < len(tuple_type):
        raise IndexError(f"cannot index at {index} in {tuple_type}")
    value = builder.extract_value(args[0], index)
    return numba.core.imputils.impl_ret_borrowed(context, builder, sig.return_type, value)
