"""What moves each segment: the tornado (one ensemble) and Sobol indices (a design).

For each uncertain input (the per-path draws and the driver shock groups recorded by
``simulate(..., record_inputs=True)``, and the uncertain keys' drawn values), the mean
annual return of each segment among the paths in the input's bottom decile and in its top
decile, with standard errors. There are no
one-at-a-time re-runs: every input is read off the same paths, so interactions and the
model's non-linearity are included. Ties (the jump count is discrete) are kept together, so
a "decile" can hold more than a tenth of the paths; ``paths_low``/``paths_high`` say how many.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from mcengine.errors import InputError
from mcengine.extras import require
from mcengine.kernel.belief_tables import kernel_copula
from mcengine.layout import input_label
from mcengine.model.scenario import Scenario, load_scenario
from mcengine.stats.estimates import Z95, batch_standard_error
from mcengine.studies.designs import (
    GROUPS,
    SEGMENT_RETURNS,
    Output,
    Sample,
    design_inputs,
    index_dataset,
    probabilities,
    run_design,
    stream_sample,
)

__all__ = ["tornado", "sobol_indices", "indices_from_samples", "GROUPS"]


def tornado(ds: xr.Dataset, tail: float = 0.1) -> xr.Dataset:
    """Mean annual return per segment in the bottom and top ``tail`` of each input.

    Returns ``mean (input, segment, side)`` with ``side`` = ``low``/``high``, its
    ``standard_error``, ``swing = high - low`` with ``swing_standard_error``, and the path
    counts; inputs are sorted by the largest absolute swing over the segments.
    """
    if "inputs" not in ds:
        raise InputError("no recorded inputs: simulate with record_inputs=True")
    if not 0 < tail <= 0.5:
        raise InputError(f"tail = {tail!r}, must be in (0, 0.5]")
    inputs = ds["inputs"].values
    names = [str(v) for v in ds["input"].values]
    if "parameters" in ds:  # the uncertain keys' drawn values are inputs too
        inputs = np.concatenate([inputs, ds["parameters"].values], axis=1)
        names += [str(v) for v in ds["parameter"].values]
    annual = ds["annual_return"].values
    shape = (len(names), annual.shape[1], 2)
    # Undefined is NaN, never 0: a group of no path has no mean, one of one path no s.e.
    mean, se = np.full(shape, np.nan), np.full(shape, np.nan)
    counts = np.zeros((len(names), 2), dtype=np.int64)
    for k in range(len(names)):
        x = inputs[:, k]
        low_cut, high_cut = np.quantile(x, [tail, 1.0 - tail])
        for side, mask in enumerate((x <= low_cut, x >= high_cut)):
            group = annual[mask]
            counts[k, side] = group.shape[0]
            if group.shape[0] > 0:
                mean[k, :, side] = group.mean(axis=0)
            se[k, :, side] = batch_standard_error(group)
    swing = mean[..., 1] - mean[..., 0]
    swing_se = np.hypot(se[..., 0], se[..., 1])  # disjoint groups of independent paths
    # The largest defined swing of each input (fmax skips NaN), undefined ones last.
    order = np.argsort(-np.fmax.reduce(np.abs(swing), axis=1), kind="stable")
    out = xr.Dataset(
        {
            "mean": (("input", "segment", "side"), mean[order]),
            "standard_error": (("input", "segment", "side"), se[order]),
            "swing": (("input", "segment"), swing[order]),
            "swing_standard_error": (("input", "segment"), swing_se[order]),
            "paths_low": (("input",), counts[order, 0]),
            "paths_high": (("input",), counts[order, 1]),
        },
        coords={
            "input": [names[i] for i in order],
            "segment": ds["segment"].values,
            "side": ["low", "high"],
            "label": ("input", [input_label(names[i]) for i in order]),
        },
        attrs={k: ds.attrs[k] for k in ("scenario_name", "seed", "n_paths") if k in ds.attrs},
    )
    out.attrs["tail"] = tail
    return out


# -- variance-based (Sobol) indices -------------------------------------------------------------
def indices_from_samples(f_a, f_b, f_ab, *, bootstrap: int = 200, seed: int = 0):
    """First-order and total Sobol indices from a Saltelli design, by SALib.

    ``f_a``, ``f_b`` are ``(n,)`` model outputs on two independent input samples, and
    ``f_ab`` is ``(inputs, n)``: the output on A with input ``j`` taken from B. SALib's
    estimators (:func:`SALib.analyze.sobol.analyze`): first order by Saltelli et al. (2010),
    total by Jansen (1999). Returns ``(first, total, first_ci, total_ci)``, the 95%
    intervals from SALib's bootstrap over the rows (estimate +- 1.96 bootstrap sd).
    """
    f_a, f_b, f_ab = (np.asarray(x, dtype=float) for x in (f_a, f_b, f_ab))
    d = f_ab.shape[0]
    if np.var(np.concatenate([f_a, f_b])) == 0:  # nothing varies: a share of 0/0, undefined
        undefined = np.full(d, np.nan)
        return undefined, undefined, np.full((d, 2), np.nan), np.full((d, 2), np.nan)
    salib_sobol = _salib("indices_from_samples")
    # SALib's layout: per base row, A, then A with each input from B, then B.
    y = np.column_stack([f_a, f_ab.T, f_b]).ravel()
    problem = {"num_vars": d, "names": [f"x{j}" for j in range(d)], "bounds": [[0, 1]] * d}
    out = salib_sobol.analyze(
        problem, y, calc_second_order=False, num_resamples=bootstrap, seed=seed + 1
    )  # seed + 1: SALib takes seed 0 for "unseeded"
    first, total = np.asarray(out["S1"]), np.asarray(out["ST"])
    first_ci = np.column_stack([first - out["S1_conf"], first + out["S1_conf"]])
    total_ci = np.column_stack([total - out["ST_conf"], total + out["ST_conf"]])
    return first, total, first_ci, total_ci


def _salib(what: str):
    """SALib's Sobol estimators: mcengine[sensitivity]."""
    return require("SALib.analyze.sobol", extra="sensitivity", what=what)


def _saltelli(scenario: Scenario, n_paths: int, seed: int, output: Output):
    """Samples A and B (paths ``0 ..`` and ``n_paths ..`` of the seed's streams) and one
    A-with-B's-input per input, as the outputs ``(n, len(output.names))`` each."""
    a, b = (
        stream_sample(scenario, seed, n_paths, 0),
        stream_sample(scenario, seed, n_paths, n_paths),
    )
    inputs = design_inputs(scenario)
    names = [i.name for i in inputs]
    mixed = []
    for i in inputs:
        draws, scores = a.draws.copy(), a.scores.copy()
        draws[:, i.columns] = b.draws[:, i.columns]
        if i.belief >= 0:
            scores[:, i.belief] = b.scores[:, i.belief]
        mixed.append(Sample(draws, scores, a.mixing))
    copula = kernel_copula(scenario.uncertain) if scenario.beliefs else None
    if copula is not None and copula.kind == 2:  # a t copula's mixing variable
        names.append("t-copula mixing")
        mixed.append(Sample(a.draws, a.scores, b.mixing))
    everything = [a, b, *mixed]
    draws = np.concatenate([x.draws for x in everything])
    probs = (
        np.concatenate([probabilities(scenario, x) for x in everything])
        if scenario.beliefs
        else np.empty((draws.shape[0], 0))
    )
    f = output.of(run_design(scenario, seed, draws, probs))
    f = f.reshape(len(everything), n_paths, len(output.names))
    kinds = [i.kind for i in inputs] + ["copula"] * (len(names) - len(inputs))
    return names, kinds, f[0], f[1], f[2:]


def sobol_indices(
    scenario, n_paths: int = 8192, seed: int = 0, *, bootstrap: int = 200,
    output: Output = SEGMENT_RETURNS,
):  # fmt: skip
    """First-order and total Sobol indices of each segment's annual return (or of another
    ``output`` of the annual returns, :class:`~mcengine.studies.designs.Output`) by input:
    the shock groups (:data:`GROUPS`) and the scenario's uncertain keys.

    Runs ``n_paths x (2 + inputs)`` paths: samples A and B (paths ``0 .. n_paths - 1`` and
    ``n_paths .. 2 n_paths - 1`` of the seed's streams: independent by construction, for
    any seed up to the largest) and one A-with-B's-input sample per input. With a copula,
    an uncertain key's input is its *independent* score (the copula's Cholesky
    innovation), and the indices depend on the copula's order: read the Shapley effects
    (:func:`mcengine.studies.shapley.shapley_effects`) instead (``attrs["method"]`` says).

    Returns
    -------
    xarray.Dataset
        ``first_order`` and ``total`` with dims ``(input, segment)`` (``output.dim``), their
        ``..._ci`` (``bound`` = low/high) and ``..._standard_error`` from SALib's bootstrap over the
        rows; coordinate ``kind`` (shock group, belief, copula). The estimates are SALib's,
        unclipped: in truth ``0 <= first_order <= total``, but an estimate may fall below 0,
        or first order above total, by sampling error (an input without interactions has
        the two equal); :func:`mcengine.present.variance.render_indices` says which, and
        whether within their standard errors.
    """
    _salib("sobol_indices")  # before the design runs, not after
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    names, kinds, f_a, f_b, f_ab = _saltelli(sc, n_paths, seed, output)
    shape = (len(names), len(output.names))
    first, total = np.zeros(shape), np.zeros(shape)
    first_ci, total_ci = np.zeros((*shape, 2)), np.zeros((*shape, 2))
    for s in range(shape[1]):
        fi, ti, fci, tci = indices_from_samples(
            f_a[:, s], f_b[:, s], f_ab[:, :, s], bootstrap=bootstrap, seed=seed
        )
        first[:, s], total[:, s], first_ci[:, s], total_ci[:, s] = fi, ti, fci, tci
    dims = ("input", output.dim)
    variables = {
        "first_order": (dims, first),
        "total": (dims, total),
        "first_order_ci": ((*dims, "bound"), first_ci),
        "total_ci": ((*dims, "bound"), total_ci),
        "first_order_standard_error": (dims, (first_ci[..., 1] - first) / Z95),
        "total_standard_error": (dims, (total_ci[..., 1] - total) / Z95),
    }
    method = (
        "independent inputs: Sobol indices apply",
        "dependent inputs: these are indices of the copula's independent innovations and "
        "depend on its order; read the Shapley effects",
    )
    return index_dataset(
        sc, variables, list(zip(names, kinds, strict=True)), seed=seed, n_paths=n_paths,
        method=method,
        design="Saltelli (2010) first order, Jansen (1999) total (SALib), bootstrap CIs",
        output=output,
    )  # fmt: skip
