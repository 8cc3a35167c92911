"""The ``mcengine`` command line: a thin Click shell over the library.

Validation happens at three levels (click's habit): parameter types for values
(:mod:`~mcengine.cli.types`), callbacks for ranges, the command body for cross-field rules.
Every user error exits with code 2 and one line on stderr (:mod:`~mcengine.cli.errors`);
only a bug prints a traceback. The commands are grouped by concern: :mod:`~mcengine.cli.run`,
:mod:`~mcengine.cli.studies`, :mod:`~mcengine.cli.results`, :mod:`~mcengine.cli.scenarios`
and :mod:`~mcengine.cli.bench`. The engine, xarray and the presenters are imported inside the
commands that use them, so that ``mcengine --help`` answers in a fraction of a second.
"""

from __future__ import annotations

import signal

import click

from mcengine._version import __version__
from mcengine.cli import bench, results, run, scenarios, studies
from mcengine.cli.errors import OneLineErrors, terminate

__all__ = ["main", "cli"]


@click.group(
    name="mcengine",
    cls=OneLineErrors,
    context_settings={"help_option_names": ["-h", "--help"]},
    commands=[
        *run.COMMANDS,
        *studies.COMMANDS,
        *results.COMMANDS,
        *scenarios.COMMANDS,
        *bench.COMMANDS,
    ],
)
@click.version_option(__version__, prog_name="mcengine")
def cli() -> None:
    """Monte Carlo scenario engine for AI-investment risk: is AI a bubble, and where?"""


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, terminate)
    cli(prog_name="mcengine")
