"""Fixed blocks of paths, and the one merge tree over them that makes summaries reproducible.

Counts and histograms add up exactly in any order, but floating-point moments do not: the
mean of blocks merged as ``(a + b) + c`` and as ``a + (b + c)`` can differ in the last bit.
So every floating-point statistic is computed per block of
:data:`~mcengine.layout.BLOCK_PATHS` consecutive paths (block ``k`` holds paths
``[k B, (k + 1) B)``) and merged in one fixed binary tree over the block index. The tree's nodes are
aligned ranges of blocks ``[s, s + 2**l)``; a node is made as soon as both halves exist,
whoever computed them and in whatever order, and the result over blocks ``[0, n)`` folds
the remaining nodes (the binary digits of ``n``) from the right. A sequential run, a Dask
run with any worker count or chunk size (a multiple of the block), and a summary of kept
paths therefore give the same bits (``tests/test_blocks.py``, ``tests/test_dask.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar

from mcengine.layout import BLOCK_PATHS

__all__ = ["BlockTree", "block_slices", "reduce_blocks"]


class Mergeable(Protocol):
    def merge(self, other):  # ``self`` covers the earlier paths
        ...


T = TypeVar("T", bound=Mergeable)


def block_slices(first_path: int, n_paths: int) -> Iterator[tuple[int, slice]]:
    """``(block index, slice into the n_paths)`` for paths starting at block-aligned
    ``first_path``."""
    if first_path % BLOCK_PATHS:
        raise ValueError(f"first_path = {first_path} is not a multiple of {BLOCK_PATHS}")
    for start in range(0, n_paths, BLOCK_PATHS):
        yield (first_path + start) // BLOCK_PATHS, slice(start, min(start + BLOCK_PATHS, n_paths))


class BlockTree(Generic[T]):
    """Per-block values merged in the fixed tree, whatever order the blocks arrive in."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], T] = {}  # (first block, level) -> value

    def add(self, block: int, value: T) -> None:
        """Add block ``block``'s value (each block once)."""
        self._insert(block, 0, value)

    def _insert(self, start: int, level: int, value: T) -> None:
        while True:
            size = 1 << level
            is_left = start % (2 * size) == 0
            sibling = self.nodes.pop((start + size if is_left else start - size, level), None)
            if sibling is None:
                if (start, level) in self.nodes:
                    raise ValueError(f"blocks {start}..{start + size - 1} were added twice")
                self.nodes[(start, level)] = value
                return
            value = value.merge(sibling) if is_left else sibling.merge(value)
            start, level = (start if is_left else start - size), level + 1

    def merge(self, other: BlockTree[T]) -> BlockTree[T]:
        """The tree over both trees' blocks (which must not overlap)."""
        out: BlockTree[T] = BlockTree()
        out.nodes = dict(self.nodes)
        for (start, level), value in other.nodes.items():
            out._insert(start, level, value)
        return out

    @property
    def n_blocks(self) -> int:
        return sum(1 << level for _, level in self.nodes)

    def fold(self) -> T:
        """The merged value of blocks ``0 .. n - 1``, which must all be present."""
        if not self.nodes:
            raise ValueError("no blocks to fold")
        ordered = sorted(self.nodes.items())
        expected = 0
        for (start, level), _ in ordered:
            if start != expected:
                raise ValueError(f"block {expected} is missing")
            expected = start + (1 << level)
        result = ordered[-1][1]
        for _, value in reversed(ordered[:-1]):
            result = value.merge(result)
        return result


def reduce_blocks(n_paths: int, of_block: Callable[[slice], T]) -> T:
    """``of_block(slice)`` for each block of ``n_paths`` paths (from path 0), merged in the
    fixed tree: what a streamed run of the same paths would give."""
    tree: BlockTree[T] = BlockTree()
    for block, part in block_slices(0, n_paths):
        tree.add(block, of_block(part))
    return tree.fold()
