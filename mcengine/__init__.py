"""mcengine: a Monte Carlo scenario engine for AI-investment risk.

Load a scenario, simulate paths, summarise them::

    import mcengine
    scenario = mcengine.load_scenario("base", {"demand.volatility": 0.3})
    ds = mcengine.simulate(scenario, n_paths=100_000, seed=42)
    table = mcengine.summarize(ds)
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mcengine")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "1.0.0+unknown"

from mcengine.analysis import compare, sweep  # noqa: E402
from mcengine.engine import simulate  # noqa: E402
from mcengine.errors import ResultFileError, ScenarioError  # noqa: E402
from mcengine.scenario import Scenario, builtin_scenarios, load_scenario  # noqa: E402
from mcengine.summary import summarize  # noqa: E402

__all__ = [
    "Scenario",
    "ScenarioError",
    "ResultFileError",
    "builtin_scenarios",
    "compare",
    "sweep",
    "load_scenario",
    "simulate",
    "summarize",
    "__version__",
]
