"""Uncertain parameters: a scenario key that is a distribution, drawn once per path.

A scenario file may give any continuous key (or one element of a per-segment list) as a
table instead of a number::

    [open_share]
    drift = { dist = "normal", mean = 0.05, sd = 0.12 }
    [demand]
    jump_rate = { dist = "lognormal", p05 = 0.05, p95 = 0.5 }

Each :class:`Belief` is a scipy.stats distribution truncated to the key's valid range
(sampled from the conditional distribution: ``ppf(F(lo) + u (F(hi) - F(lo)))``); more than
1% cut off is refused unless the table says ``truncate = true``. A ``[dependence]`` table
(:class:`Dependence`) links beliefs, and beliefs with the per-path draws ``decline_rate``
(lambda) and ``initial_growth`` (g0), by Spearman rank correlations through a Gaussian or
Student-t copula, applied path by path so that every path's values are a function of
(seed, path) alone. The uniforms come from :func:`mcengine.rng.streams.parameter_uniforms`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special, stats

from mcengine.errors import ScenarioError
from mcengine.layout import PathDraw
from mcengine.model.parameters import Range, plain, show_value
from mcengine.numerics import cholesky, exp, exp_array, log

__all__ = [
    "DISTRIBUTIONS",
    "PER_PATH_DRAWS",
    "MAX_CUT",
    "Belief",
    "Dependence",
    "Beliefs",
    "not_uncertain",
]

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
#: Largest share of a distribution that may lie outside its key's range without
#: ``truncate = true``.
MAX_CUT = 0.01
#: The per-path draws a belief may depend on, by the name [dependence] uses.
PER_PATH_DRAWS = {"decline_rate": PathDraw.DECLINE_RATE, "initial_growth": PathDraw.INITIAL_GROWTH}
_Z95 = float(special.ndtri(0.95))

#: Keys that cannot be uncertain, and why.
_FIXED = {
    "simulation.horizon_years": "it sets the time grid",
    "simulation.steps_per_year": "it sets the time grid",
    "valuation.crash_window_years": "it sets the crash window's length in steps",
    "correlation.cost_open": "give dependence between beliefs in [dependence] instead",
    "correlation.cost_demand": "give dependence between beliefs in [dependence] instead",
    "correlation.open_demand": "give dependence between beliefs in [dependence] instead",
    "training.spend_ratio_initial": "the spend-ratio schedule is shared by every path",
    "training.spend_ratio_long_run": "the spend-ratio schedule is shared by every path",
    "training.spend_ratio_half_life": "the spend-ratio schedule is shared by every path",
}


def not_uncertain(key: str) -> str | None:
    """Why ``key`` (``section.key``) cannot be a distribution, or ``None`` if it can."""
    return _FIXED.get(key)


def _number(key: str, dist: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(f"{key}: {dist} {name} = {plain(repr(value))}, must be a number")
    return float(value)


@dataclass(frozen=True)
class Belief:
    """One uncertain key: ``dist`` with ``params``, truncated to ``valid`` (the key's
    range). Build with :meth:`from_table`."""

    key: str
    dist: str
    params: tuple[tuple[str, Any], ...]
    valid: Range
    truncate: bool = False
    _frozen: Any = field(default=None, compare=False, repr=False)
    _bounds: tuple[float, float] = field(default=(0.0, 1.0), compare=False, repr=False)

    @classmethod
    def from_table(cls, key: str, table: Mapping[str, Any], valid: Range) -> Belief:
        """Check ``table`` (``{dist = ..., ...}``) for ``key`` and build the belief.

        Raises :class:`ScenarioError` naming the key, the distribution, the parameter and
        what is allowed."""
        table = dict(table)
        dist = table.pop("dist", None)
        if dist not in DISTRIBUTIONS:
            raise ScenarioError(
                f"{key}: dist = {plain(repr(dist))}, must be one of {', '.join(DISTRIBUTIONS)}"
            )
        why = not_uncertain(key.split("[")[0])
        if why is not None or valid.integer or valid.choices:
            raise ScenarioError(f"{key} cannot be a distribution: {why or 'it is an integer'}")
        truncate = table.pop("truncate", False)
        if not isinstance(truncate, bool):
            raise ScenarioError(f"{key}: truncate = {plain(repr(truncate))}, must be true or false")
        names = tuple(table)
        if set(names) not in [set(option) for option in DISTRIBUTIONS[dist]]:
            options = " or ".join("(" + ", ".join(o) + ")" for o in DISTRIBUTIONS[dist])
            raise ScenarioError(
                f"{key}: {dist} takes {options}, not ({', '.join(plain(n) for n in names)})"
            )
        params = tuple((name, table[name]) for name in names)
        frozen = _scipy(key, dist, dict(params))
        belief = cls(key, dist, params, valid, truncate, frozen)
        object.__setattr__(belief, "_bounds", belief._check_support())
        return belief

    # -- what it is ------------------------------------------------------------------------
    def describe(self) -> str:
        """``normal(mean=0.05, sd=0.12)``, as ``mcengine show`` prints it."""
        args = ", ".join(f"{name}={show_value(value)}" for name, value in self.params)
        return f"{self.dist}({args})" + (" truncated" if self.truncate else "")

    def to_table(self) -> dict[str, Any]:
        """The table it was written as (TOML round trip)."""
        table: dict[str, Any] = {"dist": self.dist, **dict(self.params)}
        if self.truncate:
            table["truncate"] = True
        return table

    @property
    def cut(self) -> float:
        """The probability the distribution puts outside the key's range (cut off)."""
        lo, hi = self._bounds  # (0, 1) for a degenerate or discrete belief
        return 1.0 - (hi - lo)

    @property
    def point(self) -> float:
        """The median, the value the scenario's point fields hold."""
        return float(self.ppf(np.array([0.5]))[0])

    @property
    def location(self) -> tuple[str, str, int | None]:
        """``(section, key, index)`` of the field it replaces (``index``: the element of a
        per-segment list, else ``None``)."""
        section, _, key = self.key.partition(".")
        name, _, index = key.partition("[")
        return section, name, int(index[:-1]) if index else None

    @property
    def block(self) -> int:
        """Its stream block: a hash of the key, so its draws do not depend on other keys."""
        return zlib.crc32(self.key.encode())

    # -- drawing -----------------------------------------------------------------------------
    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Values at probabilities ``u`` in (0, 1) of the distribution conditioned on the
        key's range (always inside it)."""
        u = np.asarray(u, dtype=float)
        frozen = self._frozen
        if isinstance(frozen, float):  # degenerate: sd = 0, min = max, one choice
            return np.full(u.shape, frozen)
        if isinstance(frozen, _Choice):
            return frozen.ppf(u)
        lo, hi = self._bounds
        values = frozen.ppf(lo + u * (hi - lo))
        return np.clip(values, *self._inside())

    def _inside(self) -> tuple[float, float]:
        """The closed interval of floats inside the key's range."""
        v = self.valid
        lo = np.nextafter(v.lo, np.inf) if v.lo_open else v.lo
        hi = np.nextafter(v.hi, -np.inf) if v.hi_open else v.hi
        return float(lo), float(hi)

    def _check_support(self) -> tuple[float, float]:
        frozen, v = self._frozen, self.valid
        if isinstance(frozen, float | _Choice):
            values = [frozen] if isinstance(frozen, float) else frozen.values
            for value in values:
                if not v.contains(value):
                    shown = show_value(value)
                    raise ScenarioError(
                        f"{self.key} = {self.describe()}: value {shown} {v.requirement()}"
                    )
            return 0.0, 1.0
        lo = float(frozen.cdf(v.lo)) if math.isfinite(v.lo) else 0.0
        hi = float(frozen.cdf(v.hi)) if math.isfinite(v.hi) else 1.0
        cut = 1.0 - (hi - lo)
        if hi - lo <= 0.0 or not math.isfinite(cut):
            raise ScenarioError(
                f"{self.key} = {self.describe()}: none of it lies in the key's range {v}"
            )
        if cut > MAX_CUT and not self.truncate:
            raise ScenarioError(
                f"{self.key} = {self.describe()}: {cut:.1%} of it lies outside the key's "
                f"range {v}, more than {MAX_CUT:.0%}; narrow it, or add truncate = true to "
                "draw from the part inside"
            )
        return lo, hi


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

    def ppf(self, q: np.ndarray) -> np.ndarray:
        return exp_array(self.normal.ppf(q))


class _Interval:
    """A distribution conditioned on ``[lo, hi]``: ``ppf(q) = inner.ppf(F(lo) + q (F(hi) -
    F(lo)))``, the truncated normal's definition."""

    def __init__(self, key: str, inner, lo: float, hi: float) -> None:
        self.inner = inner
        self.lo, self.hi = float(inner.cdf(lo)), float(inner.cdf(hi))
        if self.hi - self.lo < 1e-9:  # quantised beyond use in float64
            raise ScenarioError(
                f"{key}: truncnormal [min, max] holds {self.hi - self.lo:.1e} of the normal, "
                "must hold at least 1e-9 (min and max within about 6 sd of the mean)"
            )

    def cdf(self, x: float) -> float:
        return min(max((float(self.inner.cdf(x)) - self.lo) / (self.hi - self.lo), 0.0), 1.0)

    def ppf(self, q: np.ndarray) -> np.ndarray:
        return self.inner.ppf(self.lo + np.asarray(q) * (self.hi - self.lo))


class _Choice:
    """A discrete distribution over ``values`` (scipy's rv_discrete over their indices)."""

    def __init__(self, values: Sequence[float], weights: Sequence[float]) -> None:
        self.values = np.asarray(values, dtype=float)
        p = np.asarray(weights, dtype=float)
        self._index = stats.rv_discrete(values=(np.arange(len(p)), p / p.sum()))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.values[self._index.ppf(u).astype(np.int64)]


def _scipy(key: str, dist: str, p: dict[str, Any]):
    """The scipy.stats distribution, a float (degenerate) or a :class:`_Choice`."""

    def num(name: str, lo: float = -math.inf, *, above: bool = False) -> float:
        value = _number(key, dist, name, p[name])
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
        values = [_number(key, dist, f"values[{i}]", v) for i, v in enumerate(values)]
        weights = p.get("weights", [1.0] * len(values))
        if not isinstance(weights, list) or len(weights) != len(values):
            raise ScenarioError(f"{key}: choice weights must be a list as long as values")
        weights = [_number(key, dist, f"weights[{i}]", w) for i, w in enumerate(weights)]
        if min(weights) < 0 or sum(weights) <= 0:
            raise ScenarioError(f"{key}: choice weights must be >= 0 with a positive sum")
        return values[0] if len(set(values)) == 1 else _Choice(values, weights)
    if dist in ("normal", "lognormal") and "p05" in p:
        lo = num("p05", 0.0, above=True) if dist == "lognormal" else num("p05")
        hi = num("p95")
        if hi <= lo:
            raise ScenarioError(f"{key}: {dist} p95 = {show_value(hi)}, must be greater than p05")
        if dist == "normal":
            return stats.norm((lo + hi) / 2, (hi - lo) / (2 * _Z95))
        mu, sigma = (log(lo) + log(hi)) / 2, (log(hi) - log(lo)) / (2 * _Z95)
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
        return lo if lo == hi else stats.uniform(lo, hi - lo)
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


@dataclass(frozen=True)
class Dependence:
    """Spearman rank correlations between beliefs (and the per-path draws
    :data:`PER_PATH_DRAWS`), realised by a Gaussian or Student-t copula."""

    spearman: tuple[tuple[str, str, float], ...] = ()
    copula: str = "gaussian"
    df: float | None = None

    @classmethod
    def from_table(cls, table: Mapping[str, Any], beliefs: Sequence[Belief]) -> Dependence:
        table = dict(table)
        unknown = set(table) - {"spearman", "copula", "df"}
        if unknown:
            raise ScenarioError(
                f"unknown key dependence.{plain(sorted(unknown)[0])}; the keys are spearman, "
                "copula and df"
            )
        copula = table.get("copula", "gaussian")
        if copula not in ("gaussian", "t"):
            raise ScenarioError(
                f'dependence.copula = {plain(repr(copula))}, must be "gaussian" or "t"'
            )
        df = table.get("df")
        if copula == "t":
            if df is None:
                raise ScenarioError(
                    'dependence.df is needed with copula = "t" (its degrees of freedom, > 0)'
                )
            df = _number("dependence", "t copula", "df", df)
            if df <= 0:
                raise ScenarioError(f"dependence.df = {show_value(df)}, must be greater than 0")
        elif df is not None:
            raise ScenarioError('dependence.df is the t copula\'s: add copula = "t" or drop it')
        keys = [b.key for b in beliefs]
        pairs = []
        for i, entry in enumerate(table.get("spearman", [])):
            label = f"dependence.spearman[{i}]"
            if not (isinstance(entry, list) and len(entry) == 3):
                raise ScenarioError(f'{label} must be ["key", "key", rho]')
            a, b, rho = entry
            for name in (a, b):
                if name not in keys and name not in PER_PATH_DRAWS:
                    raise ScenarioError(
                        f"{label}: {plain(repr(name))} is not an uncertain key of this scenario "
                        f"({', '.join(keys) or 'none'}) or a per-path draw "
                        f"({', '.join(PER_PATH_DRAWS)})"
                    )
            rho = _number(label, "spearman", "rho", rho)
            if a == b or not -1 < rho < 1 or {a, b} <= set(PER_PATH_DRAWS):
                raise ScenarioError(
                    f"{label} = [{a}, {b}, {show_value(rho)}]: needs two different keys, not both "
                    "per-path draws, and rho in (-1, 1)"
                )
            if copula == "t" and {a, b} & set(PER_PATH_DRAWS):
                raise ScenarioError(
                    f"{label}: the t copula links uncertain keys only; a rank correlation "
                    f"with {', '.join(sorted({a, b} & set(PER_PATH_DRAWS)))} needs the "
                    "Gaussian copula"
                )
            pairs.append((a, b, rho))
        if len({frozenset(p[:2]) for p in pairs}) != len(pairs):
            raise ScenarioError("dependence.spearman names a pair twice")
        dependence = cls(tuple(pairs), copula, df)
        dependence.factor(keys)  # refuses a matrix that is not positive definite
        return dependence

    def to_table(self) -> dict[str, Any]:
        table: dict[str, Any] = {"copula": self.copula}
        if self.df is not None:
            table["df"] = self.df
        table["spearman"] = [[a, b, rho] for a, b, rho in self.spearman]
        return table

    def names(self, keys: Sequence[str]) -> list[str]:
        """The copula's variables: the per-path draws it uses, then the beliefs it links
        (in ``keys``' order). A belief in no pair keeps its own uniform, so its draws are
        the same as in a scenario without the dependence (common random numbers)."""
        used = {name for a, b, _ in self.spearman for name in (a, b)}
        return [d for d in PER_PATH_DRAWS if d in used] + [k for k in keys if k in used]

    def factor(self, keys: Sequence[str]) -> np.ndarray:
        """Lower Cholesky factor of the copula's correlation (over :meth:`names`)."""
        names = self.names(keys)
        r = np.eye(len(names))
        for a, b, rho in self.spearman:
            i, j = names.index(a), names.index(b)
            # Spearman's rho of a Gaussian copula: rho_s = (6 / pi) asin(r / 2)
            r[i, j] = r[j, i] = 2 * math.sin(math.pi * rho / 6)
        try:
            return cholesky(r)  # written out: LAPACK's kernels, and rounding, vary by CPU
        except np.linalg.LinAlgError:
            raise ScenarioError(
                "dependence.spearman: these rank correlations are not a valid (positive "
                f"definite) matrix; the nearest valid one is {_nearest(r, names)}"
            ) from None


def _nearest(r: np.ndarray, names: list[str]) -> str:
    """The nearest positive-definite correlation (eigenvalues clipped, unit diagonal), as
    Spearman pairs."""
    w, v = np.linalg.eigh(r)
    fixed = (v * np.maximum(w, 1e-3)) @ v.T
    d = np.sqrt(np.diag(fixed))
    fixed = fixed / np.outer(d, d)
    pairs = [
        f"[{names[i]}, {names[j]}, {6 / math.pi * math.asin(fixed[i, j] / 2):.2f}]"
        for i in range(len(names))
        for j in range(i)
        if r[i, j] != 0
    ]
    return ", ".join(pairs)


def _lower_times(factor: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``z @ factor.T`` for a lower-triangular ``factor``, summed in index order: BLAS
    picks its kernels, and so its rounding, by CPU."""
    x = np.zeros_like(z)
    for i in range(factor.shape[0]):
        for j in range(i + 1):
            x[:, i] += factor[i, j] * z[:, j]
    return x


@dataclass(frozen=True)
class Beliefs:
    """A scenario's beliefs and their dependence: uniforms (and per-path draws) to values."""

    beliefs: tuple[Belief, ...]
    dependence: Dependence | None = None

    @property
    def keys(self) -> list[str]:
        return [b.key for b in self.beliefs]

    @property
    def blocks(self) -> np.ndarray:
        """Each belief's stream block, then the t copula's mixing variable's."""
        blocks = [b.block for b in self.beliefs] + [zlib.crc32(b"dependence.t")]
        return np.array(blocks, dtype=np.uint32)

    @property
    def needs_path_draws(self) -> list[str]:
        """The per-path draws the copula links to the beliefs (in PathDraw order)."""
        if self.dependence is None:
            return []
        return [n for n in self.dependence.names(self.keys) if n in PER_PATH_DRAWS]

    def values(self, u: np.ndarray, path_normals: np.ndarray | None = None) -> np.ndarray:
        """Each path's values ``(n, beliefs)`` from its uniforms ``u`` ``(n, beliefs + 1)``
        (the last column is the t copula's) and its per-path normals ``(n, 3)``
        (:class:`~mcengine.layout.PathDraw` order; needed for :attr:`needs_path_draws`)."""
        p = len(self.beliefs)
        probabilities = u[:, :p].copy()
        dep = self.dependence
        if dep is not None and dep.spearman:
            names = dep.names(self.keys)
            draws = self.needs_path_draws
            columns = [self.keys.index(k) for k in names[len(draws) :]]
            z = [path_normals[:, PER_PATH_DRAWS[n]] for n in draws]
            z = np.column_stack(z + [special.ndtri(u[:, j]) for j in columns])
            x = _lower_times(dep.factor(self.keys), z)[:, len(draws) :]
            if dep.copula == "t":
                w = stats.chi2.ppf(u[:, p], dep.df) / dep.df
                linked = stats.t.cdf(x / np.sqrt(w)[:, None], dep.df)
            else:
                linked = special.ndtr(x)
            # the copula's own rounding may reach 0 or 1 far in the tails
            probabilities[:, columns] = np.clip(linked, 2.0**-54, 1 - 2.0**-53)
        return np.column_stack([b.ppf(probabilities[:, j]) for j, b in enumerate(self.beliefs)])
