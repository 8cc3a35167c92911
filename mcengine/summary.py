"""Summaries of a simulation: each statistic with its Monte Carlo standard error.

Standard errors (``docs/model.md``, "Reading the results"):

* mean: sample standard deviation / sqrt(n);
* std: delta method on the sample variance, ``sqrt((m4 - s^4) / n) / (2 s)``;
* quantiles (and VaR, and the median drawdown): from the distribution-free order-statistic
  95% interval, ranks ``n q +/- 1.96 sqrt(n q (1-q))``, divided by ``2 * 1.96``. It needs no
  density estimate and is zero where the interval sits on an atom (e.g. wipe-outs at -1);
* CVaR (expected shortfall): ``std((q - X)+) / (alpha sqrt(n))``, its asymptotic error;
* probabilities: ``sqrt(p (1 - p) / n)``.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from mcengine.errors import ResultFileError

__all__ = ["summarize", "STATISTICS", "QUANTILES", "TAIL_ALPHA"]

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
TAIL_ALPHA = 0.05
_Z95 = 1.959963984540054

STATISTICS = {
    "mean": "mean annual return",
    "std": "standard deviation of annual return",
    **{f"q{round(q * 100):02d}": f"{q:.0%} quantile of annual return" for q in QUANTILES},
    "var95": "95% value at risk: minus the 5% quantile of annual return",
    "cvar95": "95% expected shortfall: minus the mean annual return in the worst 5%",
    "p_loss": "probability of a loss (total return < 1)",
    "p_wiped_out": "probability the investor is wiped out (total return = 0)",
    "median_max_drawdown": "median of the maximum drawdown of investor wealth",
    "p_crash_origin": "probability that the contagion crash starts in this segment",
}


def _quantile_with_se(sorted_x: np.ndarray, q: float) -> tuple[float, float]:
    n = sorted_x.size
    estimate = float(np.quantile(sorted_x, q))
    half = _Z95 * math.sqrt(n * q * (1.0 - q))
    lo = min(max(math.floor(n * q - half), 0), n - 1)
    hi = min(max(math.ceil(n * q + half), 0), n - 1)
    return estimate, float(sorted_x[hi] - sorted_x[lo]) / (2.0 * _Z95)


def _proportion(hits: np.ndarray) -> tuple[float, float]:
    p = float(np.mean(hits))
    return p, math.sqrt(p * (1.0 - p) / hits.size)


def _segment_statistics(
    annual: np.ndarray, total: np.ndarray, drawdown: np.ndarray, origin_hits: np.ndarray
) -> dict[str, tuple[float, float]]:
    n = annual.size
    stats: dict[str, tuple[float, float]] = {}
    mean = float(np.mean(annual))
    std = float(np.std(annual, ddof=1)) if n > 1 else 0.0
    stats["mean"] = (mean, std / math.sqrt(n))
    m4 = float(np.mean((annual - mean) ** 4))
    std_se = math.sqrt(max(m4 - std**4, 0.0) / n) / (2.0 * std) if std > 0 else 0.0
    stats["std"] = (std, std_se)
    ordered = np.sort(annual)
    for q in QUANTILES:
        stats[f"q{round(q * 100):02d}"] = _quantile_with_se(ordered, q)
    q_tail, q_tail_se = stats["q05"]
    stats["var95"] = (-q_tail, q_tail_se)
    shortfall = np.maximum(q_tail - annual, 0.0)
    cvar = -(q_tail - float(np.mean(shortfall)) / TAIL_ALPHA)
    cvar_se = float(np.std(shortfall, ddof=1)) / (TAIL_ALPHA * math.sqrt(n)) if n > 1 else 0.0
    stats["cvar95"] = (cvar, cvar_se)
    stats["p_loss"] = _proportion(total < 1.0)
    stats["p_wiped_out"] = _proportion(total == 0.0)
    stats["median_max_drawdown"] = _quantile_with_se(np.sort(drawdown), 0.5)
    stats["p_crash_origin"] = _proportion(origin_hits)
    return stats


def summarize(ds: xr.Dataset) -> xr.Dataset:
    """Summarise a :func:`~mcengine.simulate` result per segment.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`mcengine.simulate` (or read back from its netCDF file).

    Returns
    -------
    xarray.Dataset
        ``estimate`` and ``standard_error`` with dims ``(segment, statistic)``; the
        statistics are listed in :data:`STATISTICS`. Scalars ``p_crash`` and
        ``p_crash_standard_error`` give the probability of a contagion crash. Attributes
        carry the run's scenario name, seed and path count.
    """
    from mcengine.io import check_result

    check_result(ds)
    if ds.sizes["path"] == 0:
        raise ResultFileError("the result has no paths to summarise")
    segments = [str(s) for s in ds["segment"].values]
    origin = ds["crash_origin"].values
    estimate = np.empty((len(segments), len(STATISTICS)))
    error = np.empty_like(estimate)
    for i in range(len(segments)):
        stats = _segment_statistics(
            ds["annual_return"].values[:, i],
            ds["total_return"].values[:, i],
            ds["max_drawdown"].values[:, i],
            origin == i,
        )
        for j, name in enumerate(STATISTICS):
            estimate[i, j], error[i, j] = stats[name]
    p_crash, p_crash_se = _proportion(origin >= 0)
    out = xr.Dataset(
        {
            "estimate": (("segment", "statistic"), estimate),
            "standard_error": (("segment", "statistic"), error),
            "p_crash": ((), p_crash),
            "p_crash_standard_error": ((), p_crash_se),
        },
        coords={
            "segment": segments,
            "statistic": list(STATISTICS),
            "description": ("statistic", list(STATISTICS.values())),
        },
        attrs={k: ds.attrs[k] for k in ("scenario_name", "seed", "n_paths") if k in ds.attrs},
    )
    out["standard_error"].attrs["long_name"] = "Monte Carlo standard error of the estimate"
    return out
