"""Zarr result stores, written a chunk at a time (by one process or many Dask workers) and
resumable after an interrupt.

``mcengine.engine.api.write_zarr(..., target="results.zarr")`` builds the store in
``results.zarr.partial``, with a manifest beside it (``results.zarr.manifest/``): the run's
identity (scenario, seed, path count, chunk size, version) and one entry per finished chunk
holding the SHA-256 of the chunk's bytes. Each chunk is a pure function of (scenario, seed,
chunk), so a task writes its own region (one Zarr chunk per variable: no two tasks touch
the same file) and then its manifest entry, atomically. Only when every chunk is in does the
partial store become ``results.zarr`` (a rename), so a reader never sees half a result.

``resume=True`` continues a partial store: every chunk with a manifest entry is read back
and checked against its checksum (a damaged one is recomputed), the missing chunks are
computed, and the result equals an uninterrupted run bit for bit
(``tests/test_store.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import xarray as xr

from mcengine._version import __version__
from mcengine.engine.chunk import Partial
from mcengine.engine.inputs import ProgressCallback
from mcengine.engine.plan import RunPlan
from mcengine.engine.tasks import (
    chunk_paths_task,
    chunk_ranges,
    lazy_paths,
    plan_chunks,
    run_chunks,
    summary_task,
)
from mcengine.errors import InputError
from mcengine.extras import require
from mcengine.layout import ZARR_SUFFIX
from mcengine.model.scenario import Scenario
from mcengine.results.dataset import PathArrays, run_attributes, to_dataset
from mcengine.results.files import atomic_path

__all__ = [
    "write_plan",
    "check_target",
    "resumed_seed",
    "partial_paths",
    "stored_chunk_summary",
]

_LABELS = ["segment", "component"]  # coordinates without a path dimension


def partial_paths(target: str | Path) -> tuple[Path, Path]:
    """Where an unfinished store for ``target`` and its manifest live."""
    target = Path(target)
    return target.with_name(target.name + ".partial"), target.with_name(target.name + ".manifest")


def _require(module: str):
    """A module that writing a store needs: mcengine[zarr]."""
    return require(module, extra="zarr", what="write_zarr")


def _identity(scenario: Scenario, seed: int, n_paths: int, chunk_paths: int) -> dict:
    return {
        "scenario": scenario.to_toml(),
        "seed": seed,
        "n_paths": n_paths,
        "chunk_paths": chunk_paths,
        "mcengine_version": __version__,
    }


def _digest(arrays: PathArrays) -> str:
    """SHA-256 of a chunk's stored variables (NaNs made canonical)."""
    h = hashlib.sha256()
    for name, values in sorted(arrays._asdict().items()):
        if name == "flags":
            continue
        if values.dtype.kind == "f":
            values = np.where(np.isnan(values), np.nan, values)
        h.update(name.encode())
        h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


def _entry(manifest: Path, start: int) -> Path:
    return manifest / f"chunk-{start:015d}.json"


def _read_back(store: Path, start: int, stop: int) -> PathArrays:
    ds = xr.open_zarr(store, consolidated=_consolidated(store)).isel(path=slice(start, stop))
    ds = ds.load()
    n = stop - start
    return PathArrays(
        **{name: ds[name].values for name in PathArrays._fields if name != "flags"},
        flags=np.zeros(n, dtype=np.int8),  # a stored chunk had no overflow (it is refused)
    )


def store_chunk(plan: RunPlan, start: int, stop: int, store: str, manifest: str) -> Partial:
    """Write paths ``[start, stop)`` into ``store`` (unless a verified copy is there) and
    return their summary. Safe to run again: it writes the same bytes."""
    store, manifest = Path(store), Path(manifest)
    entry = _entry(manifest, start)
    paths = None
    if entry.is_file():
        expected = json.loads(entry.read_text())["sha256"]
        with contextlib.suppress(Exception):  # unreadable counts as damaged
            kept = _read_back(store, start, stop)
            if _digest(kept) == expected:
                paths = kept
    if paths is None:
        paths = chunk_paths_task(plan, start, stop)
        region = to_dataset(paths, {}).drop_vars(_LABELS)
        region.to_zarr(store, region={"path": slice(start, stop)}, consolidated=False)
        with atomic_path(entry) as tmp:
            tmp.write_text(json.dumps({"start": start, "stop": stop, "sha256": _digest(paths)}))
    return summary_task(plan, start, stop, paths=paths)


def stored_chunk_summary(plan: RunPlan, start: int, stop: int, store: str) -> Partial:
    """The summary of paths ``[start, stop)`` of a finished store, read back, not rerun."""
    return summary_task(plan, start, stop, paths=_read_back(Path(store), start, stop))


def _stored_attributes(target: Path) -> dict:
    return dict(xr.open_zarr(target, consolidated=_consolidated(target)).attrs)


def _consolidated(store: Path) -> bool:
    return (Path(store) / ".zmetadata").is_file()


def _is_complete(target: Path, identity: dict) -> bool:
    """Whether ``target`` is the finished store of the run ``identity`` describes."""
    try:
        attrs = _stored_attributes(target)
    except Exception:  # missing, foreign or damaged: not this run's finished store
        return False
    recorded = {
        "scenario": attrs.get("scenario"),
        "seed": int(attrs.get("seed", -1)),
        "n_paths": int(attrs.get("n_paths", -1)),
        "chunk_paths": int(attrs.get("chunk_paths", -1)),
        "mcengine_version": attrs.get("mcengine_version"),
    }
    return recorded == identity


def _recorded_seed(manifest: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, KeyError):
        return int(json.loads((manifest / "run.json").read_text())["seed"])
    return None


def _prepare(store: Path, manifest: Path, identity: dict, resume: bool, template) -> None:
    """Create (or, resuming, check) the partial store."""
    run_file = manifest / "run.json"
    if store.exists() or manifest.exists():
        if not resume:
            raise InputError(
                f"{store} holds an unfinished run; resume it (--resume / resume=True) or delete it"
            )
        try:
            recorded = json.loads(run_file.read_text())
        except (OSError, ValueError):
            raise InputError(f"{manifest}: no readable run.json; delete {store}") from None
        for key, value in identity.items():
            if recorded.get(key) != value:
                shown = "the scenario" if key == "scenario" else f"{key} = {recorded.get(key)!r}"
                raise InputError(
                    f"--resume: {store} holds another run ({shown}, not this run's); "
                    "delete it or repeat that run's arguments"
                )
        return
    manifest.mkdir()
    # Zarr format 2: its string coordinates (segment names) have a stable specification.
    template.to_zarr(store, compute=False, consolidated=False, mode="w-", zarr_format=2)
    with atomic_path(run_file) as tmp:
        tmp.write_text(json.dumps(identity))
    return 0


def check_target(target: str | Path) -> Path:
    """The store to write, if Zarr and Dask are installed, it ends in ``.zarr`` and its
    folder exists."""
    target = Path(target)
    for module in ("zarr", "dask.array"):  # the store's template is dask arrays
        _require(module)
    if target.suffix.lower() != ZARR_SUFFIX:
        raise InputError(f"target = {str(target)!r}, must end in {ZARR_SUFFIX}")
    if not target.parent.is_dir():
        raise OSError(f"{target}: folder {target.parent} does not exist")
    return target


def resumed_seed(target: Path) -> int | None:
    """The seed of the run that left ``target`` unfinished (or finished it), if any."""
    store, manifest = partial_paths(target)
    seed = _recorded_seed(manifest)
    if seed is None and not manifest.exists():
        with contextlib.suppress(Exception):  # a finished store keeps its seed
            seed = int(_stored_attributes(target)["seed"])
    return seed


def write_plan(
    plan: RunPlan,
    target: Path,
    *,
    resume: bool,
    client,
    progress: ProgressCallback | None,
) -> xr.Dataset:
    """Run ``plan`` (built for ``executor="zarr"``) into the store ``target`` and return
    its summary: :func:`mcengine.engine.api.write_zarr`'s executor."""
    store, manifest = partial_paths(target)
    scenario, n_paths, seed = plan.scenario, plan.n_paths, plan.seed
    chunk_paths = plan_chunks(client, n_paths, plan.chunk_paths, keep_paths=True)
    plan = dataclasses.replace(plan, chunk_paths=chunk_paths, client=None)
    attrs = run_attributes(scenario, seed=seed, n_paths=n_paths, sampler="pseudo", elapsed=0.0)
    attrs["chunk_paths"] = np.int64(chunk_paths)
    template = lazy_paths(plan, attrs)
    identity = _identity(scenario, seed, n_paths, chunk_paths)
    ranges = chunk_ranges(n_paths, chunk_paths)
    if resume and not (store.exists() or manifest.exists()) and _is_complete(target, identity):
        # Nothing to finish: summarise the stored chunks instead of computing them again.
        return run_chunks(
            client,
            stored_chunk_summary,
            plan,
            ranges,
            name="summarise",
            progress=progress,
            store=str(target),
        ).summary.result(_stored_attributes(target))
    _prepare(store, manifest, identity, resume, template)
    started = time.perf_counter()
    merged = run_chunks(
        client,
        store_chunk,
        plan,
        ranges,
        name="store",
        progress=progress,
        store=str(store),
        manifest=str(manifest),
    )
    attrs["elapsed_seconds"] = time.perf_counter() - started
    _finish(store, manifest, target, attrs)
    return merged.summary.result(attrs)


def _finish(store: Path, manifest: Path, target: Path, attrs: dict) -> None:
    """Record the final attributes and move the store into place."""
    zarr = _require("zarr")
    group = zarr.open_group(store, mode="r+")
    group.attrs["elapsed_seconds"] = float(attrs["elapsed_seconds"])
    # One metadata file for the whole store: readers open it in one read, and xarray does
    # not warn that it is missing.
    zarr.consolidate_metadata(str(store))
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(store, target)
        shutil.rmtree(old)
    else:
        os.replace(store, target)
    shutil.rmtree(manifest)
