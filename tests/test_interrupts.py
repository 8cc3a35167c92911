"""Interrupting a run: exit 130 (SIGINT) or 143 (SIGTERM), say how far it got, leave no file."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Subprocesses, clusters or builds: seconds each, so outside the quick subset.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize(
    ("sig", "code", "name"), [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")]
)
def test_interrupted_run_leaves_no_file(tmp_path, sig, code, name):
    target = tmp_path / "run.nc"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mcengine",
            "run",
            "-n",
            "1e9",
            "--seed",
            "1",
            "--summary-only",
            "--out",
            str(target),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Wait until it is simulating: past imports and loading (or compiling) the kernel.
    deadline = time.monotonic() + 120
    while cpu_seconds(proc.pid) < 6 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"Interrupted ({name}) after " in err and "of 1,000,000,000 paths" in err
    assert "no result was written" in err and "Traceback" not in err
    assert out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_an_interrupted_zarr_run_keeps_its_chunks_for_resume(tmp_path):
    target = tmp_path / "run.zarr"
    command = [sys.executable, "-m", "mcengine", "run", "-n", "4e6", "--seed", "1"]
    command += ["--out", str(target), "--chunk-paths", "65536"]
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while cpu_seconds(proc.pid) < 8 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "no result was written (the finished chunks are kept in " in err
    assert "run again with --resume to finish)" in err and "Traceback" not in err
    assert not target.exists()
    finished = len(list((tmp_path / "run.zarr.manifest").glob("chunk-*.json")))
    assert 0 < finished < 62


def test_too_many_kept_paths_is_a_clear_error():
    proc = subprocess.run(
        [sys.executable, "-m", "mcengine", "run", "-n", "1e11"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: -n 100000000000 keeps ")
    assert proc.stderr.endswith(
        "use --summary-only, write the paths to a Zarr store (--out DIR.zarr), or fewer paths\n"
    )


def children(pid: int) -> list[int]:
    # Every thread's children: Dask's nannies start the workers from their own thread.
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_ctrl_c_under_workers_prints_one_clean_line(tmp_path):
    # A terminal's Ctrl-C reaches the whole process group: the Dask worker processes too.
    target = tmp_path / "run.nc"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcengine", "run", "-n", "1e9", "--seed", "1"]
        + ["--summary-only", "--workers", "2", "--out", str(target)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until both workers are simulating
        assert proc.poll() is None, proc.communicate()
        busy = [p for p in children(proc.pid) if cpu_seconds(p) > 2]
        if len(busy) >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Interrupted (SIGINT) after ")
    assert lines[0].endswith("of 1,000,000,000 paths; no result was written.")
    assert out == "" and list(tmp_path.iterdir()) == []
