"""Stopping rules: when a run has enough paths for its target accuracy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcengine.stats.estimates import mean_standard_error
from mcengine.stats.summary import SummaryAccumulator

__all__ = ["StoppingRule", "StoppingCheck"]


@dataclass(frozen=True)
class StoppingRule:
    """When a run has enough paths: the standard error of one statistic, in every segment,
    is at most ``target_se`` and/or ``rel_tol`` times the statistic's size. Immutable, like
    the plan that holds it (which checked the values against their declared ranges); each
    run checks it with a :class:`StoppingCheck` of its own.
    """

    target_se: float | None
    rel_tol: float | None
    statistic: str

    def check(self) -> StoppingCheck:
        """A fresh check of this rule, for one run."""
        return StoppingCheck(self)

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


class StoppingCheck:
    """One run's check of a :class:`StoppingRule`. Checks of the mean read the running
    moments (cheap, every block); other statistics need the order statistics, so they are
    checked each time the path count grows by a quarter, which this check remembers."""

    def __init__(self, rule: StoppingRule) -> None:
        self.rule = rule
        self._last_check = 0

    def met(self, summary: SummaryAccumulator, *, force: bool = False) -> bool:
        """Whether ``summary`` meets the rule (``force``: read the order statistics now)."""
        rule = self.rule
        if rule.statistic == "mean":
            moments = summary.annual_moments()
            values = np.array([m.mean for m in moments])
            # Undefined (NaN, under two paths) never meets a target.
            errors = np.array([mean_standard_error(m.m2, m.n) for m in moments])
        else:
            if not force and summary.n < 1.25 * self._last_check:
                return False
            self._last_check = summary.n
            table = summary.result().sel(statistic=rule.statistic)
            values, errors = table["estimate"].values, table["standard_error"].values
        ok = np.ones(values.shape, dtype=bool)
        if rule.target_se is not None:
            ok &= errors <= rule.target_se
        if rule.rel_tol is not None:
            ok &= errors <= rule.rel_tol * np.abs(values)
        return bool(ok.all())
