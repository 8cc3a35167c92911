"""Fan charts: per-year quantile bands of investor wealth, the drivers and the economics
behind the returns (token price, serving cost, capex, capacity, utilisation, revenues),
streamed.

The kernel writes each path's year-end values into a chunk-sized buffer; :class:`FanAccumulator`
bins them into one histogram per year and variable, so nothing of size paths x years is
kept. Every quantity but the open-weight share s is binned on a log scale (bins of
:data:`LOG_BIN_WIDTH`, so bands are within a relative 0.4% of the exact quantiles); s on a
linear one (within 1e-4). Wealth is before the applications
selection spread, which MODEL.md applies at the end only.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from mcengine.layout import OBSERVABLES, Yearly
from mcengine.numerics import exp_array
from mcengine.stats.samples import BinnedSample, Histogram
from mcengine.stats.tails import YEAR_ATTRS

__all__ = [
    "FanAccumulator",
    "attach",
    "FAN_QUANTILES",
    "DRIVERS",
    "ECONOMICS",
    "LOG_BIN_WIDTH",
]

FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
DRIVERS = ("training_cost", "open_share", "demand")
#: The economics behind the returns (:class:`~mcengine.layout.Yearly` after the drivers).
ECONOMICS = OBSERVABLES[Yearly.LOG_TOKEN_PRICE :]
LOG_BIN_WIDTH = 4e-3
_DRIVERS_FROM = Yearly.LOG_TRAINING_COST  # wealth columns first, then the drivers
_ECONOMICS_FROM = Yearly.LOG_TOKEN_PRICE
_LOG_RANGE = (-60.0, 60.0)
_SHARE_WIDTH = 1e-4


def _log_histogram() -> Histogram:
    return Histogram(*_LOG_RANGE, LOG_BIN_WIDTH, atom=-math.inf)  # the atom: W = 0


def _share_histogram() -> Histogram:
    return Histogram(0.0, 1.0, _SHARE_WIDTH, atom=-1.0)  # no atom: s is never -1


class FanAccumulator:
    """Mergeable per-year histograms of every :class:`~mcengine.layout.Yearly` column."""

    def __init__(self, years: int):
        self.years = years
        self.hists = [
            [_share_histogram() if v == Yearly.OPEN_SHARE else _log_histogram() for v in Yearly]
            for _ in range(years)
        ]

    def add(self, yearly: np.ndarray) -> None:
        """Add a ``(paths, years, len(Yearly))`` block (years 1 to the horizon)."""
        for y in range(self.years):
            for v in Yearly:
                self.hists[y][v].add(np.ascontiguousarray(yearly[:, y, v]))

    def merge(self, other: FanAccumulator) -> FanAccumulator:
        out = FanAccumulator(0)
        out.years = self.years
        out.hists = [
            [a.merge(b) for a, b in zip(ra, rb, strict=True)]
            for ra, rb in zip(self.hists, other.hists, strict=True)
        ]
        return out

    def variables(self, quantiles=FAN_QUANTILES) -> tuple[dict, dict, dict]:
        """``fan_wealth (year, quantile, segment)``, ``fan_drivers (year, quantile,
        driver)`` and ``fan_economics (year, quantile, observable)``, with coordinates and
        the error-bound attributes."""
        bands = np.empty((self.years, len(quantiles), len(Yearly)))
        log_bound = share_bound = 0.0
        for y in range(self.years):
            for v in Yearly:
                sample = BinnedSample(self.hists[y][v])
                for k, q in enumerate(quantiles):
                    bands[y, k, v] = sample.quantile(q)
                if v == Yearly.OPEN_SHARE:
                    share_bound = max(share_bound, sample.error_bound)
                else:
                    log_bound = max(log_bound, sample.error_bound)
        with np.errstate(over="ignore"):
            natural = exp_array(bands)  # exp(-inf) = 0: wiped out
        natural[..., Yearly.OPEN_SHARE] = bands[..., Yearly.OPEN_SHARE]
        coords = {
            "year": np.arange(1, self.years + 1, dtype=np.int32),  # CF 1.8: no int64
            "quantile": list(quantiles),
            "driver": list(DRIVERS),
            "observable": list(ECONOMICS),
        }
        variables = {
            "fan_wealth": (("year", "quantile", "segment"), natural[..., :_DRIVERS_FROM]),
            "fan_drivers": (
                ("year", "quantile", "driver"),
                natural[..., _DRIVERS_FROM:_ECONOMICS_FROM],
            ),
            "fan_economics": (("year", "quantile", "observable"), natural[..., _ECONOMICS_FROM:]),
        }
        attrs = {
            "fan_relative_error_bound": math.expm1(log_bound),
            "fan_share_error_bound": share_bound,
        }
        return variables, coords, attrs


def attach(ds: xr.Dataset, fan: FanAccumulator) -> xr.Dataset:
    """``ds`` with the fan-chart variables added (segments as in ``ds``)."""
    variables, coords, attrs = fan.variables()
    out = ds.assign_coords({k: v for k, v in coords.items()}).assign(variables)
    out.attrs.update(attrs)
    # CF 1.8: a long_name each, and units that UDUNITS reads ("1": dimensionless) where the
    # variable has one; the economics mix units (as the yearly record does).
    out["fan_wealth"].attrs.update(
        long_name="year-end investor wealth quantiles (before the applications selection spread)",
        units="1",
    )
    out["fan_drivers"].attrs.update(long_name="year-end driver quantiles (C, s, D)", units="1")
    out["fan_economics"].attrs["long_name"] = (
        "year-end quantiles of the token price relative to year 0, serving cost, capex, "
        "capacity, utilisation, each segment's revenue, and (model 2) the price of a token of "
        "fixed capability relative to year 0, its serving cost and inference's q"
    )
    out["year"].attrs.update(YEAR_ATTRS)
    out["quantile"].attrs.update(long_name="probability level of the quantile", units="1")
    out["driver"].attrs["long_name"] = "driver: training cost C, open-weight share s, demand D"
    out["observable"].attrs["long_name"] = "economic quantity recorded each year"
    return out
