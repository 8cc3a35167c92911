"""What a result must hold, checked when one is read: mcengine's variables and dimensions,
attributes that agree with the data and with each other, values the engine can write, and
versions this package knows.
"""

from __future__ import annotations

import math
import re
import tomllib
from typing import NoReturn

import numpy as np
import xarray as xr

from mcengine._version import __version__
from mcengine.checks import check_int, shown
from mcengine.errors import InputError, ResultFileError
from mcengine.layout import N_SEGMENTS
from mcengine.numerics import NUMERICS
from mcengine.results.dataset import (
    KNOWN_MODELS,
    PER_PATH,
    PER_PATH_SEGMENT,
    REQUIRED_ATTRS,
    is_summary,
)

__all__ = ["check_result", "check_attributes", "check_values", "OPT_IN"]


def check_result(ds: xr.Dataset, source: str = "result") -> None:
    """Raise :class:`ResultFileError` unless ``ds`` has mcengine's variables and dims."""
    for name in PER_PATH_SEGMENT:
        if name not in ds.variables:
            raise ResultFileError(f"{source}: missing variable {name!r}; not an mcengine result")
        if ds[name].dims != ("path", "segment"):
            raise ResultFileError(
                f"{source}: variable {name!r} has dims {ds[name].dims}, must be ('path', 'segment')"
            )
    for name in PER_PATH:
        if name not in ds.variables:
            raise ResultFileError(f"{source}: missing variable {name!r}; not an mcengine result")
        if ds[name].dims != ("path",):
            raise ResultFileError(
                f"{source}: variable {name!r} has dims {ds[name].dims}, must be ('path',)"
            )
    if ds.sizes.get("segment") != N_SEGMENTS:
        raise ResultFileError(
            f"{source}: must have {N_SEGMENTS} segments, has {ds.sizes.get('segment')}"
        )


#: What the engine can write, per variable: (low, high, NaN allowed). A file with anything
#: else did not come from the engine (or was changed since), and is refused.
_RANGES = {
    "total_return": (0.0, math.inf, False),
    "annual_return": (-1.0, math.inf, False),
    "max_drawdown": (0.0, 1.0, False),
    "crash_year": (0.0, math.inf, True),
    "crash_origin": (-1, 2, False),
    "training_cost": (0.0, math.inf, False),
    "open_share": (0.0, 1.0, False),
    "demand": (0.0, math.inf, False),
    "components": (-math.inf, math.inf, False),
    "wipe_year": (0.0, math.inf, True),
    "wipe_cause": (0, 3, False),
}


_SUMMARY_RANGES = {
    "estimate": (-math.inf, math.inf, True),
    "standard_error": (0.0, math.inf, True),
    "p_crash": (0.0, 1.0, True),
}


def check_values(ds: xr.Dataset, source: str = "result") -> None:
    """Raise :class:`ResultFileError` naming the variable and the first bad path if a value
    of ``ds`` could not have come from the engine (out of range, infinite, NaN where none
    can be), or if a path's ``annual_return`` is not ``total_return ** (1 / horizon) - 1``.
    Works on dask-backed (Zarr) results a chunk at a time, reading each chunk once."""
    ranges = _SUMMARY_RANGES if is_summary(ds) else _RANGES
    checks = [
        (_outside(ds[name], *limits), _out_of_range(ds, source, name, *limits))
        for name, limits in ranges.items()
        if name in ds.variables
    ]
    if not is_summary(ds) and {"total_return", "annual_return"} <= set(ds.variables):
        # Wiped out (W = 0) if and only if the annual return is -1.
        wiped = (ds["total_return"] == 0) != (ds["annual_return"] == -1)
        checks.append((wiped, _wiped_out_disagree(source)))
        horizon = _horizon(ds, source)
        if horizon is not None:
            annual, expected = _annual_check(ds, horizon)
            checks.append((annual, _annual_disagrees(ds, source, horizon, expected)))
    # One pass over the data: all the flags in one computation (a Zarr store's chunks are
    # read once, not once per check), then the first failing check in order explains.
    flags = xr.Dataset({str(i): bad.any() for i, (bad, _) in enumerate(checks)}).compute()
    for i, (bad, explain) in enumerate(checks):
        if bool(flags[str(i)]):
            raise ResultFileError(f"{explain(bad)}; not a result mcengine could have written")


def _outside(values: xr.DataArray, low, high, nan_ok: bool) -> xr.DataArray:
    inside = (values >= low) & (values <= high) & np.isfinite(values.astype(float))
    return ~(inside | values.isnull()) if nan_ok else ~inside


def _out_of_range(ds: xr.Dataset, source: str, name: str, low, high, nan_ok: bool):
    def explain(bad: xr.DataArray) -> str:
        where = _first(bad)
        value = float(ds[name][where].values)
        allowed = f"[{low:g}, {high:g}]" + (" or NaN" if nan_ok else "")
        return f"{source}: {name} = {value!r} at {_at(ds, where)}, must be in {allowed}"

    return explain


def _wiped_out_disagree(source: str):
    def explain(bad: xr.DataArray) -> str:
        at = ", ".join(f"{dim} {i}" for dim, i in _first(bad).items())
        return (
            f"{source}: total_return and annual_return disagree at {at} (W = 0 exactly "
            "when the annual return is -1)"
        )

    return explain


#: How far a file's annual return may be from ``expm1(log(W) / horizon)`` recomputed here,
#: in units of ``eps * (|a| + (1 + a) * (1 + |log W|))``: the rounding of ``a``, and of
#: ``log W`` carried through ``expm1``. The engine's own values stay within 0.5 of it
#: (measured on 2e5 paths of four built-ins), a changed last digit of a printed value
#: does not.
_ANNUAL_ULPS = 4


def _annual_check(ds: xr.Dataset, horizon: int) -> tuple[xr.DataArray, xr.DataArray]:
    """``(bad, expected)``: where ``annual_return`` is not ``W ** (1 / horizon) - 1`` (-1
    where ``W = 0``), within :data:`_ANNUAL_ULPS`, and the annual return each path's ``W``
    gives. Lazy on dask-backed results; no floating-point warnings, even on bad values."""
    total, annual = ds["total_return"], ds["annual_return"]
    alive = np.isfinite(total) & (total > 0)
    log_w = np.log(total.where(alive, 1.0))
    expected = xr.where(alive, np.expm1(log_w / horizon), -1.0)
    tolerance = (
        _ANNUAL_ULPS * np.finfo(float).eps * (abs(expected) + (1 + expected) * (1 + abs(log_w)))
    )
    return abs(annual - expected) > tolerance, expected


def _annual_disagrees(ds: xr.Dataset, source: str, horizon: int, expected: xr.DataArray):
    def explain(bad: xr.DataArray) -> str:
        where = _first(bad)
        annual = float(ds["annual_return"][where].values)
        total = float(ds["total_return"][where].values)
        return (
            f"{source}: annual_return = {annual!r} at {_at(ds, where)} disagrees with "
            f"total_return = {total!r}, which gives W**(1/{horizon}) - 1 = "
            f"{float(expected[where].values)!r} (horizon_years = {horizon})"
        )

    return explain


def _at(ds: xr.Dataset, where: dict[str, int]) -> str:
    """``path 17, segment inference``: a position by path number and labels."""
    return ", ".join(
        f"{dim} {ds[dim].values[i] if dim != 'path' else i}" for dim, i in where.items()
    )


def _first(bad: xr.DataArray) -> dict[str, int]:
    """Index of the first True of ``bad`` in path order (then the other dims)."""
    flat = np.asarray(bad.values).reshape(-1)
    index = np.unravel_index(int(np.argmax(flat)), bad.shape)
    return {str(dim): int(i) for dim, i in zip(bad.dims, index, strict=True)}


#: The keyword of :func:`read_result` that reads a result of a version this package does not
#: know (the CLI's ``--allow-unknown-version``), as the messages name it.
OPT_IN = "allow_unknown_version=True"


#: Seeds and counts are int64 attributes (``mcengine.rng.streams.MAX_SEED``: the results
#: layer does not import rng).
_MAX_INT64 = 2**63 - 1


def check_attributes(
    ds: xr.Dataset, source: str = "result", *, allow_unknown_version: bool = False
) -> None:
    """Raise :class:`ResultFileError` if an attribute of ``ds`` is missing or malformed,
    contradicts the data or another attribute, or names a version this package does not
    know (``numerics``, ``model``, a newer ``mcengine_version``; allowed with
    ``allow_unknown_version``)."""
    for name in REQUIRED_ATTRS:
        if name not in ds.attrs:
            raise ResultFileError(f"{source}: no {name} attribute; not an mcengine result")
    _int_attribute(ds, source, "seed", 0, _MAX_INT64)
    _check_n_paths(ds, source)
    _horizon(ds, source)
    if not allow_unknown_version:
        _check_versions(ds, source)


def _int_attribute(ds: xr.Dataset, source: str, name: str, lo: int, hi: int) -> int:
    try:
        return check_int(name, ds.attrs[name], lo, hi)
    except InputError as err:
        raise ResultFileError(
            f"{source}: {err}; not a result mcengine could have written"
        ) from None


def _check_n_paths(ds: xr.Dataset, source: str) -> None:
    n = _int_attribute(ds, source, "n_paths", 0, _MAX_INT64)
    held = _paths_held(ds)
    if held is not None and n != held[0]:
        raise ResultFileError(
            f"{source}: n_paths = {n}, but {held[1]} {held[0]} paths; not a result mcengine "
            "could have written"
        )


def _paths_held(ds: xr.Dataset) -> tuple[int, str] | None:
    """How many paths the data hold, and what says so (``None`` if nothing does)."""
    if "path" in ds.sizes:
        return ds.sizes["path"], "the data hold"
    counts = ds.get("condition_paths")
    if counts is None or not {"no_crash", "crash"} <= set(counts["condition"].values.tolist()):
        return None
    # Every path either has a crash or has not (mcengine.stats.tails.CONDITIONS).
    return int(counts.sel(condition=["no_crash", "crash"]).sum()), "condition_paths counts"


def _horizon(ds: xr.Dataset, source: str) -> int | None:
    """The horizon in years: ``horizon_years``, which must agree with the scenario's."""
    horizon = _scenario_horizon(ds, source)
    if "horizon_years" not in ds.attrs:
        return horizon
    recorded = _int_attribute(ds, source, "horizon_years", 1, _MAX_INT64)
    if horizon is not None and recorded != horizon:
        raise ResultFileError(
            f"{source}: horizon_years = {recorded}, but the scenario attribute has "
            f"simulation.horizon_years = {horizon}; not a result mcengine could have written"
        )
    return recorded


def _scenario_horizon(ds: xr.Dataset, source: str) -> int | None:
    text = ds.attrs.get("scenario")
    if text is None:
        return None
    try:
        horizon = tomllib.loads(text).get("simulation", {}).get("horizon_years")
    except (tomllib.TOMLDecodeError, TypeError, AttributeError) as err:
        raise ResultFileError(
            f"{source}: the scenario attribute is not a scenario's TOML text ({err}); not a "
            "result mcengine could have written"
        ) from None
    return horizon if isinstance(horizon, int) else None


def _check_versions(ds: xr.Dataset, source: str) -> None:
    this = f"this mcengine ({__version__})"
    numerics = ds.attrs.get("numerics")  # absent from numerics 1 results (mcengine 1.0)
    known = isinstance(numerics, int | np.integer) and not isinstance(numerics, bool | np.bool_)
    if numerics is not None and not (known and 1 <= numerics <= NUMERICS):
        _unknown(
            source,
            f"numerics = {shown(numerics)}, not a numerics version {this} knows (1 to {NUMERICS})",
        )
    model = ds.attrs.get("model")
    if model is not None and not (isinstance(model, str) and model in KNOWN_MODELS):
        choices = " or ".join(repr(m) for m in KNOWN_MODELS)
        _unknown(source, f"model = {shown(model)}, not a model {this} knows ({choices})")
    written = ds.attrs["mcengine_version"]
    release = _release(written)
    if release is None:
        _unknown(source, f"mcengine_version = {shown(written)}, not a version number")
    if release[:2] > _release(__version__)[:2]:  # a patch release writes the same format
        _unknown(source, f"mcengine_version = {written!r}, a newer release than {this}")


def _unknown(source: str, what: str) -> NoReturn:
    raise ResultFileError(f"{source}: {what}; to read it anyway, pass {OPT_IN}")


def _release(version: object) -> tuple[int, ...] | None:
    """``'1.2.0rc1+g3e4'`` -> ``(1, 2)``: the release numbers, without trailing zeros."""
    match = re.match(r"\d+(\.\d+)*", version) if isinstance(version, str) else None
    if match is None:
        return None
    numbers = [int(part) for part in match.group().split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)
