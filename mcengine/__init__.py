"""mcengine: a Monte Carlo scenario engine for AI-investment risk.

Load a scenario, simulate paths, summarise them::

    import mcengine
    scenario = mcengine.load_scenario("base", {"demand.volatility": 0.3})
    ds = mcengine.simulate(scenario, n_paths=100_000, seed=42)
    table = mcengine.summarize(ds)
    ds.mcengine.table()  # the summary table (HTML in a notebook)

``import mcengine`` loads none of the engine: each name below is imported when first used
(PEP 562), so that the command line and a library user's start-up do not wait for Numba,
xarray and scipy. The first use of any of them also registers the ``ds.mcengine`` accessor.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mcengine._version import __version__
from mcengine.errors import InputError, ResultFileError, ScenarioError

if TYPE_CHECKING:  # what type checkers and IDEs see: the names, eagerly
    from mcengine.engine.api import simulate
    from mcengine.engine.settings import RunSettings
    from mcengine.model.scenario import Scenario, builtin_scenarios, load_scenario
    from mcengine.results.files import read_result
    from mcengine.stats.summary import summarize
    from mcengine.studies.compare import compare, sweep

__all__ = [
    "InputError",
    "RunSettings",
    "Scenario",
    "ScenarioError",
    "ResultFileError",
    "builtin_scenarios",
    "compare",
    "sweep",
    "load_scenario",
    "read_result",
    "simulate",
    "summarize",
    "__version__",
]

#: Each lazily imported name -> the module that defines it.
_LAZY = {
    "simulate": "mcengine.engine.api",
    "RunSettings": "mcengine.engine.settings",
    "Scenario": "mcengine.model.scenario",
    "builtin_scenarios": "mcengine.model.scenario",
    "load_scenario": "mcengine.model.scenario",
    "read_result": "mcengine.results.files",
    "summarize": "mcengine.stats.summary",
    "compare": "mcengine.studies.compare",
    "sweep": "mcengine.studies.compare",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mcengine' has no attribute {name!r}")
    importlib.import_module("mcengine.present.accessor")  # registers ds.mcengine
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
