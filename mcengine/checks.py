"""The one home of argument checks for run arguments (numpy's ``check_constraint`` habit):
one rule per kind of value, one message shape, ``name = value, must be ...``.

The CLI turns the library names into its option names (``n_paths`` -> ``-n``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import numpy as np

from mcengine.errors import InputError

__all__ = ["check_int", "plain_data", "closest", "did_you_mean", "shown"]


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
