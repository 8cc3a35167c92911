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

from mcengine.errors import ScenarioError

__all__ = ["tornado", "LABELS"]

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
        raise ScenarioError("no recorded inputs: simulate with record_inputs=True")
    if not 0 < tail <= 0.5:
        raise ScenarioError(f"tail = {tail!r}, must be in (0, 0.5]")
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
