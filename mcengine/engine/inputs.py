"""What every executor shares: the kernel's inputs, one chunk's bookkeeping (overflow
flags, memory, threads) and the run-size constants.

:class:`KernelInputs` wraps the kernel's call; its one caller is
:func:`mcengine.engine.chunk.run_range`, which the local engine, the Dask executor and
the Zarr writer all loop over.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

from mcengine.checks import check_int
from mcengine.errors import InputError
from mcengine.kernel.belief_tables import QuantileTables, quantile_tables
from mcengine.kernel.coefficients import (
    C,
    build_coefficients,
    coefficient_rows,
    spend_ratio_schedule,
    stress_schedule,
)
from mcengine.kernel.paths import simulate_paths
from mcengine.layout import (
    BLOCK_PATHS,
    FLAG_CAPEX_OVERFLOW,
    FLAG_DEMAND_OVERFLOW,
    FLAG_WEALTH_OVERFLOW,
    MAX_PATHS,
    SEGMENTS,
    Input,
)
from mcengine.model.scenario import Scenario
from mcengine.results.dataset import PathArrays
from mcengine.rng.streams import key_from_seed

__all__ = [
    "DEFAULT_CHUNK_PATHS",
    "MAX_PATHS",
    "ProgressCallback",
    "KernelInputs",
    "OverflowTally",
    "numba_threads",
    "check_memory",
    "paths_that_fit",
    "NO_DRAWS",
    "NO_INPUTS",
]

#: Paths per kernel call; only progress reporting and peak memory depend on it.
DEFAULT_CHUNK_PATHS = BLOCK_PATHS
#: The kernel's empty arguments: no external draws, no recorded inputs.
NO_DRAWS = np.empty((0, 0))
NO_INPUTS = np.empty((0, len(Input)))

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


@dataclass(frozen=True)
class KernelInputs:
    """What the kernel needs of a scenario and a seed, built once per run."""

    coefficients: np.ndarray
    spend: np.ndarray
    stress: np.ndarray
    key0: int
    key1: int
    #: The scenario, when it has uncertain keys (their values are drawn per path).
    uncertain: Scenario | None = None
    #: Their quantile functions as the kernel draws them.
    tables: QuantileTables | None = None

    @classmethod
    def build(cls, scenario: Scenario, seed: int, *, antithetic: bool = False) -> KernelInputs:
        return cls(
            build_coefficients(scenario, antithetic=antithetic),
            spend_ratio_schedule(scenario),
            stress_schedule(scenario),
            *key_from_seed(seed),
            uncertain=scenario if scenario.beliefs else None,
            tables=quantile_tables(scenario.uncertain) if scenario.beliefs else None,
        )

    @property
    def antithetic(self) -> bool:
        return self.coefficients[C.ANTITHETIC] != 0.0

    def parameter_values(self, first_path: int, n_paths: int) -> np.ndarray:
        """The uncertain keys' values of paths ``first_path ..``, ``(n_paths, beliefs)``:
        a pure function of (seed, path), from their own stream."""
        # Imported here: the kernel's beliefs pass loads scipy's special functions (a
        # sixth of a second), which a run without uncertain keys does not need.
        from mcengine.kernel.beliefs import draw_values

        key = (self.key0, self.key1)
        return draw_values(
            self.uncertain.uncertain, self.tables, key, first_path, n_paths,
            antithetic=self.antithetic,
        )  # fmt: skip

    def run(
        self,
        first_path: int,
        part: PathArrays,
        yearly: np.ndarray,
        external: np.ndarray = NO_DRAWS,
        inputs: np.ndarray = NO_INPUTS,
        parameters: np.ndarray | None = None,
        designed: np.ndarray | None = None,
    ) -> None:
        """Simulate paths ``first_path ..`` into ``part`` (and ``yearly``, if it has years;
        ``parameters``, if given, receives the uncertain keys' values; ``designed``, if
        given, are those values instead of their stream's)."""
        rows = None
        if self.uncertain is not None:
            values = designed
            if values is None:
                values = self.parameter_values(first_path, len(part.flags))
            if parameters is not None:
                parameters[:] = values
            rows = coefficient_rows(self.uncertain, values)
        args = (
            self.coefficients,
            rows,
            self.spend,
            self.stress,
            self.key0,
            self.key1,
            first_path,
            part,
            yearly,
            external,
            inputs,
        )
        simulate_paths(*args)


@contextlib.contextmanager
def numba_threads(threads: int | None):
    """Run with ``threads`` Numba threads (``None``: Numba's setting), then restore it."""
    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(check_int("threads", threads, 1, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def paths_that_fit() -> int | None:
    """Kept paths that fit in half of this machine's memory (None if unknown)."""
    have = _physical_memory()
    return None if have is None else have // 2 // PathArrays.bytes_per_path()


def check_memory(n_paths: int, *, reached: int | None = None) -> None:
    """Refuse to keep ``n_paths`` paths if they cannot fit in this machine's memory.

    ``reached`` is how many paths a run with a target has already kept (``None``: the run
    has not started). Such a run keeps its paths in blocks and joins them at the end, a
    copy, so it may keep only half of memory.
    """
    need = n_paths * PathArrays.bytes_per_path()
    have = _physical_memory()
    if have is not None and reached is not None:
        have //= 2
    if have is None or need <= have:
        return
    size = (
        f"{need / 2**30:.1f} GiB of per-path results, more than this machine's "
        f"{have / 2**30:.1f} GiB of memory; use keep_paths=False, write the paths to a Zarr "
        "store (write_zarr), or "
    )
    if reached is None:
        raise InputError(f"n_paths = {n_paths} keeps {size}fewer paths")
    raise InputError(
        f"the target was not met after {reached:,} paths, and keeping {n_paths:,} takes "
        f"{size}a lower max_paths"
    )


class OverflowTally:
    """Paths whose flags say a quantity left float64's range, over all chunks."""

    def __init__(self) -> None:
        self.count = 0
        self.first_path = -1
        self.first_flags = 0

    def add(self, flags: np.ndarray, offset: int) -> None:
        bad = np.flatnonzero(flags)
        if bad.size and (self.count == 0 or offset + int(bad[0]) < self.first_path):
            self.first_path = offset + int(bad[0])
            self.first_flags = int(flags[bad[0]])
        self.count += bad.size

    def merge(self, other: OverflowTally) -> OverflowTally:
        """The tally of both (the first bad path is the lower one, whatever the order)."""
        first = min((t for t in (self, other) if t.count), key=lambda t: t.first_path, default=self)
        out = OverflowTally()
        out.count = self.count + other.count
        out.first_path, out.first_flags = first.first_path, first.first_flags
        return out

    def refuse(self, scenario: Scenario, n_paths: int) -> None:
        if self.count == 0:
            return
        causes = [text for bit, text in _OVERFLOW_CAUSES.items() if self.first_flags & bit]
        raise ValueError(
            f"scenario '{scenario.name}' overflows float64 on {self.count} of {n_paths} paths "
            f"(first: path {self.first_path}): {'; '.join(causes)}"
        )
