"""One row per result kind: how it reads as text, as JSON and as a figure.

A command shows its result with one call, ``emit(kind, table, as_json=as_json, ...)``, and
a new study adds one row to :data:`VIEWS` rather than a branch in its command (numbagg's
``COMPARISONS`` idiom). A composite result (``sensitivity``, ``verdict``) is one row whose
functions take its parts as options.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcengine.present import encode, plots, text, variance

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["View", "VIEWS", "emit"]


@dataclass(frozen=True)
class View:
    """How one kind of result is shown.

    Attributes
    ----------
    text : callable
        ``text(table, **options)`` prints the rich tables (``console=`` by default stdout).
    json : callable or None
        ``json(table, **options)`` returns the JSON document (:mod:`mcengine.present.encode`);
        None when the result has no JSON form.
    figure : callable or None
        ``figure(data)`` returns a matplotlib figure (:mod:`mcengine.present.plots`) of the
        result, or for ``summary`` of the Dataset of paths it summarises; None when none.
    """

    text: Callable[..., None]
    json: Callable[..., dict] | None = None
    figure: Callable | None = None


def _sensitivity_text(table, *, sobol, shapley, console=None) -> None:
    text.render_tornado(table, console)
    variance.render_indices(sobol, console)
    variance.render_shapley(shapley, console, sobol=sobol)


def _sensitivity_json(table, *, sobol, shapley) -> dict:
    return {
        **encode.tornado_to_json(table),
        "sobol": encode.indices_to_json(sobol),
        "shapley": encode.indices_to_json(shapley, ("shapley",)),
    }


#: Result kind -> its view; the options each function takes are named in its signature.
VIEWS = {
    "summary": View(text.render_summary, encode.summary_to_json, plots.distributions),
    "waterfall": View(text.render_waterfall, encode.waterfall_to_json, plots.waterfall),
    "comparison": View(text.render_comparison, encode.comparison_to_json, plots.comparison),
    # a sweep is a comparison of grid points: dim= names its keys, joined by "|"
    "sweep": View(text.render_comparison, encode.comparison_to_json, plots.sweep_line),
    "verdict": View(text.render_verdict, encode.verdict_to_json),  # attribution=
    "sensitivity": View(_sensitivity_text, _sensitivity_json, plots.tornado),  # sobol=, shapley=
    "voi": View(text.render_voi, encode.voi_to_json),
    "check": View(text.render_check, encode.check_to_json),
    "calibration": View(text.render_calibration),
}


def _taken(function: Callable, options: dict) -> dict:
    """The ``options`` that ``function`` takes by name."""
    names = inspect.signature(function).parameters
    return {name: value for name, value in options.items() if name in names}


def emit(kind: str, table: xr.Dataset, *, as_json: bool, **options) -> None:
    """Show a result of ``kind`` (a key of :data:`VIEWS`) on stdout: its JSON document
    (``as_json``; :func:`mcengine.present.encode.dumps`) or its rich tables.

    ``options`` go to whichever of the view's functions name them (e.g. ``elapsed=`` to both
    of ``summary``'s, ``out=`` to its text only); one that neither names is a TypeError.
    """
    view = VIEWS[kind]
    functions = [f for f in (view.text, view.json) if f is not None]
    unknown = set(options) - {name for f in functions for name in _taken(f, options)}
    if unknown:
        raise TypeError(f"emit({kind!r}) takes no option {', '.join(sorted(unknown))}")
    if not as_json:
        view.text(table, **_taken(view.text, options))
    elif view.json is None:
        raise ValueError(f"a {kind} result has no JSON form")
    else:
        print(encode.dumps(view.json(table, **_taken(view.json, options))), flush=True)
