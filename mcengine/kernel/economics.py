"""Segment economics: one step of prices, revenues and investor growth, in log space.

These are the path pricer's pieces (QuantLib's split): pure ``@njit`` functions of scalars,
inlined into :mod:`mcengine.kernel.paths`. Quantities that multiply (demand, capacity, capex,
prices, revenues, values, wealth) are carried as natural logs, so that no product ever
overflows or underflows in the middle of a formula: ``-inf`` is an exact zero and follows
MODEL.md's rules for zero values. ``docs/model.md`` ("Numerics") lists each rewrite; the
plain-numpy transcription in ``mcengine/bench/reference.py`` checks them
(``tests/test_reference.py``).
"""

from __future__ import annotations

import numpy as np

from mcengine.jit import kernel
from mcengine.kernel.coefficients import C
from mcengine.numerics import exp, log, log1p

_NEG_INF = -np.inf


@kernel
def log_scale(e, log_x):
    """``e * log_x`` as the log of ``x**e``, with ``x**0 = 1`` even for ``x = 0``."""
    if e == 0.0:
        return 0.0
    return e * log_x


@kernel
def log_mul(log_a, log_b):
    """Log of ``a * b`` where a zero factor gives zero (``0 * inf = 0``)."""
    if log_a == _NEG_INF or log_b == _NEG_INF:
        return _NEG_INF
    return log_a + log_b


@kernel
def logaddexp(a, b):
    """``log(exp(a) + exp(b))`` without overflow; ``-inf`` is zero."""
    hi = max(a, b)
    if hi == _NEG_INF or hi == np.inf:
        return hi
    return hi + log1p(exp(-abs(a - b)))


@kernel
def weighted_exp(weight, log_x):
    """``weight * exp(log_x)``, with a zero weight giving zero even if ``exp`` overflows."""
    if weight == 0.0:
        return 0.0
    return weight * exp(log_x)


@kernel
def sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + exp(-x))
    e = exp(x)
    return e / (1.0 + e)


@kernel
def log_one_minus_sigmoid(x):
    """``log(1 - sigmoid(x)) = -softplus(x)``, finite for every finite ``x``."""
    return -(max(x, 0.0) + log1p(exp(-abs(x))))


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


@kernel
def log_price(log_k, log_r, coef):
    """Step 10: ``p = max(floor*k, k*(1+markup)*min(r, cap)**elasticity)`` in logs."""
    scarcity = log_scale(coef[C.SCARCITY_ELASTICITY], min(log_r, coef[C.LOG_SCARCITY_CAP]))
    return log_k + max(coef[C.LOG_FLOOR], coef[C.LOG_MARKUP_I] + scarcity)


@kernel
def log_revenues(log_p, log_q, log_closed_share, log_c, coef):
    """Steps 11-12: token bill and the three segments' revenues, as logs.

    Returns ``(log P, log R_A, log R_I, log R_T)``. ``log_closed_share`` is ``log(1 - s)``.
    ``R_A = v*Q = (1+markup) * Q**(1-elasticity)`` avoids ``inf * 0`` when ``Q = 0``.
    """
    log_bill = log_mul(log_p, log_q)
    tech = coef[C.TECH_PREMIUM] * exp(log_scale(coef[C.MOAT_EROSION], log_c))
    cut = min(coef[C.CUT_MAX], coef[C.BRAND_MOAT] + tech)
    log_cut = log(cut) if cut > 0.0 else _NEG_INF
    log_closed_cut = log_mul(log_closed_share, log_cut)
    log_rt = log_mul(log_bill, log_closed_cut)
    # R_I = P - R_T = P * (1 - (1-s)*phi); log1p keeps precision when the cut is small.
    open_part = -exp(log_closed_cut)
    log_ri = log_mul(log_bill, log1p(open_part) if open_part > -1.0 else _NEG_INF)
    log_ra = coef[C.LOG_MARKUP_A] + log_scale(1.0 - coef[C.VALUE_ELASTICITY], log_q)
    return log_bill, log_ra, log_ri, log_rt


@kernel
def growth_factor(log_v, log_v_prev, cash_over_v_prev):
    """Step 17: ``G = (V + F) / V_prev`` given ``F / V_prev``; ``nan`` when ``V_prev = 0``."""
    if log_v_prev == _NEG_INF:
        return np.nan
    return exp(log_v - log_v_prev) + cash_over_v_prev
