"""mcengine: a Monte Carlo scenario engine for AI-investment risk.

Load a scenario, simulate paths, summarise them::

    import mcengine
    scenario = mcengine.load_scenario("base", {"demand.volatility": 0.3})
    ds = mcengine.simulate(scenario, n_paths=100_000, seed=42)
    table = mcengine.summarize(ds)
    ds.mcengine.table()  # the summary table (HTML in a notebook)
"""

from mcengine._version import __version__
from mcengine.engine.local import simulate  # noqa: E402
from mcengine.errors import InputError, ResultFileError, ScenarioError  # noqa: E402
from mcengine.model.scenario import Scenario, builtin_scenarios, load_scenario  # noqa: E402
from mcengine.present import accessor as _accessor  # noqa: E402, F401  (registers ds.mcengine)
from mcengine.results.files import read_result  # noqa: E402
from mcengine.stats.summary import summarize  # noqa: E402
from mcengine.studies.compare import compare, sweep  # noqa: E402

__all__ = [
    "InputError",
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
