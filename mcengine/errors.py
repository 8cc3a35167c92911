"""Exceptions raised for bad input (the CLI turns them into one line and exit code 2), and
the two other ways the library talks to its user: notes and compile notices."""

from __future__ import annotations

import logging

__all__ = [
    "COMPILE_LOG",
    "InputError",
    "ScenarioError",
    "ResultFileError",
    "Note",
    "MissingExtraError",
]


class Note(UserWarning):
    """A remark about a run worth knowing, not an error (e.g. a Sobol sample that is not a
    power of two). Library users get a warning of this class; the CLI prints one plain line,
    ``note: ...``."""


#: Where compile notices go (logger ``mcengine``, level WARNING: see
#: :func:`mcengine.jit.say_if_compiling`). The CLI attaches its own handler while a command
#: runs.
COMPILE_LOG = logging.getLogger("mcengine")


class InputError(ValueError):
    """Bad input: an argument, a combination of arguments, or a run that cannot fit.

    The message names the argument (by its library name, e.g. ``target_se``; the CLI says
    ``--target-se``), the value and what is allowed.
    """


class ScenarioError(InputError):
    """A scenario file, override or argument is invalid.

    The message names the source (file or ``--set``), the ``section.key``, the value and the
    allowed range, e.g. ``scenarios/x.toml: demand.volatility = -0.2, must be in [0, 2]``.
    """


class ResultFileError(InputError):
    """A result file cannot be read as an mcengine result."""


class MissingExtraError(ImportError):
    """A feature needs an optional dependency that is not installed.

    The message names the feature, the package and the extra that installs it, e.g.
    ``write_zarr needs Zarr: pip install "mcengine[zarr]"``. ``what``, ``package`` and
    ``extra`` hold those three; ``name`` (ImportError's) is the module that failed to import.
    """

    def __init__(self, what: str, package: str, extra: str, name: str | None = None) -> None:
        super().__init__(f'{what} needs {package}: pip install "mcengine[{extra}]"', name=name)
        self.what, self.package, self.extra = what, package, extra

    def __reduce__(self):  # a Dask worker's error travels to the client pickled
        return type(self), (self.what, self.package, self.extra, self.name)
