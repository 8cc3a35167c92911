"""Sensitivity from one ensemble: the tornado.

For each uncertain input (the per-path draws and the driver shock groups recorded by
``simulate(..., record_inputs=True)``), the mean annual return of each segment among the
paths in the input's bottom decile and in its top decile, with standard errors. There are no
one-at-a-time re-runs: every input is read off the same paths, so interactions and the
model's non-linearity are included. Ties (the jump count is discrete) are kept together, so
a "decile" can hold more than a tenth of the paths; ``paths_low``/``paths_high`` say how many.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from mcengine.engine.local import simulate
from mcengine.errors import InputError
from mcengine.layout import PathDraw, StepDraw, draw_column
from mcengine.model.scenario import Scenario, load_scenario
from mcengine.rng.streams import draw_table

__all__ = ["tornado", "LABELS", "sobol_indices", "indices_from_samples", "GROUPS"]

LABELS = {
    "decline_rate": "training-cost decline rate (lambda)",
    "initial_growth": "today's demand growth (g0)",
    "selection": "applications winner-picking draw",
    "cost_shocks": "training-cost shocks",
    "open_share_shocks": "open-weight share shocks",
    "demand_shocks": "demand-growth shocks",
    "demand_jumps": "adoption jumps (count)",
    "sentiment_common": "common sentiment shocks",
    "sentiment_applications": "applications sentiment shocks",
    "sentiment_inference": "inference sentiment shocks",
    "sentiment_training": "training sentiment shocks",
}


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
    annual = ds["annual_return"].values
    names = [str(v) for v in ds["input"].values]
    shape = (len(names), annual.shape[1], 2)
    mean, se = np.zeros(shape), np.zeros(shape)
    counts = np.zeros((len(names), 2), dtype=np.int64)
    for k in range(len(names)):
        x = inputs[:, k]
        low_cut, high_cut = np.quantile(x, [tail, 1.0 - tail])
        for side, mask in enumerate((x <= low_cut, x >= high_cut)):
            group = annual[mask]
            counts[k, side] = group.shape[0]
            if group.shape[0] > 1:
                mean[k, :, side] = group.mean(axis=0)
                se[k, :, side] = group.std(axis=0, ddof=1) / math.sqrt(group.shape[0])
    swing = mean[..., 1] - mean[..., 0]
    swing_se = np.hypot(se[..., 0], se[..., 1])  # disjoint groups of independent paths
    order = np.argsort(-np.abs(swing).max(axis=1), kind="stable")
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
            "label": ("input", [LABELS.get(names[i], names[i]) for i in order]),
        },
        attrs={k: ds.attrs[k] for k in ("scenario_name", "seed", "n_paths") if k in ds.attrs},
    )
    out.attrs["tail"] = tail
    return out


# -- variance-based (Sobol) indices -------------------------------------------------------------
#: Input groups and their draws: per-path columns, and per-step slots (see
#: :func:`mcengine.rng.samplers.sobol_draws` for the layout). Groups are sets of the *independent*
#: normals before the driver correlation is applied.
_S = StepDraw
GROUPS = {
    "cost_path": ((PathDraw.DECLINE_RATE,), (_S.COST,)),
    "open_share_path": ((), (_S.OPEN_SHARE,)),
    "demand_path": ((PathDraw.INITIAL_GROWTH,), (_S.DEMAND, _S.JUMP)),
    "sentiment": (
        (),
        (
            _S.SENTIMENT_COMMON,
            _S.SENTIMENT_APPLICATIONS,
            _S.SENTIMENT_INFERENCE,
            _S.SENTIMENT_TRAINING,
        ),
    ),
    "selection": ((PathDraw.SELECTION,), ()),
}


def _group_columns(group: str, n_steps: int) -> np.ndarray:
    per_path, per_step = GROUPS[group]
    cols = list(per_path)
    for n in range(n_steps):
        cols += [draw_column(n, slot) for slot in per_step]
    return np.array(cols, dtype=np.int64)


def indices_from_samples(f_a, f_b, f_ab, *, bootstrap: int = 200, seed: int = 0):
    """First-order and total Sobol indices from a Saltelli design.

    ``f_a``, ``f_b`` are ``(n,)`` model outputs on two independent input samples, and
    ``f_ab`` is ``(groups, n)``: the output on A with group ``j`` taken from B. First order
    uses Saltelli et al. (2010), ``mean(f_B (f_AB - f_A)) / V``; total uses Jansen (1999),
    ``mean((f_A - f_AB)^2) / (2 V)``, with ``V`` the variance of A and B pooled. Returns
    ``(first, total, first_ci, total_ci)``, the intervals from a bootstrap over the rows.
    """
    f_a, f_b, f_ab = np.asarray(f_a), np.asarray(f_b), np.asarray(f_ab)

    def estimate(rows):
        a, b, ab = f_a[rows], f_b[rows], f_ab[:, rows]
        var = np.var(np.concatenate([a, b]), ddof=1)
        if var == 0:
            return np.zeros(ab.shape[0]), np.zeros(ab.shape[0])
        return np.mean(b * (ab - a), axis=1) / var, 0.5 * np.mean((a - ab) ** 2, axis=1) / var

    n = f_a.shape[0]
    first, total = estimate(np.arange(n))
    rng = np.random.default_rng(seed)
    boot = [estimate(rng.integers(0, n, n)) for _ in range(bootstrap)]
    firsts = np.array([b[0] for b in boot])
    totals = np.array([b[1] for b in boot])
    first_ci = np.percentile(firsts, [2.5, 97.5], axis=0).T
    total_ci = np.percentile(totals, [2.5, 97.5], axis=0).T
    return first, total, first_ci, total_ci


def sobol_indices(scenario, n_paths: int = 8192, seed: int = 0, *, bootstrap: int = 200):
    """First-order and total Sobol indices of each segment's annual return by input group.

    Runs ``n_paths x (2 + groups)`` paths: samples A and B (paths ``0 .. n_paths - 1`` and
    ``n_paths .. 2 n_paths - 1`` of the seed's streams: independent by construction, for any
    seed up to the largest) and one A-with-B's-group sample per group in :data:`GROUPS`.

    Returns
    -------
    xarray.Dataset
        ``first_order`` and ``total`` with dims ``(group, segment)`` and their ``..._ci``
        (``bound`` = low/high) from a bootstrap over the rows.
    """

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)

    def flat(first_path):
        per_path, per_step = draw_table(seed, n_paths, sc.n_steps, first_path=first_path)
        return np.concatenate([per_path, per_step.reshape(n_paths, -1)], axis=1)

    a, b = flat(0), flat(n_paths)

    def annual(draws):
        return simulate(sc, n_paths, seed, draws=draws)["annual_return"].values

    f_a, f_b = annual(a), annual(b)
    f_ab = []
    for group in GROUPS:
        mixed = a.copy()
        cols = _group_columns(group, sc.n_steps)
        mixed[:, cols] = b[:, cols]
        f_ab.append(annual(mixed))
    f_ab = np.stack(f_ab)  # (groups, n, segments)
    shape = (len(GROUPS), f_a.shape[1])
    first, total = np.zeros(shape), np.zeros(shape)
    first_ci, total_ci = np.zeros((*shape, 2)), np.zeros((*shape, 2))
    for s in range(f_a.shape[1]):
        fi, ti, fci, tci = indices_from_samples(
            f_a[:, s], f_b[:, s], f_ab[:, :, s], bootstrap=bootstrap, seed=seed
        )
        first[:, s], total[:, s], first_ci[:, s], total_ci[:, s] = fi, ti, fci, tci
    dims = ("group", "segment")
    return xr.Dataset(
        {
            "first_order": (dims, first),
            "total": (dims, total),
            "first_order_ci": ((*dims, "bound"), first_ci),
            "total_ci": ((*dims, "bound"), total_ci),
        },
        coords={
            "group": list(GROUPS),
            "segment": ["applications", "inference", "training"],
            "bound": ["low", "high"],
        },
        attrs={
            "scenario_name": sc.name,
            "seed": np.int64(seed),
            "n_paths": np.int64(n_paths),
            "design": "Saltelli (2010) first order, Jansen (1999) total, bootstrap CIs",
        },
    )
