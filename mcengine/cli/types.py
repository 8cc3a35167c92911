"""The CLI's parameter types: values are checked where click parses them (click's habit),
before any work, with one line naming the option, the value and what is allowed."""

from __future__ import annotations

import math
from pathlib import Path

import click

from mcengine.cli.errors import UserError, need, write_error
from mcengine.layout import FIGURE_FORMATS, MAX_PATHS, MAX_SEED, ZARR_SUFFIX

__all__ = [
    "Weights",
    "PathCount",
    "Fraction",
    "OutputPath",
    "FIGURE",
    "ThreadCount",
    "Seed",
    "GridAxis",
]


class Weights(click.ParamType):
    """Three portfolio weights, ``A,I,T`` (normalised to sum to 1)."""

    name = "A,I,T"

    def convert(self, value, param, ctx):
        from mcengine.stats.tails import check_weights

        if isinstance(value, tuple):
            return value
        try:
            parts = tuple(float(v) for v in str(value).split(","))
            return check_weights(list(parts))
        except ValueError:  # InputError too
            self.fail(
                f"{value!r} must be 3 non-negative numbers A,I,T with a positive sum", param, ctx
            )


class PathCount(click.ParamType):
    """A path count: ``1000000``, ``1e6`` or ``1_000_000``."""

    name = "PATHS"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).replace("_", "")
        try:
            number = float(text)
        except ValueError:
            self.fail(f"{value!r} is not a number of paths", param, ctx)
        if not math.isfinite(number) or not number.is_integer() or not 1 <= number <= MAX_PATHS:
            self.fail(f"{value} must be an integer in [1, {MAX_PATHS}]", param, ctx)
        return int(number)


class Fraction(click.ParamType):
    """A fraction: ``0.0005``, or with a percent sign, ``0.05%``."""

    name = "FRACTION"

    def __init__(self, valid: click.FloatRange | None = None) -> None:
        self.valid = valid

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        text = str(value).strip()
        scale = 0.01 if text.endswith("%") else 1.0
        try:
            number = float(text.removesuffix("%")) * scale
        except ValueError:
            self.fail(f"{value!r} is not a fraction (0.0005, or 0.05%)", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} must be finite", param, ctx)
        return number if self.valid is None else self.valid.convert(number, param, ctx)


class OutputPath(click.ParamType):
    """A file the command writes, checked before any work: its suffix, its folder, and that
    the folder takes the temporary file an atomic write starts with."""

    name = "FILE"

    def __init__(self, *suffixes: str, what: str, needs: tuple[str, str] | None = None) -> None:
        self.suffixes, self.what, self.needs = suffixes, what, needs

    def convert(self, value, param, ctx):
        option = param.opts[0] if param is not None else "path"
        return self.check(Path(value), option, ctx.command_path if ctx is not None else "")

    def check(self, path: Path, option: str, command: str = "") -> Path:
        """``path``, if ``command``'s ``option`` can write it; else one line (UserError)."""
        from mcengine.results.files import check_writable

        if path.suffix.lower() not in self.suffixes:
            raise UserError(f"{option} {path}: must end in {self.what}")
        if path.is_dir() and path.suffix.lower() != ZARR_SUFFIX:
            raise UserError(f"{option} {path}: is a folder; give a file name")
        if not path.parent.is_dir():
            raise UserError(f"{option} {path}: folder {path.parent} does not exist")
        try:
            check_writable(path)
        except OSError as err:
            raise write_error(f"{option} {path}", err) from None
        if self.needs is not None:  # e.g. "mcengine report -o needs matplotlib: pip ..."
            need(*self.needs, what=f"{command} {option}".strip())
        return path


#: Figures are written as PNG or SVG (mcengine.present.plots.save), with matplotlib.
FIGURE = OutputPath(*FIGURE_FORMATS, what=" or ".join(FIGURE_FORMATS), needs=("matplotlib", "plot"))


class ThreadCount(click.IntRange):
    """A thread count, from 1 to Numba's (``NUMBA_NUM_THREADS``, by default the cores this
    process may use): an :class:`click.IntRange` that reads the bound when first asked,
    not when the command is defined, which would import Numba for ``--help``."""

    def __init__(self) -> None:
        super().__init__(1)

    @property  # type: ignore[override]
    def max(self) -> int:
        import numba

        return numba.config.NUMBA_NUM_THREADS

    @max.setter
    def max(self, value) -> None:  # click's __init__ sets it; the property is the bound
        pass


class Seed(click.ParamType):
    """A seed: an integer in [0, 2**63 - 1]."""

    name = "SEED"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip().replace("_", "")
        if text.isdigit() and int(text) <= MAX_SEED:
            return int(text)
        self.fail(
            f"{value!r} is not a seed; a seed is a whole number from 0 to {MAX_SEED} that "
            "fixes the random numbers (omit --seed to draw a fresh one, which is reported)",
            param,
            ctx,
        )


class GridAxis(click.ParamType):
    """``section.key=LOW:HIGH:COUNT`` (evenly spaced) or ``section.key=v1,v2,...``."""

    name = "KEY=LOW:HIGH:COUNT"

    def convert(self, value, param, ctx):
        import numpy as np

        if isinstance(value, tuple):
            return value
        key, sep, spec = str(value).partition("=")
        try:
            if not sep or "." not in key:
                raise ValueError
            if ":" in spec:
                low, high, count = spec.split(":")
                if int(count) < 1 or int(count) > 101:
                    raise ValueError
                values = tuple(np.linspace(float(low), float(high), int(count)))
            else:
                values = tuple(float(v) for v in spec.split(","))
        except ValueError:
            self.fail(
                f"{value!r} must be section.key=LOW:HIGH:COUNT (COUNT 1-101) or "
                "section.key=v1,v2,...",
                param,
                ctx,
            )
        return key.strip(), values
