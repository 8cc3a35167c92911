"""Fuzzing the command line: any argument list ends in exit 0 with finite output, or exit 2
with one error line; never a traceback or another exit code."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import FIELDS

from mcengine.cli import cli

NUMBERS = st.one_of(
    st.integers(-5, 3000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e3", "1_000", "abc", "", "-0", "nan", "[1, 2, 3]", "true"]),
)
KEYS = st.one_of(
    st.sampled_from([f"{s}.{f.name}" for s, f in FIELDS]),
    st.text(alphabet="abcdefghij._", max_size=12),
)
OPTIONS = st.one_of(
    st.tuples(st.just("-n"), st.integers(1, 1500).map(str) | NUMBERS),
    st.tuples(st.just("--seed"), NUMBERS),
    st.tuples(st.just("--set"), st.builds(lambda k, v: f"{k}={v}", KEYS, NUMBERS)),
    st.tuples(st.just("--sampler"), st.sampled_from(["pseudo", "antithetic", "sobol", "x"])),
    st.tuples(st.just("--replicates"), NUMBERS),
    st.tuples(st.just("--weights"), st.sampled_from(["1,1,1", "1,0,0", "1,2", "a,b,c", "0,0,0"])),
    st.tuples(st.just("--target-se"), NUMBERS),
    st.tuples(st.just("--max-paths"), st.integers(1, 3000).map(str) | NUMBERS),
    st.tuples(st.just("--stop-on"), st.sampled_from(["mean", "q50", "median"])),
    st.just(("--json",)),
    st.just(("--summary-only",)),
    st.just(("--fan-chart",)),
    st.tuples(st.sampled_from(["--bogus", "-x"])),
)
SCENARIOS = st.sampled_from(["base", "training_bust", "nope", "x.toml", "scenarios/base.toml"])


@st.composite
def argument_lists(draw):
    command = draw(
        st.sampled_from(
            ["run", "run", "explain", "show", "validate", "scenarios", "summarize", "frobnicate"]
        )
    )
    args = [command]
    if command in ("run", "explain", "show", "validate") and draw(st.booleans()):
        args.append(draw(SCENARIOS))
    if command in ("run", "explain"):
        # Keep runs small: a default -n would simulate a million paths per example.
        args += ["-n", draw(st.integers(1, 1500).map(str))]
        for option in draw(st.lists(OPTIONS, max_size=5)):
            args += list(option)
    elif command == "summarize":
        args.append(draw(st.sampled_from(["missing.nc", "README.md"])))
    return args


def assert_finite_json(text: str) -> None:
    def walk(value):
        if isinstance(value, float):
            assert math.isfinite(value), text[:200]
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(json.loads(text))


@pytest.mark.slow
@settings(
    max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(argument_lists())
def test_cli_fuzz_long(args):
    check(args)


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@pytest.mark.slow
@given(argument_lists())
def test_cli_fuzz(args):
    check(args)


def check(args):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 2), (args, result.output, result.exception)
    assert "Traceback" not in result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), (args, repr(result.exception))
    if result.exit_code == 2:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        if args[0] != "validate":
            assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith("Error: "), (args, result.stderr)
    elif "--json" in args and args[0] in ("run", "explain"):
        assert_finite_json(result.stdout)
    else:
        assert "nan" not in result.stdout.lower().replace("nan%", "") or args[0] == "show"
