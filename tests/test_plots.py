"""Figures: each is self-describing (title, labelled axes, run note) and written as PNG/SVG."""

from __future__ import annotations

import pytest
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
        "sweep": (plots.sweep_line(swept), ["training_cost.decline_median", "95% interval"]),
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
    assert drawn.exit_code == 0 and drawn.stdout == f"wrote {tmp_path / 'fan.svg'}\n"
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


def test_histogram_quantile_labels_sit_beside_their_lines(run):
    fig = plots.distributions(run)
    ax = fig.axes[0]
    lines = [line for line in ax.lines if line.get_linestyle() in ("-", ":")]
    labels = [t for t in ax.texts if "%:" in t.get_text()]
    assert len(labels) == 3
    for label, line in zip(labels, lines, strict=True):
        x_line = ax.transData.transform((line.get_xdata()[0], 0))[0]
        assert _pixels(fig, label).x0 > x_line  # right of its line, not on it


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
