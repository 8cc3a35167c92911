"""The benchmark suite's verdicts and report format (the measurements themselves run in
``python -m benchmarks``, not in the test suite: they take minutes and need a quiet machine)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mcengine.bench import suite
from mcengine.cli import cli


@pytest.mark.parametrize(
    ("name", "value", "met"),
    [
        ("rng_floor_ratio", 0.5, True),
        ("rng_floor_ratio", 0.7, False),
        ("reference_speedup", 25.0, True),
        ("reference_speedup", 2.0, False),
        ("paths_scaling_ratio", 10.2, True),
        ("paths_scaling_ratio", 8.5, False),
        ("summary_only_peak_rss_mb", 900.0, True),
    ],
)
def test_verdicts(name, value, met):
    verdict = suite._verdict(name, value)
    assert verdict["met"] is met and verdict["value"] == value


def fake_report(quick=False):
    results = {name: 1.0 for name in suite.TARGETS}
    results.update(
        paths_per_second=1e6,
        parallel_efficiency=0.9,
        paths_scaling_exponent=1.0,
        steps_scaling_exponent=1.0,
        vr_antithetic_equal_paths=2.0,
        vr_antithetic_equal_time=2.0,
        dask_seconds_per_block_core=0.3,
        vr_sobol_equal_paths=9.0,
        vr_sobol_equal_time=8.0,
        **{f"mode_ratio_{mode}": 1.1 for mode in suite.MODES},
    )
    return {
        "schema": suite.SCHEMA,
        "quick": quick,
        "paths": 10,
        "machine": {
            "cpu_count": 2,
            "numba_threads": 2,
            "processor": "cpu",
            "platform": "p",
            "python": "3.11",
            "versions": {"mcengine": "1"},
        },
        "results": results,
        "targets": {name: suite._verdict(name, 1.0) for name in suite.TARGETS},
    }


def test_mcengine_bench_writes_and_prints_json(tmp_path, monkeypatch):
    monkeypatch.setattr(suite, "run_suite", fake_report)
    target = tmp_path / "bench.json"
    result = CliRunner().invoke(cli, ["bench", "--json", "--quick", "--output", str(target)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == json.loads(target.read_text())
    assert printed["schema"] == "mcengine-bench/1" and printed["quick"] is True
    assert set(printed["targets"]) == set(suite.TARGETS)


def test_mcengine_bench_prints_a_table(tmp_path, monkeypatch):
    monkeypatch.setattr(suite, "run_suite", fake_report)
    result = CliRunner().invoke(cli, ["bench", "--output", str(tmp_path / "b.json")])
    assert result.exit_code == 0
    assert "rng_floor_ratio" in result.stdout and "paths/s (warm)" in result.stdout
    assert "variance reduction, sobol" in result.stdout


def test_run_workload_returns_its_figures():
    from mcengine.bench import WORKLOADS, run_workload

    figures = run_workload("summary_only", quick=True, repeats=1)
    assert figures["name"] == "summary_only" and figures["repeats"] == 1
    assert figures["paths"] == WORKLOADS["summary_only"].paths // 10
    assert figures["seconds"] > 0
    assert figures["paths_per_second"] == figures["paths"] / figures["seconds"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "fast"}, "workload = 'fast', must be one of: base, base_1_thread"),
        ({"name": "base", "repeats": 0}, "repeats = 0, must be an integer >= 1"),
    ],
)
def test_run_workload_refuses_bad_arguments(kwargs, message):
    from mcengine.bench import run_workload

    with pytest.raises(ValueError, match=message):
        run_workload(**kwargs)


def test_asv_classes_cover_every_workload():
    from mcengine.bench import WORKLOADS, asv

    assert asv.TimeWorkloads.params == [list(WORKLOADS)]
    assert callable(asv.TimeWorkloads().time_workload)


def test_mcengine_bench_lists_and_times_one_workload(tmp_path):
    listed = CliRunner().invoke(cli, ["bench", "--list"])
    assert listed.exit_code == 0 and listed.stdout.splitlines()[0].startswith("base ")
    timed = CliRunner().invoke(cli, ["bench", "--workload", "rng_floor", "--quick", "--json"])
    assert timed.exit_code == 0, timed.output
    (figures,) = json.loads(timed.stdout)
    assert figures["name"] == "rng_floor" and figures["paths"] == 100_000
    bad = CliRunner().invoke(cli, ["bench", "--workload", "fast"])
    assert bad.exit_code == 2
    assert bad.stderr.startswith("Error: --workload fast: unknown; one of base, ")


def test_every_quick_workload_is_a_size_its_sampler_takes():
    # bench --quick once crashed: the Sobol workload's tenth, 104,857, is not a multiple of 16.
    import warnings

    from mcengine.bench import WORKLOADS
    from mcengine.rng.samplers import DEFAULT_REPLICATES, check_sampler

    for workload in WORKLOADS.values():
        sampler = workload.options.get("sampler", "pseudo")
        for quick in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # not even a note
                check_sampler(sampler, workload.sized(quick), DEFAULT_REPLICATES)
            assert workload.paths // 16 <= workload.sized(True) <= workload.paths // 10


def test_a_quick_report_marks_what_it_did_not_measure(tmp_path, monkeypatch, capsys):
    report = fake_report(quick=True)
    report["results"]["cold_compile_seconds"] = None
    report["targets"]["cold_compile_seconds"] = suite._verdict("cold_compile_seconds", None)
    assert report["targets"]["cold_compile_seconds"]["met"] is None
    suite.render(report)
    out = capsys.readouterr().out
    assert "not measured in a quick run" in out
    assert max(len(line) for line in out.splitlines()) <= 80


@pytest.mark.slow
def test_bench_quick_runs_the_whole_suite(tmp_path):
    # The documented smoke run, end to end in a fresh process from a checkout (about 90 s on
    # 2 cores): python -m benchmarks --quick; mcengine bench --quick is the same suite.main.
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    target = tmp_path / "bench.json"
    args = [sys.executable, "-m", "benchmarks", "--quick", "--json", "--output", target]
    done = subprocess.run(args, capture_output=True, text=True, cwd=root, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report == json.loads(target.read_text())
    assert report["quick"] is True and report["paths"] == 100_000
    measured = {k: v["value"] for k, v in report["targets"].items() if v["value"] is not None}
    assert set(measured) == set(suite.TARGETS) - {"cold_compile_seconds"}
    assert all(value > 0 for value in measured.values())


def test_mcengine_bench_quick_is_the_suite_quick(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(suite, "main", lambda args: seen.append(args) or 0)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["bench", "--quick"])
    assert result.exit_code == 0
    assert seen == [["--output", "bench-results.json", "--quick"]]
