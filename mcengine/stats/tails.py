"""Tails and joint risk across segments: correlations, joint losses, a portfolio's tail,
returns conditional on the contagion crash, and when crashes happen.

:class:`JointStats` holds mergeable counts (and a portfolio histogram), :class:`JointMoments`
the floating-point sufficient statistics (co-moments, conditional moments), merged per
block (:mod:`mcengine.stats.blocks`), so the same numbers come from a full run and from a streamed
one. Spearman's rank correlation needs every path and exists only in a full run.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from mcengine.checks import plain_data, shown
from mcengine.errors import InputError, ResultFileError
from mcengine.layout import N_SEGMENTS, SEGMENTS
from mcengine.numerics import expm1_array, log_array
from mcengine.results.dataset import count_dtype
from mcengine.stats import estimates
from mcengine.stats.blocks import reduce_blocks
from mcengine.stats.samples import (
    BinnedSample,
    ExactSample,
    Histogram,
    Moments,
    MomentTable,
    comoments,
)

__all__ = [
    "JointStats",
    "JointMoments",
    "CONDITIONS",
    "PORTFOLIO_STATISTICS",
    "DESCRIPTIONS",
    "YEAR_ATTRS",
    "portfolio_annual_return",
    "EQUAL_WEIGHTS",
    "check_weights",
    "joint_variables",
]

CONDITIONS = ("no_crash", "crash", *(f"crash_in_{s}" for s in SEGMENTS))
PORTFOLIO_STATISTICS = ("mean", "q05", "var95", "cvar95", "p_loss")
EQUAL_WEIGHTS = (1 / N_SEGMENTS,) * N_SEGMENTS

#: The attributes of the ``year`` coordinate, which the fan charts share
#: (:mod:`mcengine.stats.fan`): year k runs from the end of year k - 1 to the end of year k.
YEAR_ATTRS = {"long_name": "year of the simulation, from 1 (the first)", "units": "year"}
#: ``long_name`` and units (UDUNITS; "1": dimensionless; annual returns "1/year", as
#: ``annual_return``) of each variable and coordinate of :meth:`JointStats.variables` and
#: :meth:`JointStats.coords`: CF 1.8. ``portfolio`` mixes units, which its ``comment`` gives.
DESCRIPTIONS = {
    "correlation_pearson": ("Pearson correlation of the segments' annual returns", "1"),
    "correlation_spearman": ("Spearman rank correlation of the segments' annual returns", "1"),
    "p_all_lose": ("probability that every segment loses (total return < 1)", "1"),
    "p_all_lose_standard_error": ("Monte Carlo standard error of p_all_lose", "1"),
    "conditional_mean": ("mean annual return given the condition on the contagion crash", "1/year"),
    "conditional_mean_standard_error": (
        "Monte Carlo standard error of conditional_mean",
        "1/year",
    ),
    "condition_paths": ("number of paths that meet the condition", "1"),
    "crash_year_probability": (
        "probability that the contagion crash comes in the year (crash_year in (year - 1, year])",
        "1",
    ),
    "crash_year_probability_standard_error": (
        "Monte Carlo standard error of crash_year_probability",
        "1",
    ),
    "portfolio": (
        "statistic of the annual return of a buy-and-hold portfolio of the segments "
        "(today's weights: portfolio_weights)",
        None,
    ),
    "portfolio_standard_error": ("Monte Carlo standard error of portfolio", None),
    "segment_b": ("investor segment (the second of the pair)", None),
    "condition": ("condition on the contagion crash", None),
    "year": (YEAR_ATTRS["long_name"], YEAR_ATTRS["units"]),
    "portfolio_statistic": ("statistic of the portfolio's annual return", None),
}
_PORTFOLIO_UNITS = (
    "units by portfolio_statistic: 1/year for mean, q05, var95 and cvar95 (annual returns); "
    "1 for p_loss (a probability)"
)


def _described(name: str, dims, data) -> tuple:
    """``(dims, data, attrs)``: the variable ``name`` with its :data:`DESCRIPTIONS`."""
    long_name, units = DESCRIPTIONS[name]
    attrs = {"long_name": long_name, **({"units": units} if units else {})}
    if name in ("portfolio", "portfolio_standard_error"):
        attrs["comment"] = _PORTFOLIO_UNITS
    return dims, data, attrs


def portfolio_annual_return(total_return: np.ndarray, weights, horizon: float) -> np.ndarray:
    """Annual return of a buy-and-hold portfolio holding ``weights`` of each segment today."""
    # Element-wise products and sums in segment order, and mcengine.numerics' log/expm1: BLAS's
    # matrix product and numpy's SIMD log/expm1 give other last bits on other CPUs.
    w = np.asarray(weights, dtype=float)
    total = np.asarray(total_return, dtype=float)
    wealth = total[:, 0] * w[0]
    for s in range(1, w.size):
        wealth = wealth + total[:, s] * w[s]
    positive = np.where(wealth > 0, wealth, 1.0)
    return np.where(wealth > 0, expm1_array(log_array(positive) / horizon), -1.0)


def check_weights(weights) -> tuple[float, float, float]:
    """The portfolio weights normalised to sum to 1; else one line naming
    ``portfolio_weights``, the argument of :func:`mcengine.simulate` and
    :func:`mcengine.summarize` that takes them."""
    values = plain_data(weights)  # a list, tuple or array of numbers
    numbers = isinstance(values, list) and all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in values
    )
    w = tuple(float(x) for x in values) if numbers else ()
    if len(w) != N_SEGMENTS or not all(math.isfinite(x) and x >= 0 for x in w) or sum(w) <= 0:
        raise InputError(
            f"portfolio_weights = {shown(weights)}, must be {N_SEGMENTS} non-negative numbers "
            f"({', '.join(SEGMENTS)}) with a positive sum"
        )
    total = sum(w)
    return tuple(x / total for x in w)


@dataclass
class JointMoments:
    """The floating-point joint statistics of a block of paths: co-moments of the segments'
    annual returns, their moments under each crash condition, and the portfolio's moments.
    Merged in the fixed block tree (:mod:`mcengine.stats.blocks`)."""

    n: int = 0
    mean: np.ndarray = field(default_factory=lambda: np.zeros(N_SEGMENTS))
    comoment: np.ndarray = field(default_factory=lambda: np.zeros((N_SEGMENTS, N_SEGMENTS)))
    conditions: MomentTable = field(
        default_factory=lambda: MomentTable([[Moments() for _ in SEGMENTS] for _ in CONDITIONS])
    )
    portfolio: Moments = field(default_factory=Moments)

    @classmethod
    def of(cls, annual_return, crash_origin, portfolio) -> JointMoments:
        n = annual_return.shape[0]
        if n == 0:
            return cls()
        mean, comoment = comoments(annual_return)
        crashed = crash_origin >= 0
        masks = [~crashed, crashed, *(crash_origin == i for i in range(N_SEGMENTS))]
        conditions = [
            [Moments.of(annual_return[mask, s]) for s in range(N_SEGMENTS)] for mask in masks
        ]
        return cls(n, mean, comoment, MomentTable(conditions), Moments.of(portfolio))

    def merge(self, other: JointMoments) -> JointMoments:
        """Chan's update for the co-moments, Pebay's for the moments."""
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        return JointMoments(
            n,
            self.mean + delta * other.n / n,
            self.comoment + other.comoment + np.outer(delta, delta) * self.n * other.n / n,
            self.conditions.merge(other.conditions),
            self.portfolio.merge(other.portfolio),
        )


@dataclass
class JointStats:
    """Mergeable joint counts of per-path results (exact in any order): joint losses, crash
    years, the portfolio's losses and (streamed runs) its histogram."""

    horizon: float
    weights: tuple[float, float, float] = EQUAL_WEIGHTS
    n: int = 0
    n_all_lose: int = 0
    crash_years: np.ndarray | None = None
    portfolio: Histogram | None = None
    n_portfolio_loss: int = 0
    #: Streamed runs bin the portfolio's returns; a full run reads them exactly instead.
    bin_portfolio: bool = True

    def __post_init__(self) -> None:
        if self.crash_years is None:
            self.crash_years = np.zeros(int(math.ceil(self.horizon)), dtype=np.int64)
        if self.portfolio is None and self.bin_portfolio:
            self.portfolio = Histogram(-1.0, 4.0, 1e-6, atom=-1.0)

    def add(self, total_return, crash_year, crash_origin, portfolio) -> None:
        """Add one block of paths, in place; ``portfolio`` is the block's
        :func:`portfolio_annual_return`."""
        self.n += total_return.shape[0]
        self.n_all_lose += int(np.count_nonzero((total_return < 1.0).all(axis=1)))
        years = np.ceil(crash_year[crash_origin >= 0]).astype(np.int64) - 1
        self.crash_years += np.bincount(years, minlength=self.crash_years.size)[
            : self.crash_years.size
        ]
        if self.portfolio is not None:
            self.portfolio.add(portfolio)
        self.n_portfolio_loss += int(np.count_nonzero(portfolio < 0.0))

    def merge(self, other: JointStats) -> JointStats:
        return JointStats(
            self.horizon,
            self.weights,
            self.n + other.n,
            self.n_all_lose + other.n_all_lose,
            self.crash_years + other.crash_years,
            self.portfolio.merge(other.portfolio),
            self.n_portfolio_loss + other.n_portfolio_loss,
        )

    def variables(
        self, moments: JointMoments, portfolio_sample=None, spearman: np.ndarray | None = None
    ) -> dict:
        """The Dataset variables (see :func:`mcengine.summarize`), with the paths'
        :class:`JointMoments`: ``(dims, data, attrs)`` each, described by
        :data:`DESCRIPTIONS`."""
        n = self.n
        std = np.sqrt(np.diag(moments.comoment))
        with np.errstate(invalid="ignore", divide="ignore"):
            pearson = _defined(moments.comoment / np.outer(std, std))
        out = {"correlation_pearson": (("segment", "segment_b"), pearson)}
        if spearman is not None:
            out["correlation_spearman"] = (("segment", "segment_b"), spearman)
        joint = estimates.proportion(self.n_all_lose, n)
        out["p_all_lose"] = ((), joint.value)
        out["p_all_lose_standard_error"] = ((), joint.se)

        cond = np.zeros((len(SEGMENTS), len(CONDITIONS)))
        cond_se = np.zeros_like(cond)
        counts = np.zeros(len(CONDITIONS), dtype=np.int64)
        for c, row in enumerate(moments.conditions.rows):
            counts[c] = row[0].n
            for s, m in enumerate(row):
                cond[s, c], cond_se[s, c] = estimates.mean(m)[:2]
        out["conditional_mean"] = (("segment", "condition"), cond)
        out["conditional_mean_standard_error"] = (("segment", "condition"), cond_se)
        out["condition_paths"] = (("condition",), counts.astype(count_dtype(n)))

        years = [estimates.proportion(int(k), n) for k in self.crash_years]
        out["crash_year_probability"] = (("year",), [e.value for e in years])
        out["crash_year_probability_standard_error"] = (("year",), [e.se for e in years])

        sample = portfolio_sample or BinnedSample(self.portfolio, moments.portfolio)
        q05, var95, cvar95 = estimates.tail(sample)
        stats = {
            "mean": estimates.mean(sample.moments),
            "q05": q05,
            "var95": var95,
            "cvar95": cvar95,
            "p_loss": estimates.proportion(self.n_portfolio_loss, n),
        }
        for name, idx in (("portfolio", 0), ("portfolio_standard_error", 1)):
            out[name] = (("portfolio_statistic",), [stats[k][idx] for k in PORTFOLIO_STATISTICS])
        return {name: _described(name, *variable) for name, variable in out.items()}

    def coords(self) -> dict:
        """The coordinates of :meth:`variables`, ``(dims, data, attrs)`` each."""
        years = np.arange(1, self.crash_years.size + 1, dtype=np.int32)  # CF 1.8: no int64
        coords = {
            "segment_b": list(SEGMENTS),
            "condition": list(CONDITIONS),
            "year": years,
            "portfolio_statistic": list(PORTFOLIO_STATISTICS),
        }
        return {name: _described(name, (name,), values) for name, values in coords.items()}


def _defined(correlation: np.ndarray) -> np.ndarray:
    """A segment whose return never varies (e.g. always wiped out) has no correlation to
    measure: NaN (``n/a`` in tables), also with itself; a varying segment's own is 1."""
    out = np.where(np.isfinite(correlation), correlation, np.nan)
    diagonal = np.isfinite(np.diag(correlation))
    out[np.diag_indices_from(out)] = np.where(diagonal, 1.0, np.nan)
    return out


def joint_variables(ds: xr.Dataset, weights) -> tuple[dict, dict, dict]:
    """Joint statistics of a full result: variables, coordinates, attributes."""
    if "horizon_years" not in ds.attrs:  # no default: the portfolio's return depends on it
        raise ResultFileError(
            "the result has no horizon_years attribute: the years its total returns span"
        )
    horizon = float(ds.attrs["horizon_years"])
    stats = JointStats(horizon, weights, bin_portfolio=False)
    total = ds["total_return"].values
    annual = ds["annual_return"].values
    origin = ds["crash_origin"].values
    portfolio = portfolio_annual_return(total, weights, horizon)
    stats.add(total, ds["crash_year"].values, origin, portfolio)
    moments = reduce_blocks(
        total.shape[0], lambda p: JointMoments.of(annual[p], origin[p], portfolio[p])
    )
    # Average ranks for ties (every wiped-out path sits at -1). Under two paths there is no
    # correlation to measure: the same convention as for a constant segment.
    spearman = np.full((len(SEGMENTS), len(SEGMENTS)), np.nan)
    if annual.shape[0] >= 2:
        # Pearson's correlation of the average ranks, as scipy.stats.spearmanr computes it,
        # pair by pair: spearmanr gives one NaN for the whole matrix (and a warning) when
        # one segment is constant (every path wiped out); here only that segment's pairs
        # are undefined. The ranks are pandas' (scipy.stats.rankdata's, to the bit, and
        # pandas is loaded with xarray, where scipy.stats would add half a second to every
        # start); a column with a NaN has no ranks, as rankdata's default.
        import pandas as pd

        ranks = pd.DataFrame(annual).rank(method="average").to_numpy(copy=True)
        ranks[:, np.isnan(annual).any(axis=0)] = np.nan
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            spearman = np.corrcoef(ranks, rowvar=False)
    spearman = _defined(spearman)
    variables = stats.variables(moments, ExactSample(portfolio, moments.portfolio), spearman)
    return variables, stats.coords(), {"portfolio_weights": list(weights)}
