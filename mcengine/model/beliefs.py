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

The distributions themselves are built in :mod:`mcengine.model.distributions`; how the
kernel draws a belief (its quantile tables and copula) is :mod:`mcengine.kernel.belief_tables`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mcengine.checks import Range, did_you_mean, plain, show_value
from mcengine.errors import ScenarioError
from mcengine.layout import PathDraw
from mcengine.model.distributions import (
    DISTRIBUTIONS,
    Choice,
    distribution_number,
    frozen_distribution,
)
from mcengine.numerics import cholesky, log

__all__ = [
    "PER_PATH_DRAWS",
    "MAX_CUT",
    "Belief",
    "Dependence",
    "Beliefs",
    "not_uncertain",
]

#: Largest share of a distribution that may lie outside its key's range without
#: ``truncate = true``.
MAX_CUT = 0.01
#: The per-path draws a belief may depend on, by the name [dependence] uses.
PER_PATH_DRAWS = {"decline_rate": PathDraw.DECLINE_RATE, "initial_growth": PathDraw.INITIAL_GROWTH}
#: Keys that cannot be uncertain, and why.
_NOT_UNCERTAIN = {
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
    return _NOT_UNCERTAIN.get(key)


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
        frozen = frozen_distribution(key, dist, dict(params))
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
    def frozen(self) -> Any:
        """The distribution: scipy.stats' (or mcengine's CPU-independent stand-in,
        :mod:`mcengine.model.distributions`), a float (degenerate) or a :class:`Choice`."""
        return self._frozen

    @property
    def bounds(self) -> tuple[float, float, float]:
        """``(F(lo), F(hi), 1 - F(hi))`` of the key's range ``[lo, hi]``."""
        return self._bounds

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
        if isinstance(frozen, Choice):
            return frozen.ppf(u)
        lo, hi, _ = self._bounds
        values = frozen.ppf(lo + u * (hi - lo))
        return np.clip(values, *self.inside())

    def at_scores(self, z: np.ndarray) -> np.ndarray:
        """Values at normal scores ``z``: ``ppf(Phi(z))``, through the survival function
        above the median so that the upper tail keeps its precision."""
        from scipy import special  # (see mcengine.model.distributions.frozen_distribution)

        lo, hi, above = self._bounds
        z = np.asarray(z, dtype=float)
        out = np.empty(z.shape)
        low = z <= 0
        out[low] = self._frozen.ppf(lo + special.ndtr(z[low]) * (hi - lo))
        out[~low] = self._frozen.isf(above + special.ndtr(-z[~low]) * (hi - lo))
        return np.clip(out, *self.inside())

    def inside(self) -> tuple[float, float]:
        """The closed interval of floats inside the key's range."""
        v = self.valid
        lo = np.nextafter(v.lo, np.inf) if v.lo_open else v.lo
        hi = np.nextafter(v.hi, -np.inf) if v.hi_open else v.hi
        return float(lo), float(hi)

    def _check_support(self) -> tuple[float, float, float]:
        frozen, v = self._frozen, self.valid
        if isinstance(frozen, float | Choice):
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
            df = distribution_number("dependence", "t copula", "df", df)
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
            rho = distribution_number(label, "spearman", "rho", rho)
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
