"""Commands on scenarios: list, show and validate them."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from mcengine.cli.library import load
from mcengine.cli.options import SET_OPTION
from mcengine.errors import ScenarioError
from mcengine.model.builtins import builtin_scenarios, builtin_story, file_comments

if TYPE_CHECKING:
    pass

__all__ = ["COMMANDS"]


@click.command()
def scenarios() -> None:
    """List the built-in scenarios with their stories."""
    for name in builtin_scenarios():
        click.echo(f"{name:<18} {builtin_story(name)}")


@click.command()
@click.argument("scenario")
@SET_OPTION
def show(scenario, overrides) -> None:
    """Print SCENARIO fully resolved, as TOML: the file's own opening comments (its story
    and sources), the uncertain keys as comments with their 5/50/95% quantiles, then every
    key with its meaning and range."""
    from mcengine.present.text import belief_lines

    sc = load(scenario, overrides)
    click.echo(file_comments(scenario), nl=False)  # the file's story and sources, kept
    lines = belief_lines(sc)
    if lines:
        click.echo("# uncertain keys (drawn once per path):")
        for line in lines:
            click.echo(f"#   {line}")
    click.echo(sc.to_toml(), nl=False)


@click.command()
@click.argument("files", nargs=-1, required=True)
def validate(files) -> None:
    """Check scenario FILES; print one line per file and exit 2 if any is invalid."""
    from mcengine.model.scenario import load_scenario

    bad = 0
    for name in files:
        try:
            load_scenario(name)
        except ScenarioError as err:
            bad += 1
            click.echo(f"Error: {err}", err=True)
        else:
            click.echo(f"{name}: ok")
    if bad:
        sys.exit(2)


#: This module's commands, for the group (:mod:`mcengine.cli`).
COMMANDS = [scenarios, show, validate]
