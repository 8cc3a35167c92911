"""Scenarios: what evolves. Loading, ``extends``, overrides, validation and TOML round trips.

A :class:`Scenario` is a frozen dataclass of sections (see :mod:`mcengine.model.parameters`),
validated once when it is built. Every error is a :class:`~mcengine.errors.ScenarioError`
whose message names the source, the ``section.key``, the value and the allowed range.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mcengine.checks import closest, did_you_mean, plain, plain_data
from mcengine.errors import ScenarioError
from mcengine.layout import N_SEGMENTS
from mcengine.model.beliefs import Belief, Beliefs, Dependence
from mcengine.model.builtins import (
    builtin_dir,
    builtin_scenarios,
    builtin_story,
    file_comments,
    locate,
)
from mcengine.model.parameters import (
    SECTIONS,
    Applications,
    Correlation,
    Demand,
    Inference,
    OpenShare,
    Simulation,
    Stress,
    Training,
    TrainingCost,
    Valuation,
)
from mcengine.model.toml_writer import toml_table, toml_value
from mcengine.numerics import cholesky

__all__ = [
    "Scenario",
    "load_scenario",
    "builtin_scenarios",
    "builtin_story",
    "file_comments",
    "parse_override",
]

#: Largest scenario file read, in bytes: a scenario is a page of numbers, not a data file.
MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class Scenario:
    """A complete, validated set of model inputs (MODEL.md "Scenario file").

    Build one with :func:`load_scenario`, :meth:`from_mapping` or :meth:`with_overrides`.
    ``name`` is the scenario the values came from, and ``overrides`` the ``("section.key",
    value)`` pairs applied to it since, in order; outputs show both (:attr:`label`,
    :meth:`overrides_toml`), and neither takes part in equality.
    """

    simulation: Simulation = field(default_factory=Simulation)
    training_cost: TrainingCost = field(default_factory=TrainingCost)
    open_share: OpenShare = field(default_factory=OpenShare)
    demand: Demand = field(default_factory=Demand)
    correlation: Correlation = field(default_factory=Correlation)
    inference: Inference = field(default_factory=Inference)
    training: Training = field(default_factory=Training)
    applications: Applications = field(default_factory=Applications)
    valuation: Valuation = field(default_factory=Valuation)
    stress: tuple[Stress, ...] = ()
    #: Uncertain keys (:mod:`mcengine.model.beliefs`); their point fields hold the medians.
    beliefs: tuple[Belief, ...] = ()
    dependence: Dependence | None = None
    name: str = field(default="custom", compare=False)
    overrides: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        for section, cls in SECTIONS.items():
            if not isinstance(getattr(self, section), cls):
                raise ScenarioError(f"{section} must be a {cls.__name__} section")
        horizon = self.simulation.horizon_years
        window = self.valuation.crash_window_years
        if window > horizon:
            raise ScenarioError(
                f"valuation.crash_window_years = {window:g}, must be in (0, {horizon}] "
                f"(at most simulation.horizon_years = {horizon})"
            )
        per_year = self.simulation.steps_per_year
        for i, shock in enumerate(self.stress):
            if not isinstance(shock, Stress):
                raise ScenarioError(f"stress[{i}] must be a Stress")
            steps = shock.year * per_year
            if shock.year > horizon or abs(steps - round(steps)) > 1e-9:
                raise ScenarioError(
                    f"stress[{i}].year = {shock.year:g}, must be a step end ("
                    + ("a whole year" if per_year == 1 else f"a multiple of 1/{per_year} year")
                    + f") in (0, {horizon}]"
                )
        c = self.correlation
        try:
            cholesky(self.correlation_matrix())
        except np.linalg.LinAlgError:
            raise ScenarioError(
                f"correlation.cost_open = {c.cost_open:g}, correlation.cost_demand = "
                f"{c.cost_demand:g}, correlation.open_demand = {c.open_demand:g}: the driver "
                "correlation matrix must be positive definite"
            ) from None

    # -- derived views -------------------------------------------------------------------
    def correlation_matrix(self) -> np.ndarray:
        """The 3x3 driver shock correlation matrix (cost, open share, demand)."""
        c = self.correlation
        return np.array(
            [
                [1.0, c.cost_open, c.cost_demand],
                [c.cost_open, 1.0, c.open_demand],
                [c.cost_demand, c.open_demand, 1.0],
            ]
        )

    @property
    def uncertain(self) -> Beliefs | None:
        """The beliefs and their dependence, or ``None`` for a point scenario."""
        return Beliefs(self.beliefs, self.dependence) if self.beliefs else None

    @property
    def n_steps(self) -> int:
        return self.simulation.horizon_years * self.simulation.steps_per_year

    @property
    def label(self) -> str:
        """The name outputs show: ``base``, or with overrides ``base + 2 overrides``."""
        n = len(self.overrides)
        return f"{self.name} + {n} override{'s' if n > 1 else ''}" if n else self.name

    def overrides_toml(self) -> str:
        """The overrides as TOML, one ``section.key = value`` line each (``""`` without)."""
        return "".join(f"{key} = {toml_value(value)}\n" for key, value in self.overrides)

    # -- conversions ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Nested ``{section: {key: value}}`` with lists for the per-segment triples."""
        out: dict[str, dict[str, Any]] = {}
        for section in SECTIONS:
            values = dataclasses.asdict(getattr(self, section))
            out[section] = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
        if self.stress:
            out["stress"] = [dataclasses.asdict(shock) for shock in self.stress]
        for belief in self.beliefs:  # the tables, where the medians stood
            section, name, index = belief.location
            if index is None:
                out[section][name] = belief.to_table()
            else:
                out[section][name][index] = belief.to_table()
        if self.dependence is not None:
            out["dependence"] = self.dependence.to_table()
        return out

    def to_toml(self) -> str:
        """The fully resolved scenario as TOML, which :func:`load_scenario` reads back equal
        (every number as its ``repr``: the same bits).

        A ``[section]`` per section with every key, each commented with what it means and
        its valid range (:mod:`mcengine.model.parameters`, the one home of both); lists and
        distributions inline, on one line when short; then ``[dependence]``, and the
        ``[[stress]]`` tables last, where TOML puts arrays of tables."""
        doc = self.to_dict()
        tables = [toml_table(f"[{s}]", doc[s], SECTIONS[s]) for s in SECTIONS]
        if "dependence" in doc:
            tables.append(toml_table("[dependence]", doc["dependence"], None))
        tables += [toml_table("[[stress]]", shock, Stress) for shock in doc.get("stress", [])]
        head = f"# scenario: {self.label}\n" + "".join(
            f"#   {line}\n" for line in self.overrides_toml().splitlines()
        )
        head += "# each key: what it means; its valid range\n"
        return head + "".join(f"\n{table}" for table in tables)

    @classmethod
    def from_mapping(
        cls,
        mapping: Mapping[str, Any],
        *,
        source: str = "scenario",
        name: str = "custom",
        overrides: Mapping[str, Any] | None = None,
    ) -> Scenario:
        """Build from ``{section: {key: value}}``; missing keys take the base values.
        Values may be numpy numbers and array-likes, as lists may; ``overrides`` only
        records which ``section.key`` values were set over the scenario ``name``."""
        mapping = plain_data(mapping)
        if not isinstance(mapping, dict):
            raise ScenarioError(f"{source}: a scenario must be a table of sections")
        _check_names(mapping, source)
        try:
            points, beliefs = _beliefs(mapping)
            sections = {s: SECTIONS[s](**points[s]) for s in SECTIONS}
            stress = tuple(_stress(i, table) for i, table in enumerate(mapping.get("stress", [])))
            dependence = mapping.get("dependence")
            if dependence is not None:
                if not isinstance(dependence, Mapping):
                    raise ScenarioError("dependence must be a table")
                dependence = Dependence.from_table(dependence, beliefs)
            return cls(
                **sections,
                stress=stress,
                beliefs=beliefs,
                dependence=dependence,
                name=name,
                overrides=tuple(plain_data(dict(overrides or {})).items()),
            )
        except ScenarioError as err:
            raise ScenarioError(f"{source}: {err}") from None

    def with_overrides(
        self, overrides: Mapping[str, Any], *, source: str = "overrides"
    ) -> Scenario:
        """A copy with ``{"section.key": value}`` overrides applied and validated (and
        recorded after this scenario's own: a key set again keeps its latest value)."""
        return Scenario.from_mapping(
            _apply_overrides(self.to_dict(), overrides, source),
            source=source,
            name=self.name,
            overrides={**dict(self.overrides), **_override_keys(overrides)},
        )


# -- loading ---------------------------------------------------------------------------------
def load_scenario(
    name_or_path: str | Path = "base",
    overrides: Mapping[str, Any] | None = None,
    *,
    overrides_source: str = "overrides",
) -> Scenario:
    """Load a built-in scenario by name, or a scenario file by path.

    Parameters
    ----------
    name_or_path : str or Path, default ``"base"``
        A built-in name (see :func:`builtin_scenarios`) or the path of a TOML file. A file may
        begin with ``extends = "NAME"`` to start from a built-in scenario, or
        ``extends = "other.toml"`` to start from another file (relative to this one).
    overrides : mapping, optional
        ``{"section.key": value}`` applied after the file, e.g.
        ``{"demand.volatility": 0.3, "valuation.initial_premium": [1, 2, 3]}``.
    overrides_source : str, default ``"overrides"``
        How error messages name the overrides (the CLI passes ``"--set"``).

    Raises
    ------
    ScenarioError
        For an unknown name, an unreadable or malformed file, an unknown section or key, or a
        value out of range. The message names the source, ``section.key``, value and range.
    """
    path, name = locate(name_or_path)
    mapping = _resolve(path, ((_identity(path), name),))
    if overrides:
        mapping = _apply_overrides(mapping, overrides, overrides_source)
        source = f"{_label(path)} with {overrides_source}"
    else:
        source = _label(path)
    recorded = _override_keys(overrides or {})
    return Scenario.from_mapping(mapping, source=source, name=name, overrides=recorded)


def _label(path: Path) -> str:
    try:
        if path.resolve().is_relative_to(builtin_dir().resolve()):
            return f"scenarios/{path.name}"
    except OSError:
        pass
    return plain(str(path), 200)


def _read_document(path: Path) -> dict[str, Any]:
    label = _label(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(f"{label}: file is {size} bytes, must be at most {MAX_FILE_BYTES}")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{label}: not a UTF-8 text file") from None
    except OSError as err:
        raise ScenarioError(f"{label}: cannot read file ({err.strerror})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{label}: not valid TOML ({err})") from None
    except RecursionError:
        raise ScenarioError(f"{label}: not valid TOML (nested too deeply)") from None
    if not doc:
        raise ScenarioError(
            f'{label}: empty scenario file (no section, no key); write extends = "base" to '
            "run the base scenario"
        )
    return doc


def _identity(path: Path) -> str:
    """The file ``path`` names, for cycle checks (its absolute path if it cannot be
    resolved)."""
    try:
        return str(path.resolve())
    except OSError:
        return os.path.abspath(path)


def _resolve(path: Path, chain: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """Read ``path`` and merge it over the scenario it extends, if any.

    ``extends`` names a built-in scenario, or another scenario file, relative to the folder
    of the file that extends it. ``chain`` holds the (resolved path, name) of each file on
    the way here, to refuse cycles.
    """
    label = _label(path)
    doc = _read_document(path)
    if "extends" not in doc:
        return doc
    parent = doc.pop("extends")
    names = builtin_scenarios()
    is_file = isinstance(parent, str) and (parent.endswith(".toml") or "/" in parent)
    if is_file:
        parent_path = path.parent / parent
        if not parent_path.is_file():
            raise ScenarioError(
                f'{label}: extends = "{plain(parent, 200)}": no such scenario file '
                f"(looked for {plain(str(parent_path), 200)})"
            )
    elif isinstance(parent, str) and parent in names:
        parent_path = builtin_dir() / f"{parent}.toml"
    else:
        raise ScenarioError(
            f"{label}: extends = {parent!r}, must be one of {', '.join(names)}, or a .toml "
            f"file (relative to this one){did_you_mean(parent, names)}".replace("'", '"')
        )
    key = _identity(parent_path)
    if key in (k for k, _ in chain):
        cycle = " -> ".join((*(n for _, n in chain), parent))
        raise ScenarioError(f'{label}: extends = "{parent}" makes a cycle ({cycle})')
    base = _resolve(parent_path, (*chain, (key, parent)))
    for section, values in doc.items():
        if isinstance(values, dict) and isinstance(base.get(section), dict):
            base[section] = {**base[section], **values}
        else:
            base[section] = values
    return base


def _beliefs(mapping: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], tuple[Belief, ...]]:
    """Each section's keys with every distribution table replaced by its median, and the
    beliefs, in file order."""
    points: dict[str, dict[str, Any]] = {}
    beliefs = []
    for section, cls in SECTIONS.items():
        values = dict(mapping.get(section, {}))
        for f in dataclasses.fields(cls):
            value = values.get(f.name)
            label, valid = f"{section}.{f.name}", f.metadata["range"]
            if isinstance(value, Mapping):
                beliefs.append(Belief.from_table(label, value, valid))
                values[f.name] = beliefs[-1].point
            elif f.metadata["triple"] and isinstance(value, list | tuple):
                value = list(value)
                for i, element in enumerate(value):
                    if isinstance(element, Mapping):
                        beliefs.append(Belief.from_table(f"{label}[{i}]", element, valid))
                        value[i] = beliefs[-1].point
                values[f.name] = value
        points[section] = values
    return points, tuple(beliefs)


def _stress(index: int, table: Mapping[str, Any]) -> Stress:
    try:
        return Stress(**dict(table))
    except ScenarioError as err:
        raise ScenarioError(str(err).replace("stress.", f"stress[{index}].", 1)) from None


def _check_names(mapping: Mapping[str, Any], source: str) -> None:
    for section, values in mapping.items():
        if section == "stress":
            _check_stress_names(values, source)
            continue
        if section == "dependence":
            continue  # checked by Dependence.from_table
        if section not in SECTIONS and not isinstance(values, Mapping):
            raise ScenarioError(
                f"{source}: {plain(section)} is not a top-level key: keys belong in a section"
                f"{_section_of(section)}"
            )
        if section not in SECTIONS:
            raise ScenarioError(
                f"{source}: unknown section [{plain(section)}]"
                f"{did_you_mean(section, list(SECTIONS))}"
            )
        if not isinstance(values, Mapping):
            raise ScenarioError(f"{source}: {section} must be a table of keys, not a value")
        keys = [f.name for f in dataclasses.fields(SECTIONS[section])]
        for key in values:
            if key not in keys:
                raise ScenarioError(
                    f"{source}: unknown key {section}.{plain(key)}"
                    f"{did_you_mean(key, keys, prefix=section + '.')}"
                )


def _check_stress_names(tables: Any, source: str) -> None:
    if not isinstance(tables, list) or not all(isinstance(t, Mapping) for t in tables):
        raise ScenarioError(f"{source}: stress must be a list of [[stress]] tables")
    keys = [f.name for f in dataclasses.fields(Stress)]
    for i, table in enumerate(tables):
        for key in table:
            if key not in keys:
                raise ScenarioError(
                    f"{source}: unknown key stress[{i}].{plain(key)}"
                    f"{did_you_mean(key, keys, prefix=f'stress[{i}].')}"
                )


def _section_of(key: str) -> str:
    """The did-you-mean of a key written outside its section: its ``section.key``."""
    sections = {f.name: s for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)}
    hint = key if key in sections else closest(key, list(sections))
    return f"; did you mean {sections[hint]}.{hint}?" if hint else ""


def _override_keys(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` with their keys as the text a message and the record show."""
    return {str(dotted): value for dotted, value in overrides.items()}


def _apply_overrides(
    mapping: dict[str, Any], overrides: Mapping[str, Any], source: str
) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in mapping.items()}
    for dotted, value in plain_data(dict(overrides)).items():
        section, _, key = str(dotted).partition(".")
        if not key:
            raise ScenarioError(f"{source}: {plain(repr(dotted))} must be written section.key")
        out.setdefault(section, {})
        if not isinstance(out[section], dict):
            raise ScenarioError(f"{source}: {section} must be a table of keys, not a value")
        out[section][key] = value
        dependence = out.get("dependence")
        if isinstance(dependence, dict) and isinstance(dependence.get("spearman"), list):
            # a key set again is no longer the belief the rank correlations were about
            gone = {str(dotted), *(f"{dotted}[{i}]" for i in range(N_SEGMENTS))}
            pairs = [
                p
                for p in dependence["spearman"]
                if not (isinstance(p, list) and gone & set(map(str, p[:2])))
            ]
            out["dependence"] = {**dependence, "spearman": pairs}
    return out


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``section.key=VALUE`` as written on the command line; VALUE is a TOML value.

    ``demand.volatility=0.3`` and ``valuation.initial_premium=[1, 2, 3]`` are typical.
    A value that is not valid TOML is kept as a string, so the range check can name it.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or "." not in key:
        raise ScenarioError(f"--set {text!r}: must be written section.key=VALUE")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value
