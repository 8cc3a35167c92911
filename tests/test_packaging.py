"""The built wheel carries the built-in scenarios and works outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

# Subprocesses, clusters or builds: seconds each, so outside the quick subset.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import hatchling"], capture_output=True).returncode,
    reason="needs hatchling (the test extra installs it)",
)
def test_wheel_ships_scenarios_and_runs_from_site_packages(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("mcengine-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for scenario in ("base", "training_bust", "open_weights_win", "agentic_boom", "inference_glut"):
        assert f"mcengine/scenarios/{scenario}.toml" in names
    for module in ("__init__", "suite", "reference", "asv"):
        assert f"mcengine/bench/{module}.py" in names
    assert "mcengine/py.typed" in names
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    script = (
        "import mcengine, pathlib;"
        f"assert pathlib.Path(mcengine.__file__).is_relative_to(pathlib.Path(r'{site}'));"
        "sc = mcengine.load_scenario('training_bust');"
        "print(sorted(mcengine.builtin_scenarios()))"
    )

    def installed(*args: str) -> str:
        """Run Python on the installed wheel, outside the checkout."""
        env = {**os.environ, "PYTHONPATH": str(site)}
        return subprocess.run(
            [sys.executable, *args],
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    out = installed("-c", script)
    assert "training_bust" in out and "base" in out
    # Benchmark suites install packages, they don't clone them: the workloads ship too.
    bench = installed("-m", "mcengine", "bench", "--workload", "rng_floor", "--quick")
    assert bench.startswith("rng_floor ") and "100,000 paths" in bench
