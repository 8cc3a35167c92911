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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import matplotlib.pyplot as plt
else:  # imported by the first figure, on the Agg backend (files only); needs mcengine[plot]
    from mcengine.extras import LazyModule, pyplot

    plt = LazyModule(pyplot)
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from mcengine.errors import InputError  # noqa: E402
from mcengine.layout import FIGURE_FORMATS, N_SEGMENTS  # noqa: E402
from mcengine.present.format import PART_LABELS, STATISTIC_LABELS, VOTING_PARTS  # noqa: E402
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

FORMATS = FIGURE_FORMATS
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
        fig, axes = plt.subplots(N_SEGMENTS, 1, figsize=(8, 8), sharex=True, layout="constrained")
        own = True
    else:
        fig, axes, own = _panels(ax, N_SEGMENTS)
    for ax, seg in zip(axes, ds["segment"].values, strict=True):
        x = ds["annual_return"].sel(segment=seg).values * 100
        wiped = np.mean(x <= -100)
        lo, hi = np.percentile(x, [0.5, 99.5])
        density, _, _ = ax.hist(
            x[(x >= lo) & (x <= hi)],
            bins=120,
            color=_COLOURS.get(str(seg)),
            alpha=0.8,
            density=True,
        )
        # The quantile labels go in headroom above the tallest bar, so they never sit on
        # the bars: the median's in a lower row than the 5% and 95% labels, and each points
        # inward from its line (the 95% label to the left), so none runs off the axes.
        tallest = float(density.max())
        ax.set_ylim(top=tallest * 1.45)
        for q, style, height, side in (
            (5, ":", 1.3, 1),
            (50, "-", 1.13, 1),
            (95, ":", 1.3, -1),
        ):
            v = np.percentile(x, q)
            ax.axvline(v, color="black", linestyle=style, linewidth=1)
            name = "median" if q == 50 else f"{q}%"
            ax.annotate(
                f"{name}: {v:.1f}%",
                (v, tallest * height),
                xytext=(4 * side, 0),
                textcoords="offset points",
                fontsize=8,
                ha="left" if side > 0 else "right",
                va="center",
                bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none"},
            )
        ax.set_title(
            f"{seg}: mean {x.mean():.1f}%/yr, P(loss) {np.mean(x < 0):.0%}, wiped out {wiped:.1%}",
            fontsize=10,
            loc="left",
        )
        ax.set_ylabel("density (per % point)")
    axes[-1].set_xlabel(
        "annual return (% a year; middle 99% of paths shown; lines: 5%, median, 95% quantiles)"
    )
    if own:
        fig.suptitle(f"Return distributions: scenario {ds.attrs.get('scenario_name', '?')}")
        _note(fig, ds)
    return fig


#: Wealth below this (0.1% of the money put in) is drawn at a fan chart's bottom edge: a log
#: axis would otherwise run down to the 5% quantile of near-wiped-out paths (1e-8 in
#: open_weights_win), squashing every band that matters into the top of the panel.
FAN_FLOOR = 1e-3
#: Panels share one y axis only when none spans less than half as many decades as the widest:
#: otherwise each gets its own, so the narrowest (applications, typically) is not squashed.
_FAN_SHARE_RATIO = 2.0
_FAN_BANDS = ((0.05, 0.95, 0.2, "5-95% of paths"), (0.25, 0.75, 0.4, "25-75% of paths"))


def _fan_limits(lows: np.ndarray, highs: np.ndarray) -> tuple[float, float]:
    """Log-axis limits around ``[lows.min(), highs.max()]``, the bottom floored at
    :data:`FAN_FLOOR` (and then exactly at it, so clipped bands touch the edge)."""
    low, high = float(np.min(lows)), float(np.max(highs))
    pad = 10 ** (0.04 * np.log10(high / max(low, FAN_FLOOR)))
    return (FAN_FLOOR if low <= FAN_FLOOR else low / pad), high * pad


def fan_chart(ds: xr.Dataset, ax=None) -> plt.Figure:
    """Per-year quantile bands of wealth (5-95% and 25-75%) and the median, per segment.

    The y axis is logarithmic, from :data:`FAN_FLOOR` (0.1% of the money put in) at the
    lowest: a band that falls below it is drawn at the bottom edge, and the panel says from
    which year. The three panels share one axis when their ranges are alike, and have one
    each when they differ by orders of magnitude.
    """
    if "fan_wealth" not in ds:
        raise InputError("no fan-chart data: run with fan_chart=True (--fan-chart)")
    fan = ds["fan_wealth"]
    years = np.concatenate([[0], fan["year"].values])
    segments = fan["segment"].values

    def q(seg, level):
        return np.concatenate([[1.0], fan.sel(segment=seg, quantile=level).values])

    lows = np.array([np.maximum(q(seg, 0.05), FAN_FLOOR).min() for seg in segments])
    highs = np.array([q(seg, 0.95).max() for seg in segments])
    spans = np.log10(highs / lows)
    shared = spans.max() <= _FAN_SHARE_RATIO * max(spans.min(), 1e-9)
    fig, axes, own = _panels(ax, N_SEGMENTS, figsize=(12, 4), sharey=shared)
    for i, (ax, seg) in enumerate(zip(axes, segments, strict=True)):
        colour = _COLOURS.get(str(seg))
        for low, high, alpha, label in _FAN_BANDS:
            ax.fill_between(
                years,
                np.maximum(q(seg, low), FAN_FLOOR),
                np.maximum(q(seg, high), FAN_FLOOR),
                color=colour,
                alpha=alpha,
                label=label,
            )
        ax.plot(years, np.maximum(q(seg, 0.5), FAN_FLOOR), color=colour, label="median")
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--", label="1 = money back")
        ax.set_yscale("log")
        ax.set_ylim(*_fan_limits(lows if shared else lows[i], highs if shared else highs[i]))
        _fan_ticks(ax)
        ax.set_title(str(seg), loc="left")
        ax.set_xlabel("year")
        below = [
            (level, int(years[np.argmax(q(seg, level) < FAN_FLOOR)]))
            for level in (0.05, 0.25, 0.5)
            if (q(seg, level) < FAN_FLOOR).any()
        ]
        if below:  # above the panel, not on it: the clipped bands fill its bottom edge
            since = ", ".join(
                f"{level:.0%} quantile from year {year}" if k == 0 else f"{level:.0%} from {year}"
                for k, (level, year) in enumerate(below)
            )
            ax.set_title(
                f"below {FAN_FLOOR:g}, drawn at the bottom edge:\n{since}",
                loc="right",
                fontsize=7,
                color="dimgrey",
            )
    axes[0].set_ylabel(
        "investor wealth W (× money put in, log scale)"
        + ("" if shared else ";\neach panel has its own scale")
    )
    axes[0].legend(loc="upper left", fontsize=8)
    if own:
        fig.suptitle(f"Fan chart of investor wealth: scenario {ds.attrs.get('scenario_name', '?')}")
        _note(fig, ds)
    return fig


def _fan_ticks(ax) -> None:
    """Plain numbers (0.01, 1, 10) on a log axis, with 2 and 5 between powers of ten when
    the axis spans too few decades for powers of ten alone to read."""
    from matplotlib import ticker  # matplotlib is loaded by now: the axes exist

    low, high = ax.get_ylim()
    subs = (1.0, 2.0, 5.0) if np.log10(high / low) < 2.5 else (1.0,)
    ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


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
    fig, axes, own = _panels(ax, N_SEGMENTS, figsize=(13, 4.5), sharey=True)
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
        ax.tick_params(axis="x", rotation=60, labelsize=9)
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
    ax.set_ylabel(_statistic_label(statistic, "bars: 95% interval"))
    ax.legend(fontsize=8)
    ax.set_title(
        f"Scenario comparison ({STATISTIC_LABELS.get(statistic, statistic)}), common random numbers"
    )
    if own:
        _note(fig, table)
    return fig


def _statistic_label(statistic: str, interval: str) -> str:
    """An axis label for a study table's ``statistic``, with its unit: every statistic is
    shown in percent, of a year's return, of the paths or of the peak."""
    name = STATISTIC_LABELS.get(statistic, statistic)
    if statistic.startswith("p_"):
        return f"{name} (% of paths; {interval})"
    if statistic == "median_max_drawdown":
        return f"{name} (% of the peak; {interval})"
    of = "" if "annual return" in name else " of annual return"
    return f"{name}{of} (% a year; {interval})"


def _key_label(key: str) -> str:
    """A scenario key with its meaning and unit as declared (``section.key (meaning)``)."""
    from dataclasses import fields

    from mcengine.model.parameters import SECTIONS

    section, _, name = key.partition(".")
    declared = {f.name: f for f in fields(SECTIONS[section])} if section in SECTIONS else {}
    meaning = declared[name].metadata.get("meaning") if name in declared else None
    return f"{key} ({meaning})" if meaning else key


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
    ax.set_xlabel(_key_label(key))
    ax.set_ylabel(_statistic_label(statistic, "band: 95% interval"))
    ax.legend(fontsize=8)
    ax.set_title(f"Sweep of {key} (common random numbers)")
    if own:
        _note(fig, table)
    return fig


def tornado(table: xr.Dataset, ax=None) -> plt.Figure:
    """Tornado: mean annual return in each input's bottom and top decile, per segment."""
    labels = [str(v) for v in table["label"].values][::-1]
    fig, axes, own = _panels(ax, N_SEGMENTS, figsize=(14, 0.45 * len(labels) + 1.8), sharey=True)
    for ax, seg in zip(axes, table["segment"].values, strict=True):
        low = table["mean"].sel(segment=seg, side="low").values[::-1] * 100
        high = table["mean"].sel(segment=seg, side="high").values[::-1] * 100
        centre = float(np.mean(np.concatenate([low, high])))
        y = np.arange(len(labels))
        # Where both deciles fall on one side of the centre, full-height bars from it would
        # hide the shorter behind the longer: such a row gets two half-height bars instead,
        # the top decile's above the bottom decile's.
        same_side = (low - centre) * (high - centre) > 0
        shift = np.where(same_side, 0.2, 0.0)
        height = np.where(same_side, 0.4, 0.8)
        handles = [
            ax.barh(y - shift, low - centre, height, left=centre, color="#67a9cf"),
            ax.barh(y + shift, high - centre, height, left=centre, color="#ef8a62"),
            ax.axvline(centre, color="grey", linewidth=0.8),
        ]
        ax.set_yticks(y, labels)
        ax.set_title(str(seg))
        ax.set_xlabel("mean annual return (% a year)")
    names = [
        "paths in the input's bottom decile",
        "paths in its top decile",
        "centre: the average of all the bars' ends",
    ]
    if own:
        fig.suptitle(
            "What moves each segment: mean return in each input's bottom and top decile "
            "(one ensemble; where both fall on one side, two half-height bars)"
        )
        _note(fig, table)
        # under the panels, where it hides no bar (in the first panel it hid the last row)
        fig.legend(handles, names, loc="outside lower center", ncols=3, fontsize=8)
    else:
        axes[0].legend(handles, names, fontsize=8, loc="lower left")
    return fig


def save(fig: plt.Figure, target: str | Path, *, metadata: dict[str, str] | None = None) -> Path:
    """Write ``fig`` to ``target`` (``.png`` or ``.svg``) atomically, then close it.

    ``metadata`` goes to matplotlib's ``savefig``: for a PNG, any keys, each a text chunk
    (``docs/figures/make.py`` records the code version that drew the figure this way); for
    an SVG, only the keys matplotlib's SVG writer knows (``Title``, ``Date``...).
    """
    target = Path(target)
    if target.suffix.lower() not in FORMATS:
        raise InputError(f"{target}: figure files must end in {' or '.join(FORMATS)}")
    try:
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=target.suffix.lower()[1:], dpi=120, metadata=metadata)
    finally:
        plt.close(fig)
    return target
