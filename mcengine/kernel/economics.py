"""Segment economics: one step of prices, revenues and investor growth, in log space.

These are the path pricer's pieces (QuantLib's split): pure functions of scalars, inlined
into the steps of :mod:`mcengine.kernel.steps` and so into the kernel's lane loops, written
without branches (each "if" is a select of two computed values, which LLVM vectorises).
``coef`` is the coefficient vector or its tuple (indexed by ``C`` either way). Quantities that
multiply (demand, capacity, capex, prices, revenues, values, wealth) are carried as natural
logs, so that no product ever overflows or underflows in the middle of a formula: ``-inf``
is an exact zero and follows MODEL.md's rules for zero values. ``docs/model.md``
("Numerics") lists each rewrite; the plain-numpy transcription in
``mcengine/bench/reference.py`` checks them (``tests/test_reference.py``).
"""

from __future__ import annotations

import numpy as np

from mcengine.jit import inline_kernel, kernel
from mcengine.kernel.coefficients import C
from mcengine.numerics import exp, fmax, fmin, is_neg_inf, log, log1p, select

__all__ = [
    "log_scale",
    "log_mul",
    "logaddexp",
    "weighted_exp",
    "sigmoid",
    "sigmoid_call",
    "log_one_minus_sigmoid",
    "poisson_inverse",
    "log_price",
    "log_revenues",
    "growth_factor",
]

_NEG_INF = -np.inf


@inline_kernel
def log_scale(e, log_x):
    """``e * log_x`` as the log of ``x**e``, with ``x**0 = 1`` even for ``x = 0``."""
    return select(e == 0.0, 0.0, e * log_x)


@inline_kernel
def log_mul(log_a, log_b):
    """Log of ``a * b`` where a zero factor gives zero (``0 * inf = 0``)."""
    return select((is_neg_inf(log_a) | is_neg_inf(log_b)), _NEG_INF, log_a + log_b)


@inline_kernel
def logaddexp(a, b):
    """``log(exp(a) + exp(b))`` without overflow; ``-inf`` is zero."""
    # a == b == +-inf would make a - b NaN; as 0 it gives hi + log(2) = hi. (Not a test for
    # infinities: LLVM folds that into a call, llvm.is.fpclass, that it cannot vectorise.)
    diff = select(a == b, 0.0, a - b)
    return fmax(a, b) + log1p(exp(-abs(diff)))


@inline_kernel
def weighted_exp(weight, log_x):
    """``weight * exp(log_x)``, with a zero weight giving zero even if ``exp`` overflows."""
    out = weight * exp(log_x)
    return select(weight == 0.0, 0.0, out)


@inline_kernel
def sigmoid(x):
    e = exp(-abs(x))
    return select(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


@kernel
def sigmoid_call(x):
    """:func:`sigmoid` as a function call, for scalar code outside the lane loops: each
    inlined copy of a function's body costs compile time, a call does not."""
    return sigmoid(x)


@inline_kernel
def log_one_minus_sigmoid(x):
    """``log(1 - sigmoid(x)) = -softplus(x)``, finite for every finite ``x``."""
    return -(fmax(x, 0.0) + log1p(exp(-abs(x))))


@kernel
def poisson_inverse(u, mu, p0):
    """Poisson(mu) count by inverse CDF of ``u`` in [0, 1); ``p0 = exp(-mu)``."""
    k = 0
    p = p0
    cdf = p
    # Stops when the term underflows: the CDF has then reached 1 to double precision.
    while u > cdf and p > 0.0:
        k += 1
        p *= mu / k
        cdf += p
    return k


@inline_kernel
def log_price(log_k, log_r, coef):
    """Step 10: ``p = max(floor*k, k*(1+markup)*min(r, cap)**elasticity)`` in logs."""
    scarcity = log_scale(coef[C.SCARCITY_ELASTICITY], fmin(log_r, coef[C.LOG_SCARCITY_CAP]))
    return log_k + fmax(coef[C.LOG_FLOOR], coef[C.LOG_MARKUP_I] + scarcity)


@inline_kernel
def log_revenues(log_p, log_q, log_closed_share, log_c, coef):
    """Steps 11-12: token bill and the three segments' revenues, as logs.

    Returns ``(log P, log R_A, log R_I, log R_T)``. ``log_closed_share`` is ``log(1 - s)``.
    ``R_A = v*Q = (1+markup) * Q**(1-elasticity)`` avoids ``inf * 0`` when ``Q = 0``.
    """
    log_bill = log_mul(log_p, log_q)
    tech = coef[C.TECH_PREMIUM] * exp(log_scale(coef[C.MOAT_EROSION], log_c))
    cut = fmin(coef[C.CUT_MAX], coef[C.BRAND_MOAT] + tech)
    log_cut = log(cut)
    log_cut = select(cut > 0.0, log_cut, _NEG_INF)
    log_closed_cut = log_mul(log_closed_share, log_cut)
    log_rt = log_mul(log_bill, log_closed_cut)
    # R_I = P - R_T = P * (1 - (1-s)*phi); log1p keeps precision when the cut is small.
    open_part = -exp(log_closed_cut)
    log_open = log1p(open_part)
    log_ri = log_mul(log_bill, select(open_part > -1.0, log_open, _NEG_INF))
    log_ra = coef[C.LOG_MARKUP_A] + log_scale(1.0 - coef[C.VALUE_ELASTICITY], log_q)
    return log_bill, log_ra, log_ri, log_rt


@inline_kernel
def growth_factor(log_v, log_v_prev, cash_over_v_prev):
    """Step 17: ``G = (V + F) / V_prev`` given ``F / V_prev``; ``nan`` when ``V_prev = 0``."""
    out = exp(log_v - log_v_prev) + cash_over_v_prev
    return select(is_neg_inf(log_v_prev), np.nan, out)
