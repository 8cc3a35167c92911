"""Scenarios as TOML text: one value as a line of TOML, and a commented ``[section]`` table
(what :meth:`mcengine.model.scenario.Scenario.to_toml` writes and ``load_scenario`` reads back
equal).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

from mcengine.checks import plain_data

__all__ = ["toml_value", "toml_table"]


def toml_value(value: Any) -> str:
    """A plain value (number, string, bool, list, table) as one line of TOML."""
    value = plain_data(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are TOML's basic-string escapes
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{_toml_key(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + ", ".join(pairs) + " }"
    return json.dumps(repr(value))


def _toml_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else json.dumps(key)


#: A list whose ``key = [...]`` line would be longer goes one element a line.
_TOML_LINE = 88
#: Comments line up after the values of a table; after a value line longer than this (a
#: distribution), a comment goes on the line above.
_TOML_COMMENT_COLUMN = 40


def toml_table(header: str, values: Mapping[str, Any], cls: type | None) -> str:
    """``header`` and its ``key = value`` lines, each with the meaning and range that
    ``cls``'s field declares as a comment (:meth:`mcengine.model.scenario.Scenario.to_toml`)."""
    fields = {} if cls is None else {f.name: f.metadata for f in dataclasses.fields(cls)}
    entries = []
    for key, value in values.items():
        line = f"{_toml_key(key)} = {toml_value(value)}"
        if len(line) > _TOML_LINE and isinstance(value, list):
            line = f"{_toml_key(key)} = [\n" + "".join(f"    {toml_value(v)},\n" for v in value)
            line += "]"
        meta = fields.get(key)
        note = None
        if meta is not None:
            valid = meta["range"].requirement().removeprefix("must be ")
            note = f"{meta['meaning']}; {'each ' if meta['triple'] else ''}{valid}"
        entries.append((line, note))
    firsts = [len(line.split("\n")[0]) for line, _ in entries]
    column = max([n for n in firsts if n <= _TOML_COMMENT_COLUMN], default=0)
    out = [header]
    for line, note in entries:
        head, _, rest = line.partition("\n")
        if note is not None and len(head) > _TOML_COMMENT_COLUMN:
            line = f"# {note}\n{line}"  # a long value (a distribution): the comment above it
        elif note is not None:
            line = f"{head:<{column}}  # {note}" + (f"\n{rest}" if rest else "")
        out.append(line)
    return "\n".join(out) + "\n"
