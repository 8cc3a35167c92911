"""Value of information: closed forms, and EVPI >= EVPPI >= 0 on the engine."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import mcengine
from mcengine.studies.voi import allocation_grid, value_of_information


def synthetic(n=200_000, seed=0):
    """Segment 1 returns theta + noise, segment 2 returns 0, segment 3 returns -1; input
    ``theta`` ~ N(0, 1) drives segment 1, input ``other`` nothing."""
    rng = np.random.default_rng(seed)
    theta, noise, other = rng.standard_normal((3, n))
    returns = np.column_stack([theta + noise, np.zeros(n), np.full(n, -1.0)])
    return xr.Dataset(
        {
            "annual_return": (("path", "segment"), returns),
            "inputs": (("path", "input"), np.column_stack([theta, other])),
        },
        coords={"segment": ["applications", "inference", "training"], "input": ["theta", "other"]},
    )


def test_allocation_grid_holds_the_corners_and_sums_to_one():
    grid = allocation_grid(0.25)
    assert grid.shape == (15, 3)
    np.testing.assert_allclose(grid.sum(axis=1), 1.0)
    assert {tuple(r) for r in np.eye(3)} <= {tuple(r) for r in grid}
    with pytest.raises(mcengine.InputError, match="step = 0.3"):
        allocation_grid(0.3)


def test_expected_return_evppi_and_evpi_have_their_closed_forms():
    # Without information: 0 (segment 2, or 1: both expect 0). Knowing theta: E max(theta, 0)
    # = 1 / sqrt(2 pi). Knowing everything: E max(theta + noise, 0) = sqrt(2) / sqrt(2 pi).
    v = value_of_information(synthetic(), objective="mean")
    assert float(v.value) == pytest.approx(0.0, abs=0.01)
    evppi, se = v.evppi.sel(input="theta"), v.evppi_standard_error.sel(input="theta")
    assert abs(float(evppi) - 1 / math.sqrt(2 * math.pi)) <= 4 * float(se)
    assert abs(float(v.evpi) - 1 / math.sqrt(math.pi)) <= 4 * float(v.evpi_standard_error)
    assert (
        abs(float(v.evppi.sel(input="other")))
        <= 4 * float(v.evppi_standard_error.sel(input="other")) + 1e-3
    )
    # With theta known, half the paths go to segment 1 and half to segment 2.
    np.testing.assert_allclose(v.weights_informed.sel(input="theta"), [0.5, 0.5, 0.0], atol=0.01)


def test_mean_cvar_evppi_has_its_closed_form():
    # Given theta, segment 1 is N(theta, 1): its value with weight w is
    # w ((1 + lam) theta - lam c), c = phi(z_alpha) / (1 - alpha), so the best is all or
    # nothing and EVPPI = (1 + lam) E[(theta - a)+], a = lam c / (1 + lam); without
    # information segment 1 is N(0, 2) and worth less than segment 2's 0.
    lam, alpha = 1.0, 0.95
    c = stats.norm.pdf(stats.norm.ppf(alpha)) / (1 - alpha)
    a = lam * c / (1 + lam)
    exact = (1 + lam) * (stats.norm.pdf(a) - a * stats.norm.sf(a))
    v = value_of_information(
        synthetic(), objective="mean-cvar", risk_aversion=lam, alpha=alpha, step=0.1
    )
    evppi, se = float(v.evppi.sel(input="theta")), float(v.evppi_standard_error.sel(input="theta"))
    assert abs(evppi - exact) <= 4 * se + 0.005, (evppi, exact, se)  # + bin-width bias
    np.testing.assert_allclose(v.weights, [0.0, 1.0, 0.0])
    assert float(v.evpi) >= evppi >= 0


@pytest.mark.parametrize("objective", ["mean", "mean-cvar"])
def test_evpi_bounds_every_evppi_on_the_beliefs_scenario(objective):
    ds = mcengine.simulate("beliefs", 40_000, seed=3, record_inputs=True)
    v = value_of_information(ds, objective=objective, step=0.1)
    assert set(v.kind.values) == {"belief", "draw"}
    assert {b.key for b in mcengine.load_scenario("beliefs").beliefs} <= set(v.input.values)
    slack = 3 * np.hypot(v.evppi_standard_error, float(v.evpi_standard_error))
    assert (v.evppi <= v.evpi + slack).all()
    assert (v.evppi >= -3 * v.evppi_standard_error - 1e-12).all()
    assert np.isfinite(v.to_array()).all()


def test_bad_arguments_get_one_line():
    ds = synthetic(10_000)
    with pytest.raises(mcengine.InputError, match="objective = 'median'"):
        value_of_information(ds, objective="median")
    with pytest.raises(mcengine.InputError, match="alpha = 1.5"):
        value_of_information(ds, objective="mean-cvar", alpha=1.5)
    with pytest.raises(mcengine.InputError, match="no recorded inputs"):
        value_of_information(ds.drop_vars("inputs"))


def test_the_cli_prints_the_voi_table_and_json():
    import json

    from click.testing import CliRunner

    from mcengine.cli import cli

    runner = CliRunner()
    out = runner.invoke(cli, ["voi", "beliefs", "-n", "20000", "--seed", "1", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["objective"] == "mean" and doc["evpi"]["estimate"] >= 0
    assert {row["input"] for row in doc["evppi"]} >= {"demand.jump_rate", "decline_rate"}
    text = runner.invoke(
        cli, ["voi", "beliefs", "-n", "20000", "--seed", "1", "--decision", "mean-cvar"]
    )
    assert text.exit_code == 0 and "everything (EVPI)" in text.output
    bad = runner.invoke(cli, ["voi", "beliefs", "-n", "20000", "--step", "0.3"])
    assert bad.exit_code == 2 and "step = 0.3" in bad.output and "Traceback" not in bad.output
