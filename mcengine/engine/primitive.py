"""The chunk primitive: :func:`run_range` simulates paths ``[start, stop)`` of a plan and adds
them to a :class:`Partial`'s sinks. It is the only caller of the kernel.

Every executor is a loop over it: the local engine (:func:`mcengine.engine.local.run_local`)
over the plan's chunks into one Partial; each Dask task (:mod:`mcengine.engine.dask`) over
its chunk into a Partial of its own, tree-reduced with :meth:`Partial.merge`; the Zarr
writer (:mod:`mcengine.engine.store`) over its chunks into kept paths it writes. The sinks
share one protocol: ``add`` (here), ``merge`` (partials of disjoint ranges, any order,
the same bits) and ``result``.

``run_range`` adds into a Partial rather than returning a fresh one per call because a
summary's histograms are large and dense (fixed-size, so that memory does not grow with
paths): one Partial per task or run, not per block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcengine.engine.chunks import _NO_INPUTS, OverflowTally
from mcengine.engine.plan import RunPlan
from mcengine.layout import Yearly
from mcengine.results.dataset import PathArrays
from mcengine.stats.blocks import BLOCK_PATHS
from mcengine.stats.fan import FanAccumulator
from mcengine.stats.summary import SummaryAccumulator

__all__ = ["Partial", "run_range"]


@dataclass
class Partial:
    """The sinks of a range of paths: its summary (``None`` when only paths are kept),
    fan-chart histograms (``None`` without a fan chart) and overflow tally."""

    summary: SummaryAccumulator | None
    fan: FanAccumulator | None
    overflow: OverflowTally

    @classmethod
    def empty(cls, plan: RunPlan, *, summary: bool) -> Partial:
        horizon = plan.scenario.simulation.horizon_years
        return cls(
            SummaryAccumulator(horizon, plan.portfolio_weights) if summary else None,
            FanAccumulator(plan.years) if plan.fan_chart else None,
            OverflowTally(),
        )

    def merge(self, other: Partial) -> Partial:
        """Both partials' paths as one (disjoint ranges, in any order: the same bits)."""
        return Partial(
            None if self.summary is None else self.summary.merge(other.summary),
            None if self.fan is None else self.fan.merge(other.fan),
            self.overflow.merge(other.overflow),
        )

    def add_paths(self, paths: PathArrays, first: int) -> None:
        """Add paths already simulated (``first``, ``first + 1``, ...) to the summary."""
        self.overflow.add(paths.flags, first)
        if self.summary is not None:
            self.summary.add(paths, first)


def run_range(
    plan: RunPlan,
    start: int,
    stop: int,
    into: Partial,
    *,
    out: PathArrays | None = None,
    inputs: np.ndarray | None = None,
) -> Partial:
    """Simulate paths ``[start, stop)`` of ``plan`` and add them to ``into``.

    ``out`` (``stop - start`` rows) keeps the paths; without it they pass through a
    block-sized buffer into the sinks only. ``inputs`` keeps the recorded inputs. The paths
    are simulated a block of :data:`~mcengine.stats.blocks.BLOCK_PATHS` at a time, so the
    scratch memory does not grow with the range. Returns ``into``.
    """
    size = min(BLOCK_PATHS, stop - start)
    buffer = PathArrays.empty(size) if out is None else None
    yearly = np.empty((size, plan.years, len(Yearly)))
    for first in range(start, stop, BLOCK_PATHS):
        last = min(first + BLOCK_PATHS, stop)
        n = last - first
        part = buffer.slice(0, n) if out is None else out.slice(first - start, last - start)
        block_inputs = _NO_INPUTS if inputs is None else inputs[first - start : last - start]
        plan.kernel.run(first, part, yearly[:n], plan.external_draws(first, last), block_inputs)
        if into.fan is not None:
            into.fan.add(yearly[:n])
        into.add_paths(part, first)
    return into
