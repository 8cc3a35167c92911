"""scipy.special's normal, Student-t and chi-square functions, callable from the kernel.

The per-path parameter values (:mod:`mcengine.kernel.beliefs`) need the normal quantile
and CDF, and for a t copula the t CDF and the chi-square quantile, in a path-parallel
Numba loop. These are scipy's own C functions (``scipy.special.cython_special``), bound by
symbol name so that the kernels that call them stay cacheable (a ctypes pointer would make
Numba refuse to cache): the same code, so the same bits, as ``scipy.special.ndtri`` and
friends. They are C (cephes), not numpy ufunc loops, so numpy's SIMD dispatch does not
change them.
"""

from __future__ import annotations

import llvmlite.binding as llvm
from numba import types
from numba.extending import get_cython_function_address

from mcengine.jit import inline_kernel

__all__ = ["ndtri", "ndtr", "stdtr", "chdtri"]

_MODULE = "scipy.special.cython_special"
_D, _SKIP = types.float64, types.intc


def _bind(name: str, exported: str, n_args: int):
    """scipy's ``cpdef`` function ``exported``: ``n_args`` doubles, then Cython's
    ``__pyx_skip_dispatch`` flag (passed as 0)."""
    symbol = f"mcengine_scipy_{name}"
    llvm.add_symbol(symbol, get_cython_function_address(_MODULE, exported))
    return types.ExternalFunction(symbol, _D(*([_D] * n_args), _SKIP))


_ndtri = _bind("ndtri", "ndtri", 1)
_ndtr = _bind("ndtr", "__pyx_fuse_1ndtr", 1)  # the real, not the complex, variant
_stdtr = _bind("stdtr", "__pyx_fuse_0stdtr", 2)  # double, not float
_chdtri = _bind("chdtri", "chdtri", 2)


@inline_kernel
def ndtri(p):
    """Inverse of the standard normal CDF."""
    return _ndtri(p, 0)


@inline_kernel
def ndtr(x):
    """Standard normal CDF."""
    return _ndtr(x, 0)


@inline_kernel
def stdtr(df, t):
    """Student-t CDF with ``df`` degrees of freedom."""
    return _stdtr(df, t, 0)


@inline_kernel
def chdtri(df, q):
    """Inverse of the chi-square survival function: ``x`` with ``P(X > x) = q``."""
    return _chdtri(df, q, 0)
