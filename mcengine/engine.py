"""The engine: chunks of paths through the kernel, threads, progress, and overflow refusal.

:func:`simulate` is the library's main entry point. It splits the path index space into
chunks (for progress and interruptibility), runs the parallel kernel on each, and wraps the
arrays in an :class:`xarray.Dataset` (:mod:`mcengine.dataset`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numba
import numpy as np
import xarray as xr

from mcengine.coefficients import build_coefficients, spend_ratio_schedule
from mcengine.dataset import PathArrays, run_attributes, to_dataset
from mcengine.errors import ScenarioError
from mcengine.jit import is_cached
from mcengine.kernel import (
    FLAG_CAPEX_OVERFLOW,
    FLAG_DEMAND_OVERFLOW,
    FLAG_WEALTH_OVERFLOW,
    simulate_paths,
)
from mcengine.parameters import SEGMENTS
from mcengine.scenario import Scenario, load_scenario
from mcengine.streams import MAX_SEED, fresh_seed, key_from_seed
from mcengine.summary import SummaryAccumulator

__all__ = ["simulate", "needs_compile", "DEFAULT_CHUNK_PATHS", "MAX_PATHS", "SAMPLERS"]

#: Paths per kernel call; only progress reporting and peak memory depend on it.
DEFAULT_CHUNK_PATHS = 1 << 16
#: The path index is 64-bit in the streams; this bound keeps output sizes sane.
MAX_PATHS = 1 << 40
SAMPLERS = ("pseudo",)

_OVERFLOW_CAUSES = {
    FLAG_CAPEX_OVERFLOW: "inference capex overflowed (demand outran capacity by more than "
    "float64 can hold; lower inference.capex_accelerator or raise inference.capacity_initial)",
    FLAG_DEMAND_OVERFLOW: "demand at the horizon overflowed (lower demand growth or jumps, or "
    "shorten simulation.horizon_years)",
    **{
        FLAG_WEALTH_OVERFLOW << s: f"{segment} total_return overflowed (wealth grew by more "
        "than 1e308; check the scenario's growth and valuation parameters)"
        for s, segment in enumerate(SEGMENTS)
    },
}

ProgressCallback = Callable[[int, int], None]


def needs_compile() -> bool:
    """Whether the next :func:`simulate` in this process compiles the kernel (tens of s)."""
    return not simulate_paths.signatures and not is_cached(simulate_paths)


def _check_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ScenarioError(f"{name} = {value!r}, must be an integer in [{lo}, {hi}]")
    if not lo <= int(value) <= hi:
        raise ScenarioError(f"{name} = {value}, must be in [{lo}, {hi}]")
    return int(value)


def simulate(
    scenario: Scenario | str,
    n_paths: int = 1_000_000,
    seed: int | None = None,
    *,
    keep_paths: bool = True,
    chunk_paths: int = DEFAULT_CHUNK_PATHS,
    threads: int | None = None,
    progress: ProgressCallback | None = None,
) -> xr.Dataset:
    """Simulate ``n_paths`` paths of ``scenario``.

    Parameters
    ----------
    scenario : Scenario or str
        A scenario, or a built-in name / TOML path passed to :func:`load_scenario`.
    n_paths : int, default 1_000_000
        Number of paths, in ``[1, 2**40]``.
    seed : int, optional
        In ``[0, 2**63 - 1]``. ``None`` draws one from the operating system and records it
        in ``attrs["seed"]``, so the run can be repeated.
    keep_paths : bool, default True
        ``True`` returns every path (memory grows with ``n_paths``). ``False`` streams the
        paths into a summary and returns it (as :func:`mcengine.summarize` would), in memory
        that does not grow with ``n_paths``; its quantile-based figures are within
        ``attrs["quantile_error_bound"]`` (normally 1e-6) of the exact ones.
    chunk_paths : int, default 65536
        Paths per kernel call. Results do not depend on it.
    threads : int, optional
        Numba threads for this call (default: Numba's setting). Results do not depend on it.
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk.

    Returns
    -------
    xarray.Dataset
        With ``keep_paths``: dimensions ``path`` and ``segment``, variables and attributes
        as in MODEL.md "Outputs". Without: the summary, dims ``(segment, statistic)``.

    Raises
    ------
    ScenarioError
        For an invalid argument.
    ValueError
        If a quantity of the scenario overflows float64; the message names the cause.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    n_paths = _check_int("n_paths", n_paths, 1, MAX_PATHS)
    chunk_paths = _check_int("chunk_paths", chunk_paths, 1, MAX_PATHS)
    seed = fresh_seed() if seed is None else _check_int("seed", seed, 0, MAX_SEED)
    coef = build_coefficients(scenario)
    spend = spend_ratio_schedule(scenario)
    key0, key1 = key_from_seed(seed)
    out = PathArrays.empty(n_paths if keep_paths else min(chunk_paths, n_paths))
    summary = None if keep_paths else SummaryAccumulator(horizon=scenario.simulation.horizon_years)
    overflow = _OverflowTally()

    previous_threads = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(_check_int("threads", threads, 1, numba.config.NUMBA_NUM_THREADS))
    started = time.perf_counter()
    try:
        for start in range(0, n_paths, chunk_paths):
            stop = min(start + chunk_paths, n_paths)
            part = out.slice(start, stop) if keep_paths else out.slice(0, stop - start)
            simulate_paths(coef, spend, key0, key1, start, *part.kernel_outputs())
            overflow.add(part.flags, start)
            if summary is not None:
                summary.add(
                    part.total_return,
                    part.annual_return,
                    part.max_drawdown,
                    part.crash_origin,
                    part.components,
                    part.wipe_cause,
                )
            if progress is not None:
                progress(stop, n_paths)
    finally:
        numba.set_num_threads(previous_threads)
    elapsed = time.perf_counter() - started
    overflow.refuse(scenario, n_paths)
    attrs = run_attributes(scenario, seed=seed, n_paths=n_paths, sampler="pseudo", elapsed=elapsed)
    if summary is not None:
        return summary.result(attrs)
    return to_dataset(out, attrs)


class _OverflowTally:
    """Paths whose flags say a quantity left float64's range, over all chunks."""

    def __init__(self) -> None:
        self.count = 0
        self.first_path = -1
        self.first_flags = 0

    def add(self, flags: np.ndarray, offset: int) -> None:
        bad = np.flatnonzero(flags)
        if bad.size and self.count == 0:
            self.first_path = offset + int(bad[0])
            self.first_flags = int(flags[bad[0]])
        self.count += bad.size

    def refuse(self, scenario: Scenario, n_paths: int) -> None:
        if self.count == 0:
            return
        causes = [text for bit, text in _OVERFLOW_CAUSES.items() if self.first_flags & bit]
        raise ValueError(
            f"scenario '{scenario.name}' overflows float64 on {self.count} of {n_paths} paths "
            f"(first: path {self.first_path}): {'; '.join(causes)}"
        )
