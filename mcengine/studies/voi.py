"""What knowing it is worth: the expected value of (partial) perfect information.

An allocator chooses long-only weights over the three segments, from a grid, to maximise
the expected annual return (``"mean"``) or the mean minus ``risk_aversion`` times the
CVaR of the loss at ``alpha`` (``"mean-cvar"``). Knowing an uncertain input before
choosing is worth the expected gain of the choice made with it over the choice made
without:

* **EVPI** knows everything, so each path's best allocation: ``E[max_w V(w | path)] -
  max_w V(w)``, where a known outcome has no risk (its CVaR is its loss).
* **EVPPI** of one input (an uncertain key's drawn value, or a recorded shock-group summary)
  knows only it: ``E_theta[max_w V(w | theta)] - max_w V(w)``, estimated on one ensemble.
  For the mean, ``V(w | theta) = w . E[r | theta]`` by Strong and Oakley's regression
  (2014; here a cubic B-spline in theta's rank, or the group means of a discrete input);
  for the mean-CVaR by their partition of the ensemble along theta (Strong and Oakley
  2013: each bin of ``bin_paths`` paths is a sample of the conditional distribution).

Standard errors are batch means: the estimate on each of ``batches`` disjoint
sub-ensembles, their standard deviation over ``sqrt(batches)``. EVPI >= EVPPI >= 0 holds
in expectation; an estimate is biased upwards by fitting noise (the max of noisy
conditional values), by less than its standard error at the defaults on 200,000 paths.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from scipy.interpolate import BSpline

from mcengine.errors import InputError
from mcengine.layout import N_SEGMENTS, input_label
from mcengine.stats.estimates import batch_standard_error

__all__ = ["OBJECTIVES", "BATCHES", "BATCH_PATHS", "allocation_grid", "value_of_information"]

OBJECTIVES = ("mean", "mean-cvar")
#: A discrete input with at most this many distinct values is conditioned on exactly.
_DISCRETE = 32
_KNOTS = 8  # interior knots of the regression spline, at quantiles of theta's rank


#: Sub-ensembles for the batch-means standard errors, and the fewest paths one may have.
BATCHES = 10
BATCH_PATHS = 100


def allocation_grid(step: float) -> np.ndarray:
    """Every long-only allocation over three segments with weights on multiples of
    ``step`` (``1 / step`` an integer), ``(K, 3)``: the corners (all in one segment)
    included."""
    parts = round(1 / step) if step > 0 else 0
    if not (0 < step <= 1 and math.isclose(parts * step, 1.0)):
        raise InputError(f"step = {step!r}, must be 1/k for a whole k >= 1 (0.1, 0.05, ...)")
    grid = [(a, b, parts - a - b) for a in range(parts + 1) for b in range(parts + 1 - a)]
    return np.array(grid, dtype=float) / parts


def _values(returns: np.ndarray, weights: np.ndarray, objective, risk_aversion, alpha):
    """Each allocation's value on a sample of paths ``returns`` ``(n, 3)``: ``(K,)``."""
    if objective == "mean":
        return weights @ returns.mean(axis=0)
    portfolio = weights @ returns.T  # (K, n): each allocation's returns, contiguous
    tail = max(1, math.ceil((1 - alpha) * portfolio.shape[1]))
    worst = np.partition(portfolio, tail - 1, axis=1)[:, :tail]  # the lowest returns
    return portfolio.mean(axis=1) + risk_aversion * worst.mean(axis=1)  # mean - lambda CVaR


def _rank(theta: np.ndarray) -> np.ndarray:
    rank = np.empty(len(theta), dtype=np.int64)
    rank[np.argsort(theta, kind="stable")] = np.arange(len(theta))
    return rank


def _cells(theta: np.ndarray, bin_paths: int) -> list[np.ndarray]:
    """The paths of each cell: theta's distinct values when few, else bins of about
    ``bin_paths`` consecutive paths in theta's order."""
    distinct, index = np.unique(theta, return_inverse=True)
    if len(distinct) <= _DISCRETE:
        order = np.argsort(index, kind="stable")
        return np.split(order, np.cumsum(np.bincount(index))[:-1])
    order = np.argsort(theta, kind="stable")
    return np.array_split(order, max(1, len(theta) // bin_paths))


def _conditional_means(theta: np.ndarray, returns: np.ndarray) -> np.ndarray:
    """``E[r | theta]`` at each path ``(n, 3)``: group means of a discrete theta, else a
    least-squares cubic B-spline in theta's rank (knots at its quantiles)."""
    distinct, index = np.unique(theta, return_inverse=True)
    if len(distinct) <= _DISCRETE:
        sums = np.zeros((len(distinct), returns.shape[1]))
        np.add.at(sums, index, returns)
        return (sums / np.bincount(index)[:, None])[index]
    u = (_rank(theta) + 0.5) / len(theta)
    inner = np.linspace(0, 1, _KNOTS + 2)[1:-1]
    knots = np.concatenate([[0.0] * 4, inner, [1.0] * 4])
    basis = BSpline.design_matrix(u, knots, 3).tocsr()  # four non-zeros a row
    coef = np.linalg.solve((basis.T @ basis).toarray(), basis.T @ returns)
    return basis @ coef


def _evppi(theta, returns, weights, spec, base):
    """EVPPI of one input on one (sub-)ensemble whose best value without information is
    ``base``, and the optimal allocation per path."""
    objective, risk_aversion, alpha, bin_paths = spec
    if objective == "mean":
        # A linear value is best at a corner of the grid: all in the best segment.
        fitted = _conditional_means(theta, returns)
        best = _corners(weights)[fitted.argmax(axis=1)]
        return fitted.max(axis=1).mean() - base, best
    best = np.empty(len(theta), dtype=np.int64)
    total = 0.0
    for rows in _cells(theta, bin_paths):
        values = _values(returns[rows], weights, objective, risk_aversion, alpha)
        best[rows] = values.argmax()
        total += len(rows) * values.max()
    return total / len(theta) - base, best


def _corners(weights: np.ndarray) -> np.ndarray:
    """The grid index of each corner (everything in segment 0, 1, 2)."""
    return np.array([int(np.flatnonzero(weights[:, s] == 1.0)[0]) for s in range(N_SEGMENTS)])


def _evpi(returns, weights, spec, base):
    objective, risk_aversion, alpha, _ = spec
    best = _corners(weights)[returns.argmax(axis=1)]  # a known outcome: all in the best
    known = returns.max(axis=1)  # and no risk left
    scale = 1.0 + (risk_aversion if objective == "mean-cvar" else 0.0)
    return scale * known.mean() - base, best


def _with_error(estimate, ensembles):
    """The estimate on the whole ensemble (the first of ``ensembles``: rows and their best
    value without information) and its batch-means standard error (the others)."""
    value, best = estimate(*ensembles[0])
    each = np.array([estimate(rows, base)[0] for rows, base in ensembles[1:]])
    return value, batch_standard_error(each), best


def value_of_information(
    ds: xr.Dataset,
    *,
    objective: str = "mean",
    risk_aversion: float = 1.0,
    alpha: float = 0.95,
    step: float = 0.05,
    bin_paths: int = 2000,
    batches: int = BATCHES,
) -> xr.Dataset:
    """EVPI and each input's EVPPI for an allocator over the three segments.

    ``ds`` is a run with ``record_inputs=True`` (its ``annual_return``, ``inputs`` and, with
    beliefs, ``parameters``). Returns ``evpi`` and ``evppi (input)`` with their
    ``..._standard_error`` (annual return, as a fraction), the best allocation without
    information ``weights (segment)``, the average best allocation with each input known
    ``weights_informed (input, segment)`` (and with everything known,
    ``weights_perfect``), and ``decision_changes (input)``: the share of paths whose
    best allocation differs from the one without information.
    """
    if "inputs" not in ds:
        raise InputError("no recorded inputs: simulate with record_inputs=True")
    if objective not in OBJECTIVES:
        raise InputError(f"objective = {objective!r}, must be one of {', '.join(OBJECTIVES)}")
    if not (math.isfinite(risk_aversion) and risk_aversion >= 0):
        raise InputError(f"risk_aversion = {risk_aversion!r}, must be a number >= 0")
    if not 0.5 <= alpha < 1:
        raise InputError(f"alpha = {alpha!r}, must be in [0.5, 1)")
    returns = np.asarray(ds["annual_return"].values, dtype=float)
    if not 2 <= batches <= returns.shape[0] // BATCH_PATHS:
        raise InputError(
            f"batches = {batches!r} with {returns.shape[0]:,} paths, must be in [2, paths / "
            f"{BATCH_PATHS}]: the standard errors need at least {BATCH_PATHS} paths a batch"
        )
    weights = allocation_grid(step)
    spec = (objective, float(risk_aversion), float(alpha), int(bin_paths))
    columns, names = [ds["inputs"].values], [str(v) for v in ds["input"].values]
    if "parameters" in ds:
        columns.insert(0, ds["parameters"].values)
        names = [str(v) for v in ds["parameter"].values] + names
    thetas = np.concatenate(columns, axis=1)
    kinds = ["belief"] * (len(names) - ds.sizes["input"]) + ["draw"] * ds.sizes["input"]

    values = _values(returns, weights, *spec[:3])
    ensembles = [np.arange(returns.shape[0])] + np.array_split(np.arange(len(returns)), batches)
    ensembles = [(rows, _values(returns[rows], weights, *spec[:3]).max()) for rows in ensembles]
    evpi, evpi_se, perfect = _with_error(
        lambda rows, base: _evpi(returns[rows], weights, spec, base), ensembles
    )
    evppi, evppi_se = np.zeros(len(names)), np.zeros(len(names))
    informed, changes = np.zeros((len(names), N_SEGMENTS)), np.zeros(len(names))
    for j in range(len(names)):
        evppi[j], evppi_se[j], best = _with_error(
            lambda rows, base, j=j: _evppi(thetas[rows, j], returns[rows], weights, spec, base),
            ensembles,
        )
        informed[j] = weights[best].mean(axis=0)
        changes[j] = np.mean(best != values.argmax())
    order = np.argsort(-evppi, kind="stable")
    segments = ds["segment"].values
    return xr.Dataset(
        {
            "evpi": evpi,
            "evpi_standard_error": evpi_se,
            "evppi": (("input",), evppi[order]),
            "evppi_standard_error": (("input",), evppi_se[order]),
            "weights": (("segment",), weights[values.argmax()]),
            "weights_perfect": (("segment",), weights[perfect].mean(axis=0)),
            "weights_informed": (("input", "segment"), informed[order]),
            "decision_changes": (("input",), changes[order]),
            "value": values.max(),
        },
        coords={
            "input": [names[i] for i in order],
            "kind": ("input", [kinds[i] for i in order]),
            "label": ("input", [input_label(names[i]) for i in order]),
            "segment": segments,
        },
        attrs={
            **{k: ds.attrs[k] for k in ("scenario_name", "seed", "n_paths") if k in ds.attrs},
            "objective": objective,
            "risk_aversion": float(risk_aversion),
            "alpha": float(alpha),
            "decisions": int(len(weights)),
            "step": float(step),
            "method": (
                "EVPPI by Strong and Oakley's regression (2014), cubic B-spline in the rank"
                if objective == "mean"
                else f"EVPPI by Strong and Oakley's partition (2013), bins of {bin_paths} "
                "paths; EVPI includes the risk that knowing everything removes"
            )
            + f"; standard errors by batch means over {batches} sub-ensembles",
        },
    )
