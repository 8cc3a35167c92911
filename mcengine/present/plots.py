"""Figures people would rather look at: matplotlib, written as PNG or SVG.

Each function takes a result or summary Dataset and returns a :class:`matplotlib.figure.Figure`
with a title, labelled axes with units, and a note of the path count and seed, so it reads
without the code. :func:`save` writes it atomically, as PNG or SVG by the file's suffix.

Each also takes ``ax=`` (matplotlib's convention) to draw into axes of your own: one
:class:`~matplotlib.axes.Axes` for :func:`comparison` and :func:`sweep_line`, three (one per
segment) for the others. It then leaves the figure's title and note to you.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or assumed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from mcengine.errors import InputError  # noqa: E402
from mcengine.present.tables import PART_LABELS, VOTING_PARTS  # noqa: E402
from mcengine.results.files import atomic_path  # noqa: E402
from mcengine.stats.estimates import Z95  # noqa: E402

__all__ = [
    "distributions",
    "fan_chart",
    "waterfall",
    "comparison",
    "sweep_line",
    "tornado",
    "save",
    "FORMATS",
]

FORMATS = (".png", ".svg")
_COLOURS = {"applications": "#1b9e77", "inference": "#7570b3", "training": "#d95f02"}


_NOTE_INCHES = 0.22  # the strip under the axes that the note sits in


def _note(fig, ds: xr.Dataset) -> None:
    """The path count and seed in a strip of its own under everything else: constrained
    layout does not see ``fig.text``, so the strip is taken out of its rectangle."""
    n = int(ds.attrs.get("n_paths", 0))
    seed = ds.attrs.get("seed", "?")
    strip = _NOTE_INCHES / fig.get_figheight()
    fig.get_layout_engine().set(rect=(0, strip, 1, 1 - strip))
    fig.text(
        0.005,
        strip / 2,
        f"mcengine, {n:,} paths, seed {seed}",
        ha="left",
        va="center",
        fontsize=7,
        color="grey",
    )


def _panels(ax, count: int, **subplots):
    """``(fig, axes, own)``: new subplots, or the caller's ``ax`` (``own`` is False)."""
    if ax is None:
        fig, axes = plt.subplots(1, count, layout="constrained", **subplots)
        return fig, np.atleast_1d(axes), True
    axes = np.atleast_1d(np.asarray(ax if isinstance(ax, Sequence | np.ndarray) else [ax]))
    if axes.size != count:
        raise ValueError(f"ax = {axes.size} axes, must be {count} (one per panel)")
    return axes[0].figure, axes, False


def distributions(ds: xr.Dataset, ax=None) -> plt.Figure:
    """Histogram of each segment's annual return, with the 5/50/95% quantiles marked."""
    if "annual_return" not in ds:
        raise InputError(
            "distributions need per-path returns: pass a result of simulate(...) with "
            "keep_paths=True (a summary has none)"
        )
    if ax is None:
        fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True, layout="constrained")
        own = True
    else:
        fig, axes, own = _panels(ax, 3)
    for ax, seg in zip(axes, ds["segment"].values, strict=True):
        x = ds["annual_return"].sel(segment=seg).values * 100
        wiped = np.mean(x <= -100)
        lo, hi = np.percentile(x, [0.5, 99.5])
        ax.hist(
            x[(x >= lo) & (x <= hi)],
            bins=120,
            color=_COLOURS.get(str(seg)),
            alpha=0.8,
            density=True,
        )
        top = ax.get_ylim()[1]
        for q, style, height in ((5, ":", 0.92), (50, "-", 0.78), (95, ":", 0.92)):
            v = np.percentile(x, q)
            ax.axvline(v, color="black", linestyle=style, linewidth=1)
            # Beside its line, not on it: offset to the right, on a white ground.
            ax.annotate(
                f"{q}%: {v:.1f}",
                (v, top * height),
                xytext=(4, 0),
                textcoords="offset points",
                fontsize=8,
                ha="left",
                va="center",
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
            )
        ax.set_title(
            f"{seg}: mean {x.mean():.1f}%/yr, P(loss) {np.mean(x < 0):.0%}, wiped out {wiped:.1%}",
            fontsize=10,
            loc="left",
        )
        ax.set_ylabel("density")
    axes[-1].set_xlabel("annual return (% a year; middle 99% of paths shown)")
    if own:
        fig.suptitle(f"Return distributions: scenario {ds.attrs.get('scenario_name', '?')}")
        _note(fig, ds)
    return fig


def fan_chart(ds: xr.Dataset, ax=None) -> plt.Figure:
    """Per-year quantile bands of wealth (5-95% and 25-75%) and the median, per segment."""
    if "fan_wealth" not in ds:
        raise InputError("no fan-chart data: run with fan_chart=True (--fan-chart)")
    fan = ds["fan_wealth"]
    years = np.concatenate([[0], fan["year"].values])
    fig, axes, own = _panels(ax, 3, figsize=(12, 4), sharey=True)
    for ax, seg in zip(axes, fan["segment"].values, strict=True):
        band = fan.sel(segment=seg)

        def q(level, band=band):
            return np.concatenate([[1.0], band.sel(quantile=level).values])

        colour = _COLOURS.get(str(seg))
        ax.fill_between(years, q(0.05), q(0.95), color=colour, alpha=0.2, label="5-95%")
        ax.fill_between(years, q(0.25), q(0.75), color=colour, alpha=0.4, label="25-75%")
        ax.plot(years, q(0.5), color=colour, label="median")
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_yscale("log")
        ax.set_title(str(seg))
        ax.set_xlabel("year")
    axes[0].set_ylabel("investor wealth W (1 = money back; log scale)")
    axes[0].legend(loc="upper left", fontsize=8)
    if own:
        fig.suptitle(f"Fan chart of investor wealth: scenario {ds.attrs.get('scenario_name', '?')}")
        _note(fig, ds)
    return fig


def waterfall(table: xr.Dataset, ax=None) -> plt.Figure:
    """Weighing versus voting: each part's contribution to the mean annual return.

    ``table`` is a summary: ``mcengine.summarize(ds)`` of a result, or the result of
    ``simulate(..., keep_paths=False)``.
    """
    if "contribution" not in table:
        if "annual_return" in table:
            raise InputError(
                "waterfall needs a summary, not per-path results: pass "
                "mcengine.summarize(ds), or simulate(..., keep_paths=False)"
            )
        raise InputError(
            "no contributions in this summary: summarise a run of mcengine 1.0 or later"
        )
    parts = [str(c) for c in table["component"].values]
    labels = [PART_LABELS.get(p, p) for p in parts]
    fig, axes, own = _panels(ax, 3, figsize=(13, 4.5), sharey=True)
    for ax, seg in zip(axes, table["segment"].values, strict=True):
        values = table["contribution"].sel(segment=seg).values * 100
        errors = table["contribution_standard_error"].sel(segment=seg).values * 100
        starts = np.concatenate([[0], np.cumsum(values)[:-1]])
        colours = [
            "#2b8cbe" if p == "fundamental" else "#e34a33" if p in VOTING_PARTS else "#999999"
            for p in parts
        ]
        ax.bar(labels, values, bottom=starts, color=colours, yerr=errors, capsize=2)
        total = values.sum()
        ax.bar(["= mean"], [total], color="black")
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_title(f"{seg}: {total:+.1f}%/yr")
        ax.tick_params(axis="x", rotation=60, labelsize=8)
    axes[0].set_ylabel("contribution (percentage points a year)")
    if own:
        fig.suptitle(
            "Where the mean annual return comes from: weighing (blue: fundamentals, grey: "
            "the rest) versus voting (red)"
        )
        _note(fig, table)
    return fig


def comparison(table: xr.Dataset, statistic: str = "mean", ax=None) -> plt.Figure:
    """A statistic per segment and scenario, with 95% intervals (from :func:`compare`)."""
    scenarios = [str(s) for s in table["scenario"].values]
    segments = [str(s) for s in table["segment"].values]
    width = 0.8 / len(scenarios)
    fig, (ax,), own = _panels(ax, 1, figsize=(9, 4.5))
    for i, name in enumerate(scenarios):
        est, err = _percent_with_95(table, scenario=name, statistic=statistic)
        ax.bar(np.arange(len(segments)) + i * width, est, width, yerr=err, capsize=3, label=name)
    ax.set_xticks(np.arange(len(segments)) + 0.4 - width / 2, segments)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylabel(f"{statistic} of annual return (%; bars: 95% interval)")
    ax.legend(fontsize=8)
    ax.set_title(f"Scenario comparison ({statistic}), common random numbers")
    if own:
        _note(fig, table)
    return fig


def _percent_with_95(table: xr.Dataset, **where) -> tuple[np.ndarray, np.ndarray]:
    """A study table's estimates at ``where``, and the half-width of their 95% intervals,
    in percent."""
    est = table["estimate"].sel(**where).values * 100
    return est, Z95 * table["standard_error"].sel(**where).values * 100


def sweep_line(table: xr.Dataset, statistic: str = "mean", ax=None) -> plt.Figure:
    """A statistic along a one-key sweep, per segment, with a 95% band."""
    key = table["estimate"].dims[0]
    if table["estimate"].ndim != 3:
        raise InputError("a sweep line needs a sweep of one key")
    x = table[key].values
    fig, (ax,), own = _panels(ax, 1, figsize=(8, 4.5))
    for seg in table["segment"].values:
        est, err = _percent_with_95(table, segment=seg, statistic=statistic)
        colour = _COLOURS.get(str(seg))
        ax.plot(x, est, marker="o", color=colour, label=str(seg))
        ax.fill_between(x, est - err, est + err, color=colour, alpha=0.2)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(key)
    ax.set_ylabel(f"{statistic} of annual return (%; band: 95% interval)")
    ax.legend(fontsize=8)
    ax.set_title(f"Sweep of {key} (common random numbers)")
    if own:
        _note(fig, table)
    return fig


def tornado(table: xr.Dataset, ax=None) -> plt.Figure:
    """Tornado: mean annual return in each input's bottom and top decile, per segment."""
    labels = [str(v) for v in table["label"].values][::-1]
    fig, axes, own = _panels(ax, 3, figsize=(14, 0.45 * len(labels) + 1.8), sharey=True)
    for ax, seg in zip(axes, table["segment"].values, strict=True):
        low = table["mean"].sel(segment=seg, side="low").values[::-1] * 100
        high = table["mean"].sel(segment=seg, side="high").values[::-1] * 100
        centre = float(np.mean(np.concatenate([low, high])))
        y = np.arange(len(labels))
        ax.barh(y, low - centre, left=centre, color="#67a9cf", label="bottom decile")
        ax.barh(y, high - centre, left=centre, color="#ef8a62", label="top decile")
        ax.axvline(centre, color="grey", linewidth=0.8)
        ax.set_yticks(y, labels)
        ax.set_title(str(seg))
        ax.set_xlabel("mean annual return (%)")
    axes[0].legend(fontsize=8, loc="lower left")
    if own:
        fig.suptitle(
            "What moves each segment: mean return in each input's bottom and top decile "
            "(one ensemble)"
        )
        _note(fig, table)
    return fig


def save(fig: plt.Figure, target: str | Path) -> Path:
    """Write ``fig`` to ``target`` (``.png`` or ``.svg``) atomically, then close it."""
    target = Path(target)
    if target.suffix.lower() not in FORMATS:
        raise InputError(f"{target}: figure files must end in {' or '.join(FORMATS)}")
    try:
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=target.suffix.lower()[1:], dpi=120)
    finally:
        plt.close(fig)
    return target
