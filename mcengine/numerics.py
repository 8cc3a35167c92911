"""The one home of the transcendental functions that feed results: ``exp``, ``log``,
``log1p``, ``expm1``, for scalars inside kernels and for arrays in post-processing.

They are written here, in plain float64 arithmetic, so that the bits of every result depend
only on this package's code: not on numpy's SIMD loops (its AVX-512 ``exp``/``log`` differ
from its other paths in the last bit for a few percent of inputs), not on the C library
(glibc picks an FMA or a non-FMA build of ``exp``/``log`` by CPU), and not on the CPU LLVM
compiles for. They are also why the kernel is fast: they are branch-free (special cases are
selects, not jumps), so LLVM vectorises them across the kernel's lanes, where a libm call
is one scalar call per value (about 6.5 ns each, 22 of them per path-step).

The algorithms are those of fdlibm (Sun, 1993), as kept in musl: ``exp`` reduces by
``k ln 2`` with a two-part ``ln 2`` and a degree-5 rational remainder; ``log`` and
``log1p`` reduce to ``[sqrt(2)/2, sqrt(2)]`` and use the degree-14 series in
``s = f / (2 + f)``; ``log1p`` adds the rounding error of ``1 + x`` as a correction;
``expm1`` is fdlibm's, with its branches (it runs once per path, not per step). Each is
within 1 ulp over the whole double range, subnormals included
(``tests/test_numerics.py`` measures them against mpmath); ``exp`` overflows to ``inf``,
``log(0) = -inf``, ``log`` of a negative number and ``log1p`` below ``-1`` are NaN, NaN
propagates, as IEEE libm does.

No fused multiply-add is used: without fast-math LLVM never contracts ``a * b + c``, and
plain Python (``NUMBA_DISABLE_JIT=1``) runs the same operations in the same order, so the
no-JIT path gives the same bits (``tests/test_no_jit.py``). Float/integer bit casts, which
the reductions need, and :func:`select` are intrinsics compiled (one LLVM ``bitcast`` or
``select`` each) and :mod:`struct` or a conditional expression in plain Python.

Tests: ``tests/test_numerics.py`` (ulp errors, special values);
``tests/test_cpu_features.py`` runs the engine with numpy's SIMD features disabled and with
LLVM compiling for a generic CPU; ``tests/test_no_jit.py`` compares plain Python with the
compiled code.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from mcengine.jit import inline_kernel, kernel

__all__ = [
    "NUMERICS",
    "exp",
    "log",
    "log1p",
    "expm1",
    "exp_call",
    "exp_array",
    "log_array",
    "expm1_array",
    "log1p_array",
    "fmax",
    "fmin",
    "dot",
    "cholesky",
]

#: The numerics version, recorded in every result's attributes (``numerics``). It changes
#: only when the same seed deliberately gives other bits (CHANGELOG):
#: 1 (mcengine 1.0): ziggurat tables computed with numpy at import;
#: 2 (mcengine 1.1): the exact tables as literals, libm instead of numpy's SIMD loops;
#: 3 (mcengine 1.2): this module's own exp/log/log1p/expm1 instead of libm's.
NUMERICS = 3


# -- bit casts ------------------------------------------------------------------------------
# Compiled, each is one LLVM bitcast (an intrinsic: no call, nothing to inline). Numba cannot
# call intrinsics from plain Python, so under NUMBA_DISABLE_JIT they are struct conversions.
@intrinsic
def _bitcast_to_int(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _bitcast_to_float(typingctx, i):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _select(typingctx, condition, if_true, if_false):
    # One LLVM select: no branch in Numba's IR, so nothing for LLVM to if-convert later, and
    # far less for Numba to type and lower than a conditional expression (each is blocks).
    if isinstance(if_true, types.Integer) and isinstance(if_false, types.Integer):
        result = types.int64
    else:
        result = types.float64

    def codegen(context, builder, signature, args):
        cond = context.cast(builder, args[0], signature.args[0], types.boolean)
        a = context.cast(builder, args[1], signature.args[1], result)
        b = context.cast(builder, args[2], signature.args[2], result)
        return builder.select(cond, a, b)

    return result(condition, if_true, if_false), codegen


def _python_select(condition, if_true, if_false):
    return if_true if condition else if_false


def _python_bits_of(x):
    return struct.unpack("<q", struct.pack("<d", x))[0]


def _python_from_bits(i):
    return struct.unpack("<d", struct.pack("<Q", int(i) & 0xFFFFFFFFFFFFFFFF))[0]


bits_of: Any
from_bits: Any
select: Any
if numba.config.DISABLE_JIT:  # type: ignore[attr-defined]  # read from the environment
    bits_of, from_bits, select = _python_bits_of, _python_from_bits, _python_select
else:
    bits_of, from_bits, select = _bitcast_to_int, _bitcast_to_float, _select
bits_of.__doc__ = "The IEEE bits of the float64 ``x`` as a signed 64-bit integer."
from_bits.__doc__ = "The float64 whose IEEE bits are the 64-bit integer ``i``."
select.__doc__ = """``if_true if condition else if_false`` with both already computed: one
select instruction compiled (branch-free by construction), the conditional expression in
plain Python. Integers give an int64, anything else a float64."""


_INF = math.inf
_NAN = math.nan
_LN2_HI = 6.93147180369123816490e-01  # 0x3fe62e42fee00000: ln 2, its top 32 bits
_LN2_LO = 1.90821492927058770002e-10  # 0x3dea39ef35793c76: ln 2 - _LN2_HI
_INV_LN2 = 1.44269504088896338700e00
_TWO54 = 1.80143985094819840000e16
_MIN_NORMAL = 2.2250738585072014e-308
_LO32 = 0xFFFFFFFF


_INF_BITS = 0x7FF0000000000000
_NEG_INF_BITS = -0x10000000000000  # 0xFFF0000000000000 as a signed 64-bit integer
_ABS_MASK = 0x7FFFFFFFFFFFFFFF
_MINUS_ONE_BITS = -0x4010000000000000  # -1.0 (0xBFF0000000000000)


# Tests of a float's class on its bits. Written as float compares, LLVM merges several
# tests of one value into a call of llvm.is.fpclass, which it cannot vectorise.
@inline_kernel
def is_neg_inf(x):
    """``x == -inf``."""
    return bits_of(x) == _NEG_INF_BITS


@inline_kernel
def is_pos_inf(x):
    """``x == +inf``."""
    return bits_of(x) == _INF_BITS


@inline_kernel
def is_positive_finite(x):
    """``0 < x < inf`` (false for NaN)."""
    b = bits_of(x)
    return (b > 0) & (b < _INF_BITS)


@inline_kernel
def fmax(a, b):
    """Python's ``max(a, b)`` of two floats, as one select. Inside inlined kernels the
    builtin leaves a call in the loop, which stops LLVM from vectorising it."""
    return select(b > a, b, a)


@inline_kernel
def fmin(a, b):
    """Python's ``min(a, b)`` of two floats, as one select (see :func:`fmax`)."""
    return select(b < a, b, a)


# -- integers as floats ----------------------------------------------------------------------
# AVX2 has no packed conversion between int64 and double (AVX-512 has), so ``np.float64(i)``
# or ``np.int64(x)`` in a lane loop runs lane by lane: extract, convert, insert (40 of them in
# the vector body of the cash-flow loop; exp took 4.8 ns a value, now 2.9). The integers the
# maths and the streams need are small, and for them each
# conversion is one integer and one float addition on the bits of 2**52 or 1.5 * 2**52,
# whose ulp is 1: exact, the same values as the conversions, and vectorised on every x86-64.
_TWO52 = 4503599627370496.0
_TWO52_BITS = 0x4330000000000000
_LOW52 = (1 << 52) - 1
_ROUND = 6755399441055744.0  # 1.5 * 2**52
_ROUND_BITS = 0x4338000000000000


@inline_kernel
def int_to_float(i):
    """``float(i)`` of an integer ``|i| < 2**51``, exactly."""
    return from_bits(i + _ROUND_BITS) - _ROUND


@inline_kernel
def uint52_to_float(i):
    """``float(i)`` of an integer ``0 <= i < 2**52``, exactly."""
    return from_bits(i | _TWO52_BITS) - _TWO52


@inline_kernel
def uint53_to_float(i):
    """``float(i)`` of an integer ``0 <= i < 2**53`` (a uniform's 53 bits), exactly: its
    low 52 bits as :func:`uint52_to_float`, plus ``2**52`` if its top bit is set."""
    top = select((i >> 52) != 0, _TWO52, 0.0)
    return uint52_to_float(i & _LOW52) + top


@inline_kernel
def float_to_int(x):
    """``int(x)`` of an integer-valued float ``|x| < 2**51``, exactly."""
    return bits_of(x + _ROUND) - _ROUND_BITS


@inline_kernel
def trunc_small(x):
    """``float(math.trunc(x))`` for ``|x| < 2**51`` (``+0.0`` for a zero): the nearest
    integer by the rounding of ``x + 1.5 * 2**52``, then one towards zero if it passed
    ``x``."""
    r = (x + _ROUND) - _ROUND
    return select(x >= 0.0, select(r > x, r - 1.0, r), select(r < x, r + 1.0, r))


@inline_kernel
def _pow2(k):
    """``2.0**k`` for an integer ``k`` in [-1022, 1023], built from its exponent bits."""
    return from_bits((k + 1023) << 52)


# -- exp ------------------------------------------------------------------------------------
_EXP_P1 = 1.66666666666666019037e-01
_EXP_P2 = -2.77777777770155933842e-03
_EXP_P3 = 6.61375632143793436117e-05
_EXP_P4 = -1.65339022054652515390e-06
_EXP_P5 = 4.13813679705723846039e-08
_EXP_OVER = 7.09782712893383973096e02  # above: exp overflows
_EXP_UNDER = -7.45133219101941108420e02  # below: exp rounds to zero


@inline_kernel
def exp(x):
    """``e**x``; ``inf`` above 709.78, ``0`` below -745.13, NaN for NaN."""
    xc = select(x < 710.0, x, 710.0)  # clamped (NaN too), so every step below is defined
    xc = select(xc > -746.0, xc, -746.0)
    # x = k ln2 + r with |r| <= ln2 / 2; k rounds half away from zero (fdlibm's truncation
    # of x / ln2 +- 1/2, as floats: see "integers as floats").
    kd = trunc_small(xc * _INV_LN2 + select(xc >= 0.0, 0.5, -0.5))
    k = float_to_int(kd)
    hi = xc - kd * _LN2_HI  # exact: k has at most 11 bits and _LN2_HI 32
    lo = kd * _LN2_LO
    r = hi - lo
    t = r * r
    c = r - t * (_EXP_P1 + t * (_EXP_P2 + t * (_EXP_P3 + t * (_EXP_P4 + t * _EXP_P5))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    # y * 2**k in two exact halves, so that 2**k never overflows and a subnormal result is
    # rounded once.
    k1 = k >> 1
    out = y * from_bits((k1 + 1023) << 52) * from_bits((k - k1 + 1023) << 52)
    out = select(x > _EXP_OVER, _INF, out)
    out = select(x < _EXP_UNDER, 0.0, out)
    return select(x != x, x, out)


# -- log and log1p --------------------------------------------------------------------------
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01


@inline_kernel
def _log_series(f, k, c):
    """``log(1 + f) + k ln 2 + c`` for ``1 + f`` in [sqrt(2)/2, sqrt(2)] (fdlibm's core)."""
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    dk = int_to_float(k)
    return s * (hfsq + t1 + t2) + (dk * _LN2_LO + c) - hfsq + f + dk * _LN2_HI


@inline_kernel
def _reduce(ix):
    """Split the positive float of bits ``ix`` as ``2**k * (1 + f)``, ``1 + f`` in
    [sqrt(2)/2, sqrt(2)]: returns ``(f, k)``."""
    hx = ((ix >> 32) & _LO32) + (0x3FF00000 - 0x3FE6A09E)
    k = (hx >> 20) - 0x3FF
    hx = (hx & 0x000FFFFF) + 0x3FE6A09E
    return from_bits((hx << 32) | (ix & _LO32)) - 1.0, k


@inline_kernel
def log(x):
    """Natural log; ``-inf`` at 0, NaN below 0 and for NaN, ``inf`` at ``inf``."""
    sub = x < _MIN_NORMAL  # subnormal (or not positive): scale into the normal range
    xs = select(sub, x * _TWO54, x)
    f, k = _reduce(bits_of(xs))
    out = _log_series(f, select(sub, k - 54, k), 0.0)
    b = bits_of(x)
    out = select(b == _INF_BITS, x, out)
    out = select(((b < 0) | (b > _INF_BITS)), _NAN, out)  # below 0 (-0 too, next line), NaN
    return select((b & _ABS_MASK) == 0, -_INF, out)


@inline_kernel
def log1p(x):
    """``log(1 + x)``, accurate for small ``x``; ``-inf`` at -1, NaN below -1 and for NaN."""
    # 1 + x in [sqrt(2)/2, sqrt(2)): no reduction, f = x exactly.
    near = (x < 0.41421356237309503) & (x > -0.2928932188134524)
    u = 1.0 + x
    f, k = _reduce(bits_of(u))
    # The rounding error of u = 1 + x, divided by u: log(1 + x) = log(u) + c / u.
    c = select(k >= 2, 1.0 - (u - x), x - (u - 1.0))
    c = select(k < 54, c / select(u > 0.0, u, 1.0), 0.0)
    out = _log_series(select(near, x, f), select(near, 0, k), select(near, 0.0, c))
    b = bits_of(x)
    tiny = (b & _ABS_MASK) < 0x3CA0000000000000  # |x| < 2**-53: log1p(x) rounds to x
    out = select((tiny | (b == _INF_BITS)), x, out)
    out = select(x == -1.0, -_INF, out)
    below = (b < 0) & (b > _MINUS_ONE_BITS)  # negative floats order backwards as integers
    return select((below | (b > _INF_BITS)), _NAN, out)  # x < -1 (-inf too), NaN


@kernel
def exp_call(x):
    """:func:`exp` as a function call, for scalar code outside the lane loops: each inlined
    copy of a function's body costs compile time (about a second), a call does not."""
    return exp(x)


# -- expm1 ----------------------------------------------------------------------------------
_Q1 = -3.33333333333331316428e-02
_Q2 = 1.58730158725481460165e-03
_Q3 = -7.93650757867487942473e-05
_Q4 = 4.00821782732936239552e-06
_Q5 = -2.01099218183624371326e-07


@kernel
def expm1(x):
    """``e**x - 1``, accurate for small ``x``; ``inf`` above 709.78, -1 far below 0."""
    # fdlibm's s_expm1.c, branch for branch (it runs once per path, so branches are fine).
    hx = (bits_of(x) >> 32) & 0x7FFFFFFF
    negative = x < 0.0 or (x == 0.0 and bits_of(x) < 0)
    if hx >= 0x4043687A:  # |x| >= 56 ln 2, or not finite
        if x != x:
            return x
        if negative:
            return -1.0
        if x > _EXP_OVER:
            return _INF
    c = 0.0
    if hx > 0x3FD62E42:  # |x| > ln2 / 2: x = k ln2 + r, c the rounding error of r
        if hx < 0x3FF0A2B2:  # |x| < 1.5 ln2
            k = -1 if negative else 1
        else:
            k = int(_INV_LN2 * x + (-0.5 if negative else 0.5))
        hi = x - k * _LN2_HI
        lo = k * _LN2_LO
        x = hi - lo
        c = (hi - x) - lo
    elif hx < 0x3C900000:  # |x| < 2**-54
        return x
    else:
        k = 0
    hfx = 0.5 * x
    hxs = x * hfx
    r1 = 1.0 + hxs * (_Q1 + hxs * (_Q2 + hxs * (_Q3 + hxs * (_Q4 + hxs * _Q5))))
    t = 3.0 - r1 * hfx
    e = hxs * ((r1 - t) / (6.0 - x * t))
    if k == 0:
        return x - (x * e - hxs)
    e = x * (e - c) - c
    e -= hxs
    if k == -1:
        return 0.5 * (x - e) - 0.5
    if k == 1:
        if x < -0.25:
            return -2.0 * (e - (x + 0.5))
        return 1.0 + 2.0 * (x - e)
    if k < 0 or k > 56:  # exp(x) - 1 suffices
        y = x - e + 1.0
        y = y * 2.0 * _pow2(1023) if k == 1024 else y * _pow2(k)
        return y - 1.0
    if k < 20:
        return (x - e + (1.0 - _pow2(-k))) * _pow2(k)
    return (x - (e + _pow2(-k)) + 1.0) * _pow2(k)


@kernel
def _exp_into(x, out):
    for i in range(x.shape[0]):
        out[i] = exp(x[i])


@kernel
def _log_into(x, out):
    for i in range(x.shape[0]):
        out[i] = log(x[i])


@kernel
def _log1p_into(x, out):
    for i in range(x.shape[0]):
        out[i] = log1p(x[i])


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


def log1p_array(x) -> np.ndarray:
    """Element-wise :func:`log1p` of an array, the same bits on every CPU."""
    return _elementwise(_log1p_into, x)


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
