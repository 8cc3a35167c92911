"""Stopping rules: when a run has enough paths for its target accuracy."""

from __future__ import annotations

import math

import numpy as np

from mcengine.errors import InputError
from mcengine.stats.estimates import mean_standard_error
from mcengine.stats.summary import STATISTICS, SummaryAccumulator

__all__ = ["StoppingRule"]


class StoppingRule:
    """When a run has enough paths: the standard error of one statistic, in every segment,
    is at most ``target_se`` and/or ``rel_tol`` times the statistic's size.

    Checks of the mean read the running moments (cheap, every block); other statistics need
    the order statistics, so they are checked each time the path count grows by a quarter.
    """

    def __init__(self, target_se: float | None, rel_tol: float | None, statistic: str):
        if target_se is not None and not (
            isinstance(target_se, int | float) and 0 < target_se < math.inf
        ):
            raise InputError(f"target_se = {target_se!r}, must be a number in (0, inf)")
        if rel_tol is not None and not (isinstance(rel_tol, int | float) and 0 < rel_tol <= 1):
            raise InputError(f"rel_tol = {rel_tol!r}, must be a number in (0, 1]")
        if statistic not in STATISTICS:
            raise InputError(
                f"stop_statistic = {statistic!r}, must be one of {', '.join(STATISTICS)}"
            )
        self.target_se, self.rel_tol, self.statistic = target_se, rel_tol, statistic
        self._last_check = 0

    def met(self, summary: SummaryAccumulator, *, force: bool = False) -> bool:
        if self.statistic == "mean":
            moments = summary.annual_moments()
            values = np.array([m.mean for m in moments])
            # Undefined (NaN, under two paths) never meets a target.
            errors = np.array([mean_standard_error(m.m2, m.n) for m in moments])
        else:
            if not force and summary.n < 1.25 * self._last_check:
                return False
            self._last_check = summary.n
            table = summary.result().sel(statistic=self.statistic)
            values, errors = table["estimate"].values, table["standard_error"].values
        ok = np.ones(values.shape, dtype=bool)
        if self.target_se is not None:
            ok &= errors <= self.target_se
        if self.rel_tol is not None:
            ok &= errors <= self.rel_tol * np.abs(values)
        return bool(ok.all())

    def describe(self, *, met: bool) -> dict:
        out = {
            "stop_statistic": self.statistic,
            "stopping": "target met" if met else "target not met at the path limit",
            "target_met": int(met),  # netCDF has no booleans
        }
        if self.target_se is not None:
            out["target_se"] = float(self.target_se)
        if self.rel_tol is not None:
            out["rel_tol"] = float(self.rel_tol)
        return out
