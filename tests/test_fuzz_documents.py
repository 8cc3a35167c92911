"""Fuzzing scenario documents: Hypothesis writes TOML files, valid and invalid, and the CLI
must answer each with exit 0 and finite output, or exit 2 and one message."""

from __future__ import annotations

import json
import math

import tomli_w
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import FIELDS, field_values

from mcengine.cli import cli

VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.integers(-(10**6), 10**6),
    st.text(max_size=8),
    st.booleans(),
    st.lists(st.floats(-10, 10, allow_nan=False), max_size=4),
)


@st.composite
def documents(draw):
    """A scenario document: mostly valid keys with valid or wild values, sometimes junk."""
    doc: dict = {}
    if draw(st.booleans()):
        doc["extends"] = draw(st.sampled_from(["base", "training_bust", "nope", 3]))
    for section, f in draw(st.lists(st.sampled_from(FIELDS), max_size=8)):
        value = draw(st.one_of(field_values(f, max_value=1e3, edges=True), VALUES))
        doc.setdefault(section, {})[f.name] = value
    if draw(st.integers(0, 9)) == 0:
        doc[draw(st.sampled_from(["bogus", "demand"]))] = {draw(st.text(min_size=1, max_size=6)): 1}
    if draw(st.integers(0, 9)) == 0:
        doc["stress"] = [
            {
                "year": draw(st.floats(-2, 12, allow_nan=False)),
                "demand": draw(st.floats(-8, 8, allow_nan=False)),
            }
        ]
    # Keep runs short whatever else the document says.
    doc.setdefault("simulation", {})
    if isinstance(doc["simulation"], dict):
        doc["simulation"].setdefault("horizon_years", 5)
    return doc


def finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    if isinstance(value, list):
        return all(finite(v) for v in value)
    return True


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(doc=documents())
def test_scenario_documents_end_to_end(tmp_path, doc):
    path = tmp_path / "fuzz.toml"
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    runner = CliRunner()
    checked = runner.invoke(cli, ["validate", str(path)])
    ran = runner.invoke(cli, ["run", str(path), "-n", "200", "--seed", "1", "--json"])
    for result in (checked, ran):
        assert result.exit_code in (0, 2), (doc, result.output, result.exception)
        assert "Traceback" not in result.output
        if result.exit_code == 2:
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("Error: "), (doc, result.stderr)
    assert (checked.exit_code == 0) == (ran.exit_code == 0) or "overflows float64" in ran.stderr
    if ran.exit_code == 0:
        assert finite(json.loads(ran.stdout)), doc
