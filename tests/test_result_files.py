"""Result files are checked for consistency, not only range (issue 27, point 5), and a CF
checker accepts them (point 11)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import mcengine
from mcengine.cli import cli
from mcengine.errors import ResultFileError
from mcengine.numerics import NUMERICS
from mcengine.results.checks import OPT_IN, check_values
from mcengine.results.dataset import CONVENTIONS, MODEL
from mcengine.results.files import read_result, write_netcdf

N = 2000
WRITTEN = "; not a result mcengine could have written"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A small result as ``write_netcdf`` writes it."""
    path = tmp_path_factory.mktemp("results") / "base.nc"
    write_netcdf(mcengine.simulate("base", N, seed=1), path)
    return path


@pytest.fixture(scope="module")
def written_summary(tmp_path_factory):
    """The file of a summary-only run (``run --summary-only --out``)."""
    path = tmp_path_factory.mktemp("results") / "summary.nc"
    write_netcdf(mcengine.simulate("base", N, seed=1, keep_paths=False), path)
    return path


def tamper(source, target, edit):
    """``source`` edited by ``edit(ds)`` and written to ``target`` with plain xarray."""
    ds = xr.load_dataset(source, engine="h5netcdf")
    edit(ds)
    ds.to_netcdf(target, engine="h5netcdf")
    return target


def set_attribute(name, value):
    def edit(ds):
        ds.attrs[name] = value

    return edit


def refused(path, *, same_on_the_cli: bool = True) -> str:
    """The message ``read_result`` refuses ``path`` with; ``mcengine summarize`` says it in
    one line (the same line unless the CLI names its own flags), exit code 2."""
    with pytest.raises(ResultFileError) as info:
        read_result(path)
    message = str(info.value)
    result = CliRunner().invoke(cli, ["summarize", str(path)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {path}: ")
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == "" and "Traceback" not in result.output
    if same_on_the_cli:
        assert result.stderr == f"Error: {message}\n"
    return message


def test_a_written_result_reads_back_with_its_attributes(written):
    ds = read_result(written)
    assert ds.sizes["path"] == N and ds.attrs["n_paths"] == N
    assert ds.attrs["Conventions"] == CONVENTIONS == "CF-1.8"
    assert ds.attrs["model"] == MODEL == "2"
    assert ds.attrs["numerics"] == NUMERICS
    assert "simulate('base', n_paths=2000, seed=1, sampler='pseudo')" in ds.attrs["history"]
    assert ds["path"].dtype == np.int32 and "long_name" in ds["path"].attrs
    assert ds["total_return"].attrs["long_name"] == (
        "wealth multiple W at the horizon (1 = money back, 0 = wiped out); not W - 1"
    )
    assert ds["demand"].attrs["units"] == "1"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (set_attribute("n_paths", 999), "n_paths = 999, but the data hold 2000 paths" + WRITTEN),
        (
            set_attribute("n_paths", "2000"),
            "n_paths = '2000', must be an integer in [0, 9223372036854775807]" + WRITTEN,
        ),
        (
            set_attribute("seed", "banana"),
            "seed = 'banana', must be an integer in [0, 9223372036854775807]" + WRITTEN,
        ),
        (
            set_attribute("seed", 1.0),
            "seed = 1.0, must be an integer in [0, 9223372036854775807]" + WRITTEN,
        ),
        (set_attribute("seed", -1), "seed = -1, must be in [0, 9223372036854775807]" + WRITTEN),
        (
            set_attribute("horizon_years", 20),
            "horizon_years = 20, but the scenario attribute has simulation.horizon_years = 10"
            + WRITTEN,
        ),
        (lambda ds: ds.attrs.pop("seed"), "no seed attribute; not an mcengine result"),
    ],
    ids=["n_paths", "n_paths_text", "seed_text", "seed_float", "seed_negative", "horizon", "none"],
)
def test_contradicting_attributes_are_refused_in_one_line(tmp_path, written, edit, message):
    path = tamper(written, tmp_path / "tampered.nc", edit)
    assert refused(path) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "numerics",
            99,
            f"numerics = 99, not a numerics version this mcengine ({{}}) knows (1 to {NUMERICS})",
        ),
        (
            "numerics",
            "4",
            f"numerics = '4', not a numerics version this mcengine ({{}}) knows (1 to {NUMERICS})",
        ),
        (
            "model",
            "MODEL.md v2",
            "model = 'MODEL.md v2', not a model this mcengine ({}) knows "
            "('2' or '1' or 'MODEL.md v1')",
        ),
        (
            "mcengine_version",
            "9.9.9",
            "mcengine_version = '9.9.9', a newer release than this mcengine ({})",
        ),
        ("mcengine_version", "banana", "mcengine_version = 'banana', not a version number"),
    ],
    ids=["numerics", "numerics_text", "model", "newer", "not_a_version"],
)
def test_unknown_versions_are_refused_unless_allowed(tmp_path, written, name, value, message):
    path = tamper(written, tmp_path / "tampered.nc", set_attribute(name, value))
    expected = message.format(mcengine.__version__)
    message = refused(path, same_on_the_cli=False)  # the CLI names --allow-unknown-version
    assert message == f"{path}: {expected}; to read it anyway, pass {OPT_IN}"
    assert read_result(path, allow_unknown_version=True).attrs[name] == value


@pytest.mark.parametrize(
    "edit",
    [
        set_attribute("model", "MODEL.md v1"),  # what files said before model = "1"
        set_attribute("numerics", 2),
        lambda ds: ds.attrs.pop("numerics"),  # numerics 1 results did not record it
        set_attribute("mcengine_version", "1.0.0"),
        set_attribute("mcengine_version", mcengine.__version__ + ".dev3+g1234"),
        set_attribute("mcengine_version", ".".join(mcengine.__version__.split(".")[:2]) + ".9"),
    ],
    ids=["old_model", "numerics_2", "numerics_1", "older", "same_release", "newer_patch"],
)
def test_known_versions_are_read(tmp_path, written, edit):
    read_result(tamper(written, tmp_path / "old.nc", edit))


def set_value(name, where, change):
    def edit(ds):
        ds[name][where] = change(float(ds[name][where]))

    return edit


@pytest.mark.parametrize(
    "edit",
    [
        set_value("annual_return", {"path": 7, "segment": 2}, lambda a: a * (1 + 1e-9)),
        set_value("annual_return", {"path": 7, "segment": 2}, lambda a: a + 1e-12),
        set_value("total_return", {"path": 7, "segment": 2}, lambda w: w * 1.01),
    ],
    ids=["annual_relative", "annual_absolute", "total"],
)
def test_annual_return_must_follow_total_return(tmp_path, written, edit):
    path = tamper(written, tmp_path / "tampered.nc", edit)
    ds = xr.load_dataset(path, engine="h5netcdf")
    w, a = float(ds["total_return"][7, 2]), float(ds["annual_return"][7, 2])
    message = refused(path)
    assert message.startswith(
        f"{path}: annual_return = {a!r} at path 7, segment training disagrees with "
        f"total_return = {w!r}, which gives W**(1/10) - 1 = "
    )
    assert message.endswith(" (horizon_years = 10)" + WRITTEN)
    gives = float(message.split(" - 1 = ")[1].split(" ")[0])
    assert gives == pytest.approx(np.expm1(np.log(w) / 10), rel=1e-15)


def test_a_wiped_out_investor_must_have_an_annual_return_of_minus_one(tmp_path, written):
    path = tamper(
        written,
        tmp_path / "tampered.nc",
        set_value("total_return", {"path": 9, "segment": 0}, lambda w: 0.0),
    )
    assert refused(path).startswith(
        f"{path}: total_return and annual_return disagree at path 9, segment 0 (W = 0 exactly"
    )


def test_the_engines_own_results_pass_the_annual_check(base_run, training_wiped_out):
    short = mcengine.load_scenario("training_bust", {"simulation.horizon_years": 3})
    for ds in (base_run, training_wiped_out, mcengine.simulate(short, 5000, seed=3)):
        check_values(ds)
    assert (training_wiped_out["annual_return"].sel(segment="training") == -1).all()


def test_summary_only_files_are_checked(tmp_path, written_summary):
    read_result(written_summary)
    edits = {
        "n_paths": (999, "n_paths = 999, but condition_paths counts 2000 paths" + WRITTEN),
        "seed": ("banana", "seed = 'banana', must be an integer in [0, 9223372036854775807]"),
        "numerics": (99, "numerics = 99, not a numerics version"),
    }
    for name, (value, message) in edits.items():
        path = tamper(written_summary, tmp_path / f"{name}.nc", set_attribute(name, value))
        with pytest.raises(ResultFileError) as info:
            read_result(path)
        assert str(info.value).startswith(f"{path}: {message}")
        result = CliRunner().invoke(cli, ["summarize", str(path)])
        assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1


def test_a_tampered_zarr_store_is_refused(tmp_path):
    zarr = pytest.importorskip("zarr")
    from mcengine.engine.api import write_zarr

    store = tmp_path / "run.zarr"
    write_zarr(mcengine.load_scenario("base"), N, 1, store)
    read_result(store)
    zarr.open_group(store, mode="r+")["annual_return"][5, 0] = 0.5
    with pytest.raises(ResultFileError, match="annual_return = 0.5 at path 5, segment appl"):
        read_result(store)


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--summary-only"],
        ["--fan-chart"],
        ["--summary-only", "--fan-chart"],
        ["--record-inputs"],
        ["--record-years"],
        ["beliefs", "--record-inputs"],  # adds the uncertain keys' values, `parameters`
    ],
    ids=["plain", "summary_only", "fan_chart", "summary_fan_chart", "inputs", "years", "beliefs"],
)
def test_a_run_file_passes_the_cf_checker(tmp_path, options):
    pytest.importorskip("compliance_checker")
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    target = tmp_path / "x.nc"
    arguments = ["run", *options, "-n", str(N), "--seed", "1", "--out", str(target)]
    run = CliRunner().invoke(cli, arguments)
    assert run.exit_code == 0, run.output
    # What the checker does not ask for, the model's page does: a long_name for every
    # variable and coordinate, and no 64-bit integers (CF 1.8 has none).
    ds = xr.load_dataset(target, engine="h5netcdf")
    assert [name for name, v in ds.variables.items() if "long_name" not in v.attrs] == []
    assert [name for name, v in ds.variables.items() if v.dtype == np.int64] == []
    report = tmp_path / "report.json"
    with warnings.catch_warnings():
        # The checker's own deprecation notes as it loads its other suites (IOOS, SOS).
        warnings.simplefilter("ignore")
        CheckSuite().load_all_available_checkers()
        ComplianceChecker.run_checker(
            str(target),
            ["cf:1.8"],
            verbose=0,
            criteria="normal",
            output_filename=str(report),
            output_format="json",
        )
    with open(report, encoding="utf-8") as fh:
        result = json.load(fh)["cf:1.8"]
    failed = [
        (check["name"], check["msgs"])
        for level in ("high_priorities", "medium_priorities", "low_priorities")
        for check in result[level]
        if check["msgs"]
    ]
    assert failed == []
    assert result["scored_points"] == result["possible_points"]
