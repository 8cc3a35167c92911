"""The ``mcengine`` command line: a thin Click shell over the library.

Validation happens at three levels (click's habit): parameter types for values, callbacks
for ranges, the command body for cross-field rules. Every user error exits with code 2 and
one line on stderr; only a bug prints a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
from click.core import ParameterSource

from mcengine._version import __version__
from mcengine.errors import (
    COMPILE_LOG,
    InputError,
    MissingExtraError,
    Note,
    ResultFileError,
    ScenarioError,
)
from mcengine.extras import require
from mcengine.layout import (
    FIGURE_FORMATS,
    MAX_PATHS,
    MAX_SEED,
    RESULT_SUFFIXES,
    STATISTICS,
    ZARR_SUFFIX,
)
from mcengine.model.builtins import builtin_scenarios, builtin_story, file_comments
from mcengine.rng.samplers import DEFAULT_REPLICATES, SAMPLERS

# The engine, xarray and the presenters are imported in the commands that use them, so that
# ``mcengine --help`` and ``mcengine scenarios`` answer in a fraction of a second.
if TYPE_CHECKING:
    import xarray as xr

__all__ = ["main", "cli"]


class UserError(click.ClickException):
    """Bad input found in a command body (cross-field rules, files): exit code 2.

    Messages from the library name its arguments (``target_se``); :func:`option_words`
    turns them into the options a user typed (``--target-se``), unless ``options`` is false
    (a result file's attributes keep their names).
    """

    exit_code = 2

    def __init__(self, message: str, *, options: bool = True) -> None:
        super().__init__(option_words(message) if options else message)


#: Library argument names -> the options that set them. Identifiers with an underscore are
#: unambiguous; plain words (seed, threads) are only replaced in "name = value" form.
_OPTION_OF = {
    "keep_paths=False": "--summary-only",
    "keep_paths=True": "kept paths (no --summary-only)",
    "write_zarr": "--out DIR.zarr",
    "target_se/rel_tol": "--target-se/--rel-tol",
    "target_se": "--target-se",
    "rel_tol": "--rel-tol",
    "stop_statistic": "--stop-on",
    "max_paths": "--max-paths",
    "chunk_paths": "--chunk-paths",
    "n_paths =": "-n",
    "record_inputs=True": "--record-inputs",
    "record_inputs": "--record-inputs",
    "record_years=True": "--record-years",
    "record_years": "--record-years",
    "fan_chart": "--fan-chart",
    "portfolio_weights": "--weights",
    "sobol_paths": "--sobol-paths",
}
_OPTION_PATTERN = re.compile(
    r"(?<![\w./-])("
    + "|".join(re.escape(k) for k in sorted(_OPTION_OF, key=len, reverse=True))
    + r")(?![\w./-])"
    + r"|(?<![\w./-])(seed|threads|sampler|replicates|workers) (?==)"
)


def option_words(message: str) -> str:
    """``message`` with the library's argument names replaced by the CLI's option names."""

    def replace(match: re.Match) -> str:
        if match.group(1):
            return _OPTION_OF[match.group(1)]
        return f"--{match.group(2)} "

    return _OPTION_PATTERN.sub(replace, message)


class Weights(click.ParamType):
    """Three portfolio weights, ``A,I,T`` (normalised to sum to 1)."""

    name = "A,I,T"

    def convert(self, value, param, ctx):
        from mcengine.stats.tails import check_weights

        if isinstance(value, tuple):
            return value
        try:
            parts = tuple(float(v) for v in str(value).split(","))
            return check_weights(list(parts))
        except ValueError:  # InputError too
            self.fail(
                f"{value!r} must be 3 non-negative numbers A,I,T with a positive sum", param, ctx
            )


class PathCount(click.ParamType):
    """A path count: ``1000000``, ``1e6`` or ``1_000_000``."""

    name = "PATHS"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).replace("_", "")
        try:
            number = float(text)
        except ValueError:
            self.fail(f"{value!r} is not a number of paths", param, ctx)
        if not math.isfinite(number) or not number.is_integer() or not 1 <= number <= MAX_PATHS:
            self.fail(f"{value} must be an integer in [1, {MAX_PATHS}]", param, ctx)
        return int(number)


class Fraction(click.ParamType):
    """A fraction: ``0.0005``, or with a percent sign, ``0.05%``."""

    name = "FRACTION"

    def __init__(self, valid: click.FloatRange | None = None) -> None:
        self.valid = valid

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        text = str(value).strip()
        scale = 0.01 if text.endswith("%") else 1.0
        try:
            number = float(text.removesuffix("%")) * scale
        except ValueError:
            self.fail(f"{value!r} is not a fraction (0.0005, or 0.05%)", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} must be finite", param, ctx)
        return number if self.valid is None else self.valid.convert(number, param, ctx)


class OutputPath(click.ParamType):
    """A file the command writes, checked before any work: its suffix, its folder, and that
    the folder takes the temporary file an atomic write starts with."""

    name = "FILE"

    def __init__(self, *suffixes: str, what: str, needs: tuple[str, str] | None = None) -> None:
        self.suffixes, self.what, self.needs = suffixes, what, needs

    def convert(self, value, param, ctx):
        option = param.opts[0] if param is not None else "path"
        return self.check(Path(value), option, ctx.command_path if ctx is not None else "")

    def check(self, path: Path, option: str, command: str = "") -> Path:
        """``path``, if ``command``'s ``option`` can write it; else one line (UserError)."""
        from mcengine.results.files import check_writable

        if path.suffix.lower() not in self.suffixes:
            raise UserError(f"{option} {path}: must end in {self.what}")
        if path.is_dir() and path.suffix.lower() != ZARR_SUFFIX:
            raise UserError(f"{option} {path}: is a folder; give a file name")
        if not path.parent.is_dir():
            raise UserError(f"{option} {path}: folder {path.parent} does not exist")
        try:
            check_writable(path)
        except OSError as err:
            raise _write_error(f"{option} {path}", err) from None
        if self.needs is not None:  # e.g. "mcengine report -o needs matplotlib: pip ..."
            _need(*self.needs, what=f"{command} {option}".strip())
        return path


def _write_error(where: str, err: OSError) -> UserError:
    """``WHERE: cannot write (REASON)``: one line for an output that cannot be written."""
    return UserError(f"{where + ': ' if where else ''}cannot write ({err.strerror or err})")


def _need(module: str, extra: str, *, what: str) -> None:
    """Refuse before any work when ``what`` (an option, a command) needs a missing extra."""
    try:
        require(module, extra=extra, what=what)
    except MissingExtraError as err:
        raise UserError(str(err), options=False) from None


#: Figures are written as PNG or SVG (mcengine.present.plots.save), with matplotlib.
_FIGURE = OutputPath(
    *FIGURE_FORMATS, what=" or ".join(FIGURE_FORMATS), needs=("matplotlib", "plot")
)


class ThreadCount(click.IntRange):
    """A thread count, from 1 to Numba's (``NUMBA_NUM_THREADS``, by default the cores this
    process may use): an :class:`click.IntRange` that reads the bound when first asked,
    not when the command is defined, which would import Numba for ``--help``."""

    def __init__(self) -> None:
        super().__init__(1)

    @property  # type: ignore[override]
    def max(self) -> int:
        import numba

        return numba.config.NUMBA_NUM_THREADS

    @max.setter
    def max(self, value) -> None:  # click's __init__ sets it; the property is the bound
        pass


class Seed(click.ParamType):
    """A seed: an integer in [0, 2**63 - 1]."""

    name = "SEED"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip().replace("_", "")
        if text.isdigit() and int(text) <= MAX_SEED:
            return int(text)
        self.fail(
            f"{value!r} is not a seed; a seed is a whole number from 0 to {MAX_SEED} that "
            "fixes the random numbers (omit --seed to draw a fresh one, which is reported)",
            param,
            ctx,
        )


def _load(scenario: str, overrides: tuple[str, ...]):
    from mcengine.model.scenario import load_scenario, parse_override

    _engine_settings()
    try:
        pairs = dict(parse_override(text) for text in overrides)
        return load_scenario(scenario, pairs or None, overrides_source="--set")
    except ScenarioError as err:
        raise UserError(str(err)) from None


class OneLineErrors(click.Group):
    """A group whose user errors are one line on stderr with exit code 2, never a traceback.

    Click prints usage errors as several lines; here every :class:`click.ClickException`
    becomes ``Error: <message>``. Ctrl-C exits with 130 and SIGTERM with 143, saying how far
    the run got; ``--out`` files are written atomically, so none is left half-written.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        _RUN.reset()
        try:
            with _notes():
                code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as err:
            message = err.format_message()
            if isinstance(err, click.UsageError) and err.ctx is not None:
                message = f"{err.ctx.command_path}: {message}"
            click.echo(f"Error: {message}", err=True)
            sys.exit(2)
        except MissingExtraError as err:  # from the library: its names, in the CLI's words
            click.echo(f"Error: {option_words(str(err))}", err=True)
            sys.exit(2)
        except click.Abort:
            self._interrupted()
        except Exception as err:
            # An interrupt that lands inside a C callback (numba loading a cached function,
            # say) reaches Python as a SystemError caused by the KeyboardInterrupt.
            if not _caused_by_interrupt(err):
                raise
            self._interrupted()
        if _RUN.unmet and code in (0, None):
            click.echo(f"warning: {_RUN.unmet} (exit code 1)", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    @staticmethod
    def _interrupted() -> NoReturn:
        terminated = _RUN.signal == "SIGTERM"
        if _RUN.total:
            click.echo(
                f"Interrupted ({_RUN.signal or 'SIGINT'}) after {_RUN.done:,} of "
                f"{_RUN.total:,} paths; no result was written{_RUN.note}.",
                err=True,
            )
        else:
            click.echo(f"Interrupted ({_RUN.signal or 'SIGINT'}).", err=True)
        _quiet_shutdown()
        sys.exit(143 if terminated else 130)


def _caused_by_interrupt(err: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _quiet_shutdown() -> None:
    """After the one line an interrupt prints, send stderr to /dev/null: threads that the
    interrupt cut short (Zarr's writers, Dask's comms) would print their tracebacks while the
    interpreter shuts down. Files are already cleaned up by then."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stderr.fileno())
        os.close(devnull)


class _RunState:
    """How far the current run got, for the message after an interrupt, and what the exit
    code must say (``unmet``: the run's target was not met)."""

    done = 0
    total = 0
    signal: str | None = None
    note = ""  # what an interrupted run leaves behind
    unmet = ""
    compiled = False  # a kernel compiled during this command
    #: (time, paths done) at the first progress report, for a forecast without a terminal.
    first: tuple[float, int] | None = None
    forecast_said = False

    def reset(self) -> None:
        self.done, self.total, self.signal, self.note, self.unmet = 0, 0, None, "", ""
        self.first, self.forecast_said, self.compiled = None, False, False

    def forecast(self, done: int, total: int) -> None:
        """Say once how long a long run will take, where no progress bar shows it: the rate
        between two progress reports, so the compile and the start-up are not counted."""
        now = time.perf_counter()
        if self.first is None or done <= self.first[1]:
            self.first = self.first or (now, done)
            return
        if self.forecast_said:
            return
        seconds = (total - done) * (now - self.first[0]) / (done - self.first[1])
        if seconds > _LONG_RUN_SECONDS:
            self.forecast_said = True
            click.echo(
                f"note: {total:,} paths at this speed take about {_duration(seconds)} more "
                "(Ctrl-C stops the run)",
                err=True,
            )


#: A run forecast to take longer than this says so (10 minutes).
_LONG_RUN_SECONDS = 600.0


def _duration(seconds: float) -> str:
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:,.0f} h"
    return f"{seconds / 60:,.0f} min"


_RUN = _RunState()


def _terminate(signum, frame) -> None:
    # SIGTERM takes the same road as Ctrl-C (click's Abort, then cleanup of partial files);
    # the exit code tells them apart.
    _RUN.signal = "SIGTERM"
    raise KeyboardInterrupt


@click.group(
    name="mcengine", cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="mcengine")
def cli() -> None:
    """Monte Carlo scenario engine for AI-investment risk: is AI a bubble, and where?"""


def _paths_option(default: str, help: str):
    return click.option(
        "-n",
        "--paths",
        "n_paths",
        type=PathCount(),
        default=default,
        show_default=True,
        help=help,
    )


def _seed_option(help: str = "Random seed; omitted, a fresh one is drawn and reported."):
    return click.option("--seed", type=Seed(), default=None, help=help)


_PLOT_OPTION = click.option(
    "--plot",
    type=_FIGURE,
    default=None,
    help="Also draw a figure to this .png or .svg file (checked before the run).",
)


def _save_plot(make, data, target: Path | None, *, option: str = "--plot") -> None:
    """Draw ``make(data)`` into ``target`` and say where (on stderr: stdout may be JSON)."""
    from mcengine.present import plots

    if target is None:
        return
    try:
        plots.save(make(data), target)
    except InputError as err:
        raise UserError(f"{option} {target}: {err}") from None
    except OSError as err:
        raise _write_error(f"{option} {target}", err) from None
    click.echo(f"wrote {target}", err=True)


_SET_OPTION = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override a scenario value (repeatable), e.g. --set demand.volatility=0.3.",
)
_JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def _simulation_options(func):
    """The options every simulating command takes: scenario, paths, seed, overrides, JSON."""
    for option in reversed(
        (
            click.argument("scenario", default="base"),
            _paths_option("1000000", "Number of paths (1e6 and 1_000_000 are accepted)."),
            _seed_option(),
            _SET_OPTION,
            _JSON_OPTION,
        )
    ):
        func = option(func)
    return func


def _simulate(scenario, overrides, n_paths, seed, *, quiet, run=None, **kwargs):
    """Load, ``run`` (simulate) with a progress bar (or, without a terminal, a forecast of a
    long run); errors exit 2. The engine says "compiling..." itself (:func:`_notes`)."""
    sc = _load(scenario, overrides)
    fixed_size = kwargs.get("target_se") is None and kwargs.get("rel_tol") is None
    _RUN.done, _RUN.total = 0, n_paths
    try:
        with _progress(enabled=not quiet) as report:

            def progress(done: int, total: int) -> None:
                _RUN.done, _RUN.total = done, total
                if report is not None:
                    report(done, total)
                elif not quiet and fixed_size:  # a target's total is only its limit
                    _RUN.forecast(done, total)

            if run is None:
                from mcengine.engine.local import simulate as run
            return run(sc, n_paths, seed, progress=progress, **kwargs)
    except ValueError as err:  # InputError, and the refusal of a float64 overflow
        raise UserError(str(err)) from None
    except OSError as err:
        target = kwargs.get("target")
        raise _write_error(f"--out {target}" if target is not None else "", err) from None


@cli.command()
@_simulation_options
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
@_PLOT_OPTION
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
        _need("distributed", "dask", what="--workers" if workers is not None else "--scheduler")
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

        _RUN.note = (
            f" (the finished chunks are kept in {partial_paths(out)[0]}: run again with "
            "--resume to finish)"
        )
    with _dask_client(workers, scheduler) as client:
        if to_zarr:
            table = _simulate(
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
        ds = _simulate(
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
                raise _write_error(f"--out {out}", err) from None
        if plot is not None:
            from mcengine.present import plots

            _save_plot(plots.distributions, ds, plot)
    finally:
        _report(table, as_json, elapsed, written)


def _report(table: xr.Dataset, as_json: bool, elapsed: float, out: Path | None) -> None:
    from mcengine.present.tables import render_summary, summary_to_json

    if as_json:
        click.echo(_dumps(summary_to_json(table, elapsed=elapsed)))
    elif _RUN.compiled:  # a rate would be the compile's, not the engine's
        render_summary(table, out=out)
        click.echo(f"{elapsed:.2f} s, most of it compiling (paths/s: run it again)")
    else:
        render_summary(table, elapsed=elapsed, out=out)
    if table.attrs.get("target_met", 1) == 0:
        _RUN.unmet = (
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


@cli.command()
@_simulation_options
@_PLOT_OPTION
def explain(scenario, n_paths, seed, overrides, as_json, plot) -> None:
    """Where each segment's mean annual return comes from: weighing versus voting.

    Paths are streamed into the summary, so memory stays flat at any path count.
    """
    from mcengine.present import plots
    from mcengine.present.tables import render_waterfall, waterfall_to_json

    table = _simulate(scenario, overrides, n_paths, seed, quiet=as_json, keep_paths=False)
    if as_json:
        click.echo(_dumps(waterfall_to_json(table)))
    else:
        render_waterfall(table)
    _save_plot(plots.waterfall, table, plot)  # after the results: a failed write loses none


class GridAxis(click.ParamType):
    """``section.key=LOW:HIGH:COUNT`` (evenly spaced) or ``section.key=v1,v2,...``."""

    name = "KEY=LOW:HIGH:COUNT"

    def convert(self, value, param, ctx):
        import numpy as np

        if isinstance(value, tuple):
            return value
        key, sep, spec = str(value).partition("=")
        try:
            if not sep or "." not in key:
                raise ValueError
            if ":" in spec:
                low, high, count = spec.split(":")
                if int(count) < 1 or int(count) > 101:
                    raise ValueError
                values = tuple(np.linspace(float(low), float(high), int(count)))
            else:
                values = tuple(float(v) for v in spec.split(","))
        except ValueError:
            self.fail(
                f"{value!r} must be section.key=LOW:HIGH:COUNT (COUNT 1-101) or "
                "section.key=v1,v2,...",
                param,
                ctx,
            )
        return key.strip(), values


@cli.command()
@click.argument("scenarios", nargs=-1, required=True)
@_paths_option("200000", "Paths per scenario.")
@_seed_option("One seed for every scenario (common random numbers).")
@_JSON_OPTION
@_PLOT_OPTION
def compare(scenarios, n_paths, seed, as_json, plot) -> None:
    """Compare SCENARIOS side by side; differences from the first carry their own errors."""
    from mcengine.present import plots
    from mcengine.present.tables import comparison_to_json, render_comparison
    from mcengine.studies.compare import compare as compare_scenarios

    resolved = [_load(name, ()) for name in scenarios]
    try:
        table = compare_scenarios(resolved, n_paths, seed)
    except ValueError as err:
        raise UserError(str(err)) from None
    if as_json:
        click.echo(_dumps(comparison_to_json(table)))
    else:
        render_comparison(table)
    _save_plot(plots.comparison, table, plot)


@cli.command()
@click.argument("scenarios", nargs=-1, required=True)
@_paths_option("100000", "Paths per scenario.")
@_seed_option("One seed for every scenario (common random numbers).")
@click.option(
    "--attribution",
    type=click.Choice(["shapley", "sobol", "none"]),
    default="shapley",
    show_default=True,
    help="For each scenario with uncertain keys: how much each input decides the essay's "
    "ordering (Shapley effects, right with a copula; or Sobol indices).",
)
@click.option(
    "--attribution-paths",
    type=PathCount(),
    default=None,
    help="Base sample of the attribution design [default: 2048 Shapley, 8192 Sobol].",
)
@_JSON_OPTION
def verdict(scenarios, n_paths, seed, attribution, attribution_paths, as_json) -> None:
    """The essay's verdict with its odds: how often each ordering of the segments' annual
    returns happens under SCENARIOS, and, under uncertain keys, what decides it."""
    from mcengine.present.tables import render_verdict, verdict_to_json
    from mcengine.rng.streams import fresh_seed
    from mcengine.studies import verdict as study

    resolved = [_load(name, ()) for name in scenarios]
    ctx = click.get_current_context()
    given = {
        name: ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)
        for name in ("attribution", "attribution_paths")
    }
    if given["attribution_paths"] and attribution == "none":
        raise UserError("--attribution-paths sizes the attribution: drop it or --attribution none")
    uncertain = any(sc.beliefs for sc in resolved)
    asked = given["attribution_paths"] or (given["attribution"] and attribution != "none")
    if asked and not uncertain:
        raise UserError(
            "--attribution splits the essay's odds over uncertain keys, and no scenario has "
            "any: add one (such as beliefs), or drop the option"
        )
    used_seed = fresh_seed() if seed is None else seed
    if attribution == "sobol" and uncertain:  # Shapley needs no SALib
        _need("SALib", "sensitivity", what="mcengine verdict --attribution sobol")
    try:
        table = study.orderings(resolved, n_paths, used_seed)
        indices = {
            sc.label: study.attribution(sc, attribution, attribution_paths, used_seed)
            for sc in resolved
            if sc.beliefs and attribution != "none"
        }
    except ValueError as err:
        raise UserError(str(err)) from None
    if as_json:
        click.echo(_dumps(verdict_to_json(table, indices)))
    else:
        render_verdict(table, attribution=indices)


@cli.command()
@click.argument("scenario")
@click.option(
    "--vary",
    "axes",
    type=GridAxis(),
    multiple=True,
    required=True,
    help="A key and its values: evenly spaced, training_cost.decline_median=0.7:2.3:9 "
    "(LOW:HIGH:COUNT), or listed, training_cost.decline_median=0.7,1.5,2.3 (v1,v2,...). "
    "Once or twice.",
)
@_paths_option("100000", "Paths per grid point.")
@_seed_option("One seed for every grid point (common random numbers).")
@_SET_OPTION
@_JSON_OPTION
@_PLOT_OPTION
def sweep(scenario, axes, n_paths, seed, overrides, as_json, plot) -> None:
    """Sweep SCENARIO over a grid of one or two keys, on common random numbers."""
    from mcengine.present import plots
    from mcengine.present.tables import comparison_to_json, render_comparison
    from mcengine.studies.compare import sweep as sweep_grid

    keys = [key for key, _ in axes]
    if len(keys) > 2:
        raise UserError(f"--vary is given {len(keys)} times: a sweep varies one or two keys")
    repeated = next((key for key in keys if keys.count(key) > 1), None)
    if repeated is not None:
        raise UserError(
            f"--vary {repeated} is given twice: list all its values in one --vary "
            f"({repeated}=v1,v2,...)"
        )
    if plot is not None and len(axes) > 1:
        raise UserError("--plot draws a sweep of one key: vary one key, or drop --plot")
    base = _load(scenario, overrides)
    try:
        table = sweep_grid(base, dict(axes), n_paths, seed)
    except ValueError as err:
        raise UserError(str(err)) from None
    dim = "|".join(key for key, _ in axes)
    if as_json:
        click.echo(_dumps(comparison_to_json(table, dim)))
    else:
        render_comparison(table, dim)
    _save_plot(plots.sweep_line, table, plot)


_ALLOW_OPTION = click.option(
    "--allow-unknown-version",
    is_flag=True,
    help="Read a result written by a newer mcengine, or with numerics or a model this "
    "version does not know (its figures may not mean what this version says).",
)


def _read(file: Path, allow_unknown_version: bool) -> xr.Dataset:
    """A result file, checked (ResultFileError: one line naming the file and attribute)."""
    from mcengine.results.files import OPT_IN, read_result

    _engine_settings()
    try:
        return read_result(file, allow_unknown_version=allow_unknown_version)
    except ResultFileError as err:
        message = str(err).replace(OPT_IN, "--allow-unknown-version")
        raise UserError(message, options=False) from None


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["distributions", "fan", "waterfall", "tornado"]),
    default="distributions",
    show_default=True,
    help="Which figure to draw.",
)
@click.option(
    "--out",
    "target",
    type=_FIGURE,
    required=True,
    help="The .png or .svg file to write.",
)
@_ALLOW_OPTION
def plot(file, kind, target, allow_unknown_version) -> None:
    """Draw a figure of a result FILE written by "mcengine run --out"."""
    from mcengine.present import plots
    from mcengine.stats.summary import summarize

    ds = _read(file, allow_unknown_version)
    if kind in ("distributions", "tornado") and "annual_return" not in ds:
        raise UserError(
            f"{file}: a summary has no per-path returns to draw; use --kind fan "
            "or waterfall, or a full run"
        )
    if kind == "tornado" and "inputs" not in ds:
        raise UserError(f"{file}: no recorded inputs; run with --record-inputs --out FILE.nc")
    if kind == "fan" and "fan_wealth" not in ds:
        raise UserError(f"{file}: no fan-chart bands; run with --fan-chart --out FILE.nc")
    from mcengine.studies.sensitivity import tornado

    make = {
        "distributions": plots.distributions,
        "fan": plots.fan_chart,
        "waterfall": lambda d: plots.waterfall(summarize(d)),
        "tornado": lambda d: plots.tornado(tornado(d)),
    }[kind]
    _save_plot(make, ds, target, option="--out")


@cli.command()
@click.argument("scenario", default="base")
@_paths_option("200000", "Paths (one ensemble; no re-runs).")
@_seed_option()
@_SET_OPTION
@_JSON_OPTION
@_PLOT_OPTION
@click.option(
    "--sobol-paths",
    type=PathCount(),
    default="4096",
    show_default=True,
    help="Base sample of the Sobol indices (the design runs (2 + inputs) x this many paths).",
)
@click.option(
    "--shapley-paths",
    type=PathCount(),
    default="1024",
    show_default=True,
    help="Base sample of the Shapley effects (the design runs 2^inputs x this many paths).",
)
def sensitivity(
    scenario, n_paths, seed, overrides, as_json, plot, sobol_paths, shapley_paths
) -> None:
    """What moves each segment: a tornado, Sobol indices and Shapley effects by input (the
    shock groups and the scenario's uncertain keys)."""
    from mcengine.present import plots
    from mcengine.present.tables import (
        indices_to_json,
        render_indices,
        render_shapley,
        render_tornado,
        tornado_to_json,
    )

    _need("SALib", "sensitivity", what="mcengine sensitivity")
    from mcengine.studies.sensitivity import sobol_indices, tornado
    from mcengine.studies.shapley import shapley_effects

    ds = _simulate(scenario, overrides, n_paths, seed, quiet=as_json, record_inputs=True)
    table = tornado(ds)
    sc, used_seed = _load(scenario, overrides), int(ds.attrs["seed"])
    try:
        indices = sobol_indices(sc, sobol_paths, used_seed)
        shapley = shapley_effects(sc, shapley_paths, used_seed)
    except ValueError as err:
        raise UserError(str(err)) from None
    if as_json:
        click.echo(
            _dumps(
                {
                    **tornado_to_json(table),
                    "sobol": indices_to_json(indices),
                    "shapley": indices_to_json(shapley, ("shapley",)),
                }
            )
        )
    else:
        render_tornado(table)
        render_indices(indices)
        render_shapley(shapley, sobol=indices)
    _save_plot(plots.tornado, table, plot)


@cli.command()
@click.argument("scenario", default="beliefs")
@_paths_option("200000", "Paths (one ensemble, recorded inputs).")
@_seed_option()
@_SET_OPTION
@_JSON_OPTION
@click.option(
    "--decision",
    type=click.Choice(["mean", "mean-cvar"]),
    default="mean",
    show_default=True,
    help="What the allocator maximises: the expected annual return, or the mean minus "
    "--risk-aversion x the CVaR of the loss at --alpha.",
)
@click.option(
    "--risk-aversion",
    type=click.FloatRange(min=0.0, max=1e6),
    default=1.0,
    show_default=True,
    help="lambda in mean - lambda x CVaR.",
)
@click.option(
    "--alpha",
    type=Fraction(click.FloatRange(min=0.5, max=1.0, max_open=True)),
    default=0.95,
    show_default=True,
    help="CVaR level, a fraction (0.95 or 95%): the worst 1 - alpha of the paths.",
)
@click.option(
    "--step",
    type=Fraction(click.FloatRange(min=0.01, max=1.0)),
    default=0.1,
    show_default=True,
    help="Allocation grid, a fraction (0.1 or 10%): long-only weights on multiples of this "
    "(1/k), summing to 1.",
)
def voi(scenario, n_paths, seed, overrides, as_json, decision, risk_aversion, alpha, step):
    """Which uncertainty to resolve before allocating: EVPI, and each uncertain key's and
    shock group's EVPPI, with the allocations with and without the information."""
    from mcengine.present.tables import render_voi, voi_to_json
    from mcengine.studies.voi import BATCH_PATHS, BATCHES, value_of_information

    if n_paths < BATCHES * BATCH_PATHS:  # checked before the run, not after it
        raise UserError(
            f"-n {n_paths}: voi needs at least {BATCHES * BATCH_PATHS:,} paths ({BATCHES} "
            f"batches of {BATCH_PATHS} for its standard errors)"
        )
    ds = _simulate(scenario, overrides, n_paths, seed, quiet=as_json, record_inputs=True)
    try:
        table = value_of_information(
            ds, objective=decision, risk_aversion=risk_aversion, alpha=alpha, step=step
        )
    except ValueError as err:
        raise UserError(str(err)) from None
    if as_json:
        click.echo(_dumps(voi_to_json(table)))
    else:
        render_voi(table)


_TARGETS_OPTION = click.option(
    "--targets",
    "targets_file",
    default="public_2025",
    show_default=True,
    help="A targets .toml file, or a built-in one's name.",
)


@cli.command()
@click.argument("scenario", default="base")
@_TARGETS_OPTION
@_paths_option("100000", "Paths (with per-path yearly records).")
@_seed_option()
@_SET_OPTION
@_JSON_OPTION
def check(scenario, targets_file, n_paths, seed, overrides, as_json) -> None:
    """Check SCENARIO against sourced targets: each target's source, the model's figure
    with its standard error, and pass or fail. Exit 0 when all pass, 1 when any fails."""
    from mcengine.model.targets import load_targets
    from mcengine.present.tables import check_to_json, render_check
    from mcengine.rng.streams import fresh_seed
    from mcengine.studies.validation import check as check_targets

    sc = _load(scenario, overrides)
    try:
        targets = load_targets(targets_file)
        table = check_targets(sc, targets, n_paths, fresh_seed() if seed is None else seed)
    except ValueError as err:
        raise UserError(str(err)) from None
    if as_json:
        click.echo(_dumps(check_to_json(table)))
    else:
        render_check(table)
    raise SystemExit(0 if table.attrs["all_passed"] else 1)


@cli.command()
@click.argument("scenario", default="base")
@_TARGETS_OPTION
@click.option(
    "--fit",
    required=True,
    help="The keys to fit, comma-separated (section.key,section.key).",
)
@click.option(
    "--out",
    "target",
    type=OutputPath(".toml", what=".toml"),
    required=True,
    help="The calibrated scenario .toml to write (it extends SCENARIO).",
)
@_paths_option("50000", "Paths per evaluation (one seed for all: common random numbers).")
@_seed_option()
@_SET_OPTION
def calibrate(scenario, targets_file, fit, target, n_paths, seed, overrides) -> None:
    """Fit the --fit keys of SCENARIO to the targets (bounded least squares on common
    random numbers) and write the calibrated scenario."""
    from mcengine.model.targets import load_targets
    from mcengine.present.tables import render_calibration
    from mcengine.rng.streams import fresh_seed
    from mcengine.studies.validation import calibrate as fit_keys
    from mcengine.studies.validation import write_calibrated

    sc = _load(scenario, overrides)
    keys = [k.strip() for k in fit.split(",") if k.strip()]
    try:
        targets = load_targets(targets_file)
        fitted, report = fit_keys(
            sc, targets, keys, n_paths, fresh_seed() if seed is None else seed
        )
    except ValueError as err:
        raise UserError(str(err)) from None
    render_calibration(report)  # first: a write that fails at the end loses no result
    for key in report["key"].values[~report["identified"].values]:
        click.echo(
            f"warning: the targets do not identify {key}; its fitted value is arbitrary", err=True
        )
    parent = scenario
    if scenario not in builtin_scenarios():  # a file: found from the calibrated one's folder
        parent = os.path.relpath(Path(scenario).resolve(), target.parent.resolve())
    try:
        write_calibrated(target, report, targets, fitted, extends=parent)
    except OSError as err:
        raise _write_error(f"--out {target}", err) from None
    click.echo(f"wrote {target}")


@cli.command()
@click.argument("scenarios", nargs=-1, required=True)
@click.option(
    "-o",
    "--out",
    "target",
    type=OutputPath(".html", ".htm", what=".html", needs=("matplotlib", "plot")),
    required=True,
    help="The .html file to write.",
)
@_paths_option("100000", "Paths per scenario.")
@_seed_option("One seed for every scenario (common random numbers).")
@click.option(
    "--targets",
    "targets_file",
    default="public_2025",
    show_default=True,
    help="Check each scenario against these targets (a .toml file or a built-in name); "
    "'none' for no validation section.",
)
def report(scenarios, target, n_paths, seed, targets_file) -> None:
    """One self-contained HTML page (inline SVG, no network) with tables and figures."""
    from mcengine.rng.streams import fresh_seed
    from mcengine.studies.report import write_report

    resolved = [_load(name, ()) for name in scenarios]
    try:
        targets = None if targets_file == "none" else targets_file
        write_report(target, resolved, n_paths, fresh_seed() if seed is None else seed, targets)
    except ValueError as err:
        raise UserError(str(err)) from None
    except OSError as err:
        raise _write_error(f"-o {target}", err) from None
    click.echo(f"wrote {target}")


@cli.command()
def warmup() -> None:
    """Compile every kernel now (about 30 s; once per machine and mcengine version), for
    images and CI jobs that would rather not compile during their first runs."""
    from mcengine.engine.local import warm_up

    _engine_settings()
    click.echo(f"compiled or loaded every kernel in {warm_up():.0f} s")


@cli.command()
def scenarios() -> None:
    """List the built-in scenarios with their stories."""
    for name in builtin_scenarios():
        click.echo(f"{name:<18} {builtin_story(name)}")


@cli.command()
@click.argument("scenario")
@_SET_OPTION
def show(scenario, overrides) -> None:
    """Print SCENARIO fully resolved, as TOML: the file's own opening comments (its story
    and sources), the uncertain keys as comments with their 5/50/95% quantiles, then every
    key with its meaning and range."""
    from mcengine.present.tables import belief_lines

    sc = _load(scenario, overrides)
    click.echo(file_comments(scenario), nl=False)  # the file's story and sources, kept
    lines = belief_lines(sc)
    if lines:
        click.echo("# uncertain keys (drawn once per path):")
        for line in lines:
            click.echo(f"#   {line}")
    click.echo(sc.to_toml(), nl=False)


@cli.command()
@click.argument("files", nargs=-1, required=True)
def validate(files) -> None:
    """Check scenario FILES; print one line per file and exit 2 if any is invalid."""
    from mcengine.model.scenario import load_scenario

    bad = 0
    for name in files:
        try:
            load_scenario(name)
        except ScenarioError as err:
            bad += 1
            click.echo(f"Error: {err}", err=True)
        else:
            click.echo(f"{name}: ok")
    if bad:
        sys.exit(2)


@cli.command(name="summarize")
@click.argument("file", type=click.Path(path_type=Path))
@_JSON_OPTION
@_ALLOW_OPTION
def summarize_cmd(file, as_json, allow_unknown_version) -> None:
    """Summarise a result FILE written by "mcengine run --out"."""
    from mcengine.present.tables import render_summary, summary_to_json
    from mcengine.stats.summary import summarize

    ds = _read(file, allow_unknown_version)
    try:
        table = summarize(ds)
    except ResultFileError as err:
        raise UserError(str(err), options=False) from None
    if as_json:
        click.echo(_dumps(summary_to_json(table)))
    else:
        render_summary(table)


_BENCH_OUTPUT = OutputPath(".json", what=".json")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report only.")
@click.option(
    "--output",
    default=None,
    type=_BENCH_OUTPUT,
    help="Where to write the JSON report of the full suite [default: bench-results.json].",
)
@click.option("--quick", is_flag=True, help="Tenfold smaller sizes (a smoke run).")
@click.option(
    "--workload",
    "workloads",
    multiple=True,
    metavar="NAME",
    help="Time only this workload (repeatable; see --list) and print its figures.",
)
@click.option("--list", "list_only", is_flag=True, help="List the workloads and exit.")
def bench(as_json, output, quick, workloads, list_only) -> None:
    """Run the benchmark suite: speed ratios measured side by side (docs/benchmarks.md).

    Everything it runs ships in the package, so it works from any directory.
    """
    from mcengine.bench import WORKLOADS, run_workload

    if list_only:
        for name, workload in WORKLOADS.items():
            click.echo(f"{name:<15} {workload.description}")
        return
    if workloads:
        unknown = [name for name in workloads if name not in WORKLOADS]
        if unknown:
            raise UserError(f"--workload {unknown[0]}: unknown; one of {', '.join(WORKLOADS)}")
        figures = [run_workload(name, quick=quick) for name in workloads]
        if as_json:
            click.echo(_dumps(figures))
        for f in [] if as_json else figures:
            click.echo(
                f"{f['name']:<15} {f['paths']:>10,} paths  {f['seconds']:8.3f} s  "
                f"{f['paths_per_second']:>12,.0f} paths/s"
            )
        return
    from mcengine.bench import suite

    output = output or _BENCH_OUTPUT.check(Path("bench-results.json"), "--output")
    args = (
        ["--output", str(output)] + (["--json"] if as_json else []) + (["--quick"] if quick else [])
    )
    sys.exit(suite.main(args))


@contextlib.contextmanager
def _notes():
    """For the whole command: print the library's :class:`~mcengine.errors.Note` warnings
    as plain one-line notes on stderr (no file name, no source line) as they come, and its
    compile notices (:data:`mcengine.jit.COMPILE_LOG`) as plain lines before the wait; pass
    other warnings on."""
    with warnings.catch_warnings(), _compile_notices():
        warnings.simplefilter("always", Note)
        passed_on = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, Note):
                click.echo(f"note: {message}", err=True)
            else:
                passed_on(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


class _CompileNotice(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        _RUN.compiled = True
        click.echo(record.getMessage(), err=True)


@contextlib.contextmanager
def _compile_notices():
    handler, propagate = _CompileNotice(), COMPILE_LOG.propagate
    COMPILE_LOG.addHandler(handler)
    COMPILE_LOG.propagate = False  # said once, by this handler
    try:
        yield
    finally:
        COMPILE_LOG.removeHandler(handler)
        COMPILE_LOG.propagate = propagate


def _dumps(doc) -> str:
    """JSON for people and programs: undefined figures are null, never NaN."""
    from mcengine.present.tables import json_ready

    return json.dumps(json_ready(doc), indent=2, allow_nan=False)


def _progress(enabled: bool):
    from mcengine.present.tables import progress_reporter

    return progress_reporter(enabled=enabled and sys.stderr.isatty())


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminate)
    cli(prog_name="mcengine")


def _engine_settings() -> None:
    """numpy's and xarray's settings for the commands (not the library): no floating-point
    warnings, attributes kept through arithmetic. Set by the first scenario or result file a
    command loads, not at start-up, which would import them for ``--help``."""
    import numpy as np
    import xarray as xr

    np.seterr(all="ignore")
    xr.set_options(keep_attrs=True)
