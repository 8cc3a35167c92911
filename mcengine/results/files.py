"""Result files: atomic netCDF writes and checked reads.

A write goes to a temporary file in the target's folder and is moved into place with
:func:`os.replace`, so an interrupted or failed run never leaves a half-written file at the
target path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import xarray as xr

from mcengine.errors import ResultFileError
from mcengine.extras import require
from mcengine.layout import BLOCK_PATHS, RESULT_SUFFIXES
from mcengine.results.checks import check_attributes, check_result, check_values
from mcengine.results.dataset import (
    is_summary,
)

__all__ = [
    "write_netcdf",
    "read_result",
    "check_writable",
    "atomic_path",
    "RESULT_SUFFIXES",
    "NETCDF_CHUNK_PATHS",
]

#: What ``--out`` may write: netCDF-4 files and Zarr stores (folders).

_ENGINE = "h5netcdf"


@contextlib.contextmanager
def atomic_path(target: str | Path):
    """Yield a temporary path beside ``target``; move it onto ``target`` on success.

    On any error (or ``KeyboardInterrupt``) the temporary file is removed and ``target`` is
    left as it was.
    """
    target = Path(target)
    tmp = _temporary_beside(target, ".tmp")
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


#: Paths per netCDF chunk: one block (:data:`mcengine.layout.BLOCK_PATHS`), so that a
#: reader of a slice of paths decompresses little more than it reads.
NETCDF_CHUNK_PATHS = BLOCK_PATHS
#: zlib level 1, readable by every netCDF-4 reader (lzf and zstd need plugins). Per-path
#: doubles carry full-entropy mantissas, so they shrink about a third (the byte shuffle
#: did not help them); the NaN-heavy and small-integer variables shrink far more.
_COMPRESSION = {"zlib": True, "complevel": 1, "shuffle": False}


def netcdf_encoding(ds: xr.Dataset) -> dict:
    """Compressed, chunked along ``path``: the encoding :func:`write_netcdf` uses."""
    encoding = {}
    for name, variable in ds.data_vars.items():
        if variable.ndim == 0 or variable.dtype.kind not in "biuf":
            continue
        chunks = tuple(
            min(NETCDF_CHUNK_PATHS, size) if dim == "path" else size
            for dim, size in variable.sizes.items()
        )
        encoding[name] = {**_COMPRESSION, "chunksizes": chunks}
    for name, coordinate in ds.coords.items():
        if name in ds.dims and coordinate.dtype.kind == "f":
            # CF 2.5.1: a coordinate variable has no missing values, so no _FillValue
            # (xarray gives float variables one unless told not to).
            encoding[name] = {"_FillValue": None}
    return encoding


def check_writable(target: str | Path) -> None:
    """Raise :class:`OSError` now, before a long run, if ``target``'s folder is missing or
    refuses the temporary file that an atomic write starts with."""
    os.unlink(_temporary_beside(Path(target), ".probe"))


def _temporary_beside(target: Path, suffix: str) -> Path:
    """A new empty file in ``target``'s folder, hidden and named after it."""
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OSError(f"{target}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=folder)
    os.close(fd)
    return Path(tmp)


def write_netcdf(ds: xr.Dataset, target: str | Path) -> Path:
    """Write ``ds`` to ``target`` as netCDF-4, atomically: compressed (zlib) and chunked
    along ``path`` (:data:`NETCDF_CHUNK_PATHS`)."""
    with atomic_path(target) as tmp:
        ds.to_netcdf(tmp, engine=_ENGINE, encoding=netcdf_encoding(ds))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
    return Path(target)


def read_result(path: str | Path, *, allow_unknown_version: bool = False) -> xr.Dataset:
    """Open an mcengine result (per-path, or a summary) and check it: a netCDF file
    (loaded), or a Zarr store of ``mcengine run --out DIR.zarr`` (opened lazily).

    Parameters
    ----------
    path : path
        A ``.nc`` file or a ``.zarr`` store of ``mcengine run --out``, or a netCDF file of
        :func:`write_netcdf`.
    allow_unknown_version : bool, default False
        Read a result whose ``numerics`` or ``model`` version this package does not know,
        or that a newer mcengine wrote (whose meaning may differ); refused by default.

    Raises
    ------
    ResultFileError
        If the file is missing, unreadable or not mcengine's; if an attribute contradicts
        the data or another attribute (``n_paths``, a ``seed`` that is not an integer,
        ``horizon_years``); if a value is one the engine cannot write (out of range, or an
        ``annual_return`` that is not ``total_return ** (1 / horizon) - 1``); or for an
        unknown version, unless ``allow_unknown_version``.
    MissingExtraError
        For a Zarr store without Zarr installed.
    """
    path = Path(path)
    if path.is_dir():
        require("zarr", extra="zarr", what=f"reading {path}")
        try:
            ds = xr.open_zarr(path, consolidated=(path / ".zmetadata").is_file())
        except Exception as err:  # zarr raises many types for foreign or damaged stores
            raise ResultFileError(
                f"{path}: not a readable Zarr store ({type(err).__name__})"
            ) from None
    elif not path.is_file():
        raise ResultFileError(f"{path}: no such file")
    else:
        try:
            ds = xr.load_dataset(path, engine=_ENGINE)
        except Exception as err:  # h5py raises many types for damaged files
            raise ResultFileError(
                f"{path}: not a readable netCDF-4 file ({type(err).__name__})"
            ) from None
    if not is_summary(ds):
        check_result(ds, str(path))
    check_attributes(ds, str(path), allow_unknown_version=allow_unknown_version)
    check_values(ds, str(path))
    return ds
