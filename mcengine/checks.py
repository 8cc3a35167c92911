"""The one home of argument checks for run arguments (numpy's ``check_constraint`` habit):
one rule per kind of value, one message shape, ``name = value, must be ...``.

The CLI turns the library names into its option names (``n_paths`` -> ``-n``).
"""

from __future__ import annotations

import numpy as np

from mcengine.errors import InputError

__all__ = ["check_int"]


def check_int(name: str, value: object, lo: int, hi: int) -> int:
    """``value`` as an ``int`` if it is an integer in ``[lo, hi]``; else a one-line error."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{name} = {value!r}, must be an integer in [{lo}, {hi}]")
    if not lo <= int(value) <= hi:
        raise InputError(f"{name} = {value}, must be in [{lo}, {hi}]")
    return int(value)
