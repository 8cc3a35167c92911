"""The tornado from one ensemble: recorded inputs, deciles, and what moves each segment."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import mcengine
from mcengine.cli import cli
from mcengine.errors import ScenarioError
from mcengine.kernel import INPUTS
from mcengine.sensitivity import tornado


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
    with pytest.raises(ScenarioError, match="simulate with record_inputs=True"):
        tornado(mcengine.simulate("base", 100, seed=1))
    with pytest.raises(ScenarioError, match="record_inputs=True needs keep_paths=True"):
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
