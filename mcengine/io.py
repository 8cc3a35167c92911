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

from mcengine.dataset import PER_PATH, PER_PATH_SEGMENT
from mcengine.errors import ResultFileError

__all__ = ["write_netcdf", "read_result", "check_result", "atomic_path"]

_ENGINE = "h5netcdf"


@contextlib.contextmanager
def atomic_path(target: str | Path):
    """Yield a temporary path beside ``target``; move it onto ``target`` on success.

    On any error (or ``KeyboardInterrupt``) the temporary file is removed and ``target`` is
    left as it was.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OSError(f"{target}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_netcdf(ds: xr.Dataset, target: str | Path) -> Path:
    """Write ``ds`` to ``target`` as netCDF-4, atomically."""
    with atomic_path(target) as tmp:
        ds.to_netcdf(tmp, engine=_ENGINE)
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


def read_result(path: str | Path) -> xr.Dataset:
    """Open an mcengine result (per-path, or a summary) and check it: a netCDF file
    (loaded), or a Zarr store of ``mcengine run --out DIR.zarr`` (opened lazily).

    Raises :class:`ResultFileError` if the file is missing, unreadable or not mcengine's.
    """
    path = Path(path)
    if path.is_dir():
        try:
            ds = xr.open_zarr(path, consolidated=False)
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
    from mcengine.summary import is_summary

    if not is_summary(ds):
        check_result(ds, str(path))
    return ds
