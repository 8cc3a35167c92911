"""Zarr stores: written a chunk at a time, atomic, and resumable to the same bits."""

from __future__ import annotations

import json

import pytest
import xarray as xr
from click.testing import CliRunner

import mcengine
from mcengine.cli import cli
from mcengine.engine.api import write_zarr
from mcengine.engine.store import partial_paths
from mcengine.errors import InputError
from mcengine.layout import BLOCK_PATHS
from mcengine.model.scenario import load_scenario

N = 4 * BLOCK_PATHS - 1000
SEED = 21


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("training_bust")


@pytest.fixture(scope="module")
def expected(scenario):
    return mcengine.simulate(scenario, N, seed=SEED)


def open_store(path) -> xr.Dataset:
    return xr.open_zarr(path, consolidated=False).compute()


def interrupt_after(chunks: int):
    def progress(done, total):
        if done >= chunks * BLOCK_PATHS:
            raise KeyboardInterrupt

    return progress


@pytest.mark.slow
def test_a_store_equals_the_in_memory_run(scenario, expected, tmp_path):
    target = tmp_path / "r.zarr"
    summary = write_zarr(scenario, N, SEED, target, chunk_paths=BLOCK_PATHS)
    back = open_store(target)
    xr.testing.assert_identical(back.drop_attrs(), expected.drop_attrs())
    assert back["total_return"].encoding["chunks"] == (BLOCK_PATHS, 3)
    assert back.attrs["seed"] == SEED and back.attrs["elapsed_seconds"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.zarr"]  # no partial, no manifest
    streamed = mcengine.simulate(scenario, N, seed=SEED, keep_paths=False)
    xr.testing.assert_identical(summary["estimate"], streamed["estimate"])


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_bits(scenario, expected, tmp_path):
    target = tmp_path / "r.zarr"
    store, manifest = partial_paths(target)
    with pytest.raises(KeyboardInterrupt):
        write_zarr(scenario, N, SEED, target, chunk_paths=BLOCK_PATHS, progress=interrupt_after(2))
    assert not target.exists() and store.is_dir()
    assert len(list(manifest.glob("chunk-*.json"))) == 2
    with pytest.raises(InputError, match="holds an unfinished run; resume it"):
        write_zarr(scenario, N, SEED, target, chunk_paths=BLOCK_PATHS)
    with pytest.raises(InputError, match="holds another run \\(seed = 21"):
        write_zarr(scenario, N, SEED + 1, target, chunk_paths=BLOCK_PATHS, resume=True)
    # seed=None takes the interrupted run's seed.
    write_zarr(scenario, N, None, target, chunk_paths=BLOCK_PATHS, resume=True)
    xr.testing.assert_identical(open_store(target).drop_attrs(), expected.drop_attrs())
    assert not store.exists() and not manifest.exists()


@pytest.mark.slow
def test_a_damaged_chunk_is_found_by_its_checksum_and_recomputed(scenario, expected, tmp_path):
    target = tmp_path / "r.zarr"
    store, manifest = partial_paths(target)
    with pytest.raises(KeyboardInterrupt):
        write_zarr(scenario, N, SEED, target, chunk_paths=BLOCK_PATHS, progress=interrupt_after(2))
    # Overwrite a written chunk with other valid data: only the checksum can tell.
    other = mcengine.simulate(scenario, BLOCK_PATHS, seed=SEED + 5)
    region = other.drop_vars(["segment", "component", "path"]).assign_coords(
        path=range(BLOCK_PATHS, 2 * BLOCK_PATHS)
    )
    region.drop_attrs().to_zarr(
        store, region={"path": slice(BLOCK_PATHS, 2 * BLOCK_PATHS)}, consolidated=False
    )
    assert not open_store(store)["total_return"][BLOCK_PATHS:].equals(
        expected["total_return"][BLOCK_PATHS : 2 * BLOCK_PATHS]
    )
    entry = json.loads(next(manifest.glob("chunk-*.json")).read_text())
    assert len(entry["sha256"]) == 64
    write_zarr(scenario, N, SEED, target, chunk_paths=BLOCK_PATHS, resume=True)
    xr.testing.assert_identical(open_store(target).drop_attrs(), expected.drop_attrs())


@pytest.mark.slow
def test_resume_with_nothing_to_resume_just_runs(scenario, expected, tmp_path):
    target = tmp_path / "r.zarr"
    write_zarr(scenario, N, SEED, target, chunk_paths=2 * BLOCK_PATHS, resume=True)
    xr.testing.assert_identical(open_store(target).drop_attrs(), expected.drop_attrs())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "r.nc"}, "r.nc', must end in .zarr"),
        ({"chunk_paths": 5000}, "chunk_paths = 5000, must be a multiple of 65536"),
        ({"chunk_paths": 0}, r"chunk_paths = 0, must be in \[1, "),
        ({"n_paths": 0}, r"n_paths = 0, must be in \[1, "),
    ],
)
def test_bad_arguments_are_refused(scenario, tmp_path, kwargs, message):
    arguments = {"n_paths": 1000, "target": "r.zarr", **kwargs}
    with pytest.raises(InputError, match=message):
        write_zarr(
            scenario, arguments.pop("n_paths"), 1, tmp_path / arguments.pop("target"), **arguments
        )
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_and_resumes_a_store(tmp_path):
    runner = CliRunner()
    target = tmp_path / "r.zarr"
    args = ["run", "training_bust", "-n", "70000", "--seed", "4", "--out", str(target), "--json"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["n_paths"] == 70000
    again = runner.invoke(cli, [*args, "--resume"])  # the target exists, nothing unfinished
    assert again.exit_code == 0
    summary = runner.invoke(cli, ["summarize", str(target), "--json"])
    assert summary.exit_code == 0, summary.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--resume"], "--resume finishes a Zarr store: give --out DIR.zarr"),
        (["--workers", "2", "--scheduler", "tcp://x:1"], "--workers starts a local cluster"),
        (["--chunk-paths", "65536"], "--chunk-paths sets Dask tasks and Zarr chunks"),
        (["--out", "x.zarr", "--summary-only"], "--out .zarr stores every path"),
        (["--workers", "2", "--sampler", "sobol"], "--sampler cannot run on Dask"),
        (["--workers", "2", "--fan-chart", "--json"], "--fan-chart cannot run on Dask"),
    ],
)
def test_cli_refuses_contradictory_options(tmp_path, extra, message):
    result = CliRunner().invoke(cli, ["run", "-n", "100", *extra])
    assert result.exit_code == 2
    assert message in result.output
    assert result.output.count("\n") == 1


@pytest.mark.slow
def test_resume_of_a_finished_store_does_not_recompute_it(scenario, tmp_path, monkeypatch):
    from mcengine.engine import store, tasks

    target = tmp_path / "r.zarr"
    first = write_zarr(scenario, N, SEED, target, chunk_paths=BLOCK_PATHS)
    before = {p: p.stat().st_mtime_ns for p in target.rglob("*")}

    def no_kernel(*args, **kwargs):
        raise AssertionError("the finished store was computed again")

    monkeypatch.setattr(tasks, "chunk_paths_task", no_kernel)
    monkeypatch.setattr(store, "chunk_paths_task", no_kernel)
    again = write_zarr(scenario, N, None, target, chunk_paths=BLOCK_PATHS, resume=True)
    xr.testing.assert_identical(again["estimate"], first["estimate"])
    assert again.attrs["seed"] == SEED
    assert {p: p.stat().st_mtime_ns for p in target.rglob("*")} == before


def test_a_finished_store_has_consolidated_metadata(scenario, tmp_path):
    import warnings

    target = tmp_path / "r.zarr"
    write_zarr(scenario, 1000, SEED, target)
    assert (target / ".zmetadata").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # xr.open_zarr warns when the metadata is missing
        ds = xr.open_zarr(target)
    assert ds.attrs["seed"] == SEED
