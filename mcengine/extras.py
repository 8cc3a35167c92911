"""Optional dependencies: imported where a feature uses them, failing with one line that
names the extra to install.

``pip install mcengine`` simulates, summarises and prints tables. Each extra adds one job,
as xarray's do: ``[dask]`` runs on a cluster (``client=``, ``mcengine run --workers``),
``[zarr]`` writes and reads chunked stores (``write_zarr``, ``--out DIR.zarr``), ``[plot]``
draws figures (:mod:`mcengine.present.plots`, ``--plot``, ``mcengine report``),
``[sensitivity]`` estimates Sobol indices (SALib); ``[all]`` installs them all. Neither
``import mcengine`` nor the CLI's start imports any of them (``tests/test_packaging.py``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

from mcengine.errors import MissingExtraError

__all__ = ["EXTRAS", "require", "LazyModule", "pyplot"]

#: Each extra and the top-level modules it provides, by the name people know them by.
#: Writing a Zarr store goes through dask arrays, so ``[zarr]`` brings ``dask[array]``.
EXTRAS = {
    "dask": {"dask": "Dask", "distributed": "Dask"},
    "zarr": {"zarr": "Zarr", "dask": "Dask"},
    "plot": {"matplotlib": "matplotlib"},
    "sensitivity": {"SALib": "SALib"},
}


def require(module: str, *, extra: str, what: str) -> ModuleType:
    """``module``, imported; or :class:`~mcengine.errors.MissingExtraError` naming ``extra``.

    Parameters
    ----------
    module : str
        A module of one of :data:`EXTRAS`' packages, e.g. ``"dask.array"``.
    extra : str
        The extra that installs it: a key of :data:`EXTRAS`.
    what : str
        The feature that needs it, as the caller's user knows it, e.g. ``"write_zarr"``.

    Raises
    ------
    MissingExtraError
        If the import fails, also for a package that is there but broken (its extra
        reinstalls it); the original ImportError is its ``__cause__``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.partition(".")[0]
        raise MissingExtraError(what, EXTRAS[extra][top], extra, name=module) from err


class LazyModule:
    """Stands for the module that ``load()`` returns, calling it on the first attribute
    access: a module-level name for an optional dependency that costs nothing until used.
    """

    def __init__(self, load: Callable[[], ModuleType]) -> None:
        self._load = load
        self._module: ModuleType | None = None

    def __getattr__(self, name: str):
        if name.startswith("__"):  # copy, pickle and inspect probe dunders: not a use
            raise AttributeError(name)
        if self._module is None:
            self._module = self._load()
        return getattr(self._module, name)


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` drawing to files only (the Agg backend: no display is needed or
    assumed), or :class:`~mcengine.errors.MissingExtraError` naming ``[plot]``."""
    matplotlib = require("matplotlib", extra="plot", what="drawing a figure")
    matplotlib.use("Agg")
    return require("matplotlib.pyplot", extra="plot", what="drawing a figure")
