"""The tornado from one ensemble: recorded inputs, deciles, and what moves each segment."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import mcengine
from mcengine.cli import cli
from mcengine.errors import InputError
from mcengine.kernel.paths import INPUTS
from mcengine.studies.sensitivity import tornado


@pytest.fixture(scope="module")
def run():
    return mcengine.simulate("base", 20_000, seed=4, record_inputs=True)


def test_recorded_inputs_reproduce_the_drivers():
    sc = mcengine.load_scenario("base", {"training_cost.decline_dispersion": 0.0})
    ds = mcengine.simulate(sc, 500, seed=2, record_inputs=True)
    assert list(ds["input"].values) == list(INPUTS)
    shocks = ds["inputs"].sel(input="cost_shocks").values
    np.testing.assert_allclose(
        np.log(ds["training_cost"].values), -1.25 * 10 + 0.15 * np.sqrt(10) * shocks, atol=1e-12
    )
    np.testing.assert_allclose(ds["inputs"].sel(input="decline_rate"), 1.25)
    counts = ds["inputs"].sel(input="demand_jumps").values
    np.testing.assert_array_equal(counts, np.round(counts))
    # Recording changes nothing else.
    plain = mcengine.simulate(sc, 500, seed=2)
    np.testing.assert_array_equal(plain["total_return"], ds["total_return"])


def test_tornado_matches_direct_deciles(run):
    table = tornado(run)
    x = run["inputs"].sel(input="decline_rate").values
    annual = run["annual_return"].sel(segment="training").values
    low, high = np.quantile(x, [0.1, 0.9])
    got = table.sel(input="decline_rate", segment="training")
    assert float(got["mean"].sel(side="low")) == pytest.approx(annual[x <= low].mean())
    assert float(got["mean"].sel(side="high")) == pytest.approx(annual[x >= high].mean())
    # The essay's thin moat: faster cost decline is the biggest swing for training, downwards.
    swings = table["swing"].sel(segment="training")
    assert str(abs(swings).idxmax().values) == "decline_rate"
    assert float(got["mean"].sel(side="high")) < float(got["mean"].sel(side="low"))
    # Selection only moves applications.
    sel = table.sel(input="selection")
    assert abs(float(sel["swing"].sel(segment="applications"))) > 0.2
    assert abs(float(sel["swing"].sel(segment="training"))) < 4 * float(
        sel["swing_standard_error"].sel(segment="training")
    )
    assert (table["paths_low"] >= 0.1 * 20_000).all()


def test_errors():
    with pytest.raises(InputError, match="simulate with record_inputs=True"):
        tornado(mcengine.simulate("base", 100, seed=1))
    with pytest.raises(InputError, match="record_inputs=True needs keep_paths=True"):
        mcengine.simulate("base", 100, seed=1, record_inputs=True, keep_paths=False)


def test_cli_sensitivity(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        cli, ["sensitivity", "-n", "5000", "--seed", "1", "--plot", str(tmp_path / "t.png")]
    )
    assert result.exit_code == 0, result.output
    assert "training-cost decline rate" in result.output
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")
    doc = json.loads(
        runner.invoke(cli, ["sensitivity", "-n", "5000", "--seed", "1", "--json"]).stdout
    )
    assert {entry["input"] for entry in doc["inputs"]} == set(INPUTS)


# -- variance-based indices ---------------------------------------------------------------------
ISHIGAMI_FIRST = (0.3139, 0.4424, 0.0)  # a = 7, b = 0.1 (Ishigami and Homma, 1990)
ISHIGAMI_TOTAL = (0.5576, 0.4424, 0.2437)


def ishigami(x):
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


@pytest.mark.statistical
def test_estimator_recovers_the_ishigami_indices():
    from mcengine.studies.sensitivity import indices_from_samples

    rng = np.random.default_rng(2024)
    n = 2**15
    a = rng.uniform(-np.pi, np.pi, (n, 3))
    b = rng.uniform(-np.pi, np.pi, (n, 3))
    f_ab = []
    for j in range(3):
        mixed = a.copy()
        mixed[:, j] = b[:, j]
        f_ab.append(ishigami(mixed))
    first, total, first_ci, total_ci = indices_from_samples(
        ishigami(a), ishigami(b), np.array(f_ab), bootstrap=300
    )
    np.testing.assert_allclose(first, ISHIGAMI_FIRST, atol=0.03)
    np.testing.assert_allclose(total, ISHIGAMI_TOTAL, atol=0.03)
    # Within 3 bootstrap standard errors (the 95% half-width over 1.96) of the analytic values.
    for estimate, ci, exact in (
        (first, first_ci, ISHIGAMI_FIRST),
        (total, total_ci, ISHIGAMI_TOTAL),
    ):
        se = (ci[:, 1] - ci[:, 0]) / (2 * 1.96)
        assert np.all(se > 0) and np.all(np.abs(estimate - exact) <= 3 * se), (estimate, se)


def test_sobol_indices_of_the_base_scenario():
    from mcengine.studies.sensitivity import sobol_indices

    table = sobol_indices("base", 2048, seed=3, bootstrap=50)
    first, total = table["first_order"], table["total"]
    # Selection moves only applications; its total index there is large.
    assert float(total.sel(input="selection", segment="applications")) > 0.3
    np.testing.assert_allclose(
        total.sel(input="selection", segment=["inference", "training"]), 0.0, atol=1e-12
    )
    # Training: the cost path (its thin moat) is a main driver.
    assert float(first.sel(input="cost_path", segment="training")) > 0.3
    assert (table["first_order_ci"].sel(bound="low") <= first + 1e-12).all()
    assert float(first.sum("input").max()) < 1.1


@pytest.mark.statistical
def test_tornado_ordering_is_stable_across_seeds():
    tops = []
    for seed in (11, 12, 13):
        table = tornado(mcengine.simulate("base", 20_000, seed=seed, record_inputs=True))
        tops.append(
            {
                str(seg): list(
                    abs(table["swing"].sel(segment=seg))
                    .sortby(abs(table["swing"].sel(segment=seg)), ascending=False)["input"]
                    .values[:2]
                )
                for seg in table["segment"].values
            }
        )
    assert tops[0] == tops[1] == tops[2], tops


def test_sobol_indices_run_at_the_largest_seed():
    # Sample B is further paths of the same seed's streams, not the streams of seed + 1.
    from mcengine.rng.streams import MAX_SEED
    from mcengine.studies.sensitivity import sobol_indices

    table = sobol_indices("base", 64, MAX_SEED, bootstrap=10)
    assert int(table.attrs["seed"]) == MAX_SEED


#: Every source of randomness but the beliefs switched off.
SHOCKS_OFF = {
    "training_cost.volatility": 0.0,
    "training_cost.decline_dispersion": 0.0,
    "open_share.volatility": 0.0,
    "demand.volatility": 0.0,
    "demand.growth_initial_sd": 0.0,
    "demand.jump_rate": 0.0,
    "valuation.sentiment_volatility": 0.0,
    "applications.selection_dispersion": 0.0,
}


def test_one_uncertain_key_with_the_shocks_off_has_total_index_one():
    from mcengine.studies.sensitivity import sobol_indices

    belief = {"dist": "normal", "mean": 0.05, "sd": 0.12}
    sc = mcengine.load_scenario("base", {**SHOCKS_OFF, "open_share.drift": belief})
    table = sobol_indices(sc, 1024, seed=4, bootstrap=100)
    assert list(table["kind"].values) == ["shock group"] * 5 + ["belief"]
    drift = table.sel(input="open_share.drift", segment=["inference", "training"])
    low, high = drift["total_ci"].sel(bound="low"), drift["total_ci"].sel(bound="high")
    assert ((low <= 1.0) & (high >= 1.0)).all(), drift["total"].values
    assert (drift["total_standard_error"] < 0.05).all()
    # Saltelli's first-order estimator is the noisier one: within 4 standard errors.
    first, se = drift["first_order"], drift["first_order_standard_error"]
    assert (abs(first - 1.0) <= 4 * se).all(), (first.values, se.values)
    groups = table["total"].sel(input=list(table["input"].values[:5]))
    np.testing.assert_array_equal(groups, 0.0)  # a shock that is off moves nothing
    assert "independent inputs" in table.attrs["method"]


def test_sobol_indices_with_dependent_beliefs_say_to_read_shapley():
    from mcengine.studies.sensitivity import sobol_indices

    table = sobol_indices("beliefs", 256, seed=2, bootstrap=20)
    assert "Shapley" in table.attrs["method"]
    assert set(table["input"].values[5:]) == {
        b.key for b in mcengine.load_scenario("beliefs").beliefs
    }
    assert np.isfinite(table["total"]).all()


def test_undefined_figures_are_nan_not_zero():
    # Four paths: an input's decile holds one path (two where a count ties), whose return is
    # the group's mean and whose standard error is undefined (both were 0 before).
    ds = mcengine.simulate("base", 4, seed=1, record_inputs=True)
    table = tornado(ds)
    annual = ds["annual_return"].values
    single = table["input"].values[table["paths_low"].values == 1]
    assert len(single) >= 9
    for name in single:
        low = table.sel(input=name, side="low")
        assert np.isnan(low["standard_error"]).all()
        assert np.isnan(table["swing_standard_error"].sel(input=name)).all()
        x = ds["inputs"].sel(input=name).values
        np.testing.assert_array_equal(low["mean"].values, annual[np.argmin(x)])
    # A model output that never varies has no variance to share out: 0/0, undefined.
    from mcengine.studies.sensitivity import indices_from_samples

    first, total, first_ci, total_ci = indices_from_samples(np.ones(8), np.ones(8), np.ones((3, 8)))
    assert all(np.isnan(a).all() for a in (first, total, first_ci, total_ci))
