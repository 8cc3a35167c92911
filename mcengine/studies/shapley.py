"""Shapley effects: each input's share of a segment's return variance, under dependence.

Sobol indices need independent inputs: with a copula between beliefs (or between a belief
and lambda or g0) they attribute variance to the copula's innovations, in an order that
changes the answer. Shapley effects (Owen 2014; Song, Nelson and Staum 2016) share the
variance among the inputs as a cooperative game: input ``i`` gets the average, over the
subsets ``S`` of the others, of what adding it to ``S`` adds to the explained variance
``c(S) = Var(E[Y | X_S]) / Var(Y)``. They are never negative, add up to 1, and need no
independence (Owen and Prieur 2017).

Every ``c(S)`` is estimated by pick-freeze with exact conditional sampling: a second copy
of each path keeps the inputs in ``S`` and draws the others from their distribution
*given* ``X_S`` (for the copula's variables, the Gaussian or Student-t conditional law;
the shock groups outside the copula are independent), and ``Cov(Y, Y^S) = Var(E[Y |
X_S])`` (Janon et al. 2014's estimator). All ``2^d`` subsets are run, so ``d`` (shock
groups plus uncertain keys) is at most :data:`MAX_INPUTS`. SALib has no Shapley effects
(its estimators assume independent inputs, SALib #193), so they are written here.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from mcengine.errors import InputError
from mcengine.kernel.belief_tables import kernel_copula
from mcengine.model.scenario import Scenario, load_scenario
from mcengine.studies.designs import (
    SEGMENT_RETURNS,
    DesignInput,
    Output,
    Sample,
    design_inputs,
    index_dataset,
    linked_scores,
    probabilities,
    run_design,
    stream_sample,
)

__all__ = [
    "MAX_INPUTS",
    "shapley_effects",
    "shapley_from_closed",
    "closed_indices",
    "conditional_scores",
]

#: The most inputs (2^d subsets are run, each on every base path).
MAX_INPUTS = 12
_CALL_PATHS = 1 << 16


def conditional_scores(r, known, y, eps, *, df=None, mixing=None):
    """Draw the unknown variables of a Gaussian (or, with ``df``, multivariate Student-t)
    vector with correlation ``r`` given the known ones.

    ``known`` ``(m,)`` says which columns of ``y`` ``(n, m)`` are kept; the others are
    drawn from their conditional law given those, from independent standard normals
    ``eps`` ``(n, m)`` (and for the t, uniforms ``mixing`` ``(n,)`` for its chi-square).
    """
    known = np.asarray(known, dtype=bool)
    out = np.array(y, dtype=float, copy=True)
    u = ~known
    if not u.any():
        return out
    r_uu, r_uk, r_kk = r[np.ix_(u, u)], r[np.ix_(u, known)], r[np.ix_(known, known)]
    if known.any():
        solve = np.linalg.solve(r_kk, r_uk.T)  # R_KK^-1 R_KU
        mean = y[:, known] @ solve
        cov = r_uu - r_uk @ solve
    else:
        mean, cov = np.zeros((y.shape[0], u.sum())), r_uu
    spread = eps[:, u] @ np.linalg.cholesky(cov).T
    if df is not None:  # conditional t: df + k degrees of freedom, scale by the known part
        k = int(known.sum())
        q = np.einsum("ij,ij->i", y[:, known], np.linalg.solve(r_kk, y[:, known].T).T) if k else 0
        w = special.chdtri(df + k, 1.0 - mixing) / (df + k)
        spread = spread * np.sqrt((df + q) / (df + k) / w)[:, None]
    out[:, u] = mean + spread
    return out


def closed_indices(y: np.ndarray, y_subsets: np.ndarray) -> np.ndarray:
    """``c(S)`` for each subset from the output ``y`` ``(n, ...)`` and its pick-freeze
    copies ``y_subsets`` ``(subsets, n, ...)`` (Janon et al. 2014: both copies' moments
    in the mean and the variance)."""
    mean = 0.5 * (y + y_subsets).mean(axis=1)
    var = 0.5 * (y**2 + y_subsets**2).mean(axis=1) - mean**2
    cov = (y * y_subsets).mean(axis=1) - mean**2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, cov / np.where(var > 0, var, 1.0), np.nan)


def shapley_from_closed(closed: np.ndarray) -> np.ndarray:
    """Shapley effects ``(d, ...)`` from ``c(S)`` for every subset ``S`` of ``d`` inputs,
    ``closed`` ``(2^d, ...)`` indexed by bit mask; they add up to ``c(all) - c(empty)``."""
    d = int(round(math.log2(closed.shape[0])))
    sizes = np.array([bin(mask).count("1") for mask in range(1 << d)])
    weight = np.array([1.0 / (d * math.comb(d - 1, s)) for s in range(d)])
    out = np.zeros((d, *closed.shape[1:]))
    for i in range(d):
        bit = 1 << i
        without = np.array([m for m in range(1 << d) if not m & bit])
        w = weight[sizes[without]].reshape(-1, *([1] * (closed.ndim - 1)))
        out[i] = (w * (closed[without | bit] - closed[without])).sum(axis=0)
    return out


def _subset_samples(scenario: Scenario, inputs: list[DesignInput], a: Sample, b: Sample):
    """For each subset mask, the draws and belief probabilities of the copy that keeps
    the inputs in the subset (from A) and draws the rest given them (from B)."""
    d, n = len(inputs), a.draws.shape[0]
    copula = kernel_copula(scenario.uncertain) if scenario.beliefs else None
    members = [] if copula is None else copula.source.tolist()
    owner = []  # the input each copula variable belongs to
    for s in members:
        if s >= 0:
            owner.append(next(k for k, i in enumerate(inputs) if i.belief == s))
        else:  # a per-path draw: the shock group whose columns hold it
            owner.append(next(k for k, i in enumerate(inputs) if (-1 - s) in i.columns))
    y_a = linked_scores(scenario, a) if members else None
    independent_b = None
    if members:
        independent_b = np.column_stack(
            [b.draws[:, -1 - s] if s < 0 else b.scores[:, s] for s in members]
        )
        r = copula.factor @ copula.factor.T
    for mask in range(1 << d):
        keep = [bool(mask >> k & 1) for k in range(d)]
        draws, scores = b.draws.copy(), b.scores.copy()
        for k, i in enumerate(inputs):
            if keep[k]:
                draws[:, i.columns] = a.draws[:, i.columns]
                if i.belief >= 0:
                    scores[:, i.belief] = a.scores[:, i.belief]
        sample = Sample(draws, scores, b.mixing)
        linked = None
        if members:
            known = np.array([keep[k] for k in owner])
            df = copula.df if copula.kind == 2 else None
            linked = conditional_scores(r, known, y_a, independent_b, df=df, mixing=b.mixing)
            for m, s in enumerate(members):
                if s < 0:  # the per-path draw takes its conditional value
                    draws[:, -1 - s] = linked[:, m]
        probs = probabilities(scenario, sample, linked) if scenario.beliefs else None
        yield draws, (np.empty((n, 0)) if probs is None else probs)


def shapley_effects(
    scenario, n_paths: int = 2048, seed: int = 0, *, bootstrap: int = 100,
    output: Output = SEGMENT_RETURNS,
):  # fmt: skip
    """Shapley effects of each segment's annual return (or of another ``output`` of the
    annual returns, :class:`~mcengine.studies.designs.Output`) by input (shock groups and
    the scenario's uncertain keys), with their dependence.

    Runs ``n_paths x 2^d`` paths (``d`` inputs, at most :data:`MAX_INPUTS`): a base
    sample (paths ``0 ..`` of the seed's streams) and for each subset of inputs a copy that
    keeps them and draws the others given them (from paths ``n_paths ..``).

    Returns
    -------
    xarray.Dataset
        ``shapley (input, segment)`` (adding up to 1 over the inputs), its
        ``shapley_standard_error`` and ``shapley_ci`` (``bound``: a 95% bootstrap over the
        base rows), and ``closed_first (input, segment)``, ``c({i})``: the share that input
        alone explains (with dependence, including what it explains through the inputs
        it is correlated with).
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    inputs = design_inputs(sc)
    d = len(inputs)
    if d > MAX_INPUTS:
        raise InputError(
            f"scenario '{sc.name}' has {d} inputs (5 shock groups and {len(sc.beliefs)} "
            f"uncertain keys); Shapley effects run 2^d subsets, at most {MAX_INPUTS} inputs"
        )
    a, b = stream_sample(sc, seed, n_paths, 0), stream_sample(sc, seed, n_paths, n_paths)
    y_s = np.empty((1 << d, n_paths, len(output.names)))
    per_call = max(1, _CALL_PATHS // n_paths)  # subsets per engine call: bounded memory
    batch, done = [], 0
    for part in _subset_samples(sc, inputs, a, b):
        batch.append(part)
        if len(batch) == per_call or done + len(batch) == 1 << d:
            draws = np.concatenate([p[0] for p in batch])
            probs = np.concatenate([p[1] for p in batch])
            y = output.of(run_design(sc, seed, draws, probs))
            y_s[done : done + len(batch)] = y.reshape(-1, n_paths, len(output.names))
            done += len(batch)
            batch = []
    y = y_s[-1]  # the subset of every input is the base sample itself

    def effects(rows):
        # c(all) = 1 exactly (the copy is the path); the estimate of c(empty), the two
        # independent copies' noise, is kept so that an input that changes no copy gets
        # exactly 0, and the effects are divided by c(all) - c(empty) to add up to 1.
        closed = closed_indices(y[rows], y_s[:, rows])
        return shapley_from_closed(closed) / (closed[-1] - closed[0]), closed

    phi, closed = effects(np.arange(n_paths))
    rng = np.random.default_rng(seed)
    boot = np.array([effects(rng.integers(0, n_paths, n_paths))[0] for _ in range(bootstrap)])
    singles = closed[[1 << k for k in range(d)]]
    dims = ("input", output.dim)
    ci = np.moveaxis(np.percentile(boot, [2.5, 97.5], 0), 0, -1)
    variables = {
        "shapley": (dims, phi),
        "shapley_standard_error": (dims, boot.std(axis=0, ddof=1)),
        "shapley_ci": ((*dims, "bound"), ci),
        "closed_first": (dims, singles),
    }
    method = (
        "independent inputs: in truth each Shapley effect lies between the input's "
        "first-order and total Sobol indices; estimates from other paths may cross them by "
        "sampling error, so compare within both standard errors",
        "dependent inputs: Shapley effects apply (Sobol indices would not)",
    )
    return index_dataset(
        sc, variables, [(i.name, i.kind) for i in inputs], seed=seed, n_paths=n_paths,
        method=method,
        design="exact Shapley over all 2^d subsets; pick-freeze with conditional sampling "
        "(Janon et al. 2014); bootstrap over the base rows",
        output=output,
    )  # fmt: skip
