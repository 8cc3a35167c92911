"""The essay's verdict with its odds: how likely each ordering of the segments' returns is.

The essay ranks the three segments: applications under-invested (the best bet), inference
supply-bound with an overbuild risk, training the riskiest. On each path the segments'
annual returns fall in one of six strict orders (or two of them tie: both wiped out), so
the verdict is a set of six probabilities per scenario, read off the same paths, each with
its Monte Carlo standard error and Wilson interval (:func:`mcengine.stats.estimates.
proportion`: the paths are independent draws).

Under uncertain keys (``beliefs``), how much of the uncertainty about the essay's ordering
each belief and each shock group carries is the variance of its indicator
``1{applications > inference > training}`` attributed by the existing designs: Shapley
effects (:func:`mcengine.studies.shapley.shapley_effects`, right with a copula) or Sobol
indices (:func:`mcengine.studies.sensitivity.sobol_indices`, for independent inputs), with
``output`` = :data:`ESSAY_ORDER`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import xarray as xr

from mcengine.checks import check_int
from mcengine.engine.api import simulate
from mcengine.errors import InputError
from mcengine.layout import N_SEGMENTS, SEGMENTS, Segment
from mcengine.model.scenario import Scenario, load_scenario
from mcengine.stats import estimates
from mcengine.studies.designs import Output

__all__ = [
    "ORDERINGS",
    "ESSAY",
    "ESSAY_ORDER",
    "EVENTS",
    "ordering_codes",
    "orderings",
    "attribution",
]

#: The six strict orders of the segments, best first (``applications > inference >
#: training`` and so on), in the order of :func:`itertools.permutations`.
_PERMUTATIONS = tuple(itertools.permutations(range(N_SEGMENTS)))
ORDERINGS = tuple(" > ".join(SEGMENTS[i] for i in p) for p in _PERMUTATIONS)
_A, _I, _T = Segment.APPLICATIONS, Segment.INFERENCE, Segment.TRAINING
#: The essay's ordering: applications first, training last.
ESSAY = " > ".join(SEGMENTS[s] for s in (_A, _I, _T))
#: A path where two segments' returns are equal (in practice: both wiped out, at -100%).
TIE = "tie"
#: A path whose annual returns are not all defined (left out of every share).
_UNDEFINED = -2
#: The essay's two halves, each on its own: applications strictly best, training strictly
#: worst (each a union of two orderings).
EVENTS = {
    "applications best": lambda r: (r[:, _A] > r[:, _I]) & (r[:, _A] > r[:, _T]),
    "training worst": lambda r: (r[:, _T] < r[:, _A]) & (r[:, _T] < r[:, _I]),
}


def ordering_codes(annual: np.ndarray) -> np.ndarray:
    """Each path's ordering of its annual returns ``(n, 3)``: an index into
    :data:`ORDERINGS`, -1 where two segments tie, or -2 where a return is NaN (undefined)."""
    annual = np.asarray(annual, dtype=float)
    if annual.ndim != 2 or annual.shape[1] != N_SEGMENTS:
        raise InputError(f"annual returns of shape {annual.shape}, must be (paths, {N_SEGMENTS})")
    codes = np.full(annual.shape[0], -1, dtype=np.int8)
    for k, (a, b, c) in enumerate(_PERMUTATIONS):
        strict = (annual[:, a] > annual[:, b]) & (annual[:, b] > annual[:, c])
        codes[strict] = k
    codes[np.isnan(annual).any(axis=1)] = _UNDEFINED
    return codes


def _essay_indicator(annual: np.ndarray) -> np.ndarray:
    return (ordering_codes(annual) == ORDERINGS.index(ESSAY)).astype(float)[:, None]


#: The output the attribution studies read: the indicator of the essay's ordering.
ESSAY_ORDER = Output("output", (ESSAY,), _essay_indicator)


def _resolve(scenario: Scenario | str) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def orderings(
    scenarios: Sequence[Scenario | str] | Scenario | str,
    n_paths: int = 100_000,
    seed: int = 0,
) -> xr.Dataset:
    """The probability of each ordering of the segments' annual returns, per scenario.

    Every scenario runs ``n_paths`` paths on ``seed`` (common random numbers: path ``i``
    sees the same draws in each).

    Returns
    -------
    xarray.Dataset
        ``probability``, ``standard_error``, ``ci_low`` and ``ci_high`` (Wilson's 95%
        interval), dims ``(scenario, ordering)``; the orderings are :data:`ORDERINGS` and
        ``tie`` (two segments equal), adding up to 1 over ``ordering`` (a path whose
        returns are not all defined, NaN, is left out of every share). The coordinate
        ``essay`` marks the essay's ordering. The same four, prefixed ``event_``, over
        ``event``: the essay's halves on their own (:data:`EVENTS`).
    """
    check_int("n_paths", n_paths, 2, 2**40, count=True)
    resolved = [
        _resolve(s) for s in ([scenarios] if isinstance(scenarios, Scenario | str) else scenarios)
    ]
    if not resolved:
        raise InputError("orderings: give at least one scenario")
    labels = [s.label for s in resolved]
    if len(set(labels)) != len(labels):
        raise InputError(f"orderings: a scenario is given twice ({', '.join(labels)})")
    names = (*ORDERINGS, TIE)
    found = np.empty((len(resolved), len(names), 4))
    parts = np.empty((len(resolved), len(EVENTS), 4))
    for i, sc in enumerate(resolved):
        annual = simulate(sc, n_paths, seed)["annual_return"].values
        codes = ordering_codes(annual)
        defined = codes != _UNDEFINED
        counts = np.bincount(codes[defined].astype(np.int64) + 1, minlength=len(names))
        hits = [*counts[1:], counts[0]]  # the six orders, then the ties (code -1)
        n = int(defined.sum())
        found[i] = [estimates.proportion(int(h), n) for h in hits]
        parts[i] = [
            estimates.proportion(int(np.count_nonzero(event(annual[defined]))), n)
            for event in EVENTS.values()
        ]
    fields = ("probability", "standard_error", "ci_low", "ci_high")
    return xr.Dataset(
        {
            **{f: (("scenario", "ordering"), found[..., k]) for k, f in enumerate(fields)},
            **{f"event_{f}": (("scenario", "event"), parts[..., k]) for k, f in enumerate(fields)},
        },
        coords={
            "scenario": labels,
            "ordering": list(names),
            "essay": ("ordering", [n == ESSAY for n in names]),
            "event": list(EVENTS),
        },
        attrs={"seed": np.int64(seed), "n_paths": np.int64(n_paths)},
    )


def attribution(
    scenario: Scenario | str,
    method: str = "shapley",
    n_paths: int | None = None,
    seed: int = 0,
) -> xr.Dataset:
    """How much of the uncertainty about the essay's ordering each input carries: the
    Shapley effects (``method="shapley"``, default 2048 paths a subset) or Sobol indices
    (``"sobol"``, default 8192 paths a sample) of its indicator, dims ``(input, output)``."""
    if method == "shapley":
        from mcengine.studies.shapley import shapley_effects

        return shapley_effects(scenario, n_paths or 2048, seed, output=ESSAY_ORDER)
    if method == "sobol":
        from mcengine.studies.sensitivity import sobol_indices

        return sobol_indices(scenario, n_paths or 8192, seed, output=ESSAY_ORDER)
    raise InputError(f"method = {method!r}, must be shapley or sobol")
