"""Commands on result files: summarize and plot."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mcengine.cli.errors import UserError
from mcengine.cli.library import read_result_file, save_plot, show
from mcengine.cli.options import ALLOW_OPTION, JSON_OPTION
from mcengine.cli.types import FIGURE
from mcengine.errors import ResultFileError

if TYPE_CHECKING:
    pass

__all__ = ["COMMANDS"]


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["distributions", "fan", "waterfall", "tornado"]),
    default="distributions",
    show_default=True,
    help="Which figure to draw.",
)
@click.option(
    "--out",
    "target",
    type=FIGURE,
    required=True,
    help="The .png or .svg file to write.",
)
@ALLOW_OPTION
def plot(file, kind, target, allow_unknown_version) -> None:
    """Draw a figure of a result FILE written by "mcengine run --out"."""
    from mcengine.present import plots
    from mcengine.stats.summary import summarize

    ds = read_result_file(file, allow_unknown_version)
    if kind in ("distributions", "tornado") and "annual_return" not in ds:
        raise UserError(
            f"{file}: a summary has no per-path returns to draw; use --kind fan "
            "or waterfall, or a full run"
        )
    if kind == "tornado" and "inputs" not in ds:
        raise UserError(f"{file}: no recorded inputs; run with --record-inputs --out FILE.nc")
    if kind == "fan" and "fan_wealth" not in ds:
        raise UserError(f"{file}: no fan-chart bands; run with --fan-chart --out FILE.nc")
    from mcengine.studies.sensitivity import tornado

    make = {
        "distributions": plots.distributions,
        "fan": plots.fan_chart,
        "waterfall": lambda d: plots.waterfall(summarize(d)),
        "tornado": lambda d: plots.tornado(tornado(d)),
    }[kind]
    save_plot(make, ds, target, option="--out")


@click.command(name="summarize")
@click.argument("file", type=click.Path(path_type=Path))
@JSON_OPTION
@ALLOW_OPTION
def summarize_cmd(file, as_json, allow_unknown_version) -> None:
    """Summarise a result FILE written by "mcengine run --out"."""
    from mcengine.stats.summary import summarize

    ds = read_result_file(file, allow_unknown_version)
    try:
        table = summarize(ds)
    except ResultFileError as err:
        raise UserError(str(err), options=False) from None
    show("summary", table, as_json=as_json)


#: This module's commands, for the group (:mod:`mcengine.cli`).
COMMANDS = [plot, summarize_cmd]
