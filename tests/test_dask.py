"""Dask: the same bits on a LocalCluster, with any worker count, chunk size or lost worker."""

from __future__ import annotations

import os
import signal
import sys

import pytest
import xarray as xr

import mcengine
from mcengine.engine.dask import local_client
from mcengine.engine.tasks import TASK_PREFIX, default_chunk_paths
from mcengine.errors import InputError
from mcengine.layout import BLOCK_PATHS

# Subprocesses, clusters or builds: seconds each, so outside the quick subset.
pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")

N = 5 * BLOCK_PATHS + 321  # five whole blocks and a partial one
SEED = 11


@pytest.fixture(scope="module")
def client():
    with local_client(2) as c:
        yield c


@pytest.fixture(scope="module")
def local_run():
    return mcengine.simulate("training_bust", N, seed=SEED)


@pytest.fixture(scope="module")
def local_summary():
    return mcengine.simulate("training_bust", N, seed=SEED, keep_paths=False, fan_chart=True)


def test_kept_paths_are_lazy_and_chunked_along_path(client, local_run):
    ds = mcengine.simulate("training_bust", N, seed=SEED, client=client, chunk_paths=BLOCK_PATHS)
    assert ds["total_return"].chunks[0] == (BLOCK_PATHS,) * 5 + (321,)
    assert all(v.chunks is not None for v in ds.data_vars.values())
    assert ds.attrs["chunk_paths"] == BLOCK_PATHS and "elapsed_seconds" not in ds.attrs
    xr.testing.assert_identical(ds.compute().drop_attrs(), local_run.drop_attrs())


@pytest.mark.parametrize("chunk_paths", [BLOCK_PATHS, 3 * BLOCK_PATHS])
def test_summaries_equal_the_local_engine_bit_for_bit(client, local_summary, chunk_paths):
    ds = mcengine.simulate(
        "training_bust",
        N,
        seed=SEED,
        client=client,
        keep_paths=False,
        fan_chart=True,
        chunk_paths=chunk_paths,
    )
    xr.testing.assert_identical(ds.drop_attrs(), local_summary.drop_attrs())


def test_one_worker_gives_the_same_bits(local_summary):
    with local_client(1) as one:
        ds = mcengine.simulate(
            "training_bust", N, seed=SEED, client=one, keep_paths=False, fan_chart=True
        )
    xr.testing.assert_identical(ds.drop_attrs(), local_summary.drop_attrs())


def test_summary_mode_against_full_mode(client, local_run):
    streamed = mcengine.simulate("training_bust", N, seed=SEED, client=client, keep_paths=False)
    exact = mcengine.summarize(local_run)
    moments = ["mean", "std", "p_loss", "p_wiped_out", "p_crash_origin"]
    # Moments and counts: exact. Quantiles: within the histogram's stated bound.
    xr.testing.assert_identical(
        streamed["estimate"].sel(statistic=moments), exact["estimate"].sel(statistic=moments)
    )
    for name in ("contribution", "correlation_pearson", "conditional_mean", "p_crash"):
        xr.testing.assert_identical(streamed[name], exact[name])
    quantiles = ["q05", "q25", "q50", "q75", "q95", "median_max_drawdown"]
    gap = abs(streamed["estimate"] - exact["estimate"]).sel(statistic=quantiles)
    assert float(gap.max()) <= streamed.attrs["quantile_error_bound"]


def test_progress_reports_every_path(client):
    seen = []
    mcengine.simulate(
        "base",
        2 * BLOCK_PATHS,
        seed=1,
        client=client,
        keep_paths=False,
        chunk_paths=BLOCK_PATHS,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(BLOCK_PATHS, 2 * BLOCK_PATHS), (2 * BLOCK_PATHS, 2 * BLOCK_PATHS)]


def test_zarr_round_trip_equals_the_in_memory_result(client, local_run, tmp_path):
    lazy = mcengine.simulate("training_bust", N, seed=SEED, client=client)
    lazy.to_zarr(tmp_path / "r.zarr", consolidated=False, zarr_format=2)
    back = xr.open_zarr(tmp_path / "r.zarr", consolidated=False).compute()
    xr.testing.assert_identical(back.drop_attrs(), local_run.drop_attrs())
    assert back.attrs["seed"] == SEED and back.attrs["scenario"] == local_run.attrs["scenario"]


class KillOwnWorkerOnce(distributed.WorkerPlugin):
    """Kill the worker process as it starts its first mcengine task (once: a flag file)."""

    def __init__(self, flag: str):
        self.flag = flag

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and str(key).startswith(TASK_PREFIX):
            try:
                fd = os.open(self.flag, os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                return
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_mid_run_changes_nothing(tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    expected = mcengine.simulate("base", 20 * BLOCK_PATHS, seed=5, keep_paths=False)
    flag = tmp_path / "killed"
    with local_client(2) as c:
        c.register_plugin(KillOwnWorkerOnce(str(flag)))
        got = mcengine.simulate(
            "base", 20 * BLOCK_PATHS, seed=5, client=c, keep_paths=False, chunk_paths=BLOCK_PATHS
        )
    assert flag.exists()  # a worker really died
    xr.testing.assert_identical(got.drop_attrs(), expected.drop_attrs())


def test_compare_fans_out_with_the_same_bits(client):
    args = (["base", "training_bust"], 4000)
    local = mcengine.compare(*args, seed=2)
    remote = mcengine.compare(*args, seed=2, client=client)
    xr.testing.assert_identical(local, remote)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_se": 0.01}, "target_se cannot run on Dask"),
        ({"sampler": "sobol"}, "sampler = 'sobol' cannot run on Dask"),
        ({"fan_chart": True}, "fan_chart with keep_paths cannot run on Dask"),
        ({"chunk_paths": 1000}, "chunk_paths = 1000, must be a multiple of 65536"),
        ({"parameter_values": [[0.1]] * 1000}, "client: parameter_values cannot run on Dask"),
    ],
)
def test_what_dask_cannot_run_is_refused(client, kwargs, message):
    with pytest.raises(InputError, match=message):
        mcengine.simulate("base", 1000, seed=1, client=client, **kwargs)


def test_a_client_must_be_a_client():
    with pytest.raises(InputError, match="client = 'remote', must be None, 'local' or a"):
        mcengine.simulate("base", 10, seed=1, client="remote")


def test_default_chunks_are_whole_blocks():
    assert default_chunk_paths(10**7, 2, keep_paths=False) == 1 << 20  # the cap
    assert default_chunk_paths(10**9, 64, keep_paths=True) == 1 << 18
    assert default_chunk_paths(10, 8, keep_paths=True) == BLOCK_PATHS
    assert default_chunk_paths(10**6, 2, keep_paths=False) == 2 * BLOCK_PATHS  # 4 per thread


def test_cli_workers_give_the_local_summary():
    import json

    from click.testing import CliRunner

    from mcengine.cli import cli

    args = ["run", "base", "-n", str(2 * BLOCK_PATHS + 7), "--seed", "3", "--json"]
    runner = CliRunner()
    local = runner.invoke(cli, [*args, "--summary-only"])
    remote = runner.invoke(cli, [*args, "--summary-only", "--workers", "2"])
    kept = runner.invoke(cli, [*args, "--workers", "1", "--chunk-paths", str(BLOCK_PATHS)])
    assert local.exit_code == remote.exit_code == kept.exit_code == 0, remote.output
    a, b, c = (json.loads(r.output) for r in (local, remote, kept))
    assert a["segments"] == b["segments"]
    mean = "mean"
    assert c["segments"]["training"][mean] == a["segments"]["training"][mean]


def test_uncertain_parameters_give_the_local_bits_on_dask(client):
    # each task draws its paths' parameter values from (seed, path) alone
    local = mcengine.simulate("beliefs", 2 * BLOCK_PATHS + 99, seed=4, keep_paths=False)
    remote = mcengine.simulate(
        "beliefs", 2 * BLOCK_PATHS + 99, seed=4, keep_paths=False, client=client
    )
    xr.testing.assert_identical(remote.drop_attrs(), local.drop_attrs())


def _run_script(folder, text: str):
    import subprocess

    script = folder / "risk.py"
    script.write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=folder
    )


def test_client_local_in_a_script_without_a_main_guard_is_refused_in_one_line(tmp_path):
    # Spawned workers run the script again from the top: before, each one started a cluster
    # of its own as it booted (314 lines of tracebacks). Now nothing starts.
    done = _run_script(
        tmp_path, 'import mcengine\n\nmcengine.simulate("base", 1000, seed=1, client="local")\n'
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        'mcengine.errors.InputError: client="local" starts worker processes that each run '
        "risk.py again from the top, and this call (line 3) is not under `if __name__ == "
        '"__main__":`: put the script\'s work under that guard, or pass a '
        "dask.distributed.Client started there"
    )
    assert "bootstrapping" not in done.stderr and "Nanny" not in done.stderr


@pytest.mark.parametrize(
    ("run", "same"),
    [
        (
            'mcengine.simulate("base", 1000, seed=1{client})',
            "a.drop_attrs().identical(b.drop_attrs())",
        ),
        # write_zarr took a client but not "local" (a traceback: 'str' has no 'nthreads')
        (
            'write_zarr("base", 70000, 1, "{name}.zarr"{client})',
            'a["estimate"].identical(b["estimate"])',
        ),
    ],
)  # fmt: skip
def test_client_local_under_the_guard_gives_the_local_bits(tmp_path, run, same):
    remote = run.format(name="remote", client=', client="local"')
    done = _run_script(
        tmp_path,
        "import mcengine\nfrom mcengine.engine.api import write_zarr\n\n\n"
        "def main():\n"
        f"    a = {remote}\n"
        f"    b = {run.format(name='local', client='')}\n"
        f"    print({same})\n\n\n"
        'if __name__ == "__main__":\n'
        "    main()\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
