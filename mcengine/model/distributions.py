"""The distributions a belief may take: each one's parameter sets, and the frozen
distribution that a ``{dist = ..., ...}`` table defines (scipy.stats', or a stand-in that
draws the same bits on every CPU).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mcengine.checks import plain, show_value
from mcengine.errors import ScenarioError
from mcengine.numerics import exp, exp_array, log

__all__ = ["DISTRIBUTIONS", "Choice", "distribution_number", "frozen_distribution"]

#: Each distribution and the parameter sets that define it (any one of them).
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    "normal": (("mean", "sd"), ("p05", "p95")),
    "lognormal": (("mu", "sigma"), ("median", "sigma"), ("p05", "p95")),
    "uniform": (("min", "max"),),
    "triangular": (("min", "mode", "max"),),
    "pert": (("min", "mode", "max"),),
    "beta": (("a", "b"), ("a", "b", "min", "max")),
    "truncnormal": (("mean", "sd", "min", "max"),),
    "choice": (("values",), ("values", "weights")),
}

#: The standard normal's 95% quantile, ``scipy.special.ndtri(0.95)``: a p05-p95 range spans
#: +/- this many standard deviations. It is the one-sided 95% (two-sided 90%) multiplier, not
#: the 1.96 of a 95% interval (``mcengine.stats.estimates.Z95``). A literal: importing
#: scipy.special for it cost every start a tenth of a second (``tests/test_beliefs.py``
#: checks the bits).
_Z_Q95 = 1.6448536269514722


def distribution_number(key: str, dist: str, name: str, value: Any) -> float:
    """``value`` of parameter ``name`` of ``dist`` (for ``key``): a finite number, as float."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(f"{key}: {dist} {name} = {plain(repr(value))}, must be a number")
    return float(value)


# scipy.stats' lognorm and truncnorm compute their inverse CDFs with numpy's exp/log,
# whose SIMD loops (AVX-512 or not) round differently: the same seed would draw other bits
# on another CPU. Both are built here from scipy's normal (scipy.special's ndtri/ndtr, the
# same on every CPU numpy runs on) and mcengine's own exp/log.
class _LogNormal:
    """exp of a normal: ``ppf(q) = exp(normal.ppf(q))``."""

    def __init__(self, normal) -> None:
        self.normal = normal

    def cdf(self, x: float) -> float:
        return float(self.normal.cdf(log(x))) if x > 0 else 0.0

    def sf(self, x: float) -> float:
        return float(self.normal.sf(log(x))) if x > 0 else 1.0

    def ppf(self, q: np.ndarray) -> np.ndarray:
        return exp_array(self.normal.ppf(q))

    def isf(self, q: np.ndarray) -> np.ndarray:
        return exp_array(self.normal.isf(q))


class _Interval:
    """A distribution conditioned on ``[lo, hi]``: ``ppf(q) = inner.ppf(F(lo) + q (F(hi) -
    F(lo)))``, the truncated normal's definition."""

    def __init__(self, key: str, inner, lo: float, hi: float) -> None:
        self.inner = inner
        self.lo, self.hi = float(inner.cdf(lo)), float(inner.cdf(hi))
        self.above = float(inner.sf(hi))
        if self.hi - self.lo < 1e-9:  # quantised beyond use in float64
            raise ScenarioError(
                f"{key}: truncnormal [min, max] holds {self.hi - self.lo:.1e} of the normal, "
                "must hold at least 1e-9 (min and max within about 6 sd of the mean)"
            )

    def cdf(self, x: float) -> float:
        return min(max((float(self.inner.cdf(x)) - self.lo) / (self.hi - self.lo), 0.0), 1.0)

    def sf(self, x: float) -> float:
        return min(max((float(self.inner.sf(x)) - self.above) / (self.hi - self.lo), 0.0), 1.0)

    def ppf(self, q: np.ndarray) -> np.ndarray:
        return self.inner.ppf(self.lo + np.asarray(q) * (self.hi - self.lo))

    def isf(self, q: np.ndarray) -> np.ndarray:
        return self.inner.isf(self.above + np.asarray(q) * (self.hi - self.lo))


class Choice:
    """A discrete distribution over ``values`` (scipy's rv_discrete over their indices)."""

    def __init__(self, values: Sequence[float], weights: Sequence[float]) -> None:
        self.values = np.asarray(values, dtype=float)
        p = np.asarray(weights, dtype=float)
        from scipy import stats  # (see frozen_distribution)

        self._index = stats.rv_discrete(values=(np.arange(len(p)), p / p.sum()))
        #: P(index <= k): the kernel draws the first value whose cumulative reaches u.
        self.cumulative = self._index.cdf(np.arange(len(p)))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.values[self._index.ppf(u).astype(np.int64)]


def frozen_distribution(key: str, dist: str, p: dict[str, Any]):
    """The scipy.stats distribution, a float (degenerate) or a :class:`Choice`."""
    # Imported here, not at the top: scipy.stats takes about a second to import, and only
    # scenarios with uncertain parameters need it (mcengine's start-up, issue 14).
    from scipy import stats

    def num(name: str, lo: float = -math.inf, *, above: bool = False) -> float:
        value = distribution_number(key, dist, name, p[name])
        if value < lo or (above and value == lo):
            bound = "greater than" if above else "at least"
            raise ScenarioError(
                f"{key}: {dist} {name} = {show_value(value)}, must be {bound} {lo:g}"
            )
        return value

    if dist == "choice":
        values = p["values"]
        if not isinstance(values, list) or not values:
            raise ScenarioError(f"{key}: choice values must be a non-empty list of numbers")
        values = [distribution_number(key, dist, f"values[{i}]", v) for i, v in enumerate(values)]
        weights = p.get("weights", [1.0] * len(values))
        if not isinstance(weights, list) or len(weights) != len(values):
            raise ScenarioError(f"{key}: choice weights must be a list as long as values")
        weights = [
            distribution_number(key, dist, f"weights[{i}]", w) for i, w in enumerate(weights)
        ]
        if min(weights) < 0 or sum(weights) <= 0:
            raise ScenarioError(f"{key}: choice weights must be >= 0 with a positive sum")
        return values[0] if len(set(values)) == 1 else Choice(values, weights)
    if dist in ("normal", "lognormal") and "p05" in p:
        lo = num("p05", 0.0, above=True) if dist == "lognormal" else num("p05")
        hi = num("p95")
        if hi <= lo:
            raise ScenarioError(f"{key}: {dist} p95 = {show_value(hi)}, must be greater than p05")
        if dist == "normal":
            return stats.norm((lo + hi) / 2, (hi - lo) / (2 * _Z_Q95))
        mu, sigma = (log(lo) + log(hi)) / 2, (log(hi) - log(lo)) / (2 * _Z_Q95)
        return _LogNormal(stats.norm(mu, sigma))
    if dist == "normal":
        mean, sd = num("mean"), num("sd", 0.0)
        return mean if sd == 0 else stats.norm(mean, sd)
    if dist == "lognormal":
        sigma = num("sigma", 0.0)
        mu = log(num("median", 0.0, above=True)) if "median" in p else num("mu")
        return exp(mu) if sigma == 0 else _LogNormal(stats.norm(mu, sigma))
    if dist == "truncnormal":
        mean, sd, lo, hi = num("mean"), num("sd", 0.0), num("min"), num("max")
        if hi < lo:
            raise ScenarioError(f"{key}: truncnormal max = {show_value(hi)}, must be at least min")
        if sd == 0 or lo == hi:
            return min(max(mean, lo), hi)
        return _Interval(key, stats.norm(mean, sd), lo, hi)
    if dist == "beta":
        a, b = num("a", 0.0, above=True), num("b", 0.0, above=True)
        lo, hi = (num("min"), num("max")) if "min" in p else (0.0, 1.0)
        if hi < lo:
            raise ScenarioError(f"{key}: beta max = {show_value(hi)}, must be at least min")
        return lo if lo == hi else stats.beta(a, b, loc=lo, scale=hi - lo)
    lo, hi = num("min"), num("max")
    if hi < lo:
        raise ScenarioError(f"{key}: {dist} max = {show_value(hi)}, must be at least min")
    if dist == "uniform":
        return lo if lo == hi else stats.uniform(loc=lo, scale=hi - lo)
    mode = num("mode")
    if not lo <= mode <= hi:
        raise ScenarioError(f"{key}: {dist} mode = {show_value(mode)}, must be in [min, max]")
    if lo == hi:
        return lo
    if dist == "triangular":
        return stats.triang((mode - lo) / (hi - lo), loc=lo, scale=hi - lo)
    # PERT: a beta on [min, max] with shape 4 around the mode (Vose, "Risk Analysis", 2008)
    a = 1 + 4 * (mode - lo) / (hi - lo)
    return stats.beta(a, 6 - a, loc=lo, scale=hi - lo)
