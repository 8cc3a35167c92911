"""The chunk primitive: :func:`run_range` simulates paths ``[start, stop)`` of a plan and adds
them to a :class:`Partial`'s sinks. It is the only caller of the kernel.

Every executor is a loop over it: the local engine (:func:`mcengine.engine.local.run_local`)
over the plan's chunks into one Partial; each Dask task (:mod:`mcengine.engine.dask`) over
its chunk into a Partial of its own, tree-reduced with :meth:`Partial.merge`; the Zarr
writer (:mod:`mcengine.engine.store`) over its chunks into kept paths it writes. The sinks
(summary, kept paths, fan chart, overflow tally) share one protocol: ``add`` (here),
``merge`` (partials of disjoint ranges, any order, the same bits) and ``result``.

``run_range`` adds into a Partial rather than returning a fresh one per call because a
summary's histograms are large and dense (fixed-size, so that memory does not grow with
paths): one Partial per task or run, not per block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcengine.engine.inputs import NO_INPUTS, OverflowTally
from mcengine.engine.plan import RunPlan
from mcengine.layout import BLOCK_PATHS, Input, Yearly
from mcengine.results.dataset import PathArrays
from mcengine.stats.fan import FanAccumulator
from mcengine.stats.summary import SummaryAccumulator

__all__ = ["KeptPaths", "Partial", "run_range"]


class KeptPaths:
    """The sink of kept paths: the arrays the kernel writes them into, with their recorded
    inputs (``inputs``), uncertain keys' values (``parameters`` columns) and yearly records
    (``years``: year 0 to the horizon), as blocks of consecutive paths.

    :meth:`allocate` reserves a known range once (a fixed run: the kernel writes into views
    of one allocation, nothing is copied); otherwise each range run gets a block of its own
    (a run with a target, which does not know its length), joined by :meth:`result`.
    """

    def __init__(self, *, inputs: bool = False, parameters: int = 0, years: int = 0) -> None:
        # inputs: record the inputs; parameters: how many parameter values; years: records
        self.inputs = inputs
        self.parameters = parameters
        self.years = years
        self.blocks: list[tuple[int, PathArrays, tuple]] = []

    def allocate(self, start: int, stop: int) -> None:
        """Reserve paths ``[start, stop)``."""
        n = stop - start
        extras = (
            np.empty((n, len(Input))) if self.inputs else None,
            np.empty((n, self.parameters)) if self.parameters else None,
            np.empty((n, self.years, len(Yearly))) if self.years else None,
        )
        self.blocks.append((start, PathArrays.empty(n), extras))

    def reserve(self, start: int, stop: int) -> tuple[PathArrays, np.ndarray, tuple]:
        """Where the kernel writes paths ``[start, stop)``: views of the block that holds
        them (allocated now if none does): paths, inputs (``(0, 11)`` without), and the
        parameter values and yearly records (``None`` without)."""
        for first, paths, (inputs, parameters, years) in self.blocks:
            if first <= start and stop <= first + len(paths.flags):
                rows = slice(start - first, stop - first)
                return (
                    paths.slice(rows.start, rows.stop),
                    NO_INPUTS if inputs is None else inputs[rows],
                    tuple(None if a is None else a[rows] for a in (parameters, years)),
                )
        self.allocate(start, stop)
        return self.reserve(start, stop)

    def merge(self, other: KeptPaths) -> KeptPaths:
        """Both sinks' paths (disjoint ranges), in path order."""
        merged = KeptPaths(inputs=self.inputs, parameters=self.parameters, years=self.years)
        merged.blocks = sorted(self.blocks + other.blocks, key=lambda block: block[0])
        return merged

    def result(self) -> tuple[PathArrays, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """The kept paths in path order, joined, with their inputs, parameter values and
        yearly records (``None`` where not recorded)."""
        blocks = sorted(self.blocks, key=lambda block: block[0])
        paths = PathArrays.concatenate([block[1] for block in blocks])
        extras = [_join([b[2][k] for b in blocks]) for k in range(3)]
        return paths, *extras


def _join(arrays: list[np.ndarray | None]) -> np.ndarray | None:
    if not arrays or arrays[0] is None:
        return None
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


@dataclass
class Partial:
    """The sinks of a range of paths: its summary (``None`` when only paths are kept),
    kept paths (``None`` when they are not kept), fan-chart histograms (``None`` without a
    fan chart) and overflow tally."""

    summary: SummaryAccumulator | None
    paths: KeptPaths | None
    fan: FanAccumulator | None
    overflow: OverflowTally

    @classmethod
    def empty(cls, plan: RunPlan, *, summary: bool, keep: bool = False) -> Partial:
        horizon = plan.scenario.simulation.horizon_years
        return cls(
            SummaryAccumulator(horizon, plan.settings.portfolio_weights) if summary else None,
            KeptPaths(
                inputs=plan.settings.record_inputs,
                parameters=plan.recorded_parameters,
                years=plan.years if plan.settings.record_years else 0,
            )
            if keep
            else None,
            FanAccumulator(horizon) if plan.settings.fan_chart else None,
            OverflowTally(),
        )

    def merge(self, other: Partial) -> Partial:
        """Both partials' paths as one (disjoint ranges, in any order: the same bits)."""
        return Partial(
            None if self.summary is None else self.summary.merge(other.summary),
            None if self.paths is None else self.paths.merge(other.paths),
            None if self.fan is None else self.fan.merge(other.fan),
            self.overflow.merge(other.overflow),
        )

    def add_paths(self, paths: PathArrays, first: int) -> None:
        """Add paths already simulated (``first``, ``first + 1``, ...) to the summary."""
        self.overflow.add(paths.flags, first)
        if self.summary is not None:
            self.summary.add(paths, first)


def run_range(plan: RunPlan, start: int, stop: int, into: Partial) -> Partial:
    """Simulate paths ``[start, stop)`` of ``plan`` and add them to ``into``'s sinks.

    The kernel writes kept paths straight into ``into.paths``; without it they pass
    through a block-sized buffer into the other sinks only. The paths are simulated a block
    of :data:`~mcengine.layout.BLOCK_PATHS` at a time, so the scratch memory does not
    grow with the range. Returns ``into``.
    """
    size = min(BLOCK_PATHS, stop - start)
    kept_years = None
    if into.paths is not None:
        kept, kept_inputs, (kept_values, kept_years) = into.paths.reserve(start, stop)
    else:
        buffer = PathArrays.empty(size)
    scratch = np.empty((size if kept_years is None else 0, plan.years, len(Yearly)))
    for first in range(start, stop, BLOCK_PATHS):
        last = min(first + BLOCK_PATHS, stop)
        n = last - first
        values = None
        if into.paths is None:
            part, inputs = buffer.slice(0, n), NO_INPUTS
        else:
            part = kept.slice(first - start, last - start)
            inputs = kept_inputs[first - start : last - start]
            if kept_values is not None:
                values = kept_values[first - start : last - start]
        yearly = scratch[:n] if kept_years is None else kept_years[first - start : last - start]
        external = plan.external_draws(first, last)
        designed = plan.designed_values(first, last)
        plan.kernel.run(first, part, yearly, external, inputs, values, designed)
        if into.fan is not None:
            into.fan.add(yearly[:, 1:])  # the bands start at year 1
        into.add_paths(part, first)
    return into
