"""Attribution of the mean annual return: each path's annual return split into parts that
add up to it (the components of ``ln W``, Carino-scaled, and wipe-outs), and their means with
standard errors, as the summary reports them (``contribution``).
"""

from __future__ import annotations

import numpy as np

from mcengine.layout import N_SEGMENTS
from mcengine.numerics import expm1_array
from mcengine.results.dataset import COMPONENTS
from mcengine.stats import estimates
from mcengine.stats.samples import Moments, MomentTable

__all__ = [
    "CONTRIBUTIONS",
    "annual_contributions",
    "contribution_moments",
    "contribution_variables",
]

#: Parts of the mean annual return: the components of ln W, and wipe-outs (at -1 each).
CONTRIBUTIONS = (*COMPONENTS, "wipe_out")


def annual_contributions(
    components: np.ndarray, wipe_cause: np.ndarray, horizon: float
) -> np.ndarray:
    """Split each path's annual return into :data:`CONTRIBUTIONS` that add up to it.

    For a surviving investor the annual log return is ``r = ln W / H = sum(c_k) / H``; the
    annual return ``expm1(r)`` is shared out in proportion to the log components with
    Carino's factor ``expm1(r) / r`` (1 at r = 0), the usual way to make log attributions
    add up arithmetically. A wiped-out investor's -1 is all ``wipe_out``.

    ``components`` is ``(..., 6)``, ``wipe_cause`` the matching ``(...)``; returns
    ``(..., 7)``.
    """
    alive = wipe_cause == 0
    r = components.sum(axis=-1) / horizon
    with np.errstate(invalid="ignore", divide="ignore"):
        carino = np.where(r == 0.0, 1.0, expm1_array(r) / r)
    out = np.empty((*components.shape[:-1], len(CONTRIBUTIONS)))
    out[..., :-1] = np.where(alive[..., None], components * (carino / horizon)[..., None], 0.0)
    out[..., -1] = np.where(alive, 0.0, -1.0)
    return out


def contribution_moments(components, wipe_cause, horizon) -> MomentTable:
    """The moments of each segment's contributions (one block of paths)."""
    parts = annual_contributions(components, wipe_cause, horizon)
    return MomentTable(
        [[Moments.of(parts[:, i, k]) for k in range(len(CONTRIBUTIONS))] for i in range(N_SEGMENTS)]
    )


def contribution_variables(moments: MomentTable) -> dict:
    """The summary's ``contribution`` and its standard error, ``(segment, component)``."""
    mean = np.array([[m.mean for m in row] for row in moments.rows])
    se = np.array([[estimates.mean_standard_error(m.m2, m.n) for m in row] for row in moments.rows])
    dims = ("segment", "component")
    return {"contribution": (dims, mean), "contribution_standard_error": (dims, se)}
