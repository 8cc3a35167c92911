"""Targets files, the validation report and calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import mcengine
from mcengine.cli import cli
from mcengine.layout import OBSERVABLES
from mcengine.model.targets import TargetsError, builtin_targets, load_targets
from mcengine.studies.validation import calibrate, check

SOURCE = """
[target.source]
title = "A study"
publisher = "Somebody"
year = 2025
measured = "what it measured"
"""


def targets_file(tmp_path, body: str, name="t.toml"):
    path = tmp_path / name
    path.write_text('title = "test"\n' + body, encoding="utf-8")
    return path


def target(**fields) -> str:
    lines = ["[[target]]"] + [f"{k} = {json.dumps(v)}" for k, v in fields.items()]
    return "\n".join(lines) + "\n" + SOURCE


def test_the_shipped_targets_load_with_a_source_each():
    assert "public_2025" in builtin_targets()
    targets = load_targets("public_2025")
    assert len(targets.targets) == 10
    for t in targets.targets:
        assert t.source.title and t.source.publisher and t.source.measured and t.mapping


#: A valid target's fields, which each bad case changes.
GOOD = {"name": "a", "observable": "demand", "years": [1], "interval": [0, 1]}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({**GOOD, "observable": "tokens"}, "observable = 'tokens', must be one of"),
        ({**GOOD, "years": [2, 1]}, "years = \\[2, 1\\]"),
        ({**GOOD, "interval": [2, 1]}, "interval = \\[2, 1\\], must be"),
        ({**GOOD, "statistic": "mode"}, "statistic = 'mode'"),
        ({k: v for k, v in GOOD.items() if k != "interval"}, "needs interval"),
        ({**GOOD, "colour": 1}, "unknown field colour"),
        ({"name": "a", "parameter": "inference", "interval": [0, 1]}, "must be section.key"),
        ({**GOOD, "rule": "near"}, "rule = 'near'"),
    ],
)
def test_bad_targets_get_one_line_naming_the_field(tmp_path, fields, message):
    path = targets_file(tmp_path, target(**fields))
    with pytest.raises(TargetsError, match=message) as err:
        load_targets(path)
    assert (
        "\n" not in str(err.value) and "target[0] (a)" in str(err.value) or "name" in str(err.value)
    )


def test_a_target_without_a_source_is_refused(tmp_path):
    path = targets_file(
        tmp_path, '[[target]]\nname = "a"\nobservable = "demand"\nyears = [1]\ninterval = [0, 1]\n'
    )
    with pytest.raises(TargetsError, match="source must be a table"):
        load_targets(path)


def test_own_outputs_as_targets_pass_and_a_missed_target_fails(tmp_path):
    # A scenario's own figures (from a different seed) pass; a shifted one fails.
    first = check("base", "public_2025", 20_000, seed=1)
    median = float(first["estimate"].sel(target="token_demand"))
    se = float(first["standard_error"].sel(target="token_demand"))
    body = target(
        name="own", observable="demand", years=[0, 1], interval=[median - 6 * se, median + 6 * se]
    )
    body += target(
        name="missed", observable="demand", years=[0, 1], interval=[2 * median, 3 * median]
    )
    body += target(
        name="share",
        observable="demand",
        years=[0, 1],
        statistic="probability",
        between=[0.0, median],
        interval=[0.45, 0.55],
    )
    table = check("base", targets_file(tmp_path, body), 20_000, seed=2)
    assert bool(table["passed"].sel(target="own")) and bool(table["passed"].sel(target="share"))
    assert not bool(table["passed"].sel(target="missed"))
    assert table.attrs["all_passed"] == 0


def test_the_cli_exits_1_on_a_failing_target_and_2_on_a_bad_file(tmp_path):
    runner = CliRunner()
    out = runner.invoke(cli, ["check", "base", "-n", "5000", "--seed", "1", "--json"])
    assert out.exit_code == 1, out.output  # base does not match today's demand growth
    doc = json.loads(out.output)
    assert {r["target"]: r["passed"] for r in doc["results"]}["token_demand"] is False
    bad = targets_file(tmp_path, target(name="a", observable="demand", years=[99], interval=[0, 1]))
    out = runner.invoke(cli, ["check", "base", "--targets", str(bad), "-n", "5000"])
    assert out.exit_code == 2 and "past scenario 'base''s horizon" in out.output
    assert "Traceback" not in out.output


@pytest.mark.slow
def test_calibration_recovers_the_parameters_behind_its_own_targets(tmp_path):
    """Targets made of a scenario's own outputs (another seed) bring a moved start back to
    its parameters within the fit's stated standard errors."""
    truth = {"demand.growth_initial_mean": 1.8, "inference.capex_growth": 0.3}
    sc = mcengine.load_scenario("base", truth)
    own = check(sc, "public_2025", 40_000, seed=11)
    body = ""
    for name in ("token_demand", "hyperscaler_capex"):
        est = float(own["estimate"].sel(target=name))
        body += target(
            name=name,
            observable={"token_demand": "demand", "hyperscaler_capex": "capex"}[name],
            years=[0, 1],
            interval=[est * 0.97, est / 0.97],
        )
    start = mcengine.load_scenario("base")
    fitted, report = calibrate(
        start, load_targets(targets_file(tmp_path, body)), list(truth), 20_000, seed=3
    )
    for key, value in truth.items():
        row = report.sel(key=key)
        assert bool(row["identified"])
        assert abs(float(row["fitted"]) - value) <= 3 * float(row["standard_error"]), (key, row)
    assert report["passed_after"].all()


def test_calibrate_writes_a_file_that_extends_the_original_and_warns(tmp_path):
    out = tmp_path / "cal.toml"
    result = CliRunner().invoke(
        cli,
        ["calibrate", "base", "--fit", "demand.growth_initial_mean,training.spend_ratio_initial",
         "-n", "4000", "--seed", "1", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert 'extends = "base"' in text and "growth_initial_mean" in text and "Cottier" in text
    assert "not identify training.spend_ratio_initial" in result.output
    calibrated = mcengine.load_scenario(str(out))
    assert (
        calibrated.demand.growth_initial_mean
        != mcengine.load_scenario("base").demand.growth_initial_mean
    )
    bad = CliRunner().invoke(cli, ["calibrate", "base", "--fit", "demand.nope", "--out", str(out)])
    assert bad.exit_code == 2 and "demand.nope" in bad.output


def test_yearly_records_hold_the_observables():
    ds = mcengine.simulate("base", 2000, seed=1, record_years=True)
    assert ds["yearly"].sizes == {"path": 2000, "year_end": 11, "quantity": len(OBSERVABLES)}
    np.testing.assert_array_equal(ds["yearly"].sel(year_end=0, quantity="token_price"), 1.0)
    assert np.isfinite(ds["yearly"]).all()
    with pytest.raises(mcengine.InputError, match="record_years=True needs keep_paths"):
        mcengine.simulate("base", 2000, seed=1, record_years=True, keep_paths=False)


def test_a_belief_is_fitted_by_its_location_and_keeps_its_shape():
    sc = mcengine.load_scenario("beliefs")
    belief = next(b for b in sc.beliefs if b.key == "demand.growth_long_run")
    moved = belief.moved_to(belief.point + 0.1)
    assert moved["mean"] == pytest.approx(0.32) and moved["sd"] == 0.06
    lognormal = next(b for b in sc.beliefs if b.key == "demand.jump_rate").moved_to(0.3)
    again = mcengine.load_scenario("base", {"demand.jump_rate": lognormal}).beliefs[0]
    # scaled: its median is the value (up to the truncation to the range [0, 12], ~1e-7)
    assert again.point == pytest.approx(0.3, rel=1e-6)
    fitted, report = calibrate(
        sc, "public_2025", ["demand.growth_long_run"], 4000, seed=1, max_evaluations=4
    )
    new = next(b for b in fitted.beliefs if b.key == "demand.growth_long_run")
    assert new.point == pytest.approx(float(report["fitted"].sel(key="demand.growth_long_run")))
    assert dict(new.params)["sd"] == 0.06


def test_a_calibrated_file_keeps_the_overrides_and_finds_a_file_it_extends(tmp_path):
    # calibrate of a file with --set once wrote extends = "my" (a name no one can load) and
    # dropped the overrides: the calibrated scenario must be the original, overridden, fitted.
    (tmp_path / "my.toml").write_text('extends = "base"\n[demand]\nvolatility = 0.3\n')
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "cal.toml"
    args = ["calibrate", str(tmp_path / "my.toml"), "--fit", "demand.growth_initial_mean"]
    args += ["--set", "demand.jump_rate=0.2", "-n", "2000", "--seed", "1", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert 'extends = "../my.toml"' in out.read_text(encoding="utf-8")
    calibrated = mcengine.load_scenario(str(out))
    assert calibrated.demand.volatility == 0.3 and calibrated.demand.jump_rate == 0.2
    assert (
        calibrated.demand.growth_initial_mean
        != mcengine.load_scenario("base").demand.growth_initial_mean
    )
