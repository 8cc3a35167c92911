"""The one home of the transcendental functions that feed results: ``exp``, ``log``,
``log1p``, ``expm1``, for scalars inside kernels and for arrays in post-processing.

They are written here, in plain float64 arithmetic, so that the bits of every result depend
only on this package's code: not on numpy's SIMD loops (its AVX-512 ``exp``/``log`` differ
from its other paths in the last bit for a few percent of inputs), not on the C library
(glibc picks an FMA or a non-FMA build of ``exp``/``log`` by CPU), and not on the CPU LLVM
compiles for. They are also why the kernel is fast: they are branch-free (special cases are
selects, not jumps), so LLVM vectorises them across the kernel's lanes, where a libm call
is one scalar call per value (about 6.5 ns each, 22 of them per path-step).

``exp`` and ``expm1`` reduce by ``k ln 2`` with a two-part ``ln 2`` (fdlibm's, Sun 1993),
keep what the reduced argument ``r`` lost to rounding, and evaluate ``e**r`` as
``1 + r + r**2 / 2 + r**3 q(r)``, ``q`` a Taylor polynomial by Estrin's scheme (a chain of
four FMAs where Horner's is twelve: the kernel's chains of exp and log are latency-bound),
with ``1 + r`` and ``r**2`` carried as exact sums of two doubles; ``expm1`` subtracts 1 from
``2**k (1 + r)`` exactly (Knuth's TwoSum) before adding the small terms. Each result is
rounded once, and neither divides or branches. ``log`` and ``log1p`` are fdlibm's, as kept
in musl: they reduce to ``[sqrt(2)/2, sqrt(2)]`` and use the degree-14 series in
``s = f / (2 + f)`` (here by Estrin's scheme); ``log1p`` adds the rounding error of ``1 + x``
as a correction. Each is within 1 ulp over the whole double range, subnormals included
(``tests/test_numerics.py`` measures them against mpmath, and on millions of points against
x86's 80-bit ``long double``: the largest errors seen are 0.61 ulp for ``exp``, 0.84 for
``log``, 0.83 for ``log1p`` and 0.93 for ``expm1``); ``exp`` overflows to ``inf``,
``log(0) = -inf``, ``log`` of a negative number and ``log1p`` below ``-1`` are NaN, NaN
propagates, as IEEE libm does.

Fused multiply-adds are explicit (:func:`fma`, LLVM's ``llvm.fma``), never contracted by the
compiler (Numba compiles without fast-math, so LLVM never fuses ``a * b + c`` itself): an
``fma`` is one rounding on every machine, one instruction where the CPU has FMA and the C
library's correctly rounded ``fma`` where it has not (``NUMBA_CPU_NAME=generic``), so the
bits do not depend on the CPU. Plain Python (``NUMBA_DISABLE_JIT=1``) runs the same
operations in the same order, each ``fma`` as the exact ``a * b + c`` rounded once, so the
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
from fractions import Fraction
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
    "exp_array",
    "log_array",
    "expm1_array",
    "log1p_array",
    "fma",
    "fmax",
    "fmin",
    "dot",
    "cholesky",
    "select",
    "bits_of",
    "from_bits",
    "is_neg_inf",
    "is_pos_inf",
    "is_positive_finite",
    "int_to_float",
    "uint52_to_float",
    "uint53_to_float",
]

#: The numerics version, recorded in every result's attributes (``numerics``). It changes
#: only when the same seed deliberately gives other bits (CHANGELOG):
#: 1 (mcengine 1.0): ziggurat tables computed with numpy at import;
#: 2 (mcengine 1.1): the exact tables as literals, libm instead of numpy's SIMD loops;
#: 3 (mcengine 1.2): this module's own exp/log/log1p/expm1 instead of libm's;
#: 4 (mcengine 1.2, later): exp and expm1 without division and with explicit FMAs, log and
#: log1p's series with FMAs (for speed; docs/model.md "Numerics versions").
NUMERICS = 4


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


@intrinsic
def _fma(typingctx, a, b, c):
    # llvm.fma: one instruction where the CPU has FMA (x86-64 since 2013), a call of the C
    # library's fma (correctly rounded, by C99) where it has not. Either way the same bits.
    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return types.float64(types.float64, types.float64, types.float64), codegen


def _python_fma(a, b, c):
    # Python 3.11 has no math.fma (3.13 has): the exact a * b + c as a fraction, rounded
    # once by int / int true division, which Python rounds correctly (subnormals too).
    if not (math.isfinite(a) and math.isfinite(b)):
        return a * b + c  # inf or NaN in the product: exact, as IEEE's fma
    if not math.isfinite(c):
        return c + 0.0 * a * b  # a finite product does not change inf; NaN stays NaN
    product = Fraction(a) * Fraction(b)
    if product == 0:
        return a * b + c  # an exact zero product: signed zeros as IEEE's
    total = product + Fraction(c)
    if total == 0:
        return 0.0  # exact cancellation rounds to +0
    try:
        return total.numerator / total.denominator
    except OverflowError:
        return _INF if total > 0 else -_INF


def _python_select(condition, if_true, if_false):
    return if_true if condition else if_false


def _python_bits_of(x):
    return struct.unpack("<q", struct.pack("<d", x))[0]


def _python_from_bits(i):
    return struct.unpack("<d", struct.pack("<Q", int(i) & 0xFFFFFFFFFFFFFFFF))[0]


bits_of: Any
from_bits: Any
select: Any
fma: Any
if numba.config.DISABLE_JIT:  # type: ignore[attr-defined]  # read from the environment
    bits_of, from_bits, select = _python_bits_of, _python_from_bits, _python_select
    fma = _python_fma
else:
    bits_of, from_bits, select = _bitcast_to_int, _bitcast_to_float, _select
    fma = _fma
bits_of.__doc__ = "The IEEE bits of the float64 ``x`` as a signed 64-bit integer."
from_bits.__doc__ = "The float64 whose IEEE bits are the 64-bit integer ``i``."
fma.__doc__ = """``a * b + c`` rounded once (IEEE 754's fusedMultiplyAdd)."""
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
@inline_kernel(wrapper=True)
def is_neg_inf(x):
    """``x == -inf``."""
    return bits_of(x) == _NEG_INF_BITS


@inline_kernel(wrapper=True)
def is_pos_inf(x):
    """``x == +inf``."""
    return bits_of(x) == _INF_BITS


@inline_kernel(wrapper=True)
def is_positive_finite(x):
    """``0 < x < inf`` (false for NaN)."""
    b = bits_of(x)
    return (b > 0) & (b < _INF_BITS)


@inline_kernel(wrapper=True)
def fmax(a, b):
    """Python's ``max(a, b)`` of two floats, as one select. Inside inlined kernels the
    builtin leaves a call in the loop, which stops LLVM from vectorising it."""
    return select(b > a, b, a)


@inline_kernel(wrapper=True)
def fmin(a, b):
    """Python's ``min(a, b)`` of two floats, as one select (see :func:`fmax`)."""
    return select(b < a, b, a)


# -- integers as floats ----------------------------------------------------------------------
# AVX2 has no packed conversion between int64 and double (AVX-512 has), so ``np.float64(i)``
# or ``np.int64(x)`` in a lane loop runs lane by lane: extract, convert, insert (40 of them in
# the vector body of the cash-flow loop). The integers the maths and the streams need are
# small, and for them each conversion is one integer and one float addition on the bits of
# 2**52 or 1.5 * 2**52, whose ulp is 1: exact, the same values as the conversions, and
# vectorised on every x86-64. (exp's k = rint(x / ln 2) is read from the bits of such a sum.)
_TWO52 = 4503599627370496.0
_TWO52_BITS = 0x4330000000000000
_LOW52 = (1 << 52) - 1
_ROUND = 6755399441055744.0  # 1.5 * 2**52
_ROUND_BITS = 0x4338000000000000


@inline_kernel(wrapper=True)
def int_to_float(i):
    """``float(i)`` of an integer ``|i| < 2**51``, exactly."""
    return from_bits(i + _ROUND_BITS) - _ROUND


@inline_kernel(wrapper=True)
def uint52_to_float(i):
    """``float(i)`` of an integer ``0 <= i < 2**52``, exactly."""
    return from_bits(i | _TWO52_BITS) - _TWO52


@inline_kernel(wrapper=True)
def uint53_to_float(i):
    """``float(i)`` of an integer ``0 <= i < 2**53`` (a uniform's 53 bits), exactly: its
    low 52 bits as :func:`uint52_to_float`, plus ``2**52`` if its top bit is set."""
    top = select((i >> 52) != 0, _TWO52, 0.0)
    return uint52_to_float(i & _LOW52) + top


# -- exp and expm1 ---------------------------------------------------------------------------
_EXP_OVER = 7.09782712893383973096e02  # above: exp overflows
_EXP_UNDER = -7.45133219101941108420e02  # below: exp rounds to zero
# _EQn = 1 / (n + 2)!, rounded to nearest: q(r) = (e**r - 1 - r - r**2 / 2) / r**3.
_EQ1 = 0.16666666666666666
_EQ2 = 0.041666666666666664
_EQ3 = 0.008333333333333333
_EQ4 = 0.001388888888888889
_EQ5 = 0.0001984126984126984
_EQ6 = 2.48015873015873e-05
_EQ7 = 2.7557319223985893e-06
_EQ8 = 2.755731922398589e-07
_EQ9 = 2.505210838544172e-08
_EQ10 = 2.08767569878681e-09
_EQ11 = 1.6059043836821613e-10
_EQ12 = 1.1470745597729725e-11


@inline_kernel(wrapper=True)
def _exp_parts(x):
    """``e**x = 2**k * (hi + lo)`` for ``x`` in (-746, 710): ``(k, hi, lo)``, ``hi = 1 + r``
    rounded and ``lo`` the rest, ``|lo| < 0.08``. Out of that range ``k`` is garbage, but so
    is only what the callers' last selects replace."""
    # x = k ln2 + r + r_lo, |r| <= ln2 / 2, k = rint(x / ln2) by the rounding of adding
    # 1.5 * 2**52 (its bits then hold k).
    t = fma(x, _INV_LN2, _ROUND)
    kd = t - _ROUND
    k = bits_of(t) - _ROUND_BITS
    hi = fma(kd, -_LN2_HI, x)  # exact: k has at most 11 bits and _LN2_HI 32
    r = fma(kd, -_LN2_LO, hi)
    r_lo = fma(kd, -_LN2_LO, hi - r)  # what r lost (hi - r is exact)
    # exp(r) = 1 + r + r**2 / 2 + r**3 q(r), q's Taylor series to r**11 (truncation below
    # 2**-63), by Estrin's scheme: a dependency chain of four FMAs where Horner's is 12.
    # r**2 / 2 is carried exactly (with FMA, r * r's rounding error is exact), which keeps
    # expm1, where it is a larger part of the result, within 1 ulp.
    r2 = r * r
    r2_lo = fma(r, r, -r2)
    r4 = r2 * r2
    a0 = fma(r, _EQ2, _EQ1)
    a1 = fma(r, _EQ4, _EQ3)
    a2 = fma(r, _EQ6, _EQ5)
    a3 = fma(r, _EQ8, _EQ7)
    a4 = fma(r, _EQ10, _EQ9)
    a5 = fma(r, _EQ12, _EQ11)
    b0 = fma(r2, a1, a0)
    b1 = fma(r2, a3, a2)
    b2 = fma(r2, a5, a4)
    q = fma(r4, fma(r4, b2, b1), b0)
    tail = fma(r2 * r, q, fma(0.5, r2_lo, r_lo))
    # 1 + r as a sum of two doubles (|r| < 1: the error of 1 + r is exact).
    one_r = 1.0 + r
    return k, one_r, (((1.0 - one_r) + r) + 0.5 * r2) + tail


@inline_kernel(wrapper=True)
def _times_pow2(y, k):
    """``y * 2**k`` for ``k`` in [-1076, 1024], in two exact halves: ``2**k`` never
    overflows and a subnormal result is rounded once."""
    k1 = k >> 1
    return y * from_bits((k1 + 1023) << 52) * from_bits((k - k1 + 1023) << 52)


@inline_kernel(wrapper=True)
def exp(x):
    """``e**x``; ``inf`` above 709.78, ``0`` below -745.13, NaN for NaN."""
    k, hi, lo = _exp_parts(x)
    out = _times_pow2(hi + lo, k)  # rounded once, at the addition
    out = select(x > _EXP_OVER, _INF, out)
    return select(x < _EXP_UNDER, 0.0, out)  # (NaN has stayed NaN: both tests are false)


@inline_kernel(wrapper=True)
def expm1(x):
    """``e**x - 1``, accurate for small ``x``; ``inf`` above 709.78, -1 far below 0."""
    # 2**k (hi + lo) - 1 = (t - 1) + 2**k lo with t = 2**k hi exact; t - 1 as an exact sum
    # of two doubles (Knuth's TwoSum), so the result is rounded once, at the last addition.
    k, hi, lo = _exp_parts(select(x > -60.0, x, -60.0))  # below -37.5 the result is -1
    t = _times_pow2(hi, k)
    s = t - 1.0
    back = s - t
    err = (t - (s - back)) + (-1.0 - back)
    out = s + (err + _times_pow2(lo, k))
    out = select(x > _EXP_OVER, _INF, out)
    tiny = (bits_of(x) & _ABS_MASK) < 0x3C90000000000000  # |x| < 2**-54: x itself (+-0 too)
    return select(tiny | (x != x), x, out)


# -- log and log1p --------------------------------------------------------------------------
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01


@inline_kernel(wrapper=True)
def _log_series(f, k, c):
    """``log(1 + f) + k ln 2 + c`` for ``1 + f`` in [sqrt(2)/2, sqrt(2)] (fdlibm's core)."""
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    p01 = fma(z, _LG2, _LG1)
    p23 = fma(z, _LG4, _LG3)
    p45 = fma(z, _LG6, _LG5)
    p03 = fma(w, p23, p01)
    p47 = fma(w, _LG7, p45)
    r = z * fma(w * w, p47, p03)
    dk = int_to_float(k)
    return s * (hfsq + r) + fma(dk, _LN2_LO, c) - hfsq + f + dk * _LN2_HI


@inline_kernel(wrapper=True)
def _reduce(ix):
    """Split the positive float of bits ``ix`` as ``2**k * (1 + f)``, ``1 + f`` in
    [sqrt(2)/2, sqrt(2)]: returns ``(f, k)``."""
    hx = ((ix >> 32) & _LO32) + (0x3FF00000 - 0x3FE6A09E)
    k = (hx >> 20) - 0x3FF
    hx = (hx & 0x000FFFFF) + 0x3FE6A09E
    return from_bits((hx << 32) | (ix & _LO32)) - 1.0, k


@inline_kernel(wrapper=True)
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


@inline_kernel(wrapper=True)
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
