"""Result files: atomic netCDF writes and checked reads.

A write goes to a temporary file in the target's folder and is moved into place with
:func:`os.replace`, so an interrupted or failed run never leaves a half-written file at the
target path.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from mcengine.errors import ResultFileError
from mcengine.results.dataset import PER_PATH, PER_PATH_SEGMENT, is_summary

__all__ = [
    "write_netcdf",
    "read_result",
    "check_result",
    "check_values",
    "check_writable",
    "atomic_path",
    "RESULT_SUFFIXES",
]

#: What ``--out`` may write: netCDF-4 files and Zarr stores (folders).
RESULT_SUFFIXES = (".nc", ".zarr")

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


#: Paths per netCDF chunk: one block (mcengine.stats.blocks), so that a reader of a slice of
#: paths decompresses little more than it reads.
NETCDF_CHUNK_PATHS = 65536
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


def check_result(ds: xr.Dataset, source: str = "result") -> None:
    """Raise :class:`ResultFileError` unless ``ds`` has mcengine's variables and dims."""
    for name in PER_PATH_SEGMENT:
        if name not in ds.variables:
            raise ResultFileError(f"{source}: missing variable {name!r}; not an mcengine result")
        if ds[name].dims != ("path", "segment"):
            raise ResultFileError(
                f"{source}: variable {name!r} has dims {ds[name].dims}, must be ('path', 'segment')"
            )
    for name in PER_PATH:
        if name not in ds.variables:
            raise ResultFileError(f"{source}: missing variable {name!r}; not an mcengine result")
        if ds[name].dims != ("path",):
            raise ResultFileError(
                f"{source}: variable {name!r} has dims {ds[name].dims}, must be ('path',)"
            )
    if ds.sizes.get("segment") != 3:
        raise ResultFileError(f"{source}: must have 3 segments, has {ds.sizes.get('segment')}")


#: What the engine can write, per variable: (low, high, NaN allowed). A file with anything
#: else did not come from the engine (or was changed since), and is refused.
_RANGES = {
    "total_return": (0.0, math.inf, False),
    "annual_return": (-1.0, math.inf, False),
    "max_drawdown": (0.0, 1.0, False),
    "crash_year": (0.0, math.inf, True),
    "crash_origin": (-1, 2, False),
    "training_cost": (0.0, math.inf, False),
    "open_share": (0.0, 1.0, False),
    "demand": (0.0, math.inf, False),
    "components": (-math.inf, math.inf, False),
    "wipe_year": (0.0, math.inf, True),
    "wipe_cause": (0, 3, False),
}
_SUMMARY_RANGES = {
    "estimate": (-math.inf, math.inf, True),
    "standard_error": (0.0, math.inf, True),
    "p_crash": (0.0, 1.0, True),
}


def check_values(ds: xr.Dataset, source: str = "result") -> None:
    """Raise :class:`ResultFileError` naming the variable and the first bad path if a value
    of ``ds`` could not have come from the engine (out of range, infinite, NaN where none
    can be). Works on dask-backed (Zarr) results a chunk at a time."""
    ranges = _SUMMARY_RANGES if is_summary(ds) else _RANGES
    for name, (low, high, nan_ok) in ranges.items():
        if name not in ds.variables:
            continue
        values = ds[name]
        inside = (values >= low) & (values <= high) & np.isfinite(values.astype(float))
        bad = ~(inside | values.isnull()) if nan_ok else ~inside
        if not bool(bad.any()):
            continue
        where = _first(bad)
        value = float(values[where].values)
        at = ", ".join(
            f"{dim} {ds[dim].values[i] if dim != 'path' else i}" for dim, i in where.items()
        )
        allowed = f"[{low:g}, {high:g}]" + (" or NaN" if nan_ok else "")
        raise ResultFileError(
            f"{source}: {name} = {value!r} at {at}, must be in {allowed}; not a result "
            "mcengine could have written"
        )
    if not is_summary(ds) and {"total_return", "annual_return"} <= set(ds.variables):
        # Wiped out (W = 0) if and only if the annual return is -1.
        bad = (ds["total_return"] == 0) != (ds["annual_return"] == -1)
        if bool(bad.any()):
            where = _first(bad)
            at = ", ".join(f"{dim} {i}" for dim, i in where.items())
            raise ResultFileError(
                f"{source}: total_return and annual_return disagree at {at} (W = 0 exactly "
                "when the annual return is -1); not a result mcengine could have written"
            )


def _first(bad: xr.DataArray) -> dict[str, int]:
    """Index of the first True of ``bad`` in path order (then the other dims)."""
    flat = np.asarray(bad.values).reshape(-1)
    index = np.unravel_index(int(np.argmax(flat)), bad.shape)
    return {str(dim): int(i) for dim, i in zip(bad.dims, index, strict=True)}


def read_result(path: str | Path) -> xr.Dataset:
    """Open an mcengine result (per-path, or a summary) and check it: a netCDF file
    (loaded), or a Zarr store of ``mcengine run --out DIR.zarr`` (opened lazily).

    Raises :class:`ResultFileError` if the file is missing, unreadable or not mcengine's.
    """
    path = Path(path)
    if path.is_dir():
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
    check_values(ds, str(path))
    return ds
