"""Every command's output, byte for byte, against outputs recorded before the CLI became a
package (issue 25): a refactor of the shell must not change what a user reads.

Each case runs the command in-process at 80 columns and compares stdout, stderr and the exit
code with ``tests/data/cli_outputs/<case>.txt``. Timings are the only figures that change
from run to run; they are masked (:func:`_masked`). After a deliberate change of an output,
record the outputs again with ``MCENGINE_RECORD_CLI=1 pytest tests/test_cli_outputs.py`` and
say why in the commit.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numba
import pytest
from click.testing import CliRunner

from mcengine.cli import cli

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT / "tests" / "data" / "cli_outputs"
SCENARIO = ROOT / "scenarios" / "telecom_1997.toml"

#: name -> arguments. ``{tmp}`` is a fresh folder; ``{nc}`` a small result file written
#: there first by ``run -n 3000 --seed 5 --record-inputs --fan-chart --out``.
CASES = {
    "help": ["--help"],
    "run_help": ["run", "--help"],
    "scenarios": ["scenarios"],
    "show_base": ["show", "base"],
    "show_beliefs_set": ["show", "beliefs", "--set", "demand.volatility=0.3"],
    "validate": ["validate", str(SCENARIO)],
    "run": ["run", "-n", "5000", "--seed", "1"],
    "run_json": ["run", "training_bust", "-n", "3000", "--seed", "3", "--json"],
    "run_summary_only": [
        "run",
        "-n",
        "5000",
        "--seed",
        "2",
        "--summary-only",
        "--weights",
        "1,2,1",
    ],
    "run_fan_json": ["run", "-n", "2000", "--seed", "4", "--fan-chart", "--json"],
    "run_antithetic": ["run", "-n", "3200", "--seed", "5", "--sampler", "antithetic"],
    "run_target": [
        "run",
        "-n",
        "2000",
        "--seed",
        "6",
        "--target-se",
        "0.01",
        "--max-paths",
        "8000",
    ],
    "run_beliefs": ["run", "beliefs", "-n", "3000", "--seed", "7"],
    "explain": ["explain", "-n", "4000", "--seed", "1"],
    "explain_json": ["explain", "deepseek_shock", "-n", "2000", "--seed", "2", "--json"],
    "compare": ["compare", "base", "training_bust", "-n", "3000", "--seed", "1"],
    "compare_json": ["compare", "base", "agentic_boom", "-n", "2000", "--seed", "1", "--json"],
    "sweep": [
        "sweep",
        "base",
        "--vary",
        "demand.volatility=0.1:0.3:3",
        "-n",
        "2000",
        "--seed",
        "1",
    ],
    "sweep_json": [
        "sweep",
        "base",
        "--vary",
        "demand.volatility=0.1,0.3",
        "--vary",
        "training_cost.decline_median=0.7,1.5",
        "-n",
        "1000",
        "--seed",
        "1",
        "--json",
    ],
    "sweep_repeated_value": [
        "sweep",
        "base",
        "--vary",
        "demand.volatility=0.3,0.3",
        "-n",
        "1000",
        "--seed",
        "2",
    ],
    "verdict": ["verdict", "base", "-n", "3000", "--seed", "1"],
    "verdict_beliefs": [
        "verdict",
        "beliefs",
        "-n",
        "2000",
        "--seed",
        "1",
        "--attribution-paths",
        "128",
    ],
    "verdict_json": ["verdict", "base", "inference_glut", "-n", "2000", "--seed", "1", "--json"],
    "sensitivity": [
        "sensitivity",
        "-n",
        "3000",
        "--seed",
        "1",
        "--sobol-paths",
        "128",
        "--shapley-paths",
        "32",
    ],
    "sensitivity_json": [
        "sensitivity",
        "-n",
        "2000",
        "--seed",
        "2",
        "--sobol-paths",
        "64",
        "--shapley-paths",
        "16",
        "--json",
    ],
    "voi": ["voi", "-n", "4000", "--seed", "1", "--step", "0.25"],
    "voi_json": ["voi", "-n", "4000", "--seed", "2", "--step", "0.5", "--json"],
    "check": ["check", "-n", "3000", "--seed", "1"],
    "check_json": [
        "check",
        "telecom_1997",
        "--targets",
        "telecom_1997_start",
        "-n",
        "2000",
        "--seed",
        "1",
        "--json",
    ],
    "calibrate": [
        "calibrate",
        "telecom_1997",
        "--targets",
        "telecom_1997_start",
        "--fit",
        "inference.capex_growth",
        "-n",
        "2000",
        "--seed",
        "1",
        "--out",
        "{tmp}/fit.toml",
    ],
    "summarize": ["summarize", "{nc}"],
    "summarize_json": ["summarize", "{nc}", "--json"],
    "bench_list": ["bench", "--list"],
    # errors: one line, exit 2
    "error_paths": ["run", "-n", "0"],
    "error_seed": ["run", "--seed", "x"],
    "error_stop_on": ["run", "-n", "100", "--stop-on", "median"],
    "error_replicates": ["run", "-n", "100", "--replicates", "4"],
    "error_record_years": ["run", "-n", "100", "--record-years"],
    "error_fan_chart": ["run", "-n", "100", "--fan-chart"],
    "error_zarr": ["run", "-n", "100", "--out", "{tmp}/x.zarr", "--target-se", "0.01"],
    "error_zarr_summary": ["run", "-n", "100", "--out", "{tmp}/x.zarr", "--summary-only"],
    "error_chunk_paths": ["run", "-n", "100", "--chunk-paths", "65536"],
    "error_resume": ["run", "-n", "100", "--resume"],
    "error_sampler_target": ["run", "-n", "160", "--sampler", "sobol", "--target-se", "0.01"],
    "error_sampler_summary": ["run", "-n", "160", "--sampler", "sobol", "--summary-only"],
    "error_record_target": [
        "run",
        "-n",
        "100",
        "--record-years",
        "--target-se",
        "0.01",
        "--out",
        "{tmp}/r.nc",
    ],
    "error_max_paths": ["run", "-n", "100", "--target-se", "0.01", "--max-paths", "50"],
    "error_out_suffix": ["run", "-n", "100", "--out", "{tmp}/x.csv"],
    "error_set": ["run", "-n", "100", "--set", "demand.volatilty=0.3"],
    "error_weights": ["run", "-n", "100", "--weights", "1,1"],
    "error_sobol_beliefs": ["run", "beliefs", "-n", "160", "--sampler", "sobol"],
    "error_voi_paths": ["voi", "-n", "100"],
    "error_sweep_repeat": [
        "sweep",
        "base",
        "--vary",
        "demand.volatility=0.1,0.2",
        "--vary",
        "demand.volatility=0.3,0.4",
    ],
    "error_verdict_attribution": ["verdict", "base", "--attribution", "sobol", "-n", "100"],
    "error_summarize_missing": ["summarize", "{tmp}/missing.nc"],
    "error_plot_kind": ["plot", "{nc}", "--kind", "waterfall", "--out", "{tmp}/x.pdf"],
}

#: Timings: "0.67 s (2,999 paths/s)", "8.39 s, most of it compiling ...", and in JSON
#: "elapsed_seconds": 0.65.
_TIMINGS = (
    (re.compile(r"^\d[\d,.]* s( \(|,).*$", re.M), "<timing>"),
    (re.compile(r'("elapsed_seconds": )[\d.e+-]+'), r"\1<seconds>"),
)
#: Notes that depend on the state of Numba's cache, not on the command.
_COMPILING = re.compile(r"^compiling .*\n", re.M)


def _masked(text: str, tmp: Path) -> str:
    for pattern, replacement in _TIMINGS:
        text = pattern.sub(replacement, text)
    # --threads' bound is this machine's (Numba's thread count)
    text = text.replace(f"[1<=x<={numba.config.NUMBA_NUM_THREADS}]", "[1<=x<=THREADS]")
    # the folders: this run's, and the checkout's (CI clones it elsewhere)
    return _COMPILING.sub("", text).replace(str(tmp), "{tmp}").replace(str(ROOT), "{root}")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli_outputs")
    result = _invoke(
        [
            "run",
            "-n",
            "3000",
            "--seed",
            "5",
            "--record-inputs",
            "--fan-chart",
            "--out",
            str(tmp / "small.nc"),
        ]
    )
    assert result.exit_code == 0, result.output
    return tmp


def _invoke(args):
    runner = CliRunner(env={"COLUMNS": "80", "NO_COLOR": "1"})
    return runner.invoke(cli, args)


def _transcript(name: str, tmp: Path) -> str:
    args = [a.format(tmp=tmp, nc=tmp / "small.nc") for a in CASES[name]]
    result = _invoke(args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return _masked(
        f"$ mcengine {' '.join(CASES[name])}\n"
        f"--- exit code\n{result.exit_code}\n"
        f"--- stdout\n{result.stdout}"
        f"--- stderr\n{result.stderr}",
        tmp,
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_is_unchanged(name, folder):
    transcript = _transcript(name, folder)
    recorded = RECORDED / f"{name}.txt"
    if os.environ.get("MCENGINE_RECORD_CLI"):
        RECORDED.mkdir(parents=True, exist_ok=True)
        recorded.write_text(transcript, encoding="utf-8")
    assert recorded.exists(), f"no recorded output: run with MCENGINE_RECORD_CLI=1 ({name})"
    assert transcript == recorded.read_text(encoding="utf-8")


def test_every_recording_has_a_case():
    assert {p.stem for p in RECORDED.glob("*.txt")} <= set(CASES)
