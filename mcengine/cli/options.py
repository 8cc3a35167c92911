"""Options that several commands share, declared once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass
from mcengine.cli.types import (
    FIGURE,
    PathCount,
    Seed,
)

__all__ = [
    "paths_option",
    "seed_option",
    "simulation_options",
    "PLOT_OPTION",
    "SET_OPTION",
    "JSON_OPTION",
    "ALLOW_OPTION",
    "TARGETS_OPTION",
]


def paths_option(default: str, help: str):
    return click.option(
        "-n",
        "--paths",
        "n_paths",
        type=PathCount(),
        default=default,
        show_default=True,
        help=help,
    )


def seed_option(help: str = "Random seed; omitted, a fresh one is drawn and reported."):
    return click.option("--seed", type=Seed(), default=None, help=help)


PLOT_OPTION = click.option(
    "--plot",
    type=FIGURE,
    default=None,
    help="Also draw a figure to this .png or .svg file (checked before the run).",
)


SET_OPTION = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override a scenario value (repeatable), e.g. --set demand.volatility=0.3.",
)


JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def simulation_options(func):
    """The options every simulating command takes: scenario, paths, seed, overrides, JSON."""
    for option in reversed(
        (
            click.argument("scenario", default="base"),
            paths_option("1000000", "Number of paths (1e6 and 1_000_000 are accepted)."),
            seed_option(),
            SET_OPTION,
            JSON_OPTION,
        )
    ):
        func = option(func)
    return func


ALLOW_OPTION = click.option(
    "--allow-unknown-version",
    is_flag=True,
    help="Read a result written by a newer mcengine, or with numerics or a model this "
    "version does not know (its figures may not mean what this version says).",
)


TARGETS_OPTION = click.option(
    "--targets",
    "targets_file",
    default="public_2025",
    show_default=True,
    help="A targets .toml file, or a built-in one's name.",
)
