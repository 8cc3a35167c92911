"""Shared fixtures: small, fixed-seed runs reused across test modules."""

from __future__ import annotations

import numpy as np
import pytest

import mcengine

SEED = 20261129


@pytest.fixture(scope="session")
def base_run():
    """20,000 paths of the base scenario, seed fixed."""
    return mcengine.simulate("base", 20_000, seed=SEED)


@pytest.fixture(scope="session")
def training_wiped_out():
    """500 paths of base without a training moat: every training investor is wiped out."""
    scenario = mcengine.load_scenario(
        "base", {"training.brand_moat": 0.0, "training.tech_premium": 0.0}
    )
    return mcengine.simulate(scenario, 500, seed=1)


def assert_finite_outputs(ds) -> None:
    """MODEL.md: no output is NaN or inf, except crash_year = NaN for 'no crash'."""
    for name in (
        "total_return",
        "annual_return",
        "max_drawdown",
        "training_cost",
        "open_share",
        "demand",
    ):
        assert np.isfinite(ds[name].values).all(), name
    crashed = ds["crash_origin"].values >= 0
    assert np.isfinite(ds["crash_year"].values[crashed]).all()
    assert np.isnan(ds["crash_year"].values[~crashed]).all()
