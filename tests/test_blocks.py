"""The fixed merge tree over blocks: one shape whatever the order or the split."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcengine.layout import BLOCK_PATHS
from mcengine.stats.blocks import BlockTree, block_slices, reduce_blocks


@dataclass(frozen=True)
class Shape:
    """A value whose merge records the tree's shape (merging is not associative here)."""

    text: str

    def merge(self, other: Shape) -> Shape:
        return Shape(f"({self.text} {other.text})")


def sequential(n: int) -> str:
    tree = BlockTree()
    for block in range(n):
        tree.add(block, Shape(str(block)))
    return tree.fold().text


def test_the_tree_of_seven_blocks():
    assert sequential(7) == "(((0 1) (2 3)) ((4 5) 6))"
    assert sequential(1) == "0"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.permutations(range(n)), st.data())))
def test_any_order_and_any_split_gives_the_same_tree(case):
    order, data = case
    n = len(order)
    # Split the blocks between "workers" at random, add in the given order, merge in any order.
    owners = [data.draw(st.integers(0, 3)) for _ in range(n)]
    trees = [BlockTree() for _ in range(4)]
    for block in order:
        trees[owners[block]].add(block, Shape(str(block)))
    merge_order = data.draw(st.permutations(range(4)))
    total = BlockTree()
    for k in merge_order:
        total = total.merge(trees[k])
    assert total.fold().text == sequential(n)
    assert total.n_blocks == n


def test_reduce_blocks_follows_the_block_size():
    n = 2 * BLOCK_PATHS + 5
    spans = []
    result = reduce_blocks(n, lambda part: spans.append(part) or Shape(f"{part.start}"))
    assert [(p.start, p.stop) for p in spans] == [
        (0, BLOCK_PATHS),
        (BLOCK_PATHS, 2 * BLOCK_PATHS),
        (2 * BLOCK_PATHS, n),
    ]
    assert result.text == f"((0 {BLOCK_PATHS}) {2 * BLOCK_PATHS})"


def test_misuse_is_refused():
    tree = BlockTree()
    tree.add(0, Shape("0"))
    with pytest.raises(ValueError, match="added twice"):
        tree.add(0, Shape("0"))
    tree.add(2, Shape("2"))
    with pytest.raises(ValueError, match="block 1 is missing"):
        tree.fold()
    with pytest.raises(ValueError, match="no blocks"):
        BlockTree().fold()
    with pytest.raises(ValueError, match="not a multiple"):
        list(block_slices(3, 10))
