"""Per-path arrays <-> the labelled :class:`xarray.Dataset` of MODEL.md "Outputs".

Labels live here and only here: the kernel sees bare arrays (:class:`PathArrays`), users see
the Dataset.
"""

from __future__ import annotations

import datetime
from typing import NamedTuple

import numpy as np
import xarray as xr

from mcengine._version import __version__
from mcengine.layout import OBSERVABLES, SEGMENTS, Component, Input, Yearly, names
from mcengine.model.scenario import Scenario
from mcengine.numerics import NUMERICS, exp_array

__all__ = [
    "attach_inputs",
    "attach_parameters",
    "is_summary",
    "PathArrays",
    "run_attributes",
    "attach_years",
    "to_dataset",
    "PER_PATH_SEGMENT",
    "PER_PATH",
    "REQUIRED_ATTRS",
    "MODEL",
    "KNOWN_MODELS",
    "CONVENTIONS",
    "history_line",
    "WALL_CLOCK_ATTRS",
    "count_dtype",
    "COMPONENTS",
]

PER_PATH_SEGMENT = ("total_return", "annual_return", "max_drawdown")
PER_PATH = ("crash_year", "crash_origin", "training_cost", "open_share", "demand")
#: The parts of ln W (issue "weighing versus voting"), in the kernel's order.
COMPONENTS = names(Component)
REQUIRED_ATTRS = ("scenario", "seed", "n_paths", "sampler", "mcengine_version")
#: Attributes that two runs of the same call give differently (they read the clock): a
#: summary leaves them out, so that equal runs give identical summaries.
WALL_CLOCK_ATTRS = ("elapsed_seconds", "history")

#: The model these results follow: model 2, docs/model.md ("Model 2"; model 1's contract is
#: MODEL.md v1).
MODEL = "2"
#: What the ``model`` attribute of a result this package can read says: ``"1"`` (mcengine
#: 1.2 and before; files before that said ``"MODEL.md v1"``, the same model) or ``"2"``.
KNOWN_MODELS = (MODEL, "1", "MODEL.md v1")
#: The CF version the results follow (their ``Conventions`` attribute).
CONVENTIONS = "CF-1.8"

#: (long_name, units) of each output: CF 1.8, units that UDUNITS reads ("1": dimensionless).
_DESCRIPTIONS = {
    # Not W - 1 (issue 27): the name stays, for the files and golden hashes already written.
    "total_return": (
        "wealth multiple W at the horizon (1 = money back, 0 = wiped out); not W - 1",
        "1",
    ),
    "annual_return": ("annualised return W**(1/horizon) - 1 (-1 = wiped out)", "1/year"),
    "max_drawdown": ("largest fall of investor wealth from its running peak", "1"),
    "crash_year": ("year of the contagion crash (NaN: no crash)", "year"),
    "crash_origin": ("segment whose fall set off the contagion crash", "1"),
    "training_cost": ("training-cost index C at the horizon (C0 = 1)", "1"),
    "open_share": ("open-weight share of tokens s at the horizon", "1"),
    "demand": ("token demand D = exp(logD) at the horizon, relative to year 0 (D0 = 1)", "1"),
    "components": ("additive parts of ln(total_return); all 0 for wiped-out investors", "1"),
    "wipe_year": ("year the investor was wiped out (NaN: not wiped out)", "year"),
}


class PathArrays(NamedTuple):
    """The kernel's outputs for a block of paths: one array per output, named, with named
    columns (``components[..., Component.X]``).

    The kernel takes the tuple itself and writes each array by its name
    (``out.total_return[i, s]``), so nothing depends on the order of the fields.
    """

    total_return: np.ndarray  # (n, segment)
    annual_return: np.ndarray  # (n, segment)
    max_drawdown: np.ndarray  # (n, segment)
    crash_year: np.ndarray  # (n,)
    crash_origin: np.ndarray  # (n,) int8
    training_cost: np.ndarray  # (n,)
    open_share: np.ndarray  # (n,)
    demand: np.ndarray  # (n,)
    components: np.ndarray  # (n, segment, Component)
    wipe_year: np.ndarray  # (n, segment)
    wipe_cause: np.ndarray  # (n, segment) int8
    flags: np.ndarray  # (n,) int8: the overflow flags (not in the Dataset)

    @classmethod
    def empty(cls, n: int) -> PathArrays:
        k = len(SEGMENTS)
        seg = [np.empty((n, k)) for _ in PER_PATH_SEGMENT]
        return cls(
            *seg,
            crash_year=np.empty(n),
            crash_origin=np.empty(n, dtype=np.int8),
            training_cost=np.empty(n),
            open_share=np.empty(n),
            demand=np.empty(n),
            components=np.empty((n, k, len(COMPONENTS))),
            wipe_year=np.empty((n, k)),
            wipe_cause=np.empty((n, k), dtype=np.int8),
            flags=np.empty(n, dtype=np.int8),
        )

    @classmethod
    def bytes_per_path(cls) -> int:
        """Memory one kept path takes in these arrays."""
        return sum(a.nbytes for a in cls.empty(1))

    @classmethod
    def concatenate(cls, blocks: list[PathArrays]) -> PathArrays:
        """Consecutive blocks of paths as one (the block itself when there is one)."""
        if len(blocks) == 1:
            return blocks[0]
        return cls(*(np.concatenate(arrays) for arrays in zip(*blocks, strict=True)))

    def slice(self, start: int, stop: int) -> PathArrays:
        return PathArrays(*(a[start:stop] for a in self))


def is_summary(ds: xr.Dataset) -> bool:
    """Whether ``ds`` is already a summary (of :func:`summarize` or a summary-only run)."""
    return "estimate" in ds.variables and "standard_error" in ds.variables


def run_attributes(
    scenario: Scenario, *, seed: int, n_paths: int, sampler: str, elapsed: float
) -> dict:
    """The attributes every result carries (MODEL.md "Outputs"), full or summary; with
    overrides, ``scenario_name`` says how many (``base + 1 override``) and ``overrides``
    holds them as TOML."""
    overrides = scenario.overrides_toml()
    call = f"simulate({scenario.label!r}, n_paths={n_paths}, seed={seed}, sampler={sampler!r})"
    return {
        "Conventions": CONVENTIONS,
        "history": history_line(call),
        "title": f"mcengine simulation of scenario '{scenario.label}'",
        "scenario_name": scenario.label,
        **({"overrides": overrides} if overrides else {}),
        "scenario": scenario.to_toml(),
        "seed": np.int64(seed),
        "n_paths": np.int64(n_paths),
        "sampler": sampler,
        "horizon_years": np.int64(scenario.simulation.horizon_years),
        "mcengine_version": __version__,
        "model": MODEL,
        "numerics": np.int64(NUMERICS),
        "elapsed_seconds": float(elapsed),
    }


def history_line(action: str) -> str:
    """A line of a result's CF ``history``: the UTC time, to the second, and ``action``
    (the library call or command that made or changed the result)."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{now} mcengine {__version__}: {action}"


def count_dtype(n: int) -> type:
    """int32 for indices and counts up to ``n`` where it fits: CF 1.8 has no 64-bit
    integers (only a Zarr store or its summary can hold 2**31 paths)."""
    return np.int32 if n <= np.iinfo(np.int32).max else np.int64


def _index(n: int) -> np.ndarray:
    """``0 .. n-1``, as :func:`count_dtype` says."""
    return np.arange(n, dtype=count_dtype(n))


def to_dataset(arrays: PathArrays, attrs: dict) -> xr.Dataset:
    """Label the arrays as MODEL.md's output Dataset."""
    n = arrays.flags.shape[0]
    data_vars = {}
    for name in PER_PATH_SEGMENT:
        data_vars[name] = (("path", "segment"), getattr(arrays, name))
    for name in PER_PATH:
        data_vars[name] = (("path",), getattr(arrays, name))
    data_vars["components"] = (("path", "segment", "component"), arrays.components)
    data_vars["wipe_year"] = (("path", "segment"), arrays.wipe_year)
    data_vars["wipe_cause"] = (("path", "segment"), arrays.wipe_cause)
    ds = xr.Dataset(
        data_vars,
        coords={
            "path": _index(n),
            "segment": list(SEGMENTS),
            "component": list(COMPONENTS),
        },
        attrs=attrs,
    )
    for name, (text, units) in _DESCRIPTIONS.items():
        ds[name].attrs.update(long_name=text, units=units)
    ds["demand"].attrs["comment"] = "tokens per year, in units of the year-0 demand D0"
    ds["path"].attrs["long_name"] = "index of the simulated path, from 0"
    ds["segment"].attrs["long_name"] = "investor segment"
    ds["component"].attrs["long_name"] = "additive part of ln(total_return)"
    ds["crash_origin"].attrs.update(
        flag_values=np.array([-1, 0, 1, 2], dtype=np.int8),
        flag_meanings="none applications inference training",
    )
    ds["wipe_cause"].attrs.update(
        long_name="why the investor was wiped out",
        flag_values=np.array([0, 1, 2, 3], dtype=np.int8),
        flag_meanings="not_wiped_out cash_flow_shortfall zero_value not_finite",
    )
    return ds


def attach_years(ds: xr.Dataset, years: np.ndarray) -> xr.Dataset:
    """``ds`` with each path's yearly record ``years`` ``(path, year, len(Yearly))`` as
    ``yearly (path, year_end, quantity)``, year 0 (the initial state) to the horizon, in
    natural units (the kernel's logs exponentiated, by mcengine's exp: the same bits on
    every CPU)."""
    with np.errstate(over="ignore"):
        natural = exp_array(years)
    natural[..., Yearly.OPEN_SHARE] = years[..., Yearly.OPEN_SHARE]
    out = ds.assign_coords(year_end=_index(years.shape[1]), quantity=list(OBSERVABLES))
    out["year_end"].attrs.update(long_name="end of year (0: the initial state)", units="year")
    out["quantity"].attrs["long_name"] = "recorded quantity"
    out = out.assign(yearly=(("path", "year_end", "quantity"), natural))
    out["yearly"].attrs["long_name"] = (
        "each path's year-end record: wealth, drivers, token price relative to year 0, "
        "serving cost, capex, capacity, utilisation, revenues, and (model 2) the price of a "
        "token of fixed capability relative to year 0, its serving cost and inference's q"
    )
    return out


def attach_inputs(ds: xr.Dataset, inputs: np.ndarray) -> xr.Dataset:
    """``ds`` with each path's random inputs ``inputs (path, input)``: its own draws, then
    each shock group's standardised sum over the steps (:class:`~mcengine.layout.Input`)."""
    # CF 1.8: a long_name each, and units where one applies.
    out = ds.assign_coords(input=list(names(Input))).assign(inputs=(("path", "input"), inputs))
    out["inputs"].attrs.update(
        long_name="each path's random inputs: its own draws, then each shock group's "
        "standardised sum over the steps",
        units="1",
    )
    out["input"].attrs["long_name"] = "random input"
    return out


def attach_parameters(ds: xr.Dataset, parameters: np.ndarray, keys: list[str]) -> xr.Dataset:
    """``ds`` with each path's values of the uncertain ``keys`` (``section.key``) as
    ``parameters (path, parameter)`` (no units: the keys' values mix them)."""
    out = ds.assign_coords(parameter=keys).assign(parameters=(("path", "parameter"), parameters))
    out["parameters"].attrs["long_name"] = "each path's values of the scenario's uncertain keys"
    out["parameter"].attrs["long_name"] = "uncertain scenario key (section.key)"
    return out
