"""Targets: sourced public figures a scenario's outputs are checked against.

A targets file is TOML with a ``title`` and a list of ``[[target]]`` tables::

    title = "Public figures, 2024-2026"

    [[target]]
    name = "inference_price"
    label = "inference price at constant capability"
    observable = "token_price"          # an output of mcengine.layout.OBSERVABLES ...
    years = [0, 1]                      # two years: the annual growth factor between them
    statistic = "median"                # median, mean, quantile (with q) or probability
    interval = [0.0011, 0.111]          # or value = x with tolerance = t; an end may be inf
    mapping = "how the model's observable maps onto the measured quantity"
    [target.source]
    title = "Welcome to LLMflation"
    publisher = "a16z"
    year = 2024
    measured = "price of the cheapest model at MMLU >= 42, per million tokens"

or, for a scenario input rather than an output, ``parameter = "inference.useful_life"``
(its value; a belief's median). One year in ``years`` is the level at that year end (0:
the initial state); for ``max_drawdown_<segment>``, the largest fall from a running peak
of the segment's wealth over the year ends up to it. An interval may be open at one end
(``[-inf, 0.78]``: at most 0.78), as acceptance criteria are. ``statistic =
"probability"`` checks the share of paths whose quantity lies in ``between = [lo, hi]``
against the interval. ``rule`` is ``"within"`` (the model's estimate lies in the
interval; the default) or ``"overlaps"`` (its 95% Monte Carlo interval overlaps it).
Errors name the file, the target, the field, the value and what is allowed.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcengine.checks import plain
from mcengine.errors import InputError
from mcengine.layout import OBSERVABLES, SEGMENTS
from mcengine.model.parameters import SECTIONS
from mcengine.model.scenario import Scenario

__all__ = [
    "Source",
    "Target",
    "Targets",
    "TargetsError",
    "load_targets",
    "builtin_targets",
    "STATISTICS",
    "RULES",
    "DRAWDOWN_OBSERVABLES",
    "builtin_dir",
]

STATISTICS = ("median", "mean", "quantile", "probability")
RULES = ("within", "overlaps")
_SOURCE_FIELDS = ("title", "publisher", "year", "measured")
_TARGET_FIELDS = {
    "name", "label", "observable", "parameter", "years", "statistic", "q", "between",
    "interval", "value", "tolerance", "rule", "mapping", "source",
}  # fmt: skip


#: Each segment's largest fall from a running peak of its wealth, observed at the year
#: ends ``0 .. y`` (``years = [y]``): a fraction, 0.5 for a halving.
DRAWDOWN_OBSERVABLES = tuple(f"max_drawdown_{segment}" for segment in SEGMENTS)
#: Observables that are fractions, and those indexed to 1 at year 0 (the rest are levels).
FRACTION_OBSERVABLES = ("open_share", "utilisation", *DRAWDOWN_OBSERVABLES)
RELATIVE_OBSERVABLES = (
    "training_cost", "demand", "token_price", "wealth_applications", "wealth_inference",
    "wealth_training", "fixed_capability_price",
)  # fmt: skip


class TargetsError(InputError):
    """A targets file, or one of its targets, is invalid."""


@dataclass(frozen=True)
class Source:
    """Where a figure comes from: its title, publisher, year and what exactly it measured."""

    title: str
    publisher: str
    year: int
    measured: str
    url: str = ""


@dataclass(frozen=True)
class Target:
    """One checked figure: a statistic of an observable (or a scenario input) that should
    lie in ``interval``."""

    name: str
    label: str
    interval: tuple[float, float]
    source: Source
    observable: str | None = None
    parameter: str | None = None
    years: tuple[int, ...] = ()
    statistic: str = "median"
    q: float = 0.5
    between: tuple[float, float] | None = None
    rule: str = "within"
    mapping: str = ""

    @property
    def unit(self) -> str:
        """The unit of the model's figure and of the interval: ``× a year`` (a growth
        target's annual factor), ``share of paths``, ``fraction``, ``× year 0`` (an
        observable indexed to 1 at year 0), ``model units`` (a level) or ``key value`` (a
        scenario key, in its own unit)."""
        if self.parameter is not None:
            return "key value"
        if self.statistic == "probability":
            return "share of paths"
        if len(self.years) > 1:
            return "× a year"
        if self.observable in FRACTION_OBSERVABLES:
            return "fraction"
        return "× year 0" if self.observable in RELATIVE_OBSERVABLES else "model units"

    def describe(self) -> str:
        """``median of token_price growth, years 0-1`` and the like."""
        if self.parameter is not None:
            return f"scenario value of {self.parameter}"
        what = self.observable if len(self.years) == 1 else f"{self.observable} a year"
        when = (
            f"year {self.years[0]}"
            if len(self.years) == 1
            else f"years {self.years[0]}-{self.years[1]}"
        )
        stat = {"quantile": f"{self.q:g} quantile", "probability": "share of paths"}.get(
            self.statistic, self.statistic
        )
        inside = f" in [{self.between[0]:g}, {self.between[1]:g}]" if self.between else ""
        return f"{stat} of {what}{inside}, {when}"


@dataclass(frozen=True)
class Targets:
    title: str
    targets: tuple[Target, ...]
    path: str = ""

    def check_against(self, scenario: Scenario) -> None:
        """Refuse targets the scenario cannot answer (a year past its horizon)."""
        horizon = scenario.simulation.horizon_years
        for t in self.targets:
            if t.years and max(t.years) > horizon:
                raise TargetsError(
                    f"{self.path}: target {t.name}: years = {list(t.years)}, past scenario "
                    f"'{scenario.name}''s horizon of {horizon} years"
                )


def _pair(where: str, name: str, value: Any) -> tuple[float, float]:
    """``[low, high]``: numbers, ``low <= high``; one end may be open (``-inf`` or ``inf``:
    a criterion such as "the 2.5th percentile at most 0.78" is ``[-inf, 0.78]``)."""
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and not any(math.isnan(v) for v in value)
        and value[0] <= value[1]
        and value[0] < math.inf
        and value[1] > -math.inf
        and (math.isfinite(value[0]) or math.isfinite(value[1]))
    )
    if not ok:
        raise TargetsError(
            f"{where}: {name} = {plain(repr(value))}, must be [low, high] numbers with "
            "low <= high (one end may be -inf or inf)"
        )
    return float(value[0]), float(value[1])


def _source(where: str, table: Any) -> Source:
    if not isinstance(table, dict):
        raise TargetsError(f"{where}: source must be a table with {', '.join(_SOURCE_FIELDS)}")
    missing = [f for f in _SOURCE_FIELDS if f not in table]
    if missing:
        raise TargetsError(f"{where}: source needs {', '.join(missing)}")
    year = table["year"]
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2100:
        raise TargetsError(f"{where}: source.year = {plain(repr(year))}, must be a year")
    texts = {f: table[f] for f in ("title", "publisher", "measured", "url") if f in table}
    for field, text in texts.items():
        if not isinstance(text, str) or not text.strip():
            raise TargetsError(f"{where}: source.{field} must be a non-empty string")
    return Source(texts["title"], texts["publisher"], year, texts["measured"], texts.get("url", ""))


def _years(where: str, value: Any) -> tuple[int, ...]:
    ok = (
        isinstance(value, list)
        and len(value) in (1, 2)
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
        and (len(value) == 1 or value[0] < value[1])
    )
    if not ok:
        raise TargetsError(
            f"{where}: years = {plain(repr(value))}, must be [year] (a level) or "
            "[from, to] with from < to (an annual growth factor), years >= 0"
        )
    return tuple(value)


def _interval(where: str, table: dict) -> tuple[float, float]:
    if "interval" in table:
        if "value" in table or "tolerance" in table:
            raise TargetsError(f"{where}: give interval or value (with tolerance), not both")
        return _pair(where, "interval", table["interval"])
    if "value" not in table:
        raise TargetsError(f"{where}: needs interval = [low, high] or value = x")
    value, tolerance = table["value"], table.get("tolerance", 0.0)
    for name, x in (("value", value), ("tolerance", tolerance)):
        if not isinstance(x, int | float) or isinstance(x, bool) or not math.isfinite(x):
            raise TargetsError(f"{where}: {name} = {plain(repr(x))}, must be a number")
    if tolerance < 0:
        raise TargetsError(f"{where}: tolerance = {tolerance!r}, must be >= 0")
    return float(value - tolerance), float(value + tolerance)


def _target(where: str, table: Any, names: set[str]) -> Target:
    if not isinstance(table, dict):
        raise TargetsError(f"{where}: each [[target]] must be a table")
    unknown = sorted(set(table) - _TARGET_FIELDS)
    if unknown:
        raise TargetsError(
            f"{where}: unknown field {plain(unknown[0])}; the fields are "
            f"{', '.join(sorted(_TARGET_FIELDS))}"
        )
    name = table.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise TargetsError(f"{where}: name = {plain(repr(name))}, must be an identifier")
    if name in names:
        raise TargetsError(f"{where}: name {name} is used twice")
    where = f"{where} ({name})"
    has = [f for f in ("observable", "parameter") if f in table]
    if len(has) != 1:
        raise TargetsError(f"{where}: give one of observable or parameter")
    statistic = table.get("statistic", "median" if "observable" in table else "value")
    rule = table.get("rule", "within")
    if rule not in RULES:
        raise TargetsError(
            f"{where}: rule = {plain(repr(rule))}, must be one of {', '.join(RULES)}"
        )
    common = {
        "name": name,
        "label": str(table.get("label", name)),
        "interval": _interval(where, table),
        "source": _source(where, table.get("source")),
        "rule": rule,
        "mapping": str(table.get("mapping", "")),
    }
    if "parameter" in table:
        key = table["parameter"]
        section = key.split(".")[0] if isinstance(key, str) else None
        if section not in SECTIONS or key.count(".") != 1:
            raise TargetsError(f"{where}: parameter = {plain(repr(key))}, must be section.key")
        if statistic != "value" or {"years", "q", "between"} & set(table):
            raise TargetsError(
                f"{where}: a parameter target takes no statistic, years, q or between"
            )
        return Target(**common, parameter=key, statistic="value")
    observable = table["observable"]
    if observable not in (*OBSERVABLES, *DRAWDOWN_OBSERVABLES):
        raise TargetsError(
            f"{where}: observable = {plain(repr(observable))}, must be one of "
            f"{', '.join((*OBSERVABLES, *DRAWDOWN_OBSERVABLES))}"
        )
    if statistic not in STATISTICS:
        raise TargetsError(
            f"{where}: statistic = {plain(repr(statistic))}, must be one of {', '.join(STATISTICS)}"
        )
    q = table.get("q", 0.5)
    if statistic == "quantile" and not (isinstance(q, float | int) and 0 < q < 1):
        raise TargetsError(f"{where}: q = {plain(repr(q))}, must be in (0, 1)")
    between = None
    if statistic == "probability":
        between = _pair(where, "between", table.get("between"))
    years = _years(where, table.get("years"))
    if observable in DRAWDOWN_OBSERVABLES and len(years) != 1:
        raise TargetsError(
            f"{where}: years = {list(years)}, a drawdown takes one year: [y], the largest "
            "fall up to year y"
        )
    return Target(
        **common, observable=observable, years=years, statistic=statistic, q=float(q),
        between=between,
    )  # fmt: skip


def load_targets(source: str | Path) -> Targets:
    """A targets file (a path, or the name of a built-in one: :func:`builtin_targets`).

    Raises :class:`TargetsError` (an :class:`~mcengine.errors.InputError`) naming the file,
    the target, the field and what is allowed."""
    path = Path(source)
    if not path.suffix and (builtin_dir() / f"{source}.toml").is_file():
        path = builtin_dir() / f"{source}.toml"
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetsError(
            f"targets {source}: no such file or built-in ({', '.join(builtin_targets())})"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise TargetsError(f"targets {source}: cannot read ({err})") from None
    except tomllib.TOMLDecodeError as err:
        raise TargetsError(f"{path}: not valid TOML ({err})") from None
    unknown = sorted(set(doc) - {"title", "target"})
    if unknown:
        raise TargetsError(f"{path}: unknown key {plain(unknown[0])}; the keys are title, target")
    entries = doc.get("target")
    if not isinstance(entries, list) or not entries:
        raise TargetsError(f"{path}: needs at least one [[target]] table")
    targets: list[Target] = []
    for i, table in enumerate(entries):
        targets.append(_target(f"{path}: target[{i}]", table, {t.name for t in targets}))
    return Targets(str(doc.get("title", path.stem)), tuple(targets), str(path))


def builtin_dir() -> Path:
    """Folder of the built-in targets: inside the installed wheel, or the checkout's."""
    from importlib import resources

    packaged = resources.files("mcengine") / "targets"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "targets"


def builtin_targets() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))
