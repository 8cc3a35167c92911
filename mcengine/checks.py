"""The one home of argument checks for run arguments (numpy's ``check_constraint`` habit):
one rule per kind of value, one message shape, ``name = value, must be ...``.

The CLI turns the library names into its option names (``n_paths`` -> ``-n``).
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mcengine.errors import InputError

__all__ = [
    "Range",
    "check_int",
    "check_in",
    "plain_data",
    "closest",
    "did_you_mean",
    "shown",
    "show_value",
    "plain",
    "number_text",
]


@dataclass(frozen=True)
class Range:
    """A closed, open or half-open interval, or a set of allowed values."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False
    choices: tuple[int, ...] = ()

    def __str__(self) -> str:
        if self.choices:
            return ", ".join(str(c) for c in self.choices)
        lo = "-inf" if self.lo == -math.inf else number_text(self.lo)
        hi = "inf" if self.hi == math.inf else number_text(self.hi)
        left = "(" if self.lo_open or self.lo == -math.inf else "["
        right = ")" if self.hi_open or self.hi == math.inf else "]"
        return f"{left}{lo}, {hi}{right}"

    def requirement(self, *, number: bool = False) -> str:
        """The tail of an error message, e.g. ``must be in [0, 2]``."""
        if self.choices:
            return f"must be one of {self}"
        if self.integer:
            return f"must be an integer in {self}"
        return f"must be {'a number ' if number else ''}in {self}"

    def contains(self, value):
        """Whether ``value`` is in the range: a bool for a number, an array of them for an
        array (each element)."""
        if self.choices:
            return np.isin(value, self.choices) if np.ndim(value) else value in self.choices
        above = value > self.lo if self.lo_open else value >= self.lo
        below = value < self.hi if self.hi_open else value <= self.hi
        return above & below


def number_text(x: float) -> str:
    """A number as messages and ranges write it: integers without ``.0``."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def check_int(name: str, value: object, lo: int, hi: int, *, count: bool = False) -> int:
    """``value`` as an ``int`` if it is an integer in ``[lo, hi]``; else a one-line error.

    Python and numpy integers count (never ``bool``). With ``count`` (path counts), so does
    an integral float, ``1e6``, as the CLI's ``-n 1e6`` does; not for seeds, whose digits a
    float loses above 2**53.
    """
    if count and isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise InputError(f"{name} = {shown(value)}, must be an integer in [{lo}, {hi}]")
    if not lo <= int(value) <= hi:
        raise InputError(f"{name} = {value}, must be in [{lo}, {hi}]")
    return int(value)


def check_in(name: str, value: object, valid: Range) -> float | int:
    """``value`` as a Python number if it is one inside ``valid``; else a one-line error,
    ``name = value, must be in (0, inf)``: run settings' rule, as :class:`Range` is scenario
    keys'. An integer range reads as :func:`check_int` does (an integral float counts, as
    for path counts); one without an upper bound says ``must be an integer of at least N``."""
    if valid.integer and math.isfinite(valid.hi):
        return check_int(name, value, int(valid.lo), int(valid.hi), count=True)
    value = plain_data(value)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if valid.integer:
        if not number or not float(value).is_integer() or value < valid.lo:
            raise InputError(
                f"{name} = {shown(value)}, must be an integer of at least {int(valid.lo)}"
            )
        return int(value)
    discrete = bool(valid.choices)
    if (
        not number
        or not math.isfinite(value)
        or (discrete and not float(value).is_integer())
        or not valid.contains(value)
    ):
        raise InputError(f"{name} = {shown(value)}, {valid.requirement(number=True)}")
    return int(value) if discrete else float(value)


def shown(value: object) -> str:
    """A value as a message shows it: numbers as Python writes them (``1.5``, not
    ``np.float64(1.5)``), anything else by its ``repr``."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def plain_data(value: object) -> object:
    """``value`` as plain Python data, the way numpy and xarray take array-likes wherever
    lists go: numpy scalars as Python numbers, tuples and arrays (anything with
    ``__array__``) as lists, through mappings and lists; anything else as it is, for the
    check that reads it to refuse by name."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: plain_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_data(v) for v in value]
    if hasattr(value, "__array__") and not isinstance(value, str | bytes):
        return plain_data(np.asarray(value).tolist())
    return value


def closest(word: object, options: list[str]) -> str | None:
    """The option closest to a mistyped ``word``, or ``None`` when none is close."""
    if not isinstance(word, str):
        return None
    hint = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return hint[0] if hint else None


def did_you_mean(word: object, options: list[str], prefix: str = "") -> str:
    """``"; did you mean PREFIXoption?"`` for the option closest to a mistyped ``word``, or
    ``""`` when none is close: the one suggestion every "must be one of" message adds."""
    hint = closest(word, options)
    return f"; did you mean {prefix}{hint}?" if hint else ""


def plain(text: str, limit: int = 60) -> str:
    """User text made safe for a one-line message: control characters escaped, shortened."""
    escaped = json.dumps(str(text), ensure_ascii=False)[1:-1]
    # JSON leaves these as they are, but they break lines (str.splitlines)
    for char in "\x85\u2028\u2029":
        escaped = escaped.replace(char, f"\\u{ord(char):04x}")
    return escaped if len(escaped) <= limit else escaped[: limit - 3] + "..."


def show_value(value: Any) -> str:
    """A value as error messages show it: TOML's spelling, integers without ``.0``."""
    if isinstance(value, str):
        return f'"{plain(value)}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_text(value) if math.isfinite(value) else str(value)
    return plain(repr(value))
