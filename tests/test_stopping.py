"""Tolerance-driven stopping: meets its target, is reproducible, equals a fixed run."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

import mcengine
from mcengine.cli import cli
from mcengine.errors import InputError

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from test_reproducibility import digest  # noqa: E402


@pytest.mark.slow
def test_target_se_is_met_and_equals_a_fixed_run():
    ds = mcengine.simulate("base", 20_000, seed=3, target_se=0.0006, chunk_paths=10_000)
    n = int(ds.attrs["n_paths"])
    assert ds.attrs["stopping"] == "target met" and ds.attrs["target_se"] == 0.0006
    assert n % 10_000 == 0 and 20_000 <= n < 1_000_000
    se = mcengine.summarize(ds)["standard_error"].sel(statistic="mean")
    assert (se <= 0.0006).all()
    # One block fewer would not have met it (the rule stops at the first block that does).
    shorter = mcengine.summarize(mcengine.simulate("base", n - 10_000, seed=3))
    assert (shorter["standard_error"].sel(statistic="mean") > 0.0006).any() or n == 20_000
    assert digest(ds) == digest(mcengine.simulate("base", n, seed=3))
    again = mcengine.simulate("base", 20_000, seed=3, target_se=0.0006, chunk_paths=10_000)
    assert digest(again) == digest(ds)


def test_relative_tolerance_on_a_quantile_in_summary_mode():
    summary = mcengine.simulate(
        "base",
        50_000,
        seed=4,
        rel_tol=0.05,
        stop_statistic="q50",
        keep_paths=False,
        chunk_paths=50_000,
        max_paths=2_000_000,
    )
    table = summary.sel(statistic="q50")
    assert summary.attrs["stopping"] == "target met"
    assert (table["standard_error"] <= 0.05 * abs(table["estimate"])).all()


def test_max_paths_stops_an_unreachable_target():
    ds = mcengine.simulate("base", 1000, seed=1, target_se=1e-9, max_paths=5000, chunk_paths=1000)
    assert ds.sizes["path"] == 5000 == ds.attrs["n_paths"]
    assert ds.attrs["stopping"] == "target not met at the path limit"
    assert ds.attrs["target_met"] == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_se": 0.0}, r"target_se = 0.0, must be a number in \(0, inf\)"),
        ({"target_se": "small"}, r"target_se = 'small', must be a number"),
        ({"rel_tol": 2.0}, r"rel_tol = 2.0, must be a number in \(0, 1\]"),
        (
            {"target_se": 0.01, "stop_statistic": "median"},
            r"stop_statistic = 'median', must be "
            r"one of mean, std, q05",
        ),
        ({"target_se": 0.01, "max_paths": 10}, r"max_paths = 10, must be in \[100, "),
    ],
)
def test_bad_targets_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        mcengine.simulate("base", 100, seed=1, **kwargs)


def test_cli_target_flags():
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "run",
            "-n",
            "20000",
            "--seed",
            "3",
            "--target-se",
            "0.0006",
            "--max-paths",
            "1e6",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["stopping"] == "target met" and doc["n_paths"] > 20_000
    table = runner.invoke(
        cli, ["run", "-n", "2000", "--seed", "3", "--rel-tol", "0.5", "--stop-on", "p_loss"]
    )
    assert "stopped at" in table.stdout and "target met" in table.stdout
    bad = runner.invoke(cli, ["run", "--target-se", "-1"])
    assert bad.exit_code == 2
    assert bad.stderr == "Error: --target-se = -1.0, must be a number in (0, inf)\n"


def test_default_cap_fits_in_memory():
    # 10^6 kept paths with the default cap of 100x would need about 28 GB; the default
    # keeps the cap inside memory instead of refusing the run.
    from mcengine.engine.inputs import paths_that_fit

    fits = paths_that_fit()
    ds = mcengine.simulate("base", 1000, seed=1, target_se=1.0)
    assert ds.attrs["stopping"] == "target met"
    if fits is not None:
        assert fits > 1000


def test_memory_is_checked_as_the_run_grows(monkeypatch):
    # A cap far beyond memory is no reason to refuse a run whose target is met early; only
    # the batch that would not fit is refused, with every way out.
    from mcengine.engine import inputs as engine
    from mcengine.results.dataset import PathArrays

    monkeypatch.setattr(engine, "_physical_memory", lambda: 5000 * PathArrays.bytes_per_path())
    ds = mcengine.simulate("base", 1000, seed=1, target_se=1.0, max_paths=10**11)
    assert ds.attrs["stopping"] == "target met" and ds.sizes["path"] == 1000
    with pytest.raises(InputError) as err:
        mcengine.simulate("base", 1000, seed=1, target_se=1e-9, max_paths=10**11, chunk_paths=1000)
    gib = 3000 * PathArrays.bytes_per_path() / 2**30
    half = 2500 * PathArrays.bytes_per_path() / 2**30
    assert str(err.value) == (
        f"the target was not met after 2,000 paths, and keeping 3,000 takes {gib:.1f} GiB of "
        f"per-path results, more than this machine's {half:.1f} GiB of memory; use "
        "keep_paths=False, write the paths to a Zarr store (write_zarr), or a lower max_paths"
    )
    with pytest.raises(InputError, match=r"^n_paths = 6000 keeps .* or fewer paths$"):
        mcengine.simulate("base", 6000, seed=1)


def test_cli_memory_message_offers_every_way_out(monkeypatch):
    from mcengine.engine import inputs as engine
    from mcengine.results.dataset import PathArrays

    monkeypatch.setattr(engine, "_physical_memory", lambda: 5000 * PathArrays.bytes_per_path())
    result = CliRunner().invoke(
        cli, ["run", "-n", "1000", "--seed", "1", "--target-se", "1e-9", "--max-paths", "1e8"]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: the target was not met after ")
    assert result.stderr.endswith(
        "use --summary-only, write the paths to a Zarr store (--out DIR.zarr), or a lower "
        "--max-paths\n"
    )
    assert "Traceback" not in result.output


def test_a_time_limit_stops_an_unreachable_target_at_a_block_end():
    # max_seconds (issue 25's example of a setting added in two files): with a target the
    # engine cannot reach, the run stops once the time is up, says so, and equals a fixed
    # run of the paths it reports.
    ds = mcengine.simulate("base", 2_000, seed=3, target_se=1e-9, max_seconds=1e-3)
    assert ds.attrs["stopping"] == "target not met within the time limit (0.001 s)"
    assert ds.attrs["target_met"] == 0 and ds.attrs["n_paths"] == 2_000  # the first batch
    assert digest(ds) == digest(mcengine.simulate("base", 2_000, seed=3))
    with pytest.raises(InputError, match="max_seconds applies to a target"):
        mcengine.simulate("base", 100, seed=1, max_seconds=5)
    with pytest.raises(InputError, match=r"max_seconds = 0, must be a number in \(0, inf\)"):
        mcengine.simulate("base", 100, seed=1, target_se=0.01, max_seconds=0)


def test_cli_time_limit():
    result = CliRunner().invoke(
        cli,
        ["run", "-n", "2000", "--seed", "1", "--target-se", "1e-9", "--max-seconds", "0.001",
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert json.loads(result.stdout)["n_paths"] == 2000
    assert result.stderr.strip() == (
        "warning: the target was not met within the time limit (0.001 s): stopped at 2,000 "
        "paths (exit code 1)"
    )
    refused = CliRunner().invoke(cli, ["run", "-n", "100", "--max-seconds", "1"])
    assert refused.exit_code == 2
    assert "--max-seconds applies to a target" in refused.stderr


def test_a_plan_runs_the_same_twice_with_a_quantile_target():
    # The frozen plan once held the rule's mutable "last checked at": a second run of the
    # same plan checked the order statistics at other path counts.
    from mcengine.engine.local import run_local
    from mcengine.engine.plan import RunPlan

    plan = RunPlan.build(
        "base", 2_000, 5, rel_tol=0.05, stop_statistic="q50", keep_paths=False,
        chunk_paths=1_000, max_paths=200_000,
    )  # fmt: skip
    first, second = run_local(plan), run_local(plan)
    assert first.attrs["n_paths"] == second.attrs["n_paths"] > 2_000
    assert first.attrs["stopping"] == second.attrs["stopping"]
