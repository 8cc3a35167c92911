"""Two views of a one-dimensional sample that the summary statistics read.

* :class:`ExactSample` holds the sorted values (``simulate(..., keep_paths=True)``).
* :class:`BinnedSample` holds a fine histogram plus moments, built block by block and
  mergeable (``keep_paths=False``): memory does not grow with the path count.

Both answer the same questions (moments, order statistics, lower-tail means), so the
statistics in :mod:`mcengine.stats.summary` have one implementation. A binned answer about an order
statistic is within :attr:`BinnedSample.error_bound` (one bin width) of the exact one; counts
are exact, and moments, merged over the same blocks in the same tree
(:mod:`mcengine.stats.blocks`), are the same bits in both views.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mcengine.jit import kernel
from mcengine.numerics import dot
from mcengine.stats.blocks import reduce_blocks

__all__ = ["Moments", "MomentTable", "ExactSample", "BinnedSample", "Histogram", "comoments"]


@dataclass
class Moments:
    """Count, mean and central moment sums M2..M4, merged exactly (Pebay, 2008)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    m3: float = 0.0
    m4: float = 0.0

    @classmethod
    def of(cls, x: np.ndarray) -> Moments:
        if x.size == 0:
            return cls()
        mean, m2, m3, m4 = _central_sums(x)
        return cls(x.size, float(mean), float(m2), float(m3), float(m4))

    def merge(self, other: Moments) -> Moments:
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        na, nb = self.n, other.n
        n = na + nb
        delta = other.mean - self.mean
        m2 = self.m2 + other.m2 + delta**2 * na * nb / n
        m3 = (
            self.m3
            + other.m3
            + delta**3 * na * nb * (na - nb) / n**2
            + 3.0 * delta * (na * other.m2 - nb * self.m2) / n
        )
        m4 = (
            self.m4
            + other.m4
            + delta**4 * na * nb * (na * na - na * nb + nb * nb) / n**3
            + 6.0 * delta**2 * (na * na * other.m2 + nb * nb * self.m2) / n**2
            + 4.0 * delta * (na * other.m3 - nb * self.m3) / n
        )
        return Moments(n, self.mean + delta * nb / n, m2, m3, m4)


@kernel
def _central_sums(x):
    """Mean and central sums of powers 2..4 of ``x``, summed in index order.

    A plain loop, not numpy's pairwise sums: those take another order when the data are not
    aligned (e.g. arrays Dask deserialised at an odd offset), and the block moments must be
    the same bits whatever memory they sit in.
    """
    total = 0.0
    for v in x:
        total += v
    mean = total / x.shape[0]
    m2 = m3 = m4 = 0.0
    for v in x:
        d = v - mean
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
    return mean, m2, m3, m4


@kernel
def comoments(x):
    """Column means and the co-moment matrix ``sum (x_i - mean)(x_i - mean)^T`` of the
    rows of ``x``, summed in row order (see :func:`_central_sums`)."""
    n, k = x.shape
    mean = np.zeros(k)
    for i in range(n):
        for j in range(k):
            mean[j] += x[i, j]
    mean /= n
    out = np.zeros((k, k))
    d = np.empty(k)
    for i in range(n):
        for j in range(k):
            d[j] = x[i, j] - mean[j]
        for a in range(k):
            for b in range(k):
                out[a, b] += d[a] * d[b]
    return mean, out


@dataclass
class MomentTable:
    """Moments in a nested list (e.g. segment x component), merged element by element."""

    rows: list[list[Moments]]

    def merge(self, other: MomentTable) -> MomentTable:
        return MomentTable(
            [
                [a.merge(b) for a, b in zip(ra, rb, strict=True)]
                for ra, rb in zip(self.rows, other.rows, strict=True)
            ]
        )


class ExactSample:
    """A sample kept in full (sorted). Its moments (unless given) are merged over blocks of
    paths in the fixed tree of :mod:`mcengine.stats.blocks`, so they equal a streamed run's to
    the bit."""

    error_bound = 0.0

    def __init__(self, values: np.ndarray, moments: Moments | None = None):
        self.sorted = np.sort(values)
        if moments is None:
            moments = reduce_blocks(values.size, lambda part: Moments.of(values[part]))
        self.moments = moments
        self.n = values.size

    def order_statistic(self, rank: int) -> float:
        """The value of 0-based rank ``rank``."""
        return float(self.sorted[rank])

    def quantile(self, q: float) -> float:
        """numpy's default (linear) quantile."""
        return float(np.quantile(self.sorted, q))

    def shortfall(self, threshold: float) -> tuple[float, float]:
        """Mean and variance of ``max(threshold - X, 0)``."""
        s = np.maximum(threshold - self.sorted, 0.0)
        return float(s.mean()), float(s.var(ddof=1)) if s.size > 1 else 0.0


@kernel
def _histogram_add(counts, values, lo, inverse_width, atom):
    """Count ``values`` into ``counts``; ``atom`` values are skipped (counted apart)."""
    last = counts.shape[0] - 1
    for v in values:
        if v == atom:
            continue
        b = int((v - lo) * inverse_width)
        counts[min(max(b, 0), last)] += 1


@dataclass
class Histogram:
    """Equal-width bins on ``[lo, hi)`` plus an exactly counted atom, and exact extremes.

    Values below ``lo`` or at/above ``hi`` land in the first/last bin; the summary then
    widens its error bound to the exact extremes (see :meth:`BinnedSample.error_bound`).
    """

    lo: float
    hi: float
    width: float
    atom: float
    counts: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    atom_count: int = 0
    minimum: float = math.inf
    maximum: float = -math.inf

    def __post_init__(self) -> None:
        if self.counts is None:
            self.counts = np.zeros(int(round((self.hi - self.lo) / self.width)), dtype=np.int64)

    def add(self, values: np.ndarray) -> None:
        """Count ``values``."""
        _histogram_add(self.counts, values, self.lo, 1.0 / self.width, self.atom)
        self.atom_count += int(np.count_nonzero(values == self.atom))
        if values.size:
            self.minimum = min(self.minimum, float(values.min()))
            self.maximum = max(self.maximum, float(values.max()))

    def merge(self, other: Histogram) -> Histogram:
        return Histogram(
            self.lo,
            self.hi,
            self.width,
            self.atom,
            self.counts + other.counts,
            self.atom_count + other.atom_count,
            min(self.minimum, other.minimum),
            max(self.maximum, other.maximum),
        )

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        filled = np.flatnonzero(self.counts)
        state["counts"] = (self.counts.size, filled, self.counts[filled])
        return state

    def __setstate__(self, state: dict) -> None:
        size, filled, values = state["counts"]
        counts = np.zeros(size, dtype=np.int64)
        counts[filled] = values
        self.__dict__.update(state, counts=counts)


class BinnedSample:
    """Order statistics read from a :class:`Histogram`, uniformly spread within each bin,
    and the sample's ``moments`` (kept apart: see :mod:`mcengine.stats.blocks`)."""

    def __init__(self, hist: Histogram, moments: Moments | None = None):
        self.hist = hist
        self.moments = moments if moments is not None else Moments()
        self.cumulative = np.cumsum(hist.counts)
        self.n = int(self.cumulative[-1]) + hist.atom_count
        # Order statistics are within one bin of the truth, unless values fell outside
        # [lo, hi): then the first/last bin stretches to the exact minimum/maximum.
        below = max(hist.lo - hist.minimum, 0.0) if hist.minimum != hist.atom else 0.0
        above = max(hist.maximum - hist.hi, 0.0)
        self.error_bound = hist.width + below + above

    def order_statistic(self, rank: float) -> float:
        h = self.hist
        # The atom sits below every bin (annual return -1) or above them (drawdown 1).
        atom_below = h.atom < h.lo + h.width
        r = rank - (h.atom_count if atom_below else 0)
        if r < 0 or (not atom_below and r >= self.cumulative[-1]):
            return h.atom
        b = int(np.searchsorted(self.cumulative, r, side="right"))
        b = min(b, h.counts.size - 1)
        before = self.cumulative[b - 1] if b > 0 else 0
        inside = h.counts[b]
        fraction = (r - before + 0.5) / inside if inside > 0 else 0.5
        return float(min(max(h.lo + (b + fraction) * h.width, h.minimum), h.maximum))

    def quantile(self, q: float) -> float:
        position = (self.n - 1) * q
        k = math.floor(position)
        low = self.order_statistic(k)
        if position == k:
            return low
        high = self.order_statistic(k + 1)
        if not (math.isfinite(low) and math.isfinite(high)):
            return low  # next to an infinite atom (log W of a wiped-out investor)
        return low + (position - k) * (high - low)

    def shortfall(self, threshold: float) -> tuple[float, float]:
        h = self.hist
        # Only bins whose midpoint lies below the threshold contribute.
        below = min(max(math.ceil((threshold - h.lo) / h.width - 0.5), 0), h.counts.size)
        counts = h.counts[:below]
        s = threshold - (h.lo + (np.arange(below) + 0.5) * h.width)
        atom_s = max(threshold - h.atom, 0.0)
        total = dot(counts, s) + h.atom_count * atom_s
        square = dot(counts, s * s) + h.atom_count * atom_s**2
        mean = total / self.n
        var = max(square / self.n - mean * mean, 0.0) * self.n / max(self.n - 1, 1)
        return mean, var
