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

from mcengine.cli.errors import RUN, UserError, need, option_words, user_errors, write_error
from mcengine.cli.library import run_simulation, save_plot, show
from mcengine.cli.options import PLOT_OPTION, setting_options, simulation_options
from mcengine.cli.types import OutputPath
from mcengine.extras import require
from mcengine.layout import RESULT_SUFFIXES, ZARR_SUFFIX

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["COMMANDS"]


_OUT = click.option(
    "--out",
    type=OutputPath(*RESULT_SUFFIXES, what=".nc (a netCDF-4 file) or .zarr (a Zarr store)"),
    help="Write the per-path results to this netCDF file, or a Zarr store if it ends in "
    ".zarr (atomically).",
)
_WORKERS = click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    default=None,
    help="Run on a local Dask cluster of this many worker processes (1 thread each).",
)
_SCHEDULER = click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Run on the running Dask cluster at this scheduler address (tcp://host:8786).",
)
_RESUME = click.option(
    "--resume",
    is_flag=True,
    help="Finish the interrupted run whose --out .zarr store was left unfinished.",
)


@click.command()
@simulation_options
@setting_options(
    before={"keep_paths": (_OUT,), "portfolio_weights": (PLOT_OPTION,),
            "chunk_paths": (_WORKERS, _SCHEDULER)},
    after=(_RESUME,),
)  # fmt: skip
def run(scenario, n_paths, seed, overrides, as_json, out, plot, **options) -> None:
    """Simulate SCENARIO (a built-in name or a .toml file; default: base) and summarise it.

    --out FILE.nc writes netCDF; --out DIR.zarr writes a Zarr store chunk by chunk (from the
    Dask workers with --workers/--scheduler), which --resume can finish after an interrupt.
    Exit code 1: a --target-se/--rel-tol target was not met within --max-paths or
    --max-seconds (the results are printed all the same).
    """
    from mcengine.engine.settings import RunSettings
    from mcengine.stats.summary import summarize

    workers, scheduler, resume = (options.pop(k) for k in ("workers", "scheduler", "resume"))
    settings = RunSettings.of(**options)
    to_zarr = out is not None and out.suffix.lower() == ZARR_SUFFIX
    if workers is not None or scheduler is not None:
        need("distributed", "dask", what="--workers" if workers is not None else "--scheduler")
    _check_no_effect(click.get_current_context(), settings, out=out, as_json=as_json, plot=plot)
    if workers is not None and scheduler is not None:
        raise UserError("--workers starts a local cluster and --scheduler joins one: pick one")
    _check_run_options(
        settings, to_zarr=to_zarr, resume=resume, dask=workers is not None or scheduler is not None,
        plot=plot,
    )  # fmt: skip
    started = time.perf_counter()
    if to_zarr:  # (the writers and plots are imported when asked for: start-up time)
        from mcengine.engine.api import write_zarr
        from mcengine.engine.store import partial_paths

        RUN.note = (
            f" (the finished chunks are kept in {partial_paths(out)[0]}: run again with "
            "--resume to finish)"
        )
    with _dask_client(workers, scheduler) as client:
        given = (
            {"settings": settings} if client is None else {"settings": settings, "client": client}
        )
        if to_zarr:
            table = run_simulation(
                scenario, overrides, n_paths, seed, quiet=as_json, run=write_zarr, target=out,
                resume=resume, **given,
            )  # fmt: skip
            _report(table, as_json, time.perf_counter() - started, out)
            return
        ds = run_simulation(scenario, overrides, n_paths, seed, quiet=as_json, **given)
        if client is not None and settings.keep_paths:
            ds = _compute(ds, quiet=as_json)
    elapsed = time.perf_counter() - started
    table = summarize(ds, portfolio_weights=settings.portfolio_weights)
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
    # After a compile, a rate would be the compile's, not the engine's.
    show("summary", table, as_json=as_json, elapsed=elapsed, out=out, compiling=RUN.compiled)
    if table.attrs.get("target_met", 1) == 0:
        n = int(table.attrs["n_paths"])
        reason = str(table.attrs["stopping"]).removeprefix("target not met ")
        if reason == "at the path limit":
            RUN.unmet = f"the target was not met: stopped at --max-paths = {n:,}"
        else:  # another limit, in the library's words
            RUN.unmet = option_words(f"the target was not met {reason}: stopped at {n:,} paths")


def _check_no_effect(ctx: click.Context, settings, *, out, as_json, plot) -> None:
    """Refuse an option that would do nothing in this combination, saying what to change."""
    from mcengine.engine.settings import declared

    declarations = declared()
    given = [
        name
        for name in declarations
        if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)
    ]
    target = settings.target_se is not None or settings.rel_tol is not None
    idle = [name for name in given if declarations[name].applies_to == "target"]
    if idle and not target:
        raise UserError(
            f"{declarations[idle[0]].flag} applies to a target: add --target-se or --rel-tol, "
            "or drop it"
        )
    if settings.sampler == "pseudo" and "replicates" in given:
        raise UserError(
            "--replicates groups antithetic or Sobol paths for their standard errors: add "
            "--sampler antithetic or sobol, or drop it"
        )
    if plot is not None and not settings.keep_paths:
        raise UserError("--plot draws the per-path distributions: drop --summary-only")
    if settings.fan_chart and out is None and not as_json:
        raise UserError(
            "--fan-chart adds per-year bands to --out and --json only: add --out FILE.nc "
            "(then mcengine plot FILE.nc --kind fan) or --json"
        )
    for name in ("record_inputs", "record_years"):
        if getattr(settings, name) and out is None:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag} keeps per-path records in --out: add --out FILE.nc")


def _check_run_options(settings, *, to_zarr, resume, dask, plot) -> None:
    """Cross-field rules of ``run``'s Dask and Zarr options: the settings an executor
    refuses (their declarations say which), by flag."""
    from mcengine.engine.settings import declared

    if resume and not to_zarr:
        raise UserError("--resume finishes a Zarr store: give --out DIR.zarr")
    if settings.chunk_paths is not None and not (dask or to_zarr):
        raise UserError(
            "--chunk-paths sets Dask tasks and Zarr chunks: add --workers, "
            "--scheduler or --out DIR.zarr"
        )
    flags = {name: setting.flag for name, setting in declared().items()}
    if to_zarr:
        names = [flags[name] for name in settings.refused("zarr")]
        if plot is not None:
            names.append("--plot")
        if names:
            raise UserError(
                f"--out .zarr stores every path of a fixed-size run: drop "
                f"{', '.join(dict.fromkeys(names))} (or write .nc)"
            )
    elif dask:
        names = [flags[name] for name in settings.refused("dask")]
        if names:
            raise UserError(
                f"{', '.join(dict.fromkeys(names))} cannot run on Dask (--workers/--scheduler); "
                "--fan-chart needs --summary-only there"
            )


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
    with user_errors():
        return persisted.compute()


#: This module's commands, for the group (:mod:`mcengine.cli`).
COMMANDS = [run]
