"""Lane-vectorised draws: the random draws of LANES consecutive paths at once, as the kernel
consumes them (:mod:`mcengine.kernel.paths`), equal word for word to the scalar streams of
:mod:`mcengine.rng.streams` (``tests/test_streams.py`` checks them lane by lane).
"""

from __future__ import annotations

import numpy as np

from mcengine.jit import inline_kernel, kernel
from mcengine.layout import LANES, PathDraw, StepDraw
from mcengine.numerics import select, uint53_to_float
from mcengine.rng.streams import (
    LO32,
    STATE_BLOCK,
    STATE_BUF,
    STATE_END,
    STATE_KEY,
    STATE_PATH,
    STATE_POS,
    STATE_SIZE,
    STATE_STREAM,
    U53,
    ZIG_K,
    beyond_fast_path,
    lane_path,
    next_normal,
    path_draws,
    philox4x32,
    ziggurat_candidate,
)

__all__ = ["LANE_WORDS", "step_draws_lanes", "path_draws_lanes"]

# The kernel draws a step for LANES paths at once: the first Philox blocks of every lane, then
# the uniform and the seven normals of every lane assuming each normal takes one word (the
# ziggurat's fast path, 90% of steps), as straight-line lane loops that LLVM vectorises. A
# lane where some normal needs more words resumes, from that normal on, word by word from its
# words (the stream state machine of next_normal), so the draws are those of step_draws.
# Five blocks per lane: the eight words of the fast path and two more, which cover what
# nearly every resumed lane needs (no scalar Philox refill).
_LANE_BLOCKS = 5
_LANE_STEP_WORDS = 2 * _LANE_BLOCKS
#: Size of the uint64 scratch that :func:`step_draws_lanes` needs.
LANE_WORDS = _LANE_STEP_WORDS * LANES
_JUMP = int(StepDraw.JUMP)
_N_NORMALS = len(StepDraw) - 1  # written out in step_draws_lanes' fast loop
_PATH_DRAWS = len(PathDraw)


@inline_kernel(wrapper=True)
def _block_words(step, lo, hi, block, k0, k1, words, lane):
    w0, w1, w2, w3 = philox4x32(step, lo, hi, block, k0, k1)
    words[2 * block * LANES + lane] = (np.uint64(w1) << np.uint64(32)) | np.uint64(w0)
    words[(2 * block + 1) * LANES + lane] = (np.uint64(w3) << np.uint64(32)) | np.uint64(w2)


@kernel
def _lane_words(key0, key1, first_path, antithetic, stream, words):
    """The first ``_LANE_BLOCKS`` Philox blocks of stream ``stream`` of every lane: word
    ``j`` of lane ``l`` in ``words[j * LANES + l]`` (one vectorised loop)."""
    k0 = np.uint32(key0)
    k1 = np.uint32(key1)
    c0 = np.uint32(stream)
    for lane in range(LANES):
        path, _ = lane_path(first_path, lane, antithetic)
        lo = np.uint32(path & LO32)
        hi = np.uint32(path >> np.uint64(32))
        # Written out: each block is Philox inlined, independent of the others. The block
        # numbers stay literals (a compile each): as int64 values, this loop runs at half
        # the speed (tests/test_vectorised.py).
        _block_words(c0, lo, hi, 0, k0, k1, words, lane)
        _block_words(c0, lo, hi, 1, k0, k1, words, lane)
        _block_words(c0, lo, hi, 2, k0, k1, words, lane)
        _block_words(c0, lo, hi, 3, k0, k1, words, lane)
        _block_words(c0, lo, hi, 4, k0, k1, words, lane)


@inline_kernel(wrapper=True)
def _fast_normal(r):
    """The ziggurat's one-word normal of word ``r``, and 1 if it needs more words, else 0."""
    x, idx, rabs = ziggurat_candidate(r)
    return x, np.int64(rabs >= np.int64(ZIG_K[idx]))


@kernel
def step_draws_lanes(key0, key1, first_path, antithetic, step, words, out):
    """The draws of step ``step`` of the LANES paths ``first_path ..``: draw ``j`` (a
    :class:`~mcengine.layout.StepDraw`) of lane ``l`` goes to ``out[j * LANES + l]``, at
    constant offsets (with a variable offset, LLVM does not vectorise the ziggurat's loop).

    The same values as :func:`step_draws` lane by lane, antithetic mirroring included
    (odd paths replay their even neighbour's stream, negated, with ``1 - U``). ``words`` is
    uint64 scratch of size :data:`LANE_WORDS`.
    """
    redo = np.empty(LANES, dtype=np.int64)
    _lane_words(key0, key1, first_path, antithetic, step, words)
    for lane in range(LANES):
        word = np.int64(words[lane] >> np.uint64(11))  # < 2**53: exact as a double
        out[_JUMP * LANES + lane] = uint53_to_float(word) * U53
        # Written out, not a loop: arrays passed to inlined helpers cost reference counting
        # calls, and those stop LLVM from vectorising the lane loop.
        x0, r0 = _fast_normal(words[1 * LANES + lane])
        x1, r1 = _fast_normal(words[2 * LANES + lane])
        x2, r2 = _fast_normal(words[3 * LANES + lane])
        x3, r3 = _fast_normal(words[4 * LANES + lane])
        x4, r4 = _fast_normal(words[5 * LANES + lane])
        x5, r5 = _fast_normal(words[6 * LANES + lane])
        x6, r6 = _fast_normal(words[7 * LANES + lane])
        out[0 * LANES + lane] = x0
        out[1 * LANES + lane] = x1
        out[2 * LANES + lane] = x2
        out[3 * LANES + lane] = x3
        out[4 * LANES + lane] = x4
        out[5 * LANES + lane] = x5
        out[6 * LANES + lane] = x6
        rejected = r0 | r1 | r2 | r3 | r4 | r5 | r6
        redo[lane] = rejected
    # The few lanes with a normal beyond the fast path (10% of steps): their normals again,
    # word by word from the words already made; only a candidate beyond its layer's box goes
    # through the stream state machine (a scalar normal there costs about 30 ns).
    state = np.empty(STATE_BUF + _LANE_STEP_WORDS, dtype=np.uint64)
    for lane in range(LANES):
        if redo[lane] != 0:
            path, _ = lane_path(first_path, lane, antithetic)
            _resume(state, key0, key1, path, step, words, lane, _LANE_STEP_WORDS)
            _resume_normals(state, words, lane, out)
    if antithetic:
        for lane in range(LANES):
            _, mirror = lane_path(first_path, lane, antithetic)
            sign = select(mirror, -1.0, 1.0)  # -x is x * -1.0, to the bit
            for j in range(_N_NORMALS):
                out[j * LANES + lane] *= sign
            # 1 - U on the same 2**-53 grid, kept inside [0, 1).
            u = out[_JUMP * LANES + lane]
            out[_JUMP * LANES + lane] = select(mirror, 1.0 - u - U53, u)


@kernel
def _resume_normals(state, words, lane, out):
    """The seven normals of a lane whose words are ``words[j * LANES + lane]`` and whose
    stream state ``state`` holds the same words (:func:`_resume`): the same values as
    :func:`step_draws`, reading the words directly while the state has not refilled."""
    p = 1  # word 0 is the jump uniform
    for i in range(_N_NORMALS):
        if np.int64(state[STATE_END]) != _LANE_STEP_WORDS or p >= _LANE_STEP_WORDS:
            # The buffer is used up (or was refilled): the state machine from here on.
            state[STATE_POS] = (
                p if np.int64(state[STATE_END]) == _LANE_STEP_WORDS else state[STATE_POS]
            )
            for j in range(i, _N_NORMALS):
                out[j * LANES + lane] = next_normal(state)
            return
        x, idx, rabs = ziggurat_candidate(words[p * LANES + lane])
        if rabs < np.int64(ZIG_K[idx]):
            out[i * LANES + lane] = x
            p += 1
        else:
            state[STATE_POS] = p + 1
            out[i * LANES + lane] = beyond_fast_path(state, x, idx, rabs)
            p = np.int64(state[STATE_POS])


@kernel
def _resume(state, key0, key1, path, stream, words, lane, n_words):
    """A stream state whose buffer holds the lane's first ``n_words`` words (whole blocks),
    its next block the one after them. ``state`` has room for them."""
    state[STATE_KEY] = (np.uint64(key1) << np.uint64(32)) | np.uint64(key0)
    state[STATE_PATH] = np.uint64(path)
    state[STATE_STREAM] = np.uint64(stream)
    state[STATE_BLOCK] = np.uint64(n_words // 2)
    for j in range(n_words):
        state[STATE_BUF + j] = words[j * LANES + lane]
    state[STATE_END] = n_words


@kernel
def path_draws_lanes(key0, key1, first_path, antithetic, words, out):
    """The per-path draws (stream 0) of the LANES paths ``first_path ..``: draw ``j`` (a
    :class:`~mcengine.layout.PathDraw`) of lane ``l`` goes to ``out[j * LANES + l]``, as
    :func:`step_draws_lanes` does for a step (same values as :func:`path_draws`)."""
    redo = np.empty(LANES, dtype=np.int64)
    _lane_words(key0, key1, first_path, antithetic, np.int64(0), words)  # (see _prefill)
    for lane in range(LANES):
        x0, r0 = _fast_normal(words[0 * LANES + lane])
        x1, r1 = _fast_normal(words[1 * LANES + lane])
        x2, r2 = _fast_normal(words[2 * LANES + lane])
        out[0 * LANES + lane] = x0
        out[1 * LANES + lane] = x1
        out[2 * LANES + lane] = x2
        redo[lane] = r0 | r1 | r2
    state = np.empty(STATE_SIZE, dtype=np.uint64)
    draws = np.empty(_PATH_DRAWS)
    for lane in range(LANES):
        path, mirror = lane_path(first_path, lane, antithetic)
        if redo[lane] != 0:
            path_draws(key0, key1, path, state, draws)
            for j in range(_PATH_DRAWS):
                out[j * LANES + lane] = draws[j]
        if mirror:
            for j in range(_PATH_DRAWS):
                out[j * LANES + lane] = -out[j * LANES + lane]
