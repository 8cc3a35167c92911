"""Figures: each is self-describing (title, labelled axes, run note) and written as PNG/SVG."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import mcengine
from mcengine.cli import cli
from mcengine.errors import InputError
from mcengine.present import plots


@pytest.fixture(scope="module")
def run():
    return mcengine.simulate("base", 4000, seed=1, fan_chart=True)


def texts(fig) -> str:
    found = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        found += [ax.get_title(loc) for loc in ("left", "center", "right")]
        found += [ax.get_xlabel(), ax.get_ylabel()]
    return " | ".join(found)


def test_every_figure_reads_without_the_code(run, tmp_path):
    table = mcengine.summarize(run)
    compared = mcengine.compare(["base", "training_bust"], 2000, seed=1)
    swept = mcengine.sweep("base", {"training_cost.decline_median": [0.7, 1.5, 2.3]}, 2000, seed=1)
    figures = {
        "distributions": (plots.distributions(run), ["annual return", "P(loss)", "4,000 paths"]),
        "fan": (plots.fan_chart(run), ["investor wealth", "year", "Fan chart"]),
        "waterfall": (plots.waterfall(table), ["weighing", "voting", "points a year"]),
        "comparison": (plots.comparison(compared), ["95% interval", "common random numbers"]),
        "sweep": (
            plots.sweep_line(swept),
            ["training_cost.decline_median (median lambda, log-rate per year)", "% a year"],
        ),
    }
    for name, (fig, expected) in figures.items():
        text = texts(fig)
        for phrase in expected:
            assert phrase in text, (name, phrase, text)
        png = plots.save(fig, tmp_path / f"{name}.png")
        assert png.read_bytes().startswith(b"\x89PNG")
    svg = plots.save(plots.distributions(run), tmp_path / "d.svg")
    assert b"<svg" in svg.read_bytes()[:500]
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".png"] * 5 + [".svg"]


def test_bad_requests(run, tmp_path):
    with pytest.raises(InputError, match=r"must end in \.png or \.svg"):
        plots.save(plots.distributions(run), tmp_path / "x.pdf")
    with pytest.raises(InputError, match="no fan-chart data"):
        plots.fan_chart(mcengine.simulate("base", 100, seed=1))
    two_keys = mcengine.sweep(
        "base", {"demand.volatility": [0.1, 0.2], "open_share.drift": [0.0, 0.1]}, 200, seed=1
    )
    with pytest.raises(InputError, match="needs a sweep of one key"):
        plots.sweep_line(two_keys)


@pytest.mark.slow
def test_cli_plot_options(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "run",
            "-n",
            "2000",
            "--seed",
            "1",
            "--fan-chart",
            "--plot",
            str(tmp_path / "d.png"),
            "--out",
            str(tmp_path / "r.nc"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d.png").read_bytes().startswith(b"\x89PNG")
    drawn = runner.invoke(
        cli, ["plot", str(tmp_path / "r.nc"), "--kind", "fan", "--out", str(tmp_path / "fan.svg")]
    )
    assert drawn.exit_code == 0, drawn.output
    assert drawn.stderr.endswith(f"wrote {tmp_path / 'fan.svg'}\n")  # stdout may be JSON
    for args in (
        ["explain", "-n", "2000", "--seed", "1"],
        ["compare", "base", "inference_glut", "-n", "2000", "--seed", "1"],
        ["sweep", "base", "--vary", "demand.volatility=0.1:0.3:3", "-n", "2000", "--seed", "1"],
    ):
        target = tmp_path / f"{args[0]}.png"
        assert runner.invoke(cli, [*args, "--plot", str(target)]).exit_code == 0
        assert target.read_bytes().startswith(b"\x89PNG")
    bad = runner.invoke(
        cli, ["run", "-n", "10", "--summary-only", "--plot", str(tmp_path / "x.png")]
    )
    assert bad.exit_code == 2
    assert bad.stderr == ("Error: --plot draws the per-path distributions: drop --summary-only\n")


def _pixels(fig, artist):
    fig.canvas.draw()
    return artist.get_window_extent(fig.canvas.get_renderer())


def test_the_run_note_overlaps_nothing(run):
    # The note used to sit on the x-axis labels: constrained layout does not see fig.text.
    table = mcengine.summarize(run)
    for fig in (plots.distributions(run), plots.fan_chart(run), plots.waterfall(table)):
        (note,) = [t for t in fig.texts if t.get_text().startswith("mcengine, ")]
        box = _pixels(fig, note)
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            assert not box.overlaps(ax.get_tightbbox(renderer)), note.get_text()


def test_histogram_quantile_labels_carry_their_unit_and_sit_above_the_bars(run):
    # They read "50%: 15.8" (no unit) and could sit on the bars (trial 2026-12-03, #8).
    fig = plots.distributions(run)
    for ax in fig.axes:
        lines = [line for line in ax.lines if line.get_linestyle() in ("-", ":")]
        labels = ax.texts
        assert [t.get_text().split(":")[0] for t in labels] == ["5%", "median", "95%"]
        tallest = max(bar.get_height() for bar in ax.patches)
        bars_top = ax.transData.transform((0, tallest))[1]
        for label, line in zip(labels, lines, strict=True):
            text = label.get_text()
            assert text.endswith("%") and float(text.split(": ")[1][:-1]) == pytest.approx(
                line.get_xdata()[0], abs=0.05
            )
            box = _pixels(fig, label)
            assert box.y0 > bars_top, text  # in the headroom, over no bar
            x_line = ax.transData.transform((line.get_xdata()[0], 0))[0]
            assert not box.x0 <= x_line <= box.x1, text  # beside its line, not on it
            assert ax.get_window_extent().x0 <= box.x0 and box.x1 <= ax.get_window_extent().x1


def _tornado_table(low, high) -> xr.Dataset:
    """A tornado table (studies.sensitivity.tornado's layout) of given decile means."""
    low, high = np.asarray(low, float), np.asarray(high, float)
    mean = np.stack([np.stack([low] * 3, axis=1), np.stack([high] * 3, axis=1)], axis=2)
    inputs = [f"x{i}" for i in range(len(low))]
    return xr.Dataset(
        {"mean": (("input", "segment", "side"), mean)},
        coords={
            "input": inputs,
            "segment": ["applications", "inference", "training"],
            "side": ["low", "high"],
            "label": ("input", inputs),
        },
        attrs={"n_paths": 1000, "seed": 1},
    )


def test_tornado_shows_both_bars_when_both_deciles_fall_on_one_side():
    # applications x g0 read "14.5 -> 13.5": both below the centre, one bar hid the other.
    fig = plots.tornado(_tornado_table([0.05, 0.145], [0.30, 0.135]))
    ax = fig.axes[0]
    centre = ax.lines[0].get_xdata()[0]
    assert centre == pytest.approx(100 * np.mean([0.05, 0.145, 0.30, 0.135]))
    bars = {}
    for bar in ax.patches:
        row = round(bar.get_y() + bar.get_height() / 2)
        bars.setdefault(row, []).append(bar)
    # row 0 is the last input (drawn bottom up): both deciles below the centre
    low, high = bars[0]
    assert low.get_width() == pytest.approx(14.5 - centre)
    assert high.get_width() == pytest.approx(13.5 - centre)
    assert [low.get_height(), high.get_height()] == pytest.approx([0.4, 0.4])
    assert high.get_y() > low.get_y() + low.get_height() - 1e-9  # stacked: neither hides
    # row 1 straddles the centre: two full-height bars, one each side
    assert [bar.get_height() for bar in bars[1]] == pytest.approx([0.8, 0.8])
    assert bars[1][0].get_width() < 0 < bars[1][1].get_width()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [
        "paths in the input's bottom decile",
        "paths in its top decile",
        "centre: the average of all the bars' ends",
    ]
    assert [p.get_facecolor() for p in fig.legends[0].get_patches()] == [
        low.get_facecolor(),
        high.get_facecolor(),
    ]
    assert "two half-height bars" in fig.get_suptitle()


def _with_training_wealth_times(run, factor: float) -> xr.Dataset:
    """``run`` with training's fan-chart wealth scaled by ``factor ** (year / 10)``."""
    fan = run["fan_wealth"]
    scale = xr.where(fan["segment"] == "training", factor ** (fan["year"] / 10.0), 1.0)
    return run.assign(fan_wealth=fan * scale)


def test_fan_chart_floors_its_log_axis_and_squashes_no_panel(run):
    # open_weights_win: training's 5% quantile reaches 1e-8 and a shared axis squashed
    # applications into its top quarter (trial 2026-12-03, #8).
    fig = plots.fan_chart(_with_training_wealth_times(run, 1e-6))
    applications, _, training = fig.axes[:3]
    assert training.get_ylim()[0] == plots.FAN_FLOOR
    assert not applications.get_shared_y_axes().joined(applications, training)
    band = run["fan_wealth"].sel(segment="applications")
    low, high = applications.get_ylim()
    assert low <= min(1.0, float(band.sel(quantile=0.05).min())) and low > 0.5
    assert high >= float(band.sel(quantile=0.95).max()) and high < 2 * float(band.max())
    note = training.get_title(loc="right")
    assert note.startswith("below 0.001, drawn at the bottom edge:\n5% quantile from year ")
    assert not applications.get_title(loc="right")
    assert "each panel has its own scale" in applications.get_ylabel()
    ticks = [t.get_text() for t in training.get_yticklabels()]
    assert "0.001" in ticks and "1" in ticks  # plain numbers, not 10^-3


def test_fan_chart_shares_its_axis_when_the_ranges_are_alike(run):
    alike = run.assign(
        fan_wealth=run["fan_wealth"].copy(
            data=np.broadcast_to(
                run["fan_wealth"].sel(segment=["applications"]).values, run["fan_wealth"].shape
            )
        )
    )
    fig = plots.fan_chart(alike)
    first, _, last = fig.axes[:3]
    assert first.get_shared_y_axes().joined(first, last)
    assert first.get_ylabel() == "investor wealth W (× money put in, log scale)"


def test_waterfall_uses_the_tables_words(run):
    fig = plots.waterfall(mcengine.summarize(run))
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == [
        "fundamentals",
        "sentiment",
        "contagion hit",
        "net payout",
        "entrant dilution",
        "selection spread",
        "wipe-outs",
        "= mean",
    ]


def test_waterfall_of_per_path_results_says_what_to_pass(run):
    with pytest.raises(InputError) as err:
        plots.waterfall(run)
    assert str(err.value) == (
        "waterfall needs a summary, not per-path results: pass mcengine.summarize(ds), or "
        "simulate(..., keep_paths=False)"
    )


def test_plot_functions_draw_into_given_axes(run):
    import matplotlib.pyplot as plt

    table = mcengine.summarize(run)
    compared = mcengine.compare(["base", "training_bust"], 1000, seed=1)
    fig, axes = plt.subplots(1, 3)
    assert plots.waterfall(table, ax=axes) is fig and axes[0].get_title().startswith("applic")
    assert plots.fan_chart(run, ax=list(axes)) is fig
    assert plots.distributions(run, ax=axes) is fig
    fig2, single = plt.subplots()
    assert plots.comparison(compared, ax=single) is fig2 and single.get_title()
    with pytest.raises(ValueError, match=r"^ax = 1 axes, must be 3 \(one per panel\)$"):
        plots.waterfall(table, ax=single)
    assert not fig.texts  # the caller's figure gets no title or note
    plt.close("all")


# -- the figures in docs/figures -------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"


def _png_text(path: Path) -> dict[str, str]:
    """The tEXt chunks of a PNG, by keyword (read with the standard library alone)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    found, at = {}, 8
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            found[key.decode("latin-1")] = value.decode("latin-1")
        at += 12 + length  # length, type, data, CRC
    return found


def _figure_script():
    """docs/figures/make.py as a module (its figures are drawn only when run as a script)."""
    spec = importlib.util.spec_from_file_location("docs_figures_make", FIGURES / "make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_save_records_metadata_in_the_png(run, tmp_path):
    png = plots.save(plots.fan_chart(run), tmp_path / "f.png", metadata={"mcengine-x": "abc"})
    assert _png_text(png)["mcengine-x"] == "abc"


def test_docs_figures_are_drawn_by_the_current_code():
    make = _figure_script()
    assert sorted(p.name for p in FIGURES.glob("*.png")) == sorted(make.FIGURES)
    version = make.code_version()
    stale = [
        f"docs/figures/{name} is stale: run python docs/figures/make.py"
        for name in make.FIGURES
        if _png_text(FIGURES / name).get(make.KEY) != version
    ]
    if stale:
        pytest.fail("\n".join(stale), pytrace=False)
