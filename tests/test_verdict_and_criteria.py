"""The telecom back-test, the acceptance criteria and the essay's verdict (issue 24)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import mcengine
from mcengine.cli import cli
from mcengine.model.targets import TargetsError, load_targets
from mcengine.studies import verdict
from mcengine.studies.validation import check

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("telecom_1997_start", "telecom_1997_2005", "acceptance_equity")
#: The AAA's C3 Phase II calibration points (2005, Appendix 2, Table 1), as checked at the
#: source: horizon -> (2.5%, 5%, 10%, 90%, 95%, 97.5%).
AAA = {
    1: (0.78, 0.84, 0.90, 1.28, 1.35, 1.42),
    5: (0.72, 0.81, 0.94, 2.17, 2.45, 2.72),
    10: (0.79, 0.94, 1.16, 3.63, 4.36, 5.12),
}


# -- the shipped files ----------------------------------------------------------------------
@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_files_load_with_a_source_and_a_mapping_each(name):
    targets = load_targets(name)
    assert len(targets.targets) >= 4
    for t in targets.targets:
        assert t.source.title and t.source.publisher and t.source.measured and t.mapping
        assert t.source.url.startswith("http"), t.name
        lo, hi = t.interval
        assert lo <= hi and (math.isfinite(lo) or math.isfinite(hi))
    if name.startswith("telecom"):  # all within the back-test's 8 years
        targets.check_against(mcengine.load_scenario("telecom_1997"))


def test_fitted_targets_read_1998_and_held_out_ones_2000_on():
    start = load_targets("telecom_1997_start").targets
    held = load_targets("telecom_1997_2005").targets
    assert all(max(t.years) <= 1 for t in start)  # only 1997-98 facts are fitted
    assert all(max(t.years) >= 3 for t in held)  # the bust is from 2000 on
    assert not {t.name for t in start} & {t.name for t in held}


def test_the_acceptance_points_are_the_aaas_each_way_round():
    by_name = {t.name: t for t in load_targets("acceptance_equity").targets}
    for segment in ("applications", "inference", "training"):
        for horizon, points in AAA.items():
            for q, point in zip((0.025, 0.05, 0.10, 0.90, 0.95, 0.975), points, strict=True):
                t = by_name[f"{segment}_{horizon}y_p{f'{100 * q:g}'.replace('.', '_')}"]
                assert (t.observable, t.years, t.statistic, t.q) == (
                    f"wealth_{segment}",
                    (horizon,),
                    "quantile",
                    q,
                )
                # left tail: at most the market's point; right tail: at least it
                assert t.interval == ((-math.inf, point) if q < 0.5 else (point, math.inf))


@pytest.mark.statistical
def test_the_drawdown_floor_is_the_aaas_market_model_at_year_ends():
    # The AAA's example of a model that passes its Table 1: independent lognormal monthly
    # returns, mu = 0.006667, sigma = 0.050518; observed at year ends for 10 years, the
    # share of paths falling 50% from a running peak is the file's floor, within 3 s.e.
    rng = np.random.default_rng(20051)
    n = 400_000
    log_w = np.cumsum(rng.normal(12 * 0.006667, math.sqrt(12) * 0.050518, (n, 10)), axis=1)
    w = np.exp(np.concatenate([np.zeros((n, 1)), log_w], axis=1))
    p = float(np.mean((1 - w / np.maximum.accumulate(w, axis=1)).max(axis=1) >= 0.5))
    se = math.sqrt(p * (1 - p) / n)
    floor = {t.name: t for t in load_targets("acceptance_equity").targets}
    assert abs(floor["inference_drawdown_50"].interval[0] - p) < 3 * se + 0.0005  # rounded


# -- targets: open ends and drawdowns ---------------------------------------------------------
def _write(tmp_path, body: str) -> Path:
    path = tmp_path / "t.toml"
    path.write_text('title = "t"\n' + body, encoding="utf-8")
    return path


SOURCE = '[target.source]\ntitle = "s"\npublisher = "p"\nyear = 2025\nmeasured = "m"\n'


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("interval = [-inf, inf]", "one end may be -inf or inf"),
        ("interval = [nan, 1.0]", "must be \\[low, high\\] numbers"),
        ("interval = [inf, inf]", "one end may be"),
        (
            'observable = "max_drawdown_training"\nyears = [1, 2]\ninterval = [0.0, 1.0]',
            "a drawdown takes one year",
        ),
    ],
)
def test_open_ends_and_drawdowns_are_checked(tmp_path, fields, message):
    body = '[[target]]\nname = "a"\n'
    if "observable" not in fields:
        body += 'observable = "demand"\nyears = [1]\n'
    body += fields + "\n" + SOURCE
    with pytest.raises(TargetsError, match=message):
        load_targets(_write(tmp_path, body))


def test_a_drawdown_target_reads_the_running_peak_of_the_yearly_wealth(tmp_path):
    body = (
        '[[target]]\nname = "dd"\nobservable = "max_drawdown_inference"\nyears = [4]\n'
        'statistic = "probability"\nbetween = [0.5, 1.0]\ninterval = [0.0, 1.0]\n' + SOURCE
    )
    body += (
        '[[target]]\nname = "q"\nobservable = "max_drawdown_inference"\nyears = [4]\n'
        'statistic = "quantile"\nq = 0.9\ninterval = [0.0, inf]\n' + SOURCE
    )
    table = check("base", _write(tmp_path, body), 4000, seed=3)
    ds = mcengine.simulate("base", 4000, 3, record_years=True)
    w = ds["yearly"].sel(quantity="wealth_inference", year_end=slice(0, 4)).values
    fall = (1 - w / np.maximum.accumulate(w, axis=1)).max(axis=1)
    assert float(table["estimate"].sel(target="dd")) == np.mean(fall >= 0.5)
    assert bool(table["passed"].sel(target="q"))  # an open upper end
    # the kernel's own drawdown (every step, the whole horizon) is never smaller
    assert np.all(ds["max_drawdown"].sel(segment="inference").values >= fall - 1e-12)


def test_open_ended_criteria_print_as_bounds_and_json_gives_null():
    runner = CliRunner()
    out = runner.invoke(
        cli,
        ["check", "base", "--targets", "acceptance_equity", "-n", "4000", "--seed", "1"],
        env={"COLUMNS": "80"},
    )
    assert out.exit_code in (0, 1) and "≥ 1.42" in out.output and "≤ 0.78" in out.output
    out = runner.invoke(
        cli,
        ["check", "base", "--targets", "acceptance_equity", "-n", "4000", "--seed", "1", "--json"],
    )
    doc = json.loads(out.output)  # strict JSON: no Infinity
    intervals = {r["target"]: r["interval"] for r in doc["results"]}
    assert intervals["training_1y_p97_5"] == [1.42, None]
    assert intervals["training_1y_p2_5"] == [None, 0.78]


# -- the back-test scenario -------------------------------------------------------------------
def test_the_telecom_scenario_is_built_in_and_starts_from_its_fitted_facts():
    assert "telecom_1997" in mcengine.builtin_scenarios()
    sc = mcengine.load_scenario("telecom_1997")
    assert sc.simulation.horizon_years == 8 and sc.inference.capability_efficiency == 0
    start = check("telecom_1997", "telecom_1997_start", 20_000, seed=2)
    assert start.attrs["all_passed"] == 1, start["estimate"].values


# -- the verdict --------------------------------------------------------------------------------
def test_ordering_codes_rank_each_path_and_mark_ties():
    annual = np.array([[0.3, 0.2, 0.1], [0.1, 0.2, 0.3], [0.2, 0.3, 0.1], [-1.0, -1.0, 0.5]])
    codes = verdict.ordering_codes(annual)
    names = [verdict.ORDERINGS[c] if c >= 0 else "tie" for c in codes]
    assert names == [
        "applications > inference > training",
        "training > inference > applications",
        "inference > applications > training",
        "tie",
    ]
    assert verdict.ORDERINGS[0] == verdict.ESSAY


@pytest.mark.statistical
def test_orderings_add_up_and_match_a_count_on_the_same_paths():
    table = verdict.orderings(["base", "training_bust"], 20_000, seed=5)
    total = table["probability"].sum("ordering").values
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-12)
    annual = mcengine.simulate("base", 20_000, 5)["annual_return"].values
    essay = np.mean((annual[:, 0] > annual[:, 1]) & (annual[:, 1] > annual[:, 2]))
    at = table.sel(scenario="base", ordering=verdict.ESSAY)
    assert float(at["probability"]) == essay
    assert float(at["standard_error"]) == pytest.approx(math.sqrt(essay * (1 - essay) / 20_000))
    first = np.mean((annual[:, 0] > annual[:, 1]) & (annual[:, 0] > annual[:, 2]))
    assert (
        float(table["event_probability"].sel(scenario="base", event="applications best")) == first
    )
    # the essay's two halves are unions of two orderings each (ties aside)
    apps_first = table["probability"].sel(scenario="base", ordering=list(verdict.ORDERINGS[:2]))
    assert float(apps_first.sum()) == pytest.approx(first, abs=1e-12)


def test_the_attribution_splits_the_essays_indicator_by_input():
    # Shapley effects need no SALib (the sensitivity extra): only Sobol indices do.
    shapley = verdict.attribution("beliefs", "shapley", 256, seed=1)
    assert list(shapley["output"].values) == [verdict.ESSAY]
    assert float(shapley["shapley"].sum()) == pytest.approx(1.0, abs=1e-9)
    assert "training_cost.decline_median" in shapley["input"].values
    with pytest.raises(mcengine.InputError, match="shapley or sobol"):
        verdict.attribution("beliefs", "morris")


def test_the_verdict_command_prints_the_odds_and_json(tmp_path):
    runner = CliRunner()
    out = runner.invoke(
        cli,
        ["verdict", "base", "training_bust", "-n", "4000", "--seed", "1"],
        env={"COLUMNS": "80"},
    )
    assert out.exit_code == 0, out.output
    assert "apps > infer > train *" in out.output and "training_bust" in out.output
    assert max(len(line) for line in out.output.splitlines()) <= 80
    out = runner.invoke(cli, ["verdict", "base", "-n", "4000", "--seed", "1", "--json"])
    doc = json.loads(out.output)
    odds = doc["scenarios"]["base"]
    assert sum(v["probability"] for v in odds.values()) == pytest.approx(1.0)
    assert doc["essay"] == verdict.ESSAY and doc["attribution"] == {}
    out = runner.invoke(cli, ["verdict", "nosuch"])
    assert out.exit_code == 2 and "Traceback" not in out.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["base", "--attribution-paths", "64"], "no scenario has any"),
        (["base", "--attribution", "sobol"], "no scenario has any"),
        (["beliefs", "--attribution", "none", "--attribution-paths", "64"], "drop it or"),
        (["base", "-n", "1"], "-n 1, must be in [2,"),
    ],
)
def test_verdict_refuses_options_that_would_do_nothing(args, message):
    out = CliRunner().invoke(cli, ["verdict", *args])
    assert out.exit_code == 2 and message in out.output and "Traceback" not in out.output


def test_undefined_returns_are_left_out_not_counted_as_ties():
    annual = np.array([[0.3, 0.2, 0.1], [np.nan, 0.2, 0.1], [-1.0, -1.0, 0.2]])
    assert list(verdict.ordering_codes(annual)) == [0, -2, -1]


def test_a_drawdown_with_undefined_wealth_is_undefined():
    import xarray as xr

    from mcengine.studies.validation import year_end_drawdown

    w = np.array(
        [
            [1.0, 2.0, 1.0, 3.0],
            [1.0, np.nan, 1.0, 1.0],
            [1.0, np.inf, 1.0, 1.0],
            [1.0, 0.5, 0.0, 0.0],
        ]
    )
    ds = xr.Dataset(
        {"yearly": (("path", "year_end", "quantity"), w[:, :, None])},
        coords={"year_end": np.arange(4), "quantity": ["wealth_inference"]},
    )
    falls = year_end_drawdown(ds, "inference", 3)
    np.testing.assert_array_equal(falls[[0, 3]], [0.5, 1.0])
    assert np.isnan(falls[1]) and np.isnan(falls[2])
    np.testing.assert_array_equal(year_end_drawdown(ds, "inference", 1)[[0, 3]], [0.0, 0.5])


def test_joint_probability_counts_the_pieces_on_the_same_paths():
    from mcengine.studies.validation import _per_path, joint_probability

    targets = load_targets("telecom_1997_2005")
    ds = mcengine.simulate("telecom_1997", 5000, 2, record_years=True)
    names = ("capex_boom_1997_2000", "capex_bust_2000_2002", "carrier_equity_fall")
    inside = np.ones(5000, dtype=bool)
    for t in targets.targets:
        if t.name in names:
            x = _per_path(ds, t)
            inside &= (x >= t.between[0]) & (x <= t.between[1])
    both = joint_probability(ds, targets, names)
    assert both.value == inside.mean() and both.se == pytest.approx(
        math.sqrt(both.value * (1 - both.value) / 5000)
    )
    alone = joint_probability(ds, targets, names[:1])
    assert alone.value >= both.value
    with pytest.raises(mcengine.InputError, match="must be probability targets"):
        joint_probability(ds, targets, ("nosuch",))


def test_calibration_sees_a_slope_to_a_one_sided_criterion():
    from mcengine.model.targets import Source, Target, Targets
    from mcengine.stats.estimates import normal
    from mcengine.studies.validation import _residuals

    src = Source("t", "p", 2025, "m")
    at_most = Target("a", "a", (-math.inf, 0.78), src, observable="wealth_inference", years=(1,))
    at_least = Target("b", "b", (1.42, math.inf), src, observable="wealth_inference", years=(1,))
    tg = Targets("t", (at_most, at_least))
    inside = _residuals(tg, [normal(0.5, 0.01), normal(2.0, 0.01)])
    np.testing.assert_array_equal(inside, [0.0, 0.0])
    near, far = (
        _residuals(tg, [normal(v, 0.01), normal(1.42 - (v - 0.78), 0.01)]) for v in (0.8, 1.0)
    )
    assert 0 < near[0] < far[0] and 0 < near[1] < far[1]
    assert _residuals(tg, [normal(0.78 + 1e-9, 0.01), normal(1.0, 0.01)])[0] < 1e-6  # continuous
