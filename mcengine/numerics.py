"""The one home of the transcendental functions that feed results: ``exp``, ``log``,
``log1p``, ``expm1``, for scalars inside kernels and for arrays in post-processing.

Why not ``np.exp``: numpy picks its loops by CPU at run time, and its AVX-512 (and SVML)
``exp``/``log``/``expm1``/``log1p`` differ from its other paths in the last bit for a few
percent of inputs. Anything computed with them gives other bits on another CPU family, so a
mixed Dask cluster or a laptop against a server would disagree silently. Every function here
calls the C library's scalar function instead, the same one on every code path:

* compiled, ``math.exp`` and friends lower to LLVM's intrinsics, which call libm;
* under ``NUMBA_DISABLE_JIT=1`` the pure-Python bodies below call the same libm through
  Python's :mod:`math`, with IEEE results where :mod:`math` would raise (``exp`` overflow is
  ``inf``, ``log(0)`` is ``-inf``, ``log`` of a negative number is NaN), as the compiled code
  gives.

What this does not cover (docs/model.md, "What the same bits covers"): the C library itself. glibc
selects an FMA build of ``exp``/``log`` on CPUs that have FMA; a CPU without FMA gets other
last bits. Every x86-64 CPU since 2013 (Haswell, Piledriver) has FMA.

Tests: ``tests/test_cpu_features.py`` runs the engine with numpy's SIMD features disabled and
with LLVM compiling for a generic CPU; ``tests/test_no_jit.py`` compares the plain-Python
path with the compiled one.
"""

from __future__ import annotations

import math

import numpy as np
from numba.extending import overload

from mcengine.jit import kernel

__all__ = [
    "NUMERICS",
    "exp",
    "log",
    "log1p",
    "expm1",
    "exp_array",
    "log_array",
    "expm1_array",
    "dot",
    "cholesky",
]

#: The numerics version, recorded in every result's attributes (``numerics``). It changes
#: only when the same seed deliberately gives other bits (CHANGELOG):
#: 1 (mcengine 1.0): ziggurat tables computed with numpy at import;
#: 2 (mcengine 1.1): the exact tables as literals, libm instead of numpy's SIMD loops.
NUMERICS = 2


# The pure-Python versions run under NUMBA_DISABLE_JIT; compiled code uses the overloads.
def exp(x):
    """``e**x`` by libm; ``inf`` on overflow."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def expm1(x):
    """``e**x - 1`` by libm; ``inf`` on overflow."""
    try:
        return math.expm1(x)
    except OverflowError:
        return math.inf


def log(x):
    """Natural log by libm; ``log(0) = -inf``, NaN below zero."""
    if x > 0.0:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


def log1p(x):
    """``log(1 + x)`` by libm; ``-inf`` at ``-1``, NaN below."""
    if x > -1.0:
        return math.log1p(x)
    return -math.inf if x == -1.0 else math.nan


def _compiled_as(libm):
    """Numba's implementation of one of the functions above: libm's, inlined."""

    def implementation(x):
        return lambda x: libm(x)

    return implementation


for _python, _libm in ((exp, math.exp), (expm1, math.expm1), (log, math.log), (log1p, math.log1p)):
    overload(_python, inline="always")(_compiled_as(_libm))


@kernel
def _exp_into(x, out):
    for i in range(x.shape[0]):
        out[i] = exp(x[i])


@kernel
def _log_into(x, out):
    for i in range(x.shape[0]):
        out[i] = log(x[i])


@kernel
def _expm1_into(x, out):
    for i in range(x.shape[0]):
        out[i] = expm1(x[i])


def _elementwise(into, x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    flat = np.ascontiguousarray(a).reshape(-1)
    out = np.empty_like(flat)
    into(flat, out)
    return out.reshape(a.shape)


def exp_array(x) -> np.ndarray:
    """Element-wise :func:`exp` of an array, the same bits on every CPU."""
    return _elementwise(_exp_into, x)


def log_array(x) -> np.ndarray:
    """Element-wise :func:`log` of an array, the same bits on every CPU."""
    return _elementwise(_log_into, x)


def expm1_array(x) -> np.ndarray:
    """Element-wise :func:`expm1` of an array, the same bits on every CPU."""
    return _elementwise(_expm1_into, x)


@kernel
def _dot(a, b):
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


def dot(a, b) -> float:
    """``sum(a * b)`` in index order: BLAS's ``ddot`` picks kernels (and FMA) by CPU."""
    return float(_dot(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)))


def cholesky(matrix) -> np.ndarray:
    """Lower Cholesky factor of a small symmetric matrix, by LAPACK's ``dpotf2`` order.

    Written out because LAPACK and BLAS choose their kernels by CPU, and the factor feeds
    the kernel's coefficients. Raises :class:`numpy.linalg.LinAlgError` if the matrix is not
    positive definite, as :func:`numpy.linalg.cholesky` does.
    """
    a = np.asarray(matrix, dtype=np.float64)
    n = a.shape[0]
    out = np.zeros((n, n))
    for j in range(n):
        diagonal = a[j, j] - sum(out[j, k] * out[j, k] for k in range(j))
        if not diagonal > 0.0:
            raise np.linalg.LinAlgError("Matrix is not positive definite")
        out[j, j] = math.sqrt(diagonal)
        for i in range(j + 1, n):
            out[i, j] = (a[i, j] - sum(out[i, k] * out[j, k] for k in range(j))) / out[j, j]
    return out
