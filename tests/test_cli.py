"""The command line: exact messages, exit codes, files written atomically, round trips."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import mcengine
from mcengine.cli import cli
from mcengine.results import files as io_module


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_run_prints_a_table(runner):
    result = invoke(runner, "run", "-n", "2000", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert "scenario base: 2,000 paths, seed 1" in result.output
    for text in (
        "applications",
        "inference",
        "training",
        "mean annual return",
        "CVaR 95%",
        "P(loss)",
        "P(contagion crash) =",
        "±",
    ):
        assert text in result.output


def test_run_json_is_machine_readable(runner):
    result = invoke(runner, "run", "training_bust", "-n", "1e3", "--seed", "3", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["scenario"] == "training_bust" and doc["seed"] == 3 and doc["n_paths"] == 1000
    assert set(doc["segments"]) == {"applications", "inference", "training"}
    mean = doc["segments"]["training"]["mean"]
    assert set(mean) == {"estimate", "standard_error", "ci95"}
    assert mean["ci95"][0] < mean["estimate"] < mean["ci95"][1]
    assert 0 <= doc["p_crash"]["estimate"] <= 1


def test_run_without_seed_reports_the_seed_it_drew(runner):
    doc = json.loads(invoke(runner, "run", "-n", "100", "--json").output)
    again = json.loads(invoke(runner, "run", "-n", "100", "--seed", doc["seed"], "--json").output)
    assert again["segments"] == doc["segments"]


def test_set_overrides_apply(runner):
    plain = json.loads(invoke(runner, "run", "-n", "500", "--seed", "1", "--json").output)
    changed = json.loads(
        invoke(
            runner, "run", "-n", "500", "--seed", "1", "--json", "--set", "demand.volatility=0.5"
        ).output
    )
    assert changed["segments"] != plain["segments"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "-n", "10", "--set", "demand.volatility=-0.2"],
            "Error: scenarios/base.toml with --set: demand.volatility = -0.2, must be in [0, 2]\n",
        ),
        (
            ["run", "-n", "10", "--set", "demand.volatilty=0.2"],
            "Error: scenarios/base.toml with --set: unknown key demand.volatilty; "
            "did you mean demand.volatility?\n",
        ),
        (
            ["run", "-n", "10", "--set", "volatility"],
            "Error: --set 'volatility': must be written section.key=VALUE\n",
        ),
        (
            ["run", "nosuch", "-n", "10"],
            'Error: scenario = "nosuch", must be a built-in (base, agentic_boom, beliefs, '
            "calibrated_2025, deepseek_shock, inference_glut, open_weights_win, telecom_1997, "
            "training_bust) or a path to a .toml file\n",
        ),
        (
            ["run", "-n", "abc"],
            "Error: mcengine run: Invalid value for '-n' / '--paths': 'abc' is not a number "
            "of paths\n",
        ),
        (
            ["run", "-n", "0"],
            "Error: mcengine run: Invalid value for '-n' / '--paths': 0 must be an integer in "
            "[1, 1099511627776]\n",
        ),
        (
            ["run", "-n", "10", "--seed", "-3"],
            "Error: mcengine run: Invalid value for '--seed': '-3' is not a seed; a seed is a "
            "whole number from 0 to 9223372036854775807 that fixes the random numbers (omit "
            "--seed to draw a fresh one, which is reported)\n",
        ),
        (["frobnicate"], "Error: mcengine: No such command 'frobnicate'.\n"),
        (
            ["run", "-n", "10", "--out", "/nonexistent/dir/x.nc"],
            "Error: --out /nonexistent/dir/x.nc: folder /nonexistent/dir does not exist\n",
        ),
        (
            [
                "run",
                "-n",
                "10",
                "--set",
                "demand.jump_rate=12",
                "--set",
                "demand.jump_size=3",
                "--set",
                "simulation.horizon_years=100",
            ],
            "Error: scenario 'base' overflows float64: expected log demand at the horizon is "
            "3625 > 710 (demand.growth_initial_mean = 1.386, demand.growth_long_run = 0.22, "
            "demand.jump_rate = 12, demand.jump_size = 3, simulation.horizon_years = 100)\n",
        ),
    ],
)
def test_errors_are_one_line_with_exit_code_2(runner, args, message):
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert result.stderr == message
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_out_and_summarize_round_trip(runner, tmp_path):
    target = tmp_path / "run.nc"
    first = invoke(runner, "run", "-n", "3000", "--seed", "4", "--out", target, "--json")
    assert first.exit_code == 0
    assert target.is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["run.nc"]  # no temp file left
    second = invoke(runner, "summarize", target, "--json")
    assert second.exit_code == 0
    a, b = json.loads(first.output), json.loads(second.output)
    a.pop("elapsed_seconds")
    assert a == b
    ds = xr.load_dataset(target, engine="h5netcdf")
    assert ds.attrs["seed"] == 4 and ds.attrs["sampler"] == "pseudo"
    assert ds["crash_origin"].dtype == np.int8
    assert "extends" not in ds.attrs["scenario"] and "[valuation]" in ds.attrs["scenario"]
    table = invoke(runner, "summarize", target)
    assert "scenario base: 3,000 paths, seed 4" in table.output


def test_failed_write_leaves_no_file(runner, tmp_path, monkeypatch):
    target = tmp_path / "run.nc"
    target.write_bytes(b"previous contents")

    def broken(self, path, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    result = runner.invoke(cli, ["run", "-n", "100", "--seed", "1", "--out", str(target)])
    assert result.exit_code == 2
    assert result.stderr == f"Error: --out {target}: cannot write (No space left on device)\n"
    assert target.read_bytes() == b"previous contents"
    assert [p.name for p in tmp_path.iterdir()] == ["run.nc"]


def test_interrupted_write_leaves_no_file(tmp_path, base_run, monkeypatch):
    target = tmp_path / "run.nc"

    def interrupted(self, path, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", interrupted)
    with pytest.raises(KeyboardInterrupt):
        io_module.write_netcdf(base_run, target)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupt_inside_a_c_callback_is_still_an_interrupt(monkeypatch, capsys):
    # A signal that lands while numba loads a cached function surfaces as a SystemError
    # caused by the KeyboardInterrupt (seen in CI); it must exit like any interrupt.
    def loading_the_kernel(*args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise SystemError("returned a result with an exception set") from interrupt

    monkeypatch.setattr("mcengine.cli.library.load", loading_the_kernel)
    monkeypatch.setattr("mcengine.cli.errors._quiet_shutdown", lambda: None)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "-n", "1000", "--seed", "1"])
    assert exit_info.value.code == 130
    err = capsys.readouterr().err
    assert err.strip() == "Interrupted (SIGINT)." and "Traceback" not in err


def test_other_errors_are_not_taken_for_interrupts(monkeypatch):
    def broken(*args):
        raise SystemError("a real bug")

    monkeypatch.setattr("mcengine.cli.library.load", broken)
    with pytest.raises(SystemError, match="a real bug"):
        cli.main(["run", "-n", "1000", "--seed", "1"])


def test_unwritable_folder_is_a_clear_error(runner, tmp_path, monkeypatch):
    # A read-only folder refuses the temporary file; simulated, because CI runs as root.
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(io_module.tempfile, "mkstemp", refuse)
    result = runner.invoke(cli, ["run", "-n", "10", "--out", str(tmp_path / "x.nc")])
    assert result.exit_code == 2
    assert result.stderr == f"Error: --out {tmp_path / 'x.nc'}: cannot write (Permission denied)\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a readable netCDF-4 file"),
        (b"\x89HDF\r\n\x1a\n" + b"\x00" * 64, "not a readable netCDF-4 file"),
        (b"garbage" * 100, "not a readable netCDF-4 file"),
    ],
)
def test_summarize_rejects_bad_files(runner, tmp_path, content, message):
    path = tmp_path / "bad.nc"
    path.write_bytes(content)
    result = runner.invoke(cli, ["summarize", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {path}: {message}")


def test_summarize_rejects_truncated_and_foreign_files(runner, tmp_path, base_run):
    good = tmp_path / "good.nc"
    io_module.write_netcdf(base_run.isel(path=slice(0, 100)), good)
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(good.read_bytes()[:2000])
    result = runner.invoke(cli, ["summarize", str(truncated)])
    assert result.exit_code == 2 and "not a readable netCDF-4 file" in result.stderr
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"temperature": ("time", np.arange(3.0))}).to_netcdf(foreign, engine="h5netcdf")
    result = runner.invoke(cli, ["summarize", str(foreign)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {foreign}: missing variable 'total_return'; not an mcengine result\n"
    )
    result = runner.invoke(cli, ["summarize", str(tmp_path / "missing.nc")])
    assert result.stderr == f"Error: {tmp_path / 'missing.nc'}: no such file\n"


def test_scenarios_lists_builtins_with_stories(runner):
    result = invoke(runner, "scenarios")
    lines = result.output.splitlines()
    assert lines[0].startswith("base ")
    assert any(line.startswith("training_bust ") and "overbuilt" in line for line in lines)
    assert len(lines) == len(mcengine.builtin_scenarios()) == 9


def test_show_prints_resolved_toml_that_loads_back(runner, tmp_path):
    result = invoke(runner, "show", "open_weights_win", "--set", "demand.volatility=0.3")
    path = tmp_path / "resolved.toml"
    path.write_text(result.output, encoding="utf-8")
    from mcengine import load_scenario

    expected = load_scenario("open_weights_win", {"demand.volatility": 0.3})
    assert load_scenario(path) == expected
    assert "extends" not in result.output


@pytest.mark.parametrize("name", ["deepseek_shock", "beliefs"])
def test_show_then_run_equals_run_bit_for_bit(runner, tmp_path, name):
    shown = invoke(runner, "show", name).output
    assert "[[stress]]" in shown or name != "deepseek_shock"
    resolved = tmp_path / "r.toml"
    resolved.write_text(shown, encoding="utf-8")
    runs = []
    for source, out in ((resolved, tmp_path / "r.nc"), (name, tmp_path / "x.nc")):
        made = invoke(runner, "run", source, "-n", "2000", "--seed", "3", "--out", out)
        assert made.exit_code == 0, made.output
        with xr.open_dataset(out) as ds:
            runs.append(ds.load())
    again, direct = runs
    xr.testing.assert_identical(again.drop_attrs(), direct.drop_attrs())
    # the scenario each records differs only in its name line
    assert again.attrs["scenario"].split("\n")[1:] == direct.attrs["scenario"].split("\n")[1:]


def test_check_states_its_units_with_the_digits_the_error_supports(runner):
    result = runner.invoke(cli, ["check", "base", "-n", "2000", "--seed", "1"])
    assert result.exit_code == 1, result.output  # base misses 4 of today's figures
    lines = result.stdout.splitlines()
    table = [line for line in lines if line.startswith("│")]
    assert max(len(line) for line in lines if "│" in line or "┃" in line) <= 80
    models = [line.split("│")[2].strip() for line in table]
    figures = [m for m in models if "±" in m]
    units = [m for m in models if m and "±" not in m]
    assert len(figures) == 10 and units.count("× a year") == 8
    assert {"fraction", "key value"} <= set(units)
    for figure in figures:
        value, error = figure.split(" ± ")
        if error != "0":  # an estimate to the decimals of its error, two digits of it
            assert len(value.split(".")[-1]) == len(error.split(".")[-1]), figure
            assert len(error.lstrip("0.")) == 2, figure
    text = " ".join(result.stdout.split())
    assert "in the unit under it, as is the interval (× a year: the yearly growth factor" in text
    doc = json.loads(runner.invoke(cli, ["check", "base", "-n", "2000", "--json"]).stdout)
    assert [r["unit"] for r in doc["results"]] == [m for m in models if m and "±" not in m]


def test_validate_reports_each_file(runner, tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('extends = "base"\n[demand]\nvolatility = 0.3\n', encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text("[demand]\nvolatility = 9\n", encoding="utf-8")
    result = runner.invoke(cli, ["validate", str(good), str(bad)])
    assert result.exit_code == 2
    assert result.stdout == f"{good}: ok\n"
    assert result.stderr == f"Error: {bad}: demand.volatility = 9, must be in [0, 2]\n"
    assert invoke(runner, "validate", good).exit_code == 0


def test_version_and_help(runner):
    assert invoke(runner, "--version").output.startswith("mcengine, version ")
    assert "Simulate SCENARIO" in invoke(runner, "run", "--help").output


def test_summary_only_run_and_its_file(runner, tmp_path):
    target = tmp_path / "summary.nc"
    full = json.loads(invoke(runner, "run", "-n", "4000", "--seed", "2", "--json").output)
    result = invoke(
        runner, "run", "-n", "4000", "--seed", "2", "--json", "--summary-only", "--out", target
    )
    streamed = json.loads(result.output)
    assert streamed["quantile_error_bound"] == pytest.approx(1e-6)
    assert full["quantile_error_bound"] == 0.0
    for segment, stats in full["segments"].items():
        for name in ("p_loss", "p_wiped_out", "p_crash_origin"):
            assert streamed["segments"][segment][name] == stats[name]
        assert streamed["segments"][segment]["q50"]["estimate"] == pytest.approx(
            stats["q50"]["estimate"], abs=1e-6
        )
    again = json.loads(invoke(runner, "summarize", target, "--json").output)
    streamed.pop("elapsed_seconds")
    assert again == streamed
    table = invoke(runner, "summarize", target).output
    assert "summary-only run: quantile-based figures within 1e-06 of exact" in table


_SIMULATION = ["the simulation kernel"]


@pytest.mark.parametrize(
    ("args", "kernels"),
    [
        (["run", "--json"], _SIMULATION),
        (["run", "beliefs", "--json"], ["the kernel that draws uncertain keys", *_SIMULATION]),
        (["run", "--sampler", "sobol", "--replicates", "2", "--json"], _SIMULATION),
        (["run", "--fan-chart", "--json"], _SIMULATION),
        (["explain", "--json"], _SIMULATION),
        (["check", "--json"], _SIMULATION),
        (["compare", "base", "training_bust", "--json"], _SIMULATION),
        (["sweep", "base", "--vary", "demand.volatility=0.1,0.2", "--json"], _SIMULATION),
        (["voi", "--json"], ["the kernel that draws uncertain keys", *_SIMULATION]),
        (["calibrate", "--fit", "demand.volatility", "--out", "{tmp}/c.toml"], _SIMULATION),
        (["report", "base", "-o", "{tmp}/r.html", "--targets", "none"], _SIMULATION),
    ],
)
def test_every_compile_says_so_at_once(runner, monkeypatch, tmp_path, args, kernels):
    # Every command that simulates prints the engine's compile notices as plain lines (not
    # a warning's two lines with a file name), before the wait.
    from mcengine import jit

    args = [a.format(tmp=tmp_path) for a in args] + ["-n", "1000", "--seed", "1"]
    monkeypatch.setattr(jit, "_compiles", lambda dispatcher, args: True)
    result = runner.invoke(cli, args)
    assert result.exit_code in (0, 1), result.output
    said = [line for line in result.stderr.splitlines() if line.startswith("compiling")]
    assert said and {line.split(" (")[0] for line in said} == {f"compiling {k}" for k in kernels}
    assert all("first run of this kind only" in line for line in said)
    assert "CompileNote" not in result.stderr and "Warning" not in result.stderr
    monkeypatch.undo()
    result = runner.invoke(cli, args)
    assert "compiling" not in result.stderr


def test_a_compile_is_said_in_a_fresh_cache_only(tmp_path):
    # A real cached kernel in a fresh cache: the notice before its first compile, none once
    # it is in memory, none in a second process that loads it from the cache. A log record,
    # not a warning: a library user's -W error (or pytest's) must not turn it into a failure.
    (tmp_path / "tiny.py").write_text(
        "from mcengine.jit import kernel, say_if_compiling\n"
        "@kernel\n"
        "def f(x):\n"
        "    return x + 1\n"
        "def call():\n"
        "    say_if_compiling(f, (1.0,), 'f', 'a moment')\n"
        "    f(1.0)\n"
        "    say_if_compiling(f, (2.0,), 'f', 'a moment')\n"
    )
    code = "import tiny; tiny.call(); print('done')"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(tmp_path)}
    command = [sys.executable, "-W", "error", "-c", code]
    first = subprocess.run(command, env=env, capture_output=True, text=True)
    assert first.stdout == "done\n", first.stderr
    assert first.stderr == "compiling f (first run of this kind only, a moment)...\n"
    second = subprocess.run(command, env=env, capture_output=True, text=True)
    assert second.stdout == "done\n" and second.stderr == ""


def test_joint_risk_in_table_and_json(runner):
    result = invoke(runner, "run", "-n", "3000", "--seed", "1", "--weights", "1,1,2")
    for text in (
        "joint risk",
        "corr. training",
        "mean, crash",
        "portfolio, buy and hold (0.25, 0.25, 0.50), in %:",
        "P(all three lose)",
        "so its mean can exceed every segment's",
        "P(crash in year 1..10), %: ",
    ):
        assert text in result.output
    doc = json.loads(invoke(runner, "run", "-n", "3000", "--seed", "1", "--json").output)
    joint = doc["joint"]
    assert joint["portfolio_weights"] == pytest.approx([1 / 3] * 3)
    assert set(joint["portfolio"]) == {"mean", "q05", "var95", "cvar95", "p_loss"}
    assert len(joint["correlation_pearson"]) == 3 and len(joint["correlation_spearman"]) == 3
    assert set(joint["conditional_mean"]) == {
        "no_crash",
        "crash",
        "crash_in_applications",
        "crash_in_inference",
        "crash_in_training",
    }
    bad = runner.invoke(cli, ["run", "-n", "10", "--weights", "1,2"])
    assert bad.exit_code == 2
    assert bad.stderr == (
        "Error: mcengine run: Invalid value for '--weights': '1,2' must be 3 "
        "non-negative numbers A,I,T with a positive sum\n"
    )


def test_fan_chart_flag(runner, tmp_path):
    target = tmp_path / "fan.nc"
    doc = json.loads(
        invoke(
            runner, "run", "-n", "2000", "--seed", "1", "--fan-chart", "--json", "--out", target
        ).output
    )
    fan = doc["fan"]
    assert fan["years"] == list(range(1, 11)) and fan["quantiles"] == [0.05, 0.25, 0.5, 0.75, 0.95]
    assert len(fan["wealth"]["training"]) == 10 and len(fan["wealth"]["training"][0]) == 5
    assert set(fan["drivers"]) == {"training_cost", "open_share", "demand"}
    saved = xr.load_dataset(target, engine="h5netcdf")
    assert saved["fan_wealth"].dims == ("year", "quantile", "segment")
    assert "fan" not in json.loads(
        invoke(runner, "run", "-n", "200", "--seed", "1", "--json").output
    )


def test_sampler_flags(runner):
    doc = json.loads(
        invoke(runner, "run", "-n", "4096", "--seed", "1", "--sampler", "sobol", "--json").output
    )
    assert doc["sampler"] == "sobol"
    assert doc["standard_errors"] == "from 16 replicate groups (sobol)"
    table = invoke(
        runner, "run", "-n", "4096", "--seed", "1", "--sampler", "antithetic", "--replicates", "8"
    ).output
    assert "(from 8 replicate groups (antithetic))" in table
    bad = runner.invoke(cli, ["run", "-n", "100", "--sampler", "sobol"])
    assert bad.exit_code == 2
    assert bad.stderr.startswith(
        "Error: -n 100 with --sampler = 'sobol', must be a multiple of --replicates = 16"
    )


def test_written_files_get_the_usual_permissions(runner, tmp_path):
    import os
    import stat

    target = tmp_path / "run.nc"
    invoke(runner, "run", "-n", "100", "--seed", "1", "--out", target, "--json")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize(
    ("variable", "where", "value", "message"),
    [
        (
            "annual_return",
            {"path": 17, "segment": 1},
            -3.0,
            "annual_return = -3.0 at path 17, segment inference, must be in [-1, inf]",
        ),
        (
            "open_share",
            {"path": 5},
            1.5,
            "open_share = 1.5 at path 5, must be in [0, 1]",
        ),
        (
            "crash_year",
            {"path": 3},
            np.inf,
            "crash_year = inf at path 3, must be in [0, inf] or NaN",
        ),
    ],
)
def test_result_files_are_checked_value_by_value(tmp_path, variable, where, value, message):
    ds = mcengine.simulate("base", 50, seed=1)
    ds[variable][where] = value
    target = tmp_path / "tampered.nc"
    ds.to_netcdf(target, engine="h5netcdf")
    for command in (["summarize", str(target)], ["plot", str(target), "--out", "x.png"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2, result.output
        assert result.stderr == (
            f"Error: {target}: {message}; not a result mcengine could have written\n"
        )


def test_wiped_out_paths_must_agree(tmp_path):
    ds = mcengine.simulate("base", 50, seed=1)
    ds["total_return"][{"path": 9, "segment": 0}] = 0.0
    target = tmp_path / "t.nc"
    ds.to_netcdf(target, engine="h5netcdf")
    result = CliRunner().invoke(cli, ["summarize", str(target)])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: {target}: total_return and annual_return disagree at path 9, segment 0"
    )


def test_netcdf_results_are_compressed_and_chunked_along_path(tmp_path):
    from mcengine.results.files import NETCDF_CHUNK_PATHS, write_netcdf

    ds = mcengine.simulate("base", 70_000, seed=1)
    write_netcdf(ds, tmp_path / "r.nc")
    back = xr.load_dataset(tmp_path / "r.nc", engine="h5netcdf")
    xr.testing.assert_identical(back, ds)
    encoding = back["annual_return"].encoding
    assert encoding["zlib"] and encoding["chunksizes"] == (NETCDF_CHUNK_PATHS, 3)
    assert (tmp_path / "r.nc").stat().st_size < 0.8 * sum(v.nbytes for v in ds.data_vars.values())


def test_out_is_checked_before_the_run(tmp_path, monkeypatch):
    def no_run(*args, **kwargs):
        raise AssertionError("the run started before --out was checked")

    monkeypatch.setattr("mcengine.engine.api.simulate", no_run)
    monkeypatch.setattr("mcengine.engine.api.write_zarr", no_run)
    unknown = CliRunner().invoke(cli, ["run", "-n", "10", "--out", str(tmp_path / "x.csv")])
    assert unknown.exit_code == 2
    assert unknown.stderr == (
        f"Error: --out {tmp_path / 'x.csv'}: must end in .nc (a netCDF-4 file) or .zarr "
        "(a Zarr store)\n"
    )

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(io_module.tempfile, "mkstemp", refuse)
    for name in ("x.nc", "x.zarr"):
        result = CliRunner().invoke(cli, ["run", "-n", "10", "--out", str(tmp_path / name)])
        assert result.exit_code == 2
        assert result.stderr == (
            f"Error: --out {tmp_path / name}: cannot write (Permission denied)\n"
        )
    assert list(tmp_path.iterdir()) == []


def test_a_zarr_write_error_names_the_store(tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("mcengine.engine.api.write_zarr", full_disk)
    target = tmp_path / "r.zarr"
    result = CliRunner().invoke(cli, ["run", "-n", "10", "--out", str(target)])
    assert result.exit_code == 2
    assert result.stderr == f"Error: --out {target}: cannot write (No space left on device)\n"


def test_sobol_balance_is_one_plain_note():
    result = CliRunner().invoke(
        cli, ["run", "-n", "1000", "--seed", "1", "--sampler", "sobol", "--replicates", "10"]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "note: sobol: n_paths / replicates = 100 is not a power of 2; the variance reduction "
        "is best at powers of 2\n"
    )


def test_sensitivity_prints_the_seed_it_drew():
    result = CliRunner().invoke(cli, ["sensitivity", "-n", "2000", "--sobol-paths", "64"])
    assert result.exit_code == 0, result.output
    header = result.stdout.split(": mean annual return")[0]
    assert header.startswith("scenario base: 2,000 paths, seed ")
    seed = int(header.split("seed ")[1].split(",")[0])
    again = CliRunner().invoke(
        cli, ["sensitivity", "-n", "2000", "--sobol-paths", "64", "--seed", str(seed)]
    )
    assert again.stdout == result.stdout  # the printed seed repeats the run


def test_help_texts_point_to_what_exists(tmp_path):
    run_help = CliRunner().invoke(cli, ["run", "--help"], terminal_width=200).stdout
    plot_help = CliRunner().invoke(cli, ["plot", "--help"], terminal_width=200).stdout
    assert "mcengine plot --kind tornado" in run_help
    assert "tornado" in plot_help.split("--kind")[1].split("\n")[0]
    sweep_help = CliRunner().invoke(cli, ["sweep", "--help"], terminal_width=200).stdout
    assert "training_cost.decline_median=0.7,1.5,2.3 (v1,v2,...)" in sweep_help
    target = tmp_path / "r.nc"
    made = CliRunner().invoke(
        cli, ["run", "-n", "2000", "--seed", "1", "--record-inputs", "--out", str(target)]
    )
    assert made.exit_code == 0, made.output
    drawn = CliRunner().invoke(
        cli, ["plot", str(target), "--kind", "tornado", "--out", str(tmp_path / "t.png")]
    )
    assert drawn.exit_code == 0, drawn.output
    assert (tmp_path / "t.png").stat().st_size > 10_000


TABLE_COMMANDS = [
    ["run", "-n", "3000", "--seed", "1"],
    ["explain", "-n", "3000", "--seed", "1"],
    ["compare", "base", "open_weights_win", "training_bust", "-n", "2000", "--seed", "1"],
    ["sweep", "base", "--vary", "demand.volatility=0.1,0.3", "-n", "2000", "--seed", "1"],
    ["sensitivity", "-n", "2000", "--sobol-paths", "64", "--seed", "1"],
]


@pytest.mark.parametrize("args", TABLE_COMMANDS, ids=lambda a: a[0])
def test_tables_fit_80_columns_without_splitting_a_cell(args):
    result = CliRunner().invoke(cli, args)  # not a terminal: rich's 80 columns
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for line in (line for line in lines if "│" in line):
        # In a table row, every "±" is followed by its error on the same line (a split cell
        # left "16.09% ± " on one line and "0.14" on the next).
        for part in line.split("±")[1:]:
            assert re.match(r" (\d|<|n/a)", part), line
    if args[0] == "compare":
        assert "open_weights_win" in result.stdout and "training_bust" in result.stdout


def test_wider_terminals_get_the_same_table_wider():
    narrow = CliRunner().invoke(cli, TABLE_COMMANDS[0]).stdout
    wide = CliRunner(env={"COLUMNS": "120"}).invoke(cli, TABLE_COMMANDS[0]).stdout

    def cells(text: str) -> list[list[str]]:
        return [[c.strip() for c in line.split("│")] for line in text.splitlines() if "│" in line]

    assert cells(wide) == cells(narrow)


def test_undefined_figures_are_na_in_tables_and_null_in_json():
    one = CliRunner().invoke(cli, ["run", "-n", "1", "--seed", "1"])
    assert one.exit_code == 0, one.output
    assert "n/a" in one.stdout and "0.00 ± 0.00" not in one.stdout
    mean_row = next(line for line in one.stdout.splitlines() if "mean annual return" in line)
    assert mean_row.count("± n/a") == 3
    doc = json.loads(CliRunner().invoke(cli, ["run", "-n", "1", "--seed", "1", "--json"]).stdout)
    mean = doc["segments"]["applications"]["mean"]
    assert mean["standard_error"] is None and mean["estimate"] is not None
    crash = doc["joint"]["conditional_mean"]["crash"]["training"]
    no_crash = doc["joint"]["conditional_mean"]["no_crash"]["training"]
    assert (crash["estimate"] is None) != (no_crash["estimate"] is None)  # one path: one side


def test_a_long_run_says_how_long_without_a_terminal(runner, monkeypatch):
    # -n 1e12 --summary-only started at once with no word of its 349 hours when piped: a run
    # forecast beyond the limit says so once, from the rate between two progress reports.
    from mcengine.cli import errors as cli_module

    monkeypatch.setattr(cli_module, "_LONG_RUN_SECONDS", 0.0)
    result = runner.invoke(cli, ["run", "-n", "300000", "--seed", "1", "--summary-only"])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and re.fullmatch(
        r"note: 300,000 paths at this speed take about \d+ min more \(Ctrl-C stops the run\)",
        notes[0],
    )
    monkeypatch.setattr(cli_module, "_LONG_RUN_SECONDS", 600.0)
    result = runner.invoke(cli, ["run", "-n", "300000", "--seed", "1", "--summary-only"])
    assert "note:" not in result.stderr


def test_a_missed_target_prints_the_results_and_exits_1(runner):
    args = ["run", "-n", "1000", "--seed", "1", "--target-se", "0.01%", "--max-paths", "2000"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert "stopped at 2,000 paths: target not met at the path limit" in result.stdout
    assert result.stderr == (
        "warning: the target was not met: stopped at --max-paths = 2,000 (exit code 1)\n"
    )
    doc = json.loads(runner.invoke(cli, [*args, "--json"]).stdout)
    assert doc["target_met"] == 0 and doc["stopping"] == "target not met at the path limit"


def test_fractions_take_a_percent_sign(runner):
    args = ["run", "-n", "1000", "--seed", "1", "--max-paths", "2000", "--json"]
    plain = runner.invoke(cli, [*args, "--target-se", "0.0005"])
    percent = runner.invoke(cli, [*args, "--target-se", "0.05%"])
    assert plain.exit_code == percent.exit_code == 1  # not met within 2,000 paths
    assert json.loads(plain.stdout)["target_se"] == json.loads(percent.stdout)["target_se"]
    bad = runner.invoke(cli, ["run", "--target-se", "5 %%"])
    assert bad.exit_code == 2 and "is not a fraction (0.0005, or 0.05%)" in bad.stderr


def test_the_results_are_printed_when_the_write_fails_at_the_end(runner, tmp_path, monkeypatch):
    def full_disk(self, path, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full_disk)
    result = runner.invoke(cli, ["run", "-n", "1000", "--seed", "1", "--out", tmp_path / "r.nc"])
    assert result.exit_code == 2
    assert "scenario base: 1,000 paths, seed 1" in result.stdout
    assert "wrote" not in result.output  # nothing was written
    assert result.stderr.endswith("cannot write (No space left on device)\n")


def test_show_keeps_the_files_comments_and_names_the_overrides(runner):
    result = runner.invoke(cli, ["show", "deepseek_shock", "--set", "demand.volatility=0.3"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("# A DeepSeek-style shock in year 1")
    assert "# - On 27 January 2025 Nvidia lost about 17% of its market value" in result.stdout
    at = lines.index("# scenario: deepseek_shock + 1 override")
    assert lines[at + 1] == "#   demand.volatility = 0.3"


def test_a_plot_that_fails_at_the_end_loses_no_table(runner, tmp_path, monkeypatch):
    from mcengine.present import plots

    def full_disk(figure, target, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plots, "save", full_disk)
    for args in (["explain"], ["compare", "base", "training_bust"]):
        result = runner.invoke(
            cli, [*args, "-n", "1000", "--seed", "1", "--plot", tmp_path / "f.png"]
        )
        assert result.exit_code == 2 and "cannot write (No space left on device)" in result.stderr
        assert "applications" in result.stdout, args


@pytest.mark.slow
def test_warmup_compiles_what_the_commands_use(tmp_path):
    # A fresh cache: after warmup, each kind of run starts without compiling.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "mcengine", "warmup"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("compiled or loaded every kernel in ")
    runs = (
        ["run", "-n", "1000"],
        ["run", "-n", "1024", "--sampler", "sobol"],
        ["run", "beliefs", "-n", "1000"],
    )
    for args in runs:
        again = subprocess.run(
            [sys.executable, "-m", "mcengine", *args], env=env, capture_output=True, text=True
        )
        assert again.returncode == 0, again.stderr[-2000:]
        assert "compiling" not in again.stderr
