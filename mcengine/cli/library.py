"""Calls into the library that the commands share: load a scenario, simulate with a
progress bar, read a result file, save a figure, print JSON; each turns the library's
errors into one line in the CLI's words."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mcengine.cli.errors import RUN, UserError, write_error
from mcengine.errors import InputError, ResultFileError, ScenarioError

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "load",
    "run_simulation",
    "save_plot",
    "show",
    "read_result_file",
    "progress_bar",
    "progress_reporter",
]


def load(scenario: str, overrides: tuple[str, ...]):
    from mcengine.model.scenario import load_scenario, parse_override

    try:
        pairs = dict(parse_override(text) for text in overrides)
        return load_scenario(scenario, pairs or None, overrides_source="--set")
    except ScenarioError as err:
        raise UserError(str(err)) from None


def run_simulation(scenario, overrides, n_paths, seed, *, quiet, run=None, settings=None, **kwargs):
    """Load, ``run`` (simulate) with a progress bar (or, without a terminal, a forecast of a
    long run); errors exit 2. The engine says "compiling..." itself (:func:`notes`).
    The run settings among ``kwargs`` change ``settings`` and reach ``run`` as one object;
    the other ``kwargs`` (``target``, ``client``, ...) pass as they are."""
    from mcengine.engine.settings import RunSettings, declared

    sc = load(scenario, overrides)
    changes = {name: kwargs.pop(name) for name in list(kwargs) if name in declared()}
    settings = RunSettings.of(settings, **changes)
    fixed_size = settings.target_se is None and settings.rel_tol is None
    RUN.done, RUN.total = 0, n_paths
    try:
        with progress_bar(enabled=not quiet) as report:

            def progress(done: int, total: int) -> None:
                RUN.done, RUN.total = done, total
                if report is not None:
                    report(done, total)
                elif not quiet and fixed_size:  # a target's total is only its limit
                    RUN.forecast(done, total)

            if run is None:
                from mcengine.engine.api import simulate as run
            return run(sc, n_paths, seed, progress=progress, settings=settings, **kwargs)
    except ValueError as err:  # InputError, and the refusal of a float64 overflow
        raise UserError(str(err)) from None
    except OSError as err:
        target = kwargs.get("target")
        raise write_error(f"--out {target}" if target is not None else "", err) from None


def show(kind: str, table, *, as_json: bool, plot: Path | None = None, **options) -> None:
    """Print ``table`` as its result kind's view says (text, or JSON with ``as_json``;
    :data:`mcengine.present.views.VIEWS`), then draw its figure into ``plot``: after the
    results, so that a failed write loses none."""
    from mcengine.present.views import VIEWS, emit

    emit(kind, table, as_json=as_json, **options)
    save_plot(VIEWS[kind].figure, table, plot)


def save_plot(make, data, target: Path | None, *, option: str = "--plot") -> None:
    """Draw ``make(data)`` into ``target`` and say where (on stderr: stdout may be JSON)."""
    from mcengine.present import plots

    if target is None:
        return
    try:
        plots.save(make(data), target)
    except InputError as err:
        raise UserError(f"{option} {target}: {err}") from None
    except OSError as err:
        raise write_error(f"{option} {target}", err) from None
    click.echo(f"wrote {target}", err=True)


def read_result_file(file: Path, allow_unknown_version: bool) -> xr.Dataset:
    """A result file, checked (ResultFileError: one line naming the file and attribute)."""
    from mcengine.results.checks import OPT_IN
    from mcengine.results.files import read_result

    try:
        return read_result(file, allow_unknown_version=allow_unknown_version)
    except ResultFileError as err:
        message = str(err).replace(OPT_IN, "--allow-unknown-version")
        raise UserError(message, options=False) from None


def progress_bar(enabled: bool):
    """:func:`progress_reporter`, on a terminal only."""
    return progress_reporter(enabled=enabled and sys.stderr.isatty())


@contextlib.contextmanager
def progress_reporter(*, enabled: bool, delay: float = 1.0):
    """Yield a ``progress(done, total)`` callback that shows a bar (on stderr) after
    ``delay`` seconds; None when not ``enabled``."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    started = time.perf_counter()
    bar = Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} paths"),
        TimeRemainingColumn(),
        transient=True,
        console=Console(stderr=True),
    )
    task = None

    def report(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            if time.perf_counter() - started < delay and done < total:
                return
            bar.start()
            task = bar.add_task("run", total=total)
        bar.update(task, completed=done)

    try:
        yield report
    finally:
        if task is not None:
            bar.stop()
