"""Options that several commands share, declared once, and the options of the run
settings, generated from their declarations (:mod:`mcengine.engine.settings`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import click

from mcengine.checks import Range
from mcengine.cli.types import FIGURE, Fraction, PathCount, Seed, ThreadCount, Weights
from mcengine.engine.settings import Setting, declared

__all__ = [
    "paths_option",
    "seed_option",
    "simulation_options",
    "PLOT_OPTION",
    "SET_OPTION",
    "JSON_OPTION",
    "ALLOW_OPTION",
    "TARGETS_OPTION",
    "setting_options",
]


def paths_option(default: str, help: str, *declarations: str):
    """A path count (``-n``/``--paths`` unless ``declarations`` name another option)."""
    return click.option(
        *(declarations or ("-n", "--paths", "n_paths")),
        type=PathCount(),
        default=default,
        show_default=True,
        help=help,
    )


def seed_option(
    help: str = "Random seed; omitted, a fresh one is drawn and reported.", *, draw: bool = False
):
    """``--seed``; with ``draw``, a command that is not given one gets a fresh one (where the
    library would not draw it and record it itself)."""
    return click.option(
        "--seed", type=Seed(), default=None, help=help, callback=_fresh if draw else None
    )


def _fresh(ctx, param, seed: int | None) -> int:
    from mcengine.rng.streams import fresh_seed

    return fresh_seed() if seed is None else seed


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


def _setting_option(name: str, setting: Setting):
    """The option of one run setting: its flag, help and default, and the parameter type
    of its kind."""
    if setting.kind == "flag":
        return click.option(
            setting.flag, name, is_flag=True, flag_value=not setting.inverted,
            default=setting.inverted, help=setting.help,
        )  # fmt: skip
    default = setting.default if setting.cli_default is None else setting.cli_default
    return click.option(
        setting.flag,
        name,
        type=_param_type(setting),
        default=default,
        show_default=default is not None,
        help=setting.help,
    )


def _param_type(setting: Setting) -> click.ParamType:
    """How the CLI reads a value of ``setting``'s kind, bounded by its declared range."""
    simple: dict[str, Callable[[], click.ParamType]] = {
        "paths": PathCount,
        "fraction": Fraction,
        "weights": Weights,
        "threads": ThreadCount,
    }
    if setting.kind in simple:
        return simple[setting.kind]()
    valid = setting.valid
    if isinstance(valid, tuple):  # "choice"
        return click.Choice(list(valid))
    assert isinstance(valid, Range), setting
    hi = None if math.isinf(valid.hi) else valid.hi
    if setting.kind == "count":
        return click.IntRange(int(valid.lo), None if hi is None else int(hi))
    lo = None if math.isinf(valid.lo) else valid.lo
    return click.FloatRange(lo, hi, min_open=valid.lo_open, max_open=valid.hi_open)


def setting_options(before: Mapping[str, tuple] = {}, after: tuple = ()):  # noqa: B006
    """A decorator adding the option of every run setting that has a flag, in declaration
    order, with a command's own options ``before`` the setting they are listed under (for
    ``--help``'s order) and ``after`` them all."""

    def decorate(func):
        options: list = []
        for name, setting in declared().items():
            options.extend(before.get(name, ()))
            if setting.flag is not None:
                options.append(_setting_option(name, setting))
        for option in reversed([*options, *after]):
            func = option(func)
        return func

    return decorate
