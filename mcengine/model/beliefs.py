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
from typing import Any, NamedTuple

import numpy as np

from mcengine.checks import Range, did_you_mean, plain, show_value
from mcengine.errors import ScenarioError
from mcengine.layout import PathDraw
from mcengine.numerics import cholesky, exp, exp_array, log

__all__ = [
    "DISTRIBUTIONS",
    "PER_PATH_DRAWS",
    "MAX_CUT",
    "Belief",
    "Dependence",
    "Beliefs",
    "QuantileTables",
    "Copula",
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
#: The standard normal's 95% quantile, ``scipy.special.ndtri(0.95)``, as a literal: importing
#: scipy.special for it cost every start a tenth of a second (``tests/test_beliefs.py``
#: checks the bits).
_Z95 = 1.6448536269514722

# -- how the kernel draws a belief (mcengine.kernel.beliefs) --------------------------------
#: Quantile kinds: a fixed value; a table over normal scores; scipy's uniform and
#: triangular formulas; a discrete choice.
FIXED, SCORE_TABLE, UNIFORM, TRIANGULAR, CHOICE = range(5)
#: Normal scores a table covers: the stream's uniforms, in [2**-54, 1 - 2**-53], score
#: within +-8.4.
Z_MAX = 8.5
#: Largest error of a table against scipy, relative to the value plus the central spread.
TABLE_TOLERANCE = 1e-10
_PARAMS = 8
_NO_TABLE = (np.empty(0), np.empty((0, 4)))


class QuantileTables(NamedTuple):
    """Every belief's quantile function as the kernel evaluates it at a probability ``p``.

    ``kind[j]`` says how; ``params[j]``: ``[6:8]`` the interval the value is clipped to
    (the key's range); FIXED ``[0]`` the value; UNIFORM and TRIANGULAR ``p' = params[0] +
    p (params[1] - params[0])`` (the truncation), then scipy's ``loc + scale x(p')`` with
    ``[2:5] = loc, scale, c``; SCORE_TABLE the same ``p'`` at normal score ``z`` through a
    cubic on a uniform grid, ``[2:4] = first knot, 1 / spacing``; CHOICE the first value
    whose cumulative probability reaches ``p``. A table's rows are ``knots[offset[j] :
    offset[j + 1]]`` and ``coeffs`` (highest power first, in ``z - knot``; a choice's
    cumulative probabilities and values in column 3)."""

    kind: np.ndarray
    params: np.ndarray
    offset: np.ndarray
    knots: np.ndarray
    coeffs: np.ndarray


class Copula(NamedTuple):
    """The dependence as the kernel applies it, path by path.

    ``kind``: 0 none, 1 Gaussian, 2 Student-t with ``df``. Its variables are
    ``source[m]``: a belief's index, or ``-1 - d`` for per-path draw ``d``
    (:class:`~mcengine.layout.PathDraw`); their correlated scores are ``factor @ z``,
    summed in index order, of their independent scores ``z``."""

    kind: int
    df: float
    source: np.ndarray
    factor: np.ndarray


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
    #: ``(F(lo), F(hi), 1 - F(hi))`` of the key's range ``[lo, hi]`` (the last as scipy's
    #: survival function, exact far into the upper tail).
    _bounds: tuple[float, float, float] = field(default=(0.0, 1.0, 0.0), compare=False, repr=False)

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
                f"{did_you_mean(dist, list(DISTRIBUTIONS))}"
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

    def moved_to(self, median: float) -> dict[str, Any]:
        """The table of the same distribution moved so that its median is ``median``: its
        location shifted (for a lognormal, scaled), its shape kept. Calibration fits a
        belief this way (:func:`mcengine.studies.validation.calibrate`).

        Raises :class:`ScenarioError` for a distribution with no location to move (a beta
        on [0, 1]) or a median that is not positive for a lognormal."""
        table = self.to_table()
        shift = median - self.point
        if self.dist == "lognormal":
            if median <= 0:
                raise ScenarioError(f"{self.key}: a lognormal's median must be > 0, not {median:g}")
            ratio = median / self.point
            for name in ("median", "p05", "p95"):
                if name in table:
                    table[name] = table[name] * ratio
            if "mu" in table:
                table["mu"] = table["mu"] + log(ratio)
            return table
        if self.dist == "beta" and "min" not in table:
            raise ScenarioError(
                f"{self.key}: a beta on [0, 1] has no location to move; give min, max"
            )
        if self.dist == "choice":
            table["values"] = [v + shift for v in table["values"]]
            return table
        for name in ("mean", "p05", "p95", "min", "mode", "max"):
            if name in table:
                table[name] = table[name] + shift
        return table

    @property
    def cut(self) -> float:
        """The probability the distribution puts outside the key's range (cut off)."""
        lo, hi, _ = self._bounds  # (0, 1, 0) for a degenerate or discrete belief
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
        lo, hi, _ = self._bounds
        values = frozen.ppf(lo + u * (hi - lo))
        return np.clip(values, *self._inside())

    def at_scores(self, z: np.ndarray) -> np.ndarray:
        """Values at normal scores ``z``: ``ppf(Phi(z))``, through the survival function
        above the median so that the upper tail keeps its precision."""
        from scipy import special  # (see _scipy)

        lo, hi, above = self._bounds
        z = np.asarray(z, dtype=float)
        out = np.empty(z.shape)
        low = z <= 0
        out[low] = self._frozen.ppf(lo + special.ndtr(z[low]) * (hi - lo))
        out[~low] = self._frozen.isf(above + special.ndtr(-z[~low]) * (hi - lo))
        return np.clip(out, *self._inside())

    def quantile(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """How the kernel draws it: ``(kind, params, knots, coeffs)`` of
        :class:`QuantileTables` (one belief's row and its table)."""
        frozen, lo_hi = self._frozen, self._inside()
        lo, hi, _ = self._bounds
        params = np.full(_PARAMS, np.nan)
        params[6:] = lo_hi
        if isinstance(frozen, float):
            params[0] = frozen
            return FIXED, params, np.empty(0), np.empty((0, 4))
        if isinstance(frozen, _Choice):
            return CHOICE, params, frozen.cumulative, frozen.values[:, None] * [0, 0, 0, 1]
        params[:2] = lo, hi
        if self.dist in ("uniform", "triangular"):  # closed forms: scipy's own formulas
            loc, scale = frozen.kwds["loc"], frozen.kwds["scale"]
            c = frozen.args[0] if self.dist == "triangular" else math.nan
            params[2:5] = loc, scale, c
            return (UNIFORM if self.dist == "uniform" else TRIANGULAR), params, *_NO_TABLE
        knots, coeffs = self._score_table()
        params[2:4] = knots[0], 1.0 / (knots[1] - knots[0])
        return SCORE_TABLE, params, knots, coeffs

    def _score_table(self) -> tuple[np.ndarray, np.ndarray]:
        """A cubic Hermite table of :meth:`at_scores` over ``[-Z_MAX, Z_MAX]``: knots and
        the local polynomial coefficients ``(knots, 4)``, highest power first.

        scipy's inverse CDFs cost about 1.4 us a value for a beta; the table costs a few
        nanoseconds in the kernel. Its slopes are sixth-order central differences of
        scipy's values (arithmetic only: the same bits on every CPU, where a density
        through numpy's exp would not be), and it is refined until every interval's
        midpoint is within :data:`TABLE_TOLERANCE` of scipy, relative to the value plus
        the distribution's central spread."""
        spread = float(np.ptp(self.at_scores(np.array([-1.0, 1.0]))))
        for intervals in (1 << k for k in range(9, 16)):
            h = 2 * Z_MAX / intervals
            x = -Z_MAX + h * np.arange(-3, intervals + 4)
            y = self.at_scores(x)
            slopes = -y[:-6] + 9 * y[1:-5] - 45 * y[2:-4] + 45 * y[4:-2] - 9 * y[5:-1] + y[6:]
            from scipy.interpolate import CubicHermiteSpline  # (see _scipy)

            spline = CubicHermiteSpline(x[3:-3], y[3:-3], slopes / (60 * h))
            mid = x[3:-4] + h / 2
            exact = self.at_scores(mid)
            if np.all(np.abs(spline(mid) - exact) <= TABLE_TOLERANCE * (np.abs(exact) + spread)):
                return spline.x[:-1].copy(), np.ascontiguousarray(spline.c.T)
        raise ScenarioError(
            f"{self.key} = {self.describe()}: its quantile function is too steep to tabulate "
            f"within {TABLE_TOLERANCE:g} on {intervals} intervals"
        )

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
            return 0.0, 1.0, 0.0
        lo = float(frozen.cdf(v.lo)) if math.isfinite(v.lo) else 0.0
        hi = float(frozen.cdf(v.hi)) if math.isfinite(v.hi) else 1.0
        above = float(frozen.sf(v.hi)) if math.isfinite(v.hi) else 0.0
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
        return lo, hi, above


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


class _Choice:
    """A discrete distribution over ``values`` (scipy's rv_discrete over their indices)."""

    def __init__(self, values: Sequence[float], weights: Sequence[float]) -> None:
        self.values = np.asarray(values, dtype=float)
        p = np.asarray(weights, dtype=float)
        from scipy import stats  # (see _scipy)

        self._index = stats.rv_discrete(values=(np.arange(len(p)), p / p.sum()))
        #: P(index <= k): the kernel draws the first value whose cumulative reaches u.
        self.cumulative = self._index.cdf(np.arange(len(p)))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.values[self._index.ppf(u).astype(np.int64)]


def _scipy(key: str, dist: str, p: dict[str, Any]):
    """The scipy.stats distribution, a float (degenerate) or a :class:`_Choice`."""
    # Imported here, not at the top: scipy.stats takes about a second to import, and only
    # scenarios with uncertain parameters need it (mcengine's start-up, issue 14).
    from scipy import stats

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

    def tables(self) -> QuantileTables:
        """Every belief's quantile function for the kernel (built once per run)."""
        rows = [b.quantile() for b in self.beliefs]
        lengths = [len(knots) for _, _, knots, _ in rows]
        return QuantileTables(
            np.array([kind for kind, *_ in rows], dtype=np.int64),
            np.array([params for _, params, *_ in rows]).reshape(len(rows), _PARAMS),
            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            np.concatenate([np.empty(0)] + [knots for *_, knots, _ in rows]),
            np.concatenate([np.empty((0, 4))] + [coeffs for *_, coeffs in rows]),
        )

    def copula(self) -> Copula:
        """The dependence for the kernel (no variables when there is none)."""
        dep = self.dependence
        if dep is None or not dep.spearman:
            return Copula(0, math.nan, np.empty(0, dtype=np.int64), np.empty((0, 0)))
        names = dep.names(self.keys)
        source = [
            -1 - int(PER_PATH_DRAWS[n]) if n in PER_PATH_DRAWS else self.keys.index(n)
            for n in names
        ]
        kind = 2 if dep.copula == "t" else 1
        return Copula(
            kind, float(dep.df or math.nan), np.array(source, dtype=np.int64), dep.factor(self.keys)
        )
