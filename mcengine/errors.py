"""Exceptions raised for bad input; the CLI turns them into one line and exit code 2."""

from __future__ import annotations

__all__ = ["ScenarioError", "ResultFileError"]


class ScenarioError(ValueError):
    """A scenario file, override or argument is invalid.

    The message names the source (file or ``--set``), the ``section.key``, the value and the
    allowed range, e.g. ``scenarios/x.toml: demand.volatility = -0.2, must be in [0, 2]``.
    """


class ResultFileError(ValueError):
    """A result file cannot be read as an mcengine result."""
