"""The built wheel carries the built-in scenarios and works outside the checkout."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from mcengine.extras import EXTRAS

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
    for scenario in (
        "base", "training_bust", "open_weights_win", "agentic_boom", "inference_glut",
        "telecom_1997",
    ):  # fmt: skip
        assert f"mcengine/scenarios/{scenario}.toml" in names
    for targets in ("public_2025", "telecom_1997_start", "telecom_1997_2005", "acceptance_equity"):
        assert f"mcengine/targets/{targets}.toml" in names
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


# -- what the core installs, and what each extra adds -----------------------------------------
#: The optional packages: each comes with an extra (mcengine/extras.py), none with the core.
OPTIONAL = ("dask", "distributed", "zarr", "matplotlib", "SALib")

#: Runs in a fresh Python whose optional packages read as not installed: importing one raises
#: ModuleNotFoundError and importlib.util.find_spec finds none (xarray asks it about Dask).
WITHOUT_EXTRAS = f"""
import json, sys
from pathlib import Path
for name in {OPTIONAL!r}:
    sys.modules[name] = None
here = Path(sys.argv[1])

import mcengine
from mcengine.errors import MissingExtraError

ds = mcengine.simulate("base", 1000, seed=1)
table = mcengine.summarize(ds)
library = {{}}


def refused(label, call):
    try:
        call()
    except MissingExtraError as err:
        library[label] = str(err)


from mcengine.engine.api import write_zarr
from mcengine.present import plots
from mcengine.studies.sensitivity import sobol_indices

refused("client", lambda: mcengine.simulate("base", 1000, seed=1, client="local"))
refused("zarr", lambda: write_zarr(mcengine.load_scenario("base"), 1000, 1, here / "lib.zarr"))
refused("plot", lambda: plots.distributions(ds))
refused("sobol", lambda: sobol_indices("base", 64, 1))

from click.testing import CliRunner
from mcengine.cli import cli

COMMANDS = {{
    "run": ["run", "-n", "1000", "--seed", "1", "--out", str(here / "r.nc")],
    "summarize": ["summarize", str(here / "r.nc")],
    "explain": ["explain", "-n", "1000", "--seed", "1"],
    "compare": ["compare", "base", "training_bust", "-n", "1000", "--seed", "1"],
    "sweep": ["sweep", "base", "--vary", "demand.volatility=0.1,0.3", "-n", "1000", "--seed", "1"],
    "check": ["check", "-n", "2000", "--seed", "1"],
    "calibrate": ["calibrate", "--fit", "demand.growth_initial_mean", "-n", "2000",
                  "--seed", "1", "--out", str(here / "cal.toml")],
    "show": ["show", "base"],
    "--workers": ["run", "-n", "1000", "--seed", "1", "--workers", "2"],
    "--out DIR.zarr": ["run", "-n", "1000", "--seed", "1", "--out", str(here / "x.zarr")],
    "--plot": ["run", "-n", "1000", "--seed", "1", "--plot", str(here / "x.png")],
    "sensitivity": ["sensitivity", "-n", "1000", "--sobol-paths", "64", "--seed", "1"],
}}
cli_results = {{}}
for label, args in COMMANDS.items():
    result = CliRunner().invoke(cli, args)
    cli_results[label] = {{
        "exit_code": result.exit_code,
        "stderr": result.stderr,
        "exception": (  # an exit code is a SystemExit; anything else, a bug
            None if isinstance(result.exception, SystemExit | None) else repr(result.exception)
        ),
    }}
loaded = sorted(
    m for m, module in sys.modules.items() if module is not None and m.split(".")[0] in {OPTIONAL!r}
)
print(json.dumps({{"statistics": table.sizes["statistic"], "library": library,
                  "cli": cli_results, "loaded": loaded}}))
"""


@pytest.fixture(scope="module")
def without_extras(tmp_path_factory) -> dict:
    """What the library and the CLI did in a Python without the extras' packages."""
    here = tmp_path_factory.mktemp("without_extras")
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS, str(here)],
        cwd=here,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout, as in-process tests
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    report["here"] = here
    return report


def test_the_library_simulates_and_summarises_without_the_extras(without_extras):
    assert without_extras["statistics"] > 0
    assert without_extras["loaded"] == []
    assert without_extras["library"] == {
        "client": 'client="local" needs Dask: pip install "mcengine[dask]"',
        "zarr": 'write_zarr needs Zarr: pip install "mcengine[zarr]"',
        "plot": 'drawing a figure needs matplotlib: pip install "mcengine[plot]"',
        "sobol": 'sobol_indices needs SALib: pip install "mcengine[sensitivity]"',
    }
    assert not (without_extras["here"] / "lib.zarr.partial").exists()


@pytest.mark.parametrize(
    "command",
    ["run", "summarize", "explain", "compare", "sweep", "check", "calibrate", "show"],
)
def test_the_main_commands_run_without_the_extras(without_extras, command):
    result = without_extras["cli"][command]
    passed = (0, 1) if command == "check" else (0,)  # check: 1 when a target misses
    assert result["exit_code"] in passed and result["exception"] is None, result


@pytest.mark.parametrize(
    "feature, extra",
    [
        ("--workers", "dask"),
        ("--out DIR.zarr", "zarr"),
        ("--plot", "plot"),
        ("sensitivity", "sensitivity"),
    ],
)
def test_a_command_without_its_extra_says_which_to_install(without_extras, feature, extra):
    result = without_extras["cli"][feature]
    assert result["exit_code"] == 2, result
    line = result["stderr"]
    assert line.startswith("Error: ") and line.count("\n") == 1, line
    assert feature.split()[0] in line and f'pip install "mcengine[{extra}]"' in line, line
    assert not list(without_extras["here"].glob("x.*")), "nothing half-written"


def _requirement_name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9._-]+", requirement).group().lower().replace("_", "-")


def test_the_core_needs_no_extra_and_all_installs_every_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = {_requirement_name(r) for r in project["dependencies"]}
    assert not core & {name.lower() for name in OPTIONAL}, core
    extras = project["optional-dependencies"]
    assert set(extras) == set(EXTRAS) | {"all", "test"}
    for extra, modules in EXTRAS.items():
        for module in modules:  # "distributed" comes as dask[distributed]
            assert any(module.lower() in r.lower() for r in extras[extra]), (extra, module)
    (everything,) = extras["all"]
    assert everything.startswith("mcengine[")
    assert set(everything.removeprefix("mcengine[").removesuffix("]").split(",")) == set(EXTRAS)
    assert "mcengine[all]" in extras["test"]  # the tests use every extra
    # Everything the package imports outside the extras is a core dependency.
    imported = set()
    for path in (ROOT / "mcengine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"mcengine"} - set(OPTIONAL)
    distribution = {"tomli_w": "tomli-w", "llvmlite": "numba"}  # llvmlite comes with numba
    assert {distribution.get(m, m).lower() for m in third_party} <= core, third_party
