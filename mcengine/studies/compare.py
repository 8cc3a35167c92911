"""Scenario analysis: compare scenarios and sweep parameters on common random numbers.

Every scenario (or grid point) runs on the same seed, so path ``i`` sees the same random
inputs everywhere. Differences between scenarios then carry far less noise than the levels,
and the results say so: each difference from the baseline has its own standard error,
taken from the spread of paired batch differences (``batches`` consecutive groups of paths,
the same groups in every scenario). That works for every statistic, quantiles and CVaR
included, without assuming independence between the scenarios.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from mcengine.checks import check_int
from mcengine.engine.api import simulate
from mcengine.errors import InputError
from mcengine.layout import MAX_PATHS
from mcengine.model.scenario import Scenario, load_scenario
from mcengine.rng.streams import fresh_seed
from mcengine.stats.estimates import batch_standard_error
from mcengine.stats.summary import summarize

__all__ = ["compare", "sweep", "DEFAULT_BATCHES"]

DEFAULT_BATCHES = 20
_SUMMARY_VARIABLES = ("estimate", "standard_error", "ci_low", "ci_high")


def _resolve(scenario: Scenario | str) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def _batched_summaries(ds: xr.Dataset, batches: int) -> list[xr.Dataset]:
    size = ds.sizes["path"] // batches
    return [summarize(ds.isel(path=slice(b * size, (b + 1) * size))) for b in range(batches)]


def _scenario_tables(sc: Scenario, n_paths: int, seed: int, batches: int, threads=None):
    """One scenario's summary and its batch estimates (a Dask task with a client)."""
    ds = simulate(sc, n_paths, seed, threads=threads)
    batch_estimates = xr.concat([b["estimate"] for b in _batched_summaries(ds, batches)], "batch")
    return summarize(ds), batch_estimates


def _labels(scenarios: list[Scenario]) -> list[str]:
    """Each scenario's row label: its :attr:`~Scenario.label` (``base + 1 override``), or,
    where that would not tell two apart, its overrides written out."""
    labels = [s.label for s in scenarios]
    if len(set(labels)) == len(labels):
        return labels
    return [
        f"{s.name} + {s.overrides_toml().strip().replace(chr(10), ', ')}" if s.overrides else s.name
        for s in scenarios
    ]


def _run_all(scenarios: list[Scenario], n_paths: int, seed: int, batches: int, client=None):
    n_paths = check_int("n_paths", n_paths, 1, MAX_PATHS, count=True)
    batches = check_int("batches", batches, 0, MAX_PATHS)  # the rule below says why 2
    if batches < 2 or n_paths < 2 * batches:
        raise InputError(
            f"n_paths = {n_paths} with batches = {batches}: need batches >= 2 and at least 2 "
            "paths per batch"
        )
    n_paths -= n_paths % batches  # whole batches, identical in every scenario
    arguments = {"n_paths": n_paths, "seed": seed, "batches": batches}
    if client is None:
        results = [_scenario_tables(sc, **arguments) for sc in scenarios]
    else:
        from mcengine.engine.dask import map_on

        # One task per scenario, each on one Numba thread (the cluster runs them side by side).
        results = map_on(client, _scenario_tables, scenarios, threads=1, **arguments)
    return n_paths, [r[0] for r in results], [r[1] for r in results]


def _stack(tables, dim: str) -> xr.Dataset:
    keep = [*_SUMMARY_VARIABLES, "p_crash", "p_crash_standard_error"]
    return xr.concat([t[keep] for t in tables], dim)


def _differences(tables, batch_estimates):
    base_table, base_batches = tables[0], batch_estimates[0]
    diff = xr.concat([t["estimate"] - base_table["estimate"] for t in tables], "scenario")
    errors = [batch_standard_error(b - base_batches, "batch") for b in batch_estimates]
    return diff, xr.concat(errors, "scenario")


def compare(
    scenarios: Sequence[Scenario | str],
    n_paths: int = 200_000,
    seed: int | None = None,
    *,
    batches: int = DEFAULT_BATCHES,
    client=None,
) -> xr.Dataset:
    """Summaries of several scenarios side by side, with differences from the first.

    Parameters
    ----------
    scenarios : sequence of Scenario or str
        At least one; the first is the baseline. Names must be distinct.
    n_paths : int, default 200_000
        Paths per scenario (rounded down to whole batches).
    seed : int, optional
        One seed for all scenarios (common random numbers); drawn and recorded if omitted.
    batches : int, default 20
        Paired batches for the standard errors of the differences.
    client : None, "local" or dask.distributed.Client
        Run the scenarios side by side on Dask, one task each (the same bits).

    Returns
    -------
    xarray.Dataset
        ``estimate``, ``standard_error``, ``ci_low``, ``ci_high`` with dims ``(scenario,
        segment, statistic)``, ``p_crash``; ``difference`` and ``difference_standard_error``
        (each scenario minus the baseline, so 0 for the baseline itself).
    """
    resolved = [_resolve(s) for s in scenarios]
    names = _labels(resolved)
    if not resolved or len(set(names)) != len(names):
        raise InputError(f"scenarios = {names}, must be at least one, with distinct names")
    return _side_by_side(resolved, names, n_paths, seed, batches=batches, client=client)


def _side_by_side(
    resolved: list[Scenario],
    names: list[str],
    n_paths,
    seed,
    *,
    batches=DEFAULT_BATCHES,
    client=None,
) -> xr.Dataset:
    """:func:`compare`'s table of ``resolved`` scenarios labelled ``names``."""
    seed = fresh_seed() if seed is None else seed
    n, tables, batch_estimates = _run_all(resolved, n_paths, seed, batches, client)
    diff, diff_se = _differences(tables, batch_estimates)
    out = _stack(tables, "scenario")
    out = out.assign_coords(scenario=names)
    out["difference"] = diff.assign_coords(scenario=names)
    out["difference_standard_error"] = diff_se.assign_coords(scenario=names)
    out["difference"].attrs["long_name"] = f"estimate minus the baseline ({names[0]})"
    out["difference_standard_error"].attrs["long_name"] = (
        f"standard error of the difference, from {batches} paired batches (common random numbers)"
    )
    out.attrs.update(
        seed=np.int64(seed), n_paths=np.int64(n), baseline=names[0], batches=np.int64(batches)
    )
    return out


def _parse_axis(key: str, values) -> tuple[str, np.ndarray]:
    if isinstance(values, str):
        raise InputError(f"sweep values for {key} must be numbers, not {values!r}")
    array = np.asarray(list(values), dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise InputError(f"sweep values for {key} must be a non-empty list of numbers")
    return key, array


def sweep(
    scenario: Scenario | str,
    grid: Mapping[str, Sequence[float]],
    n_paths: int = 100_000,
    seed: int | None = None,
    **options,
) -> xr.Dataset:
    """Summaries over a grid of one or two scenario keys, on common random numbers.

    Parameters
    ----------
    scenario : Scenario or str
        The scenario to vary.
    grid : mapping
        ``{"section.key": values}`` for one or two keys, e.g.
        ``{"training_cost.decline_median": np.linspace(0.7, 2.3, 9)}``. Every value is
        validated like a scenario override.
    n_paths, seed, **options
        As in :func:`compare`, whose keywords (``batches``, ``client``) ``options`` are: the
        grid points are compared side by side (with a client, one Dask task each), and
        differences are taken from the first.

    Returns
    -------
    xarray.Dataset
        As :func:`compare`, with one dimension per varied key (named by the key) instead of
        ``scenario``.
    """
    base = _resolve(scenario)
    if not 1 <= len(grid) <= 2:
        raise InputError(f"a sweep varies 1 or 2 keys, not {len(grid)}")
    axes = [_parse_axis(k, v) for k, v in grid.items()]
    points = []
    for combo in itertools.product(*(values for _, values in axes)):
        overrides = {key: float(v) for (key, _), v in zip(axes, combo, strict=True)}
        points.append(base.with_overrides(overrides, source="sweep"))
    labels = [str(i) for i in range(len(points))]  # (a grid may repeat a value)
    grid_table = _side_by_side(points, labels, n_paths, seed, **options)
    shape = [len(values) for _, values in axes]
    out = xr.Dataset(
        attrs={
            "seed": grid_table.attrs["seed"],
            "n_paths": grid_table.attrs["n_paths"],
            "scenario_name": base.label,
            "batches": grid_table.attrs["batches"],
        }
    )
    dims = [key for key, _ in axes]
    for name, var in grid_table.data_vars.items():
        data = var.values.reshape(shape + list(var.shape[1:]))
        out[name] = (dims + list(var.dims[1:]), data)
    coords = {key: values for key, values in axes}
    coords.update(
        {
            d: grid_table[d].values
            for d in grid_table.coords
            if d != "scenario" and d in grid_table.dims
        }
    )
    coords["description"] = ("statistic", grid_table["description"].values)
    return out.assign_coords(coords)
