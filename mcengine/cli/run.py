"""``mcengine run``: simulate a scenario and summarise it, in-process, on Dask or into a
Zarr store."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from mcengine.extras import require
from mcengine.layout import (
    RESULT_SUFFIXES,
    STATISTICS,
    ZARR_SUFFIX,
)
from mcengine.rng.samplers import DEFAULT_REPLICATES, SAMPLERS

if TYPE_CHECKING:
    import xarray as xr
from mcengine.cli.errors import (
    RUN,
    UserError,
    need,
    write_error,
)
from mcengine.cli.library import (
    dumps,
    run_simulation,
    save_plot,
)
from mcengine.cli.options import (
    PLOT_OPTION,
    simulation_options,
)
from mcengine.cli.types import (
    Fraction,
    OutputPath,
    PathCount,
    ThreadCount,
    Weights,
)

__all__ = ["COMMANDS"]


@click.command()
@simulation_options
@click.option(
    "--out",
    type=OutputPath(*RESULT_SUFFIXES, what=".nc (a netCDF-4 file) or .zarr (a Zarr store)"),
    help="Write the per-path results to this netCDF file, or a Zarr store if it ends in "
    ".zarr (atomically).",
)
@click.option(
    "--summary-only",
    is_flag=True,
    help="Stream paths into the summary instead of keeping them: memory stays flat at any "
    "path count, quantiles within 1e-6. --out then writes the summary.",
)
@click.option(
    "--threads",
    type=ThreadCount(),
    default=None,
    help="Numba threads, at most this machine's (results do not depend on it).",
)
@click.option(
    "--target-se",
    type=Fraction(),
    default=None,
    help="Add paths until the standard error of --stop-on is at most this in every segment: "
    "a fraction of annual return (0.0005 or 0.05%, i.e. 0.05 percentage points); -n is then "
    "the first batch. Exit code 1 if --max-paths comes first.",
)
@click.option(
    "--rel-tol",
    type=Fraction(),
    default=None,
    help="Add paths until that standard error is at most this fraction of the statistic "
    "(0.05 or 5%); with --target-se, both must hold.",
)
@click.option(
    "--stop-on",
    type=click.Choice(list(STATISTICS)),
    default="mean",
    show_default=True,
    help="The statistic --target-se/--rel-tol apply to.",
)
@click.option(
    "--max-paths",
    type=PathCount(),
    default=None,
    help="With a target: never more paths than this (default 100 x -n).",
)
@click.option(
    "--sampler",
    type=click.Choice(list(SAMPLERS)),
    default="pseudo",
    show_default=True,
    help="Random inputs: independent paths, antithetic pairs, or randomised Sobol points "
    "(errors then come from --replicates groups).",
)
@click.option(
    "--replicates",
    type=click.IntRange(2, None),
    default=DEFAULT_REPLICATES,
    show_default=True,
    help="Replicate groups for antithetic/sobol standard errors (not for pseudo).",
)
@click.option(
    "--record-inputs",
    is_flag=True,
    help="Keep each path's uncertain inputs in --out FILE.nc (for mcengine plot --kind tornado).",
)
@click.option(
    "--record-years",
    is_flag=True,
    help="Keep each path's year-end record in --out FILE.nc: wealth, drivers, token price, "
    "serving cost, capex, capacity, utilisation, revenues.",
)
@click.option(
    "--fan-chart",
    is_flag=True,
    help="Add per-year quantile bands of wealth and drivers to --out and --json ('fan'); "
    "draw them with mcengine plot FILE --kind fan.",
)
@PLOT_OPTION
@click.option(
    "--weights",
    type=Weights(),
    default="1,1,1",
    show_default=True,
    help="Portfolio weights of applications, inference, training for the joint-risk table.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    default=None,
    help="Run on a local Dask cluster of this many worker processes (1 thread each).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Run on the running Dask cluster at this scheduler address (tcp://host:8786).",
)
@click.option(
    "--chunk-paths",
    type=PathCount(),
    default=None,
    help="Paths per Dask task and per Zarr chunk (a multiple of 65536; default: automatic).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Finish the interrupted run whose --out .zarr store was left unfinished.",
)
def run(
    scenario,
    n_paths,
    seed,
    overrides,
    as_json,
    out,
    summary_only,
    threads,
    target_se,
    rel_tol,
    stop_on,
    max_paths,
    sampler,
    replicates,
    record_inputs,
    record_years,
    fan_chart,
    plot,
    weights,
    workers,
    scheduler,
    chunk_paths,
    resume,
) -> None:
    """Simulate SCENARIO (a built-in name or a .toml file; default: base) and summarise it.

    --out FILE.nc writes netCDF; --out DIR.zarr writes a Zarr store chunk by chunk (from the
    Dask workers with --workers/--scheduler), which --resume can finish after an interrupt.
    Exit code 1: a --target-se/--rel-tol target was not met within --max-paths (the results
    are printed all the same).
    """
    from mcengine.stats.summary import summarize

    to_zarr = out is not None and out.suffix.lower() == ZARR_SUFFIX
    if workers is not None or scheduler is not None:
        need("distributed", "dask", what="--workers" if workers is not None else "--scheduler")
    _check_no_effect(
        click.get_current_context(),
        out=out,
        as_json=as_json,
        plot=plot,
        summary_only=summary_only,
        target=target_se is not None or rel_tol is not None,
        sampler=sampler,
        fan_chart=fan_chart,
        record_inputs=record_inputs,
        record_years=record_years,
    )
    _check_run_options(
        to_zarr=to_zarr,
        resume=resume,
        workers=workers,
        scheduler=scheduler,
        chunk_paths=chunk_paths,
        summary_only=summary_only,
        plot=plot,
        sampler=sampler,
        target_se=target_se,
        rel_tol=rel_tol,
        record_inputs=record_inputs,
        record_years=record_years,
        fan_chart=fan_chart,
    )
    started = time.perf_counter()
    if to_zarr:  # (the writers and plots are imported when asked for: start-up time)
        from mcengine.engine.store import partial_paths, write_zarr

        RUN.note = (
            f" (the finished chunks are kept in {partial_paths(out)[0]}: run again with "
            "--resume to finish)"
        )
    with _dask_client(workers, scheduler) as client:
        if to_zarr:
            table = run_simulation(
                scenario,
                overrides,
                n_paths,
                seed,
                quiet=as_json,
                run=write_zarr,
                target=out,
                client=client,
                chunk_paths=chunk_paths,
                portfolio_weights=weights,
                threads=threads,
                resume=resume,
            )
            _report(table, as_json, time.perf_counter() - started, out)
            return
        ds = run_simulation(
            scenario,
            overrides,
            n_paths,
            seed,
            quiet=as_json,
            keep_paths=not summary_only,
            threads=threads,
            target_se=target_se,
            rel_tol=rel_tol,
            stop_statistic=stop_on,
            max_paths=max_paths,
            portfolio_weights=weights,
            fan_chart=fan_chart,
            record_inputs=record_inputs,
            record_years=record_years,
            sampler=sampler,
            replicates=replicates,
            **({} if client is None else {"client": client, "chunk_paths": chunk_paths}),
        )
        if client is not None and not summary_only:
            ds = _compute(ds, quiet=as_json)
    elapsed = time.perf_counter() - started
    table = summarize(ds, portfolio_weights=weights)
    # What can only fail at the end (a full disk) fails after the results are printed.
    written = None
    try:
        if out is not None:
            from mcengine.results.files import write_netcdf

            try:
                written = write_netcdf(ds, out)
            except OSError as err:
                raise write_error(f"--out {out}", err) from None
        if plot is not None:
            from mcengine.present import plots

            save_plot(plots.distributions, ds, plot)
    finally:
        _report(table, as_json, elapsed, written)


def _report(table: xr.Dataset, as_json: bool, elapsed: float, out: Path | None) -> None:
    from mcengine.present.tables import render_summary, summary_to_json

    if as_json:
        click.echo(dumps(summary_to_json(table, elapsed=elapsed)))
    elif RUN.compiled:  # a rate would be the compile's, not the engine's
        render_summary(table, out=out)
        click.echo(f"{elapsed:.2f} s, most of it compiling (paths/s: run it again)")
    else:
        render_summary(table, elapsed=elapsed, out=out)
    if table.attrs.get("target_met", 1) == 0:
        RUN.unmet = (
            f"the target was not met: stopped at --max-paths = {int(table.attrs['n_paths']):,}"
        )


def _check_no_effect(
    ctx: click.Context, *, out, as_json, plot, summary_only, target, sampler, **recorded
) -> None:
    """Refuse an option that would do nothing in this combination, saying what to change."""
    given = {
        name
        for name in ("stop_on", "max_paths", "replicates")
        if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)
    }
    if not target and given & {"stop_on", "max_paths"}:
        flag = "--stop-on" if "stop_on" in given else "--max-paths"
        raise UserError(f"{flag} applies to a target: add --target-se or --rel-tol, or drop it")
    if sampler == "pseudo" and "replicates" in given:
        raise UserError(
            "--replicates groups antithetic or Sobol paths for their standard errors: add "
            "--sampler antithetic or sobol, or drop it"
        )
    if plot is not None and summary_only:
        raise UserError("--plot draws the per-path distributions: drop --summary-only")
    if recorded["fan_chart"] and out is None and not as_json:
        raise UserError(
            "--fan-chart adds per-year bands to --out and --json only: add --out FILE.nc "
            "(then mcengine plot FILE.nc --kind fan) or --json"
        )
    for name in ("record_inputs", "record_years"):
        if recorded[name] and out is None:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag} keeps per-path records in --out: add --out FILE.nc")


def _check_run_options(
    *, to_zarr, resume, workers, scheduler, chunk_paths, plot, summary_only, **settings
) -> None:
    """Cross-field rules of ``run``'s Dask and Zarr options; ``settings`` are the run's
    plan settings (``target_se``, ``sampler``...) that an executor may refuse."""
    from mcengine.engine.plan import refused_settings

    if workers is not None and scheduler is not None:
        raise UserError("--workers starts a local cluster and --scheduler joins one: pick one")
    if resume and not to_zarr:
        raise UserError("--resume finishes a Zarr store: give --out DIR.zarr")
    dask = workers is not None or scheduler is not None
    if chunk_paths is not None and not (dask or to_zarr):
        raise UserError(
            "--chunk-paths sets Dask tasks and Zarr chunks: add --workers, "
            "--scheduler or --out DIR.zarr"
        )
    settings["keep_paths"] = not summary_only
    if to_zarr:
        names = [_FLAGS[name] for name in refused_settings("zarr", **settings)]
        if plot is not None:
            names.append("--plot")
        if names:
            raise UserError(
                f"--out .zarr stores every path of a fixed-size run: drop "
                f"{', '.join(dict.fromkeys(names))} (or write .nc)"
            )
    elif dask:
        names = [_FLAGS[name] for name in refused_settings("dask", **settings)]
        if names:
            raise UserError(
                f"{', '.join(dict.fromkeys(names))} cannot run on Dask (--workers/--scheduler); "
                "--fan-chart needs --summary-only there"
            )


#: The flag of each setting of :data:`mcengine.engine.plan.EXECUTOR_LIMITS`.
_FLAGS = {
    "summary_only": "--summary-only",
    "target_se": "--target-se/--rel-tol",
    "rel_tol": "--target-se/--rel-tol",
    "record_inputs": "--record-inputs",
    "record_years": "--record-years",
    "sampler": "--sampler",
    "fan_chart": "--fan-chart",
    "fan_chart_with_paths": "--fan-chart",
}


@contextlib.contextmanager
def _dask_client(workers: int | None, scheduler: str | None):
    """The Dask client ``run`` was asked for, closed afterwards (``None``: run locally)."""
    if workers is None and scheduler is None:
        yield None
        return
    from mcengine.engine.dask import local_client

    if workers is not None:
        with local_client(workers) as client:
            yield client
        return
    Client = require("distributed", extra="dask", what="--scheduler").Client

    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as err:
        raise UserError(f"--scheduler {scheduler}: cannot connect ({err})") from None
    with client:
        yield client


def _compute(ds: xr.Dataset, *, quiet: bool) -> xr.Dataset:
    """Compute a dask-backed result on its cluster, with Dask's progress bar on a terminal."""
    from distributed import progress

    persisted = ds.persist()
    if not quiet and sys.stderr.isatty():
        with contextlib.redirect_stdout(sys.stderr):
            progress(persisted)
            click.echo(err=True)
    try:
        return persisted.compute()
    except ValueError as err:  # a float64 overflow, refused in the task
        raise UserError(str(err)) from None


#: This module's commands, for the group (:mod:`mcengine.cli`).
COMMANDS = [run]
