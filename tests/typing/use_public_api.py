"""A typed client of mcengine's public API: mypy checks it against the package's annotations
(``tests/test_typing.py``; settings in pyproject.toml). It is never run."""

from __future__ import annotations

import xarray as xr

import mcengine
from mcengine.bench import WORKLOADS, Workload, run_workload
from mcengine.errors import InputError, ResultFileError, ScenarioError
from mcengine.stats.estimates import Estimate, mean_standard_error, proportion


def risk_model(seed: int) -> float:
    scenario: mcengine.Scenario = mcengine.load_scenario("base", {"demand.volatility": 0.3})
    ds: xr.Dataset = mcengine.simulate(scenario, 10_000, seed=seed, keep_paths=False)
    table: xr.Dataset = mcengine.summarize(ds)
    compared: xr.Dataset = mcengine.compare(["base", "training_bust"], 1000, seed=seed)
    swept: xr.Dataset = mcengine.sweep("base", {"demand.volatility": [0.1, 0.3]}, 1000, seed)
    names: list[str] = list(mcengine.builtin_scenarios())
    version: str = mcengine.__version__
    del compared, swept, names, version
    return float(table["estimate"].sel(segment="training", statistic="mean"))


def errors() -> tuple[type[ValueError], ...]:
    return (InputError, ScenarioError, ResultFileError, mcengine.ScenarioError)


def figures() -> float:
    e: Estimate = proportion(3, 10)
    figures: dict[str, object] = run_workload("base", quick=True, repeats=1)
    workload: Workload = WORKLOADS["base"]
    return e.se + mean_standard_error(1.0, 10) + workload.sized(True) + len(figures)
