"""Summaries of a simulation: each statistic with its Monte Carlo standard error and 95% CI.

The statistics read a sample through :mod:`mcengine.stats.samples`, so the full mode (sorted
per-path values) and the summary-only mode (streamed histograms) share every formula; the
formulas and their edge rules (undefined is NaN) live in :mod:`mcengine.stats.estimates`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import xarray as xr

from mcengine.errors import ResultFileError
from mcengine.layout import BLOCK_PATHS, N_SEGMENTS, QUANTILES, SEGMENTS, STATISTICS
from mcengine.results.checks import check_result
from mcengine.results.dataset import WALL_CLOCK_ATTRS, is_summary
from mcengine.stats import estimates
from mcengine.stats.attribution import (
    CONTRIBUTIONS,
    contribution_moments,
    contribution_variables,
)
from mcengine.stats.blocks import BlockTree, reduce_blocks
from mcengine.stats.estimates import TAIL_ALPHA
from mcengine.stats.samples import BinnedSample, ExactSample, Histogram, Moments, MomentTable
from mcengine.stats.tails import (
    EQUAL_WEIGHTS,
    JointMoments,
    JointStats,
    check_weights,
    joint_variables,
    portfolio_annual_return,
)

__all__ = [
    "summarize",
    "SummaryAccumulator",
    "STATISTICS",
    "QUANTILES",
    "TAIL_ALPHA",
    "ANNUAL_BIN_WIDTH",
]

#: Histogram bin width of annual return and drawdown in summary-only runs: the bound on the
#: error of every quantile-based figure (1e-4 percentage points).
ANNUAL_BIN_WIDTH = 1e-6
_ANNUAL_RANGE = (-1.0, 4.0)  # -100% to +400% a year; outside it the bound widens (exactly)

#: The statistics in units of 1 (probabilities, a drawdown); the others are of annual
#: returns, in 1/year (as ``annual_return``).
_FRACTIONS = ("p_loss", "p_wiped_out", "median_max_drawdown", "p_crash_origin")

#: ``long_name`` and units (UDUNITS; "1": dimensionless) of the summary's own variables and
#: coordinates, CF 1.8 (the joint ones: :data:`mcengine.stats.tails.DESCRIPTIONS`).
#: ``estimate`` and its errors mix units, which their ``comment`` gives.
_DESCRIPTIONS = {
    "estimate": ("Monte Carlo estimate of the statistic (see description)", None),
    "standard_error": ("Monte Carlo standard error of the estimate", None),
    "ci_low": ("lower end of the 95% confidence interval", None),
    "ci_high": ("upper end of the 95% confidence interval", None),
    "p_crash": ("probability of a contagion crash within the horizon", "1"),
    "p_crash_standard_error": ("Monte Carlo standard error of p_crash", "1"),
    "p_crash_ci": ("95% confidence interval of p_crash", "1"),
    "contribution": ("mean contribution to the mean annual return (they add up to it)", "1/year"),
    "contribution_standard_error": ("Monte Carlo standard error of the contribution", "1/year"),
    "segment": ("investor segment", None),
    "statistic": ("statistic of the segment's annual return, drawdown or losses", None),
    "description": ("what the statistic is", None),
    "bound": ("end of the 95% confidence interval", None),
    "component": ("part of the mean annual return: a part of ln(total_return), or wipe-outs", None),
}
_BY_STATISTIC = (
    f"units by statistic: 1 for {', '.join(_FRACTIONS)}; 1/year for the others (annual returns)"
)


def _segment_statistics(annual, drawdown, n_loss: int, n_wiped: int, n_origin: int):
    n = annual.n
    stats: dict[str, estimates.Estimate] = {
        "mean": estimates.mean(annual.moments),
        "std": estimates.std(annual.moments),
    }
    for q in QUANTILES:
        stats[f"q{round(q * 100):02d}"] = estimates.quantile(annual, q)
    _, stats["var95"], stats["cvar95"] = estimates.tail(annual)
    stats["p_loss"] = estimates.proportion(n_loss, n)
    stats["p_wiped_out"] = estimates.proportion(n_wiped, n)
    stats["median_max_drawdown"] = estimates.quantile(drawdown, 0.5)
    stats["p_crash_origin"] = estimates.proportion(n_origin, n)
    return stats


def _summary_dataset(
    per_segment,
    n_crash: int,
    n: int,
    attrs: dict,
    contributions: dict | None = None,
    joint: tuple[dict, dict] | None = None,
) -> xr.Dataset:
    def table(field: str) -> np.ndarray:
        return np.array([[getattr(per_segment[s][k], field) for k in STATISTICS] for s in SEGMENTS])

    crash = estimates.proportion(n_crash, n)
    out = xr.Dataset(
        {
            "estimate": (("segment", "statistic"), table("value")),
            "standard_error": (("segment", "statistic"), table("se")),
            "ci_low": (("segment", "statistic"), table("ci_low")),
            "ci_high": (("segment", "statistic"), table("ci_high")),
            "p_crash": ((), crash.value),
            "p_crash_standard_error": ((), crash.se),
            "p_crash_ci": (("bound",), [crash.ci_low, crash.ci_high]),
            **(contributions or {}),
            **(joint[0] if joint else {}),
        },
        coords={
            "segment": list(SEGMENTS),
            "statistic": list(STATISTICS),
            "description": ("statistic", list(STATISTICS.values())),
            "bound": ["low", "high"],
            **({"component": list(CONTRIBUTIONS)} if contributions else {}),
            **(joint[1] if joint else {}),
        },
        attrs=attrs,
    )
    for name, (long_name, units) in _DESCRIPTIONS.items():
        if name in out.variables:
            out[name].attrs.update(long_name=long_name, **({"units": units} if units else {}))
    for name in ("estimate", "standard_error", "ci_low", "ci_high"):
        out[name].attrs["comment"] = _BY_STATISTIC
    return out


def summarize(ds: xr.Dataset, portfolio_weights=EQUAL_WEIGHTS) -> xr.Dataset:
    """Summarise a :func:`~mcengine.simulate` result per segment.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`mcengine.simulate` (or read back from its netCDF file). A summary
        (from ``simulate(..., keep_paths=False)``) is returned unchanged.

    Returns
    -------
    xarray.Dataset
        ``estimate`` and ``standard_error`` with dims ``(segment, statistic)``; the
        statistics are listed in :data:`STATISTICS`. Scalars ``p_crash`` and
        ``p_crash_standard_error`` give the probability of a contagion crash. Attributes
        carry the run's scenario name, seed and path count, and ``quantile_error_bound``
        (0 here: quantiles are exact order statistics).

        Joint risk: ``correlation_pearson`` and ``correlation_spearman`` (segment,
        segment_b) of annual returns, ``p_all_lose`` (every segment loses), ``portfolio``
        statistics (mean, q05, var95, cvar95, p_loss) of a buy-and-hold portfolio of the
        segments, ``conditional_mean`` (segment, condition) on no crash / a crash / a crash
        starting in each segment, and ``crash_year_probability`` (year). Each has its
        ``..._standard_error``.
    portfolio_weights : sequence of 3 floats, default equal
        Today's weights of applications, inference and training in the portfolio
        (normalised to sum to 1).

    Raises
    ------
    TypeError
        If ``ds`` is not an :class:`xarray.Dataset`.
    """
    if not isinstance(ds, xr.Dataset):
        raise TypeError(
            "summarize needs the xarray.Dataset that mcengine.simulate returns (or a result "
            f"file read with mcengine.read_result), not {type(ds).__name__}"
        )
    if is_summary(ds):
        return ds
    check_result(ds)
    weights = check_weights(portfolio_weights)
    table = _summarize_iid(ds, weights)
    if ds.attrs.get("sampler", "pseudo") == "pseudo":
        return table
    return _replicate_errors(ds, table, weights)


def _replicate_errors(ds: xr.Dataset, table: xr.Dataset, weights) -> xr.Dataset:
    """Standard errors from the spread of replicate groups (non-independent samplers).

    Every ``X`` with an ``X_standard_error`` (and ``estimate``/``standard_error``) gets the
    standard deviation of its group values over ``sqrt(replicates)``; the 95% intervals use
    Student's t with ``replicates - 1`` degrees of freedom.
    """
    replicates = int(ds.attrs["replicates"])
    size = ds.sizes["path"] // replicates
    groups = [
        _summarize_iid(ds.isel(path=slice(r * size, (r + 1) * size)), weights)
        for r in range(replicates)
    ]
    pairs = [("estimate", "standard_error")] + [
        (name, f"{name}_standard_error")
        for name in table.data_vars
        if f"{name}_standard_error" in table.data_vars
    ]
    out = table.copy()

    def described(name: str, values: xr.DataArray) -> xr.DataArray:
        # Arithmetic keeps the first operand's attributes (the estimate's): ``name``'s own.
        values = values.copy(deep=False)
        values.attrs = dict(table[name].attrs)
        return values

    for value, error in pairs:
        values = xr.concat([g[value] for g in groups], dim="replicate")
        out[error] = described(error, estimates.batch_standard_error(values, "replicate"))
    t = estimates.student_t95(replicates)
    out["ci_low"] = described("ci_low", out["estimate"] - t * out["standard_error"])
    out["ci_high"] = described("ci_high", out["estimate"] + t * out["standard_error"])
    p = float(out["p_crash"])
    half = t * float(out["p_crash_standard_error"])
    bounds = [max(p - half, 0.0), min(p + half, 1.0)]
    out["p_crash_ci"] = ("bound", bounds, dict(table["p_crash_ci"].attrs))
    out.attrs["standard_errors"] = f"from {replicates} replicate groups ({ds.attrs['sampler']})"
    return out


def _summarize_iid(ds: xr.Dataset, weights) -> xr.Dataset:
    n = ds.sizes["path"]
    if n == 0:
        raise ResultFileError("the result has no paths to summarise")
    origin = ds["crash_origin"].values
    per_segment = {}
    for i, segment in enumerate(SEGMENTS):
        total = ds["total_return"].values[:, i]
        per_segment[segment] = _segment_statistics(
            ExactSample(ds["annual_return"].values[:, i]),
            ExactSample(ds["max_drawdown"].values[:, i]),
            int(np.count_nonzero(total < 1.0)),
            int(np.count_nonzero(total == 0.0)),
            int(np.count_nonzero(origin == i)),
        )
    # Without the clock's attributes: equal runs give identical summaries (locally or on Dask).
    attrs = {k: v for k, v in ds.attrs.items() if k not in WALL_CLOCK_ATTRS}
    attrs["quantile_error_bound"] = 0.0
    joint, joint_coords, joint_attrs = joint_variables(ds, weights)
    attrs.update(joint_attrs)
    contributions = None
    if "components" in ds.variables and "horizon_years" in ds.attrs:
        components, causes = ds["components"].values, ds["wipe_cause"].values
        horizon = float(ds.attrs["horizon_years"])
        contributions = contribution_variables(
            reduce_blocks(n, lambda p: contribution_moments(components[p], causes[p], horizon))
        )
    fan = [n for n in ("fan_wealth", "fan_drivers", "fan_economics") if n in ds.variables]
    if fan:
        attrs.update({k: ds.attrs[k] for k in ds.attrs if k.startswith("fan_")})
    table = _summary_dataset(
        per_segment,
        int(np.count_nonzero(origin >= 0)),
        n,
        attrs,
        contributions,
        (joint, joint_coords),
    )
    return table.assign({name: ds[name] for name in fan}) if fan else table


def _annual_histogram() -> Histogram:
    lo, hi = _ANNUAL_RANGE
    return Histogram(lo, hi, ANNUAL_BIN_WIDTH, atom=-1.0)


def _drawdown_histogram() -> Histogram:
    return Histogram(0.0, 1.0, ANNUAL_BIN_WIDTH, atom=1.0)


@dataclass
class _MomentInputs:
    """The per-path arrays the moments of a block are made of."""

    annual_return: np.ndarray
    max_drawdown: np.ndarray
    components: np.ndarray
    wipe_cause: np.ndarray
    crash_origin: np.ndarray
    portfolio: np.ndarray

    @classmethod
    def of(cls, paths, portfolio: np.ndarray) -> _MomentInputs:
        names = [f.name for f in fields(cls)][:-1]
        return cls(*(getattr(paths, name) for name in names), portfolio)

    @property
    def n(self) -> int:
        return self.crash_origin.shape[0]

    def slice(self, start: int, stop: int) -> _MomentInputs:
        return _MomentInputs(*(getattr(self, f.name)[start:stop] for f in fields(self)))

    def copy(self) -> _MomentInputs:
        return _MomentInputs(*(getattr(self, f.name).copy() for f in fields(self)))

    def concatenate(self, other: _MomentInputs) -> _MomentInputs:
        return _MomentInputs(
            *(np.concatenate([getattr(self, f.name), getattr(other, f.name)]) for f in fields(self))
        )

    def moments(self, horizon: float) -> BlockMoments:
        return BlockMoments(
            MomentTable([[Moments.of(self.annual_return[:, i]) for i in range(N_SEGMENTS)]]),
            MomentTable([[Moments.of(self.max_drawdown[:, i]) for i in range(N_SEGMENTS)]]),
            contribution_moments(self.components, self.wipe_cause, horizon),
            JointMoments.of(self.annual_return, self.crash_origin, self.portfolio),
        )


@dataclass
class BlockMoments:
    """Every floating-point statistic of one block of paths (merged in the block tree)."""

    annual: MomentTable  # one row: the segments
    drawdown: MomentTable
    contributions: MomentTable  # (segment, contribution)
    joint: JointMoments

    def merge(self, other: BlockMoments) -> BlockMoments:
        return BlockMoments(
            self.annual.merge(other.annual),
            self.drawdown.merge(other.drawdown),
            self.contributions.merge(other.contributions),
            self.joint.merge(other.joint),
        )


@dataclass
class SummaryAccumulator:
    """Mergeable running summary of per-path results, in memory independent of path count.

    ``add`` paths a block-aligned group at a time, ``merge`` accumulators of other paths
    (e.g. from Dask workers), and read :meth:`result`. Counts and histograms add exactly;
    moments are merged in the fixed block tree (:mod:`mcengine.stats.blocks`), so any split of
    the paths, added and merged in any order, gives the same bits. ``horizon`` is the
    scenario's horizon in years.
    """

    horizon: float
    portfolio_weights: tuple[float, float, float] = EQUAL_WEIGHTS
    annual: list[Histogram] = field(default_factory=lambda: [_annual_histogram() for _ in SEGMENTS])
    drawdown: list[Histogram] = field(
        default_factory=lambda: [_drawdown_histogram() for _ in SEGMENTS]
    )
    n: int = 0
    n_loss: np.ndarray = field(default_factory=lambda: np.zeros(N_SEGMENTS, dtype=np.int64))
    n_wiped: np.ndarray = field(default_factory=lambda: np.zeros(N_SEGMENTS, dtype=np.int64))
    n_origin: np.ndarray = field(default_factory=lambda: np.zeros(N_SEGMENTS, dtype=np.int64))
    joint: JointStats | None = None
    moments: BlockTree[BlockMoments] = field(default_factory=BlockTree)
    _pending: tuple[int, _MomentInputs] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.portfolio_weights = check_weights(self.portfolio_weights)
        if self.joint is None:
            self.joint = JointStats(self.horizon, self.portfolio_weights)

    def add(self, paths, first_path: int) -> None:
        """Add paths ``first_path, first_path + 1, ...``: a
        :class:`~mcengine.results.dataset.PathArrays` or any object with the result's per-path
        arrays as attributes. Consecutive calls may split blocks anywhere; the moments of a
        block are taken once it is complete (or at the end: see :meth:`merge`)."""
        n = paths.crash_origin.shape[0]
        for i in range(len(SEGMENTS)):
            self.annual[i].add(paths.annual_return[:, i])
            self.drawdown[i].add(paths.max_drawdown[:, i])
        origin = paths.crash_origin
        self.n += n
        self.n_loss += np.count_nonzero(paths.total_return < 1.0, axis=0)
        self.n_wiped += np.count_nonzero(paths.total_return == 0.0, axis=0)
        self.n_origin += np.bincount(origin[origin >= 0], minlength=N_SEGMENTS)[:N_SEGMENTS]
        total = paths.total_return
        portfolio = portfolio_annual_return(total, self.portfolio_weights, self.horizon)
        self.joint.add(total, paths.crash_year, origin, portfolio)
        parts = _MomentInputs.of(paths, portfolio)
        done = 0
        while done < n:
            block, offset = divmod(first_path + done, BLOCK_PATHS)
            take = min(BLOCK_PATHS - offset, n - done)
            piece = parts.slice(done, done + take)
            if self._pending is not None or take < BLOCK_PATHS:
                piece = self._stage(block, offset, piece)
            if piece is not None:
                self.moments.add(block, piece.moments(self.horizon))
            done += take

    def _stage(self, block: int, offset: int, piece: _MomentInputs) -> _MomentInputs | None:
        """Keep the first part of a block until the block is complete; then return it all."""
        if self._pending is None:
            if offset != 0:
                raise ValueError(f"paths must be added in order: block {block} starts mid-way")
            self._pending = (block, piece.copy())  # the caller may reuse its buffer
        else:
            pending_block, pending = self._pending
            if pending_block != block or pending.n != offset:
                raise ValueError(f"paths must be added in order: block {block} is not contiguous")
            self._pending = (block, pending.concatenate(piece))
        block, pending = self._pending
        if pending.n < BLOCK_PATHS:
            return None
        self._pending = None
        return pending

    def _tree(self) -> BlockTree[BlockMoments]:
        """The block tree, with a partly filled last block as a leaf."""
        if self._pending is None:
            return self.moments
        block, pending = self._pending
        tree: BlockTree[BlockMoments] = BlockTree()
        tree.add(block, pending.moments(self.horizon))
        return self.moments.merge(tree)

    def merge(self, other: SummaryAccumulator) -> SummaryAccumulator:
        """The summary of both accumulators' paths (which must not overlap). Each side's
        partly filled last block counts as complete: merge finished ranges of paths."""
        return SummaryAccumulator(
            self.horizon,
            self.portfolio_weights,
            [a.merge(b) for a, b in zip(self.annual, other.annual, strict=True)],
            [a.merge(b) for a, b in zip(self.drawdown, other.drawdown, strict=True)],
            self.n + other.n,
            self.n_loss + other.n_loss,
            self.n_wiped + other.n_wiped,
            self.n_origin + other.n_origin,
            self.joint.merge(other.joint),
            self._tree().merge(other._tree()),
        )

    def annual_moments(self) -> list[Moments]:
        """The running moments of each segment's annual return."""
        return self._tree().fold().annual.rows[0]

    def result(self, attrs: dict | None = None) -> xr.Dataset:
        """The summary Dataset, as :func:`summarize` gives, with ``quantile_error_bound``.

        Streamed, it lacks only ``correlation_spearman`` (ranks need every path).
        """
        if self.n == 0:
            raise ResultFileError("the result has no paths to summarise")
        moments = self._tree().fold()
        per_segment = {}
        bound = 0.0
        for i, segment in enumerate(SEGMENTS):
            annual = BinnedSample(self.annual[i], moments.annual.rows[0][i])
            drawdown = BinnedSample(self.drawdown[i], moments.drawdown.rows[0][i])
            bound = max(bound, annual.error_bound, drawdown.error_bound)
            per_segment[segment] = _segment_statistics(
                annual,
                drawdown,
                int(self.n_loss[i]),
                int(self.n_wiped[i]),
                int(self.n_origin[i]),
            )
        portfolio = BinnedSample(self.joint.portfolio, moments.joint.portfolio)
        attrs = dict(attrs or {})
        attrs["quantile_error_bound"] = max(bound, portfolio.error_bound)
        attrs["portfolio_weights"] = list(self.portfolio_weights)
        return _summary_dataset(
            per_segment,
            int(self.n_origin.sum()),
            self.n,
            attrs,
            contribution_variables(moments.contributions),
            (self.joint.variables(moments.joint, portfolio), self.joint.coords()),
        )
