"""Every estimate formula, once, with one rule for its edge cases: undefined is NaN.

A figure that cannot be estimated (the standard error of one path, the mean return given a
crash when no path crashed, a quantile of no paths) is NaN here, ``n/a`` in tables and
``null`` in JSON, never 0. Standard errors (``docs/model.md``, "Reading the results"):

* mean: sample standard deviation / sqrt(n), from 2 paths;
* std: delta method on the sample variance, ``sqrt((m4 - s^4) / n) / (2 s)``, where s > 0;
* quantiles (and VaR, and the median drawdown): from the distribution-free order-statistic
  95% interval, ranks ``n q +/- 1.96 sqrt(n q (1-q))``, divided by ``2 * 1.96``. It needs no
  density estimate and is zero where the interval sits on an atom (e.g. wipe-outs at -1);
* CVaR (expected shortfall): ``std((q - X)+) / (alpha sqrt(n))``, its asymptotic error;
* probabilities: ``sqrt(p (1 - p) / n)``, from 2 paths, with Wilson's score interval;
* batch means (replicate groups, sub-ensembles): ``std(ddof=1) / sqrt(k)`` over the ``k``
  batch values, from 2 batches (:func:`batch_standard_error`).

95% confidence intervals: the order-statistic interval itself for quantiles, Wilson's for
probabilities, estimate +/- 1.96 s.e. for the mean, standard deviation and CVaR.

:data:`UNDEFINED` is that NaN: the value of a figure that cannot be estimated. (The
presentation layer spells it ``n/a``; this module's ``UNDEFINED`` is the number.)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from mcengine.errors import InputError

__all__ = [
    "Estimate",
    "Z95",
    "TAIL_ALPHA",
    "UNDEFINED",
    "normal",
    "mean",
    "mean_standard_error",
    "batch_standard_error",
    "z_score",
    "std",
    "quantile",
    "proportion",
    "tail",
    "student_t95",
]

#: The two-sided 95% normal multiplier, ``z_score(0.95)``: the 97.5% standard normal quantile.
Z95 = 1.959963984540054
#: The tail of VaR and CVaR: the worst 5%.
TAIL_ALPHA = 0.05
#: The value of a figure that cannot be estimated: NaN, never 0.
UNDEFINED = math.nan


class Estimate(NamedTuple):
    """A statistic with its Monte Carlo standard error and 95% confidence interval."""

    value: float
    se: float
    ci_low: float
    ci_high: float


def normal(value: float, se: float) -> Estimate:
    """An estimate with a normal 95% interval (NaN where either is undefined)."""
    return Estimate(value, se, value - Z95 * se, value + Z95 * se)


def mean_standard_error(m2: float, n: int) -> float:
    """Standard error of a mean from the central sum of squares ``m2`` of ``n`` values."""
    return math.sqrt(m2 / (n - 1) / n) if n > 1 else UNDEFINED


def batch_standard_error(values, axis: int | str = 0):
    """Standard error of a mean of ``k`` independent batch (or replicate) values: their
    sample standard deviation over ``sqrt(k)``, undefined (NaN) below 2 values.

    ``values`` is a numpy array (``axis`` an integer) or an xarray DataArray (``axis`` a
    dimension name); the batches run along ``axis``, which the result drops.
    """
    if isinstance(axis, str):
        k = values.sizes[axis]
        if k < 2:
            return values.isel({axis: 0}, drop=True).astype(float) * UNDEFINED
        return values.std(axis, ddof=1) / math.sqrt(k)
    values = np.asarray(values)
    k = values.shape[axis]
    if k < 2:
        shape = values.shape[: axis % values.ndim] + values.shape[axis % values.ndim + 1 :]
        return np.full(shape, UNDEFINED)[()]
    return values.std(axis=axis, ddof=1) / math.sqrt(k)


def z_score(level: float) -> float:
    """The two-sided normal multiplier of a ``level`` confidence interval (0.95 -> 1.96): the
    ``(1 + level) / 2`` standard normal quantile, what ``scipy.stats.norm.ppf`` returns (its
    ``ndtri``), without importing scipy.stats."""
    if not 0.0 < level < 1.0:
        raise InputError(f"level = {level!r}, must be in (0, 1)")
    import scipy.special

    return float(scipy.special.ndtri(0.5 + level / 2.0))


def mean(moments) -> Estimate:
    """The mean of a :class:`mcengine.stats.samples.Moments` (undefined for no values)."""
    value = moments.mean if moments.n > 0 else UNDEFINED
    return normal(value, mean_standard_error(moments.m2, moments.n))


def std(moments) -> Estimate:
    """The sample standard deviation, with the delta-method standard error."""
    n = moments.n
    if n < 2:
        return normal(UNDEFINED, UNDEFINED)
    s = math.sqrt(moments.m2 / (n - 1))
    se = math.sqrt(max(moments.m4 / n - s**4, 0.0) / n) / (2.0 * s) if s > 0 else UNDEFINED
    return normal(s, se)


def quantile(sample, q: float) -> Estimate:
    """Quantile ``q`` with the distribution-free order-statistic interval: ranks
    ``n q +/- 1.96 sqrt(n q (1-q))``. Its width / (2 * 1.96) is the standard error; it needs
    no density estimate and collapses onto an atom (e.g. wipe-outs at -1)."""
    n = sample.n
    if n == 0:
        return normal(UNDEFINED, UNDEFINED)
    if n == 1:
        value = sample.quantile(q)
        return Estimate(value, UNDEFINED, UNDEFINED, UNDEFINED)
    half = Z95 * math.sqrt(n * q * (1.0 - q))
    lo = sample.order_statistic(min(max(math.floor(n * q - half), 0), n - 1))
    hi = sample.order_statistic(min(max(math.ceil(n * q + half), 0), n - 1))
    return Estimate(sample.quantile(q), (hi - lo) / (2.0 * Z95), lo, hi)


def proportion(hits: int, n: int) -> Estimate:
    """Proportion with the Wilson score interval (sound near 0 and 1, unlike p +/- 1.96 se)."""
    if n == 0:
        return normal(UNDEFINED, UNDEFINED)
    p = hits / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # At p = 0 (or 1) the interval ends exactly at 0 (or 1); rounding would miss by 1 ulp.
    low = 0.0 if hits == 0 else max(centre - half, 0.0)
    high = 1.0 if hits == n else min(centre + half, 1.0)
    # One path is one Bernoulli draw: no spread to estimate a standard error from.
    se = math.sqrt(p * (1.0 - p) / n) if n > 1 else UNDEFINED
    return Estimate(p, se, low, high)


def student_t95(replicates: int) -> float:
    """Two-sided 95% Student-t quantile with ``replicates - 1`` degrees of freedom: what
    ``scipy.stats.t.ppf(0.975, df)`` returns (its ``_ppf``), without importing scipy.stats
    (half a second of start-up)."""
    import scipy.special

    return float(scipy.special.stdtrit(replicates - 1, 0.975))


def tail(sample) -> tuple[Estimate, Estimate, Estimate]:
    """The 5% quantile, VaR 95% (its negative) and CVaR 95% (expected shortfall) of a
    sample of returns (:mod:`mcengine.stats.samples`)."""
    q = quantile(sample, TAIL_ALPHA)
    var = Estimate(-q.value, q.se, -q.ci_high, -q.ci_low)
    if sample.n < 2:
        return q, var, normal(-q.value if sample.n else UNDEFINED, UNDEFINED)
    shortfall_mean, shortfall_var = sample.shortfall(q.value)
    cvar = -(q.value - shortfall_mean / TAIL_ALPHA)
    se = math.sqrt(shortfall_var) / (TAIL_ALPHA * math.sqrt(sample.n))
    return q, var, normal(cvar, se)
