"""The library's front door: :func:`simulate` builds a
:class:`~mcengine.engine.plan.RunPlan` (every setting checked there) and hands it to an
executor: :func:`~mcengine.engine.local.run_local` in this process, or
:mod:`mcengine.engine.dask` with a client. :func:`write_zarr` is the other door, into a Zarr
store (:mod:`mcengine.engine.store`). The executors are siblings: none imports another.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import xarray as xr

from mcengine.engine import dask as cluster
from mcengine.engine import store
from mcengine.engine.inputs import ProgressCallback
from mcengine.engine.local import run_local
from mcengine.engine.plan import RunPlan
from mcengine.engine.settings import RunSettings
from mcengine.model.scenario import Scenario

__all__ = ["simulate", "write_zarr", "warm_up"]


def simulate(
    scenario: Scenario | str,
    n_paths: int = 1_000_000,
    seed: int | None = None,
    *,
    progress: ProgressCallback | None = None,
    client=None,
    settings: RunSettings | None = None,
    **changes: Any,
) -> xr.Dataset:
    """Simulate ``n_paths`` paths of ``scenario`` (or until an accuracy target is met).

    Parameters
    ----------
    scenario : Scenario or str
        A scenario, or a built-in name / TOML path passed to :func:`load_scenario`.
    n_paths : int, default 1_000_000
        Number of paths, in ``[1, 2**40]`` (an integral float such as ``1e6`` counts). With a
        target, the first batch.
    seed : int, optional
        In ``[0, 2**63 - 1]``. ``None`` draws one from the operating system and records it
        in ``attrs["seed"]``, so the run can be repeated.
    settings : RunSettings, optional
        How the run is done, as one object (:class:`mcengine.engine.settings.RunSettings`,
        whose fields are the keywords below); the keywords given change it. An unknown
        keyword is a ``TypeError`` naming the closest setting.
    keep_paths : bool, default True
        ``True`` returns every path (memory grows with the path count). ``False`` streams the
        paths into a summary and returns it (as :func:`mcengine.summarize` would), in memory
        that does not grow with the path count; its quantile-based figures are within
        ``attrs["quantile_error_bound"]`` (normally 1e-6) of the exact ones.
    target_se : float, optional
        Stop once the standard error of ``stop_statistic`` is at most this, in every segment.
    rel_tol : float, optional
        Stop once that standard error is at most ``rel_tol`` times the statistic's absolute
        value, in every segment. With both targets, both must hold.
    stop_statistic : str, default ``"mean"``
        The statistic the targets apply to (a name of :data:`mcengine.stats.summary.STATISTICS`).
    max_paths : int, optional
        With a target: stop here even if it is not met (``attrs["stopping"]`` says which).
        Default ``100 * n_paths``, at most ``2**40``, and with ``keep_paths`` at most what
        fits in half of this machine's memory. Refused without a target, as is a
        ``stop_statistic`` other than the mean: neither would act.
    max_seconds : float, optional
        With a target: stop once this many seconds have passed, at the first block end after
        the first batch, even if the target is not met (``attrs["stopping"]`` says so). The
        clock starts with the run, so a first run's compile counts. The path count then
        depends on the machine; the result still equals a fixed run of the paths it
        reports.
    portfolio_weights : sequence or array of 3 floats, default equal
        Weights of the segments in the summary's buy-and-hold portfolio (summary-only runs;
        for full runs pass them to :func:`mcengine.summarize`).
    fan_chart : bool, default False
        Add per-year quantile bands of wealth and drivers (``fan_wealth``, ``fan_drivers``;
        see :mod:`mcengine.stats.fan`), computed in the same pass without storing paths x years.
    record_inputs : bool, default False
        Add ``inputs (path, input)``: each path's uncertain inputs (the per-path draws and
        the standardised sums of each shock group; :class:`mcengine.layout.Input`), for
        :func:`mcengine.studies.sensitivity.tornado`. Needs ``keep_paths`` and no target.
    record_years : bool, default False
        Add ``yearly (path, year_end, quantity)``: each path's record at each year end, year
        0 to the horizon (wealth, the drivers, the token price relative to year 0, serving
        cost, capex, capacity, utilisation and each segment's revenue;
        :data:`mcengine.layout.OBSERVABLES`). Needs ``keep_paths`` and no target; takes
        ``8 x 14 x (years + 1)`` bytes a path.
    sampler : {"pseudo", "antithetic", "sobol"}, default "pseudo"
        Where the random inputs come from (:mod:`mcengine.rng.samplers`). ``antithetic`` and
        ``sobol`` need ``keep_paths=True`` and no target; their standard errors come from
        ``replicates`` groups of paths. ``sobol`` results depend on ``n_paths`` (no prefix
        property); both are reproducible for the same arguments.
    replicates : int, default 16
        Replicate groups for ``antithetic``/``sobol``; ``n_paths`` must divide into them.
    draws : ndarray, optional
        Every path's random inputs, ``(n_paths, 3 + 8 N)`` in the layout of
        :func:`mcengine.rng.samplers.sobol_draws`, instead of the streams (for designed
        experiments such as :func:`mcengine.studies.sensitivity.sobol_indices`).
    parameter_values : ndarray, optional
        With ``draws`` (so not with a client): every path's values of the scenario's
        uncertain keys, ``(n_paths, beliefs)`` in ``scenario.beliefs`` order, instead of
        their stream (needed with ``draws`` when the scenario has uncertain keys; see
        :func:`mcengine.kernel.beliefs.values_at`).
    chunk_paths : int, optional
        Paths per kernel call (default 65536); with a target, the block added each time.
        With a client, paths per Dask task: a multiple of
        :data:`~mcengine.layout.BLOCK_PATHS` (default: see
        :func:`mcengine.engine.tasks.default_chunk_paths`). Results do not depend on it, except
        that a target is checked at block ends.
    threads : int, optional
        Numba threads for this call (default: Numba's setting; with a client, 1 per task).
        Results do not depend on it.
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk (``total`` is ``max_paths``
        when a target is set).
    client : None, "local" or dask.distributed.Client
        Run on Dask (:mod:`mcengine.engine.dask`; pseudo sampler, no target): one task per
        chunk, a pure function of (scenario, seed, chunk), so lost tasks are recomputed
        and the bits do not change. ``"local"`` starts a :class:`~distributed.LocalCluster`
        (a process per core, 1 thread each) for this call and returns in-memory results.
        With a :class:`~distributed.Client`, kept paths come back as a dask-backed Dataset
        chunked along ``path``: nothing is computed or pulled until asked for (it
        computes on the default Dask scheduler, normally that client).

    Returns
    -------
    xarray.Dataset
        With ``keep_paths``: dimensions ``path`` and ``segment``, variables and attributes
        as in MODEL.md "Outputs". Without: the summary, dims ``(segment, statistic)``. A run
        stopped by a target equals a fixed run of the path count it reports.

    Raises
    ------
    ScenarioError
        For an invalid scenario (file, name or value).
    InputError
        For an invalid argument or combination of arguments (the base of ScenarioError).
    ValueError
        If a quantity of the scenario overflows float64; the message names the cause.
    """
    plan = RunPlan.build(scenario, n_paths, seed, settings, client=client, **changes)
    if plan.client is not None:
        return cluster.simulate(plan, progress)
    return run_local(plan, progress)


def write_zarr(
    scenario: Scenario | str,
    n_paths: int,
    seed: int | None,
    target: str | Path,
    *,
    resume: bool = False,
    client=None,
    progress: ProgressCallback | None = None,
    settings: RunSettings | None = None,
    **changes: Any,
) -> xr.Dataset:
    """Simulate into the Zarr store ``target`` (chunked along ``path``) and return the
    run's summary (streamed from the chunks: quantiles within ``quantile_error_bound``).

    Parameters
    ----------
    scenario, n_paths, seed, progress, client, settings, changes
        As in :func:`simulate`. A store holds every path of a fixed-size run, so the
        settings it cannot honour are refused (their declarations' ``refused_by``);
        ``chunk_paths`` (a multiple of :data:`~mcengine.layout.BLOCK_PATHS`) is also
        the store's chunk along ``path``. With a ``client``, the workers write (the store
        must be on storage that every worker sees); without, this process does.
    target : path
        The store to create; an existing one is replaced when the run finishes.
    resume : bool
        Continue the unfinished store of the same run (see :mod:`mcengine.engine.store`);
        with ``seed=None`` it takes the seed that run recorded.

    Raises
    ------
    InputError
        For a bad argument, an unfinished store without ``resume``, or one of another run.
    OSError
        If the store cannot be written.
    MissingExtraError
        Without Zarr or Dask (``pip install "mcengine[zarr]"``).
    """
    target = store.check_target(target)
    if seed is None and resume:  # a resumed run repeats its seed; a new one draws one
        seed = store.resumed_seed(target)
    plan = RunPlan.build(
        scenario, n_paths, seed, settings, client=client, executor="zarr", **changes
    )
    # "local": a LocalCluster for this call
    with contextlib.nullcontext() if client is None else cluster.using(client) as active:
        return store.write_plan(plan, target, resume=resume, client=active, progress=progress)


#: The runs that compile every kernel a command can need: the simulation kernel (its two
#: kinds: shared coefficients, and per-path ones under uncertain keys), the draws of
#: uncertain keys, the samplers, the streamed summary's histograms, fan charts and the
#: exact summary's moments.
_WARM_UP_RUNS = (
    ("base", {"fan_chart": True, "record_inputs": True, "record_years": True}),
    ("base", {"keep_paths": False}),
    ("base", {"sampler": "antithetic"}),
    ("base", {"sampler": "sobol"}),
    ("beliefs", {}),
)


def warm_up() -> float:
    """Compile (or load from Numba's cache) every kernel the engine and its summaries use,
    with small runs (:data:`_WARM_UP_RUNS`), and return the seconds it took. For images and
    CI jobs that would rather pay the compile once, up front (``mcengine warmup``); a first
    run does not need it, since each kernel compiles when first asked for."""
    from mcengine.stats.summary import summarize

    started = time.perf_counter()
    for scenario, options in _WARM_UP_RUNS:
        summarize(simulate(scenario, 1024, seed=1, **options))  # (fits every sampler)
    return time.perf_counter() - started
