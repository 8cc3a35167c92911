"""User errors and interrupts: one line on stderr and exit code 2 for bad input, 130/143
for Ctrl-C/SIGTERM saying how far the run got, never a traceback for either; notes and
compile notices as plain lines."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import sys
import time
import warnings
from typing import NoReturn

import click

from mcengine.errors import COMPILE_LOG, MissingExtraError, Note
from mcengine.extras import require

__all__ = [
    "UserError",
    "user_errors",
    "option_words",
    "write_error",
    "need",
    "OneLineErrors",
    "RUN",
    "terminate",
    "notes",
]


class UserError(click.ClickException):
    """Bad input found in a command body (cross-field rules, files): exit code 2.

    Messages from the library name its arguments (``target_se``); :func:`option_words`
    turns them into the options a user typed (``--target-se``), unless ``options`` is false
    (a result file's attributes keep their names).
    """

    exit_code = 2

    def __init__(self, message: str, *, options: bool = True) -> None:
        super().__init__(option_words(message) if options else message)


#: Library names the run settings' declarations do not cover, or that read differently
#: here, -> the CLI's words (:func:`_vocabulary` adds each setting's flag).
_SPECIAL = {
    "keep_paths=False": "--summary-only",
    "keep_paths=True": "kept paths (no --summary-only)",
    "write_zarr": "--out DIR.zarr",
    "target_se/rel_tol": "--target-se/--rel-tol",
    "n_paths =": "-n",
    "sobol_paths": "--sobol-paths",
}


@functools.cache
def _vocabulary() -> tuple[dict[str, str], re.Pattern]:
    """Library names -> options, and the pattern that finds them. Identifiers with an
    underscore are unambiguous; plain words (seed, threads) are only replaced in
    "name = value" form. Read from the settings' declarations when first needed, not at
    start-up."""
    from mcengine.engine.settings import declared

    words, plain = dict(_SPECIAL), ["seed", "workers"]
    for name, setting in declared().items():
        if setting.flag is None or setting.inverted:
            continue
        if "_" not in name:
            plain.append(name)
            continue
        words[name] = setting.flag
        if setting.kind == "flag":
            words[f"{name}=True"] = setting.flag
    pattern = re.compile(
        r"(?<![\w./-])("
        + "|".join(re.escape(k) for k in sorted(words, key=len, reverse=True))
        + r")(?![\w./-])"
        + rf"|(?<![\w./-])({'|'.join(plain)}) (?==)"
    )
    return words, pattern


def option_words(message: str) -> str:
    """``message`` with the library's argument names replaced by the CLI's option names."""
    words, pattern = _vocabulary()

    def replace(match: re.Match) -> str:
        if match.group(1):
            return words[match.group(1)]
        return f"--{match.group(2)} "

    return pattern.sub(replace, message)


@contextlib.contextmanager
def user_errors():
    """Turn the library's refusals (``ValueError``: :class:`~mcengine.errors.InputError`,
    and a float64 overflow) raised in the block into one line in the CLI's words."""
    try:
        yield
    except ValueError as err:
        raise UserError(str(err)) from None


def write_error(where: str, err: OSError) -> UserError:
    """``WHERE: cannot write (REASON)``: one line for an output that cannot be written."""
    return UserError(f"{where + ': ' if where else ''}cannot write ({err.strerror or err})")


def need(module: str, extra: str, *, what: str) -> None:
    """Refuse before any work when ``what`` (an option, a command) needs a missing extra."""
    try:
        require(module, extra=extra, what=what)
    except MissingExtraError as err:
        raise UserError(str(err), options=False) from None


class OneLineErrors(click.Group):
    """A group whose user errors are one line on stderr with exit code 2, never a traceback.

    Click prints usage errors as several lines; here every :class:`click.ClickException`
    becomes ``Error: <message>``. Ctrl-C exits with 130 and SIGTERM with 143, saying how far
    the run got; ``--out`` files are written atomically, so none is left half-written.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        RUN.reset()
        try:
            with notes():
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
        if RUN.unmet and code in (0, None):
            click.echo(f"warning: {RUN.unmet} (exit code 1)", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    @staticmethod
    def _interrupted() -> NoReturn:
        terminated = RUN.signal == "SIGTERM"
        if RUN.total:
            click.echo(
                f"Interrupted ({RUN.signal or 'SIGINT'}) after {RUN.done:,} of "
                f"{RUN.total:,} paths; no result was written{RUN.note}.",
                err=True,
            )
        else:
            click.echo(f"Interrupted ({RUN.signal or 'SIGINT'}).", err=True)
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


RUN = _RunState()


def terminate(signum, frame) -> None:
    # SIGTERM takes the same road as Ctrl-C (click's Abort, then cleanup of partial files);
    # the exit code tells them apart.
    RUN.signal = "SIGTERM"
    raise KeyboardInterrupt


@contextlib.contextmanager
def notes():
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
        RUN.compiled = True
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
