"""Random streams: entropy -> key -> counter-based bits -> distributions (NEP 19's split).

Every random number the model consumes is a pure function of ``(key, path, draw)``:

* **Entropy -> key.** :func:`key_from_seed` hashes a user seed through
  :class:`numpy.random.SeedSequence` into a 64-bit Philox key (two 32-bit words).
* **Key -> bits.** :func:`philox4x32` is the Philox4x32-10 block cipher of Salmon et al.
  (SC'11, "Parallel random numbers: as easy as 1, 2, 3"). It maps a 128-bit counter to 128
  random bits. It is checked against the Random123 known-answer vectors in
  ``tests/test_streams.py::test_philox_known_answers``.
* **Bits -> distributions.** :func:`next_uniform` and :func:`next_normal` turn a stream of
  64-bit words into uniforms in ``[0, 1)`` and standard normals.

The counter of a block is ``(stream, path_lo, path_hi, block)``: the stream (0 for the
per-path draws, ``n`` for step ``n``), the 64-bit path index, and the block number within
that stream. A stream is read as a sequence of 64-bit words (two per block, low word first),
so each step can take as many words as its draws need. No state is carried between paths or
steps, so results do not depend on thread count, chunk size or worker count, and the first
``m`` paths of a long run equal a run of ``m`` paths.

Draws:

* stream 0 (per path): ``Z_lambda``, ``Z_g``, ``Z_sel``, three standard normals;
* stream ``n`` (step ``n``): the jump uniform (first word, 53 bits), then seven standard
  normals (three driver shocks, four sentiment shocks).

Normals use the 256-layer ziggurat of Marsaglia and Tsang (2000) in the 64-bit form of
``numpy.random.Generator.standard_normal``: fed the same words, it consumes the same words and
returns the same values to 1e-13 (its tables are the exact ones correctly rounded, which
differ from numpy's in the last bits; ``tests/test_streams.py::test_ziggurat_matches_numpy``).
About 99% of normals take one word; the rest take one or two more.
"""

from __future__ import annotations

import secrets

import numpy as np

from mcengine.jit import inline_kernel, kernel
from mcengine.layout import LANES, MAX_SEED, PathDraw, StepDraw
from mcengine.numerics import exp, log1p, select, uint52_to_float, uint53_to_float
from mcengine.rng import _ziggurat_tables

__all__ = [
    "STATE_SIZE",
    "MAX_SEED",
    "key_from_seed",
    "fresh_seed",
    "philox4x32",
    "next_normal",
    "next_uniform",
    "next_word",
    "open_stream",
    "step_draws",
    "path_draws",
    "step_draws_lanes",
    "path_draws_lanes",
    "LANE_WORDS",
    "draw_table",
    "replay_state",
    "replay_normals",
    "words_used",
    "PARAMETER_STREAM",
    "parameter_uniforms",
    "path_uniforms",
    "path_normals",
    "lane_path",
]

#: Seeds are non-negative integers below 2**63, so that they fit a netCDF int64 attribute.

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint32(0x9E3779B9)
_W1 = np.uint32(0xBB67AE85)
_LO32 = np.uint64(0xFFFFFFFF)
# 2**-53: spacing of the uniforms built below.
_U53 = 1.0 / 9007199254740992.0


# Marsaglia-Tsang tables for 256 layers and 52-bit mantissas: literals, the exact tables
# correctly rounded (tests/test_ziggurat.py). They were computed here with numpy's exp/log,
# whose AVX-512 loops changed 44 entries by an ulp, and so 6% of normals, on such CPUs.
_ZIG_R = _ziggurat_tables.R
_ZIG_INV_R = 1.0 / _ZIG_R
_ZIG_K = np.array(_ziggurat_tables.KI, dtype=np.uint64)
_ZIG_W = np.array(_ziggurat_tables.WI)
_ZIG_F = np.array(_ziggurat_tables.FI)


def key_from_seed(seed: int) -> tuple[int, int]:
    """Derive the two 32-bit Philox key words from a user seed.

    Parameters
    ----------
    seed : int
        Non-negative integer, at most ``2**63 - 1``.

    Returns
    -------
    (k0, k1) : tuple of int
        Key words, each in ``[0, 2**32)``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed = {seed!r}, must be an integer in [0, {MAX_SEED}]")
    if not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed = {seed}, must be in [0, {MAX_SEED}]")
    k0, k1 = np.random.SeedSequence(int(seed)).generate_state(2, dtype=np.uint32)
    return int(k0), int(k1)


def fresh_seed() -> int:
    """Draw a new seed from the operating system's entropy (recorded so runs can repeat)."""
    return secrets.randbits(63)


@inline_kernel(wrapper=True)
def _mulhilo(a, b):
    # 32x32 -> 64-bit product split into high and low words; uint64 arithmetic is exact here.
    p = np.uint64(a) * np.uint64(b)
    return np.uint32(p >> np.uint64(32)), np.uint32(p & _LO32)


@inline_kernel(wrapper=True)
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10: encrypt counter ``(c0, c1, c2, c3)`` under key ``(k0, k1)``.

    All arguments are 32-bit unsigned words; returns four 32-bit words.
    """
    c0 = np.uint32(c0)
    c1 = np.uint32(c1)
    c2 = np.uint32(c2)
    c3 = np.uint32(c3)
    k0 = np.uint32(k0)
    k1 = np.uint32(k1)
    for _ in range(10):
        hi0, lo0 = _mulhilo(_M0, c0)
        hi1, lo1 = _mulhilo(_M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = np.uint32(k0 + _W0)
        k1 = np.uint32(k1 + _W1)
    return c0, c1, c2, c3


# -- word streams -----------------------------------------------------------------------------
# A stream's state is a uint64 array:
#   [key, path, stream, next block, read position, end of buffer, 8 buffered words].
# open_stream fills the buffer with the stream's first four blocks at once (independent Philox
# calls overlap in the pipeline); next_word refills one block at a time after that. A state
# whose stream word is REPLAY returns the words stored after the header instead (used to
# check the distributions against another generator's words).
_KEY, _PATH, _STREAM, _BLOCK, _POS, _END, _BUF = 0, 1, 2, 3, 4, 5, 6
_PREFILL_BLOCKS = 4
STATE_SIZE = _BUF + 2 * _PREFILL_BLOCKS
REPLAY = np.uint64(0xFFFFFFFFFFFFFFFF)


@inline_kernel(wrapper=True)
def _fill_block(state, slot):
    """Encrypt the next block of the stream into buffer words ``slot, slot + 1``."""
    key = state[_KEY]
    path = state[_PATH]
    w0, w1, w2, w3 = philox4x32(
        state[_STREAM],
        path & _LO32,
        path >> np.uint64(32),
        state[_BLOCK],
        key & _LO32,
        key >> np.uint64(32),
    )
    state[_BLOCK] += np.uint64(1)
    state[_BUF + slot] = (np.uint64(w1) << np.uint64(32)) | np.uint64(w0)
    state[_BUF + slot + 1] = (np.uint64(w3) << np.uint64(32)) | np.uint64(w2)


@kernel
def _refill(state):
    # Out of line: only about one step in ten needs a fifth block.
    _fill_block(state, np.int64(0))


@kernel
def _prefill(state):
    # The four blocks are independent: written out (Philox is inlined) so that their
    # multiply chains overlap in the pipeline. Worth 1.2x on the whole kernel. (The slots
    # are int64, not literals: Numba compiles a function once per literal argument.)
    _fill_block(state, np.int64(0))
    _fill_block(state, np.int64(2))
    _fill_block(state, np.int64(4))
    _fill_block(state, np.int64(6))


@kernel
def open_stream(key0, key1, path, stream, state):
    """Point ``state`` at the start of stream ``stream`` of path ``path``."""
    state[_KEY] = (np.uint64(key1) << np.uint64(32)) | np.uint64(key0)
    state[_PATH] = np.uint64(path)
    state[_STREAM] = np.uint64(stream)
    state[_BLOCK] = 0
    _prefill(state)
    state[_POS] = 0
    state[_END] = 2 * _PREFILL_BLOCKS


@inline_kernel(wrapper=True)
def next_word(state):
    """The stream's next 64-bit word (of each Philox block, the low words come first)."""
    pos = np.int64(state[_POS])
    if pos == np.int64(state[_END]):
        if state[_STREAM] == REPLAY:
            state[_BLOCK] += np.uint64(1)
            return state[_BUF + np.int64(state[_BLOCK]) - 1]
        _refill(state)
        state[_END] = 2
        pos = 0
    state[_POS] = pos + 1
    return state[_BUF + pos]


def replay_state(words: np.ndarray) -> np.ndarray:
    """A stream state that returns ``words`` in order (then fails with an index error)."""
    state = np.zeros(_BUF + len(words), dtype=np.uint64)
    state[_STREAM] = REPLAY
    state[_BUF:] = words
    return state


@kernel
def words_used(state):
    """How many words a replay state has handed out."""
    return state[_BLOCK]


@inline_kernel(wrapper=True)
def next_uniform(state):
    """Uniform double in ``[0, 1)`` with 53 random bits (numpy's ``next_double``)."""
    return np.float64(next_word(state) >> np.uint64(11)) * _U53


@inline_kernel(wrapper=True)
def _candidate(r):
    """The ziggurat's candidate of word ``r``: ``(x, layer, rabs)``; accepted at once when
    ``rabs < ki[layer]`` (99% of words)."""
    idx = np.int64(r & np.uint64(0xFF))
    r >>= np.uint64(8)
    # rabs < 2**52: uint52_to_float, not np.float64 (AVX2 has no vector int64 -> double).
    rabs = np.int64((r >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF))
    sign = select((r & np.uint64(1)) != np.uint64(0), -1.0, 1.0)  # branch-free: a coin flip
    return sign * (uint52_to_float(rabs) * _ZIG_W[idx]), idx, rabs


@inline_kernel(wrapper=True)
def next_normal(state):
    """Standard normal by the 256-layer ziggurat (numpy's ``random_standard_normal``)."""
    x, idx, rabs = _candidate(next_word(state))
    if rabs < np.int64(_ZIG_K[idx]):
        return x
    return _beyond_fast_path(state, x, idx, rabs)


@kernel
def _beyond_fast_path(state, x, idx, rabs):
    """The rest of the ziggurat for a candidate outside its layer's box (1% of normals):
    the tail or the wedge test, then new candidates until one is accepted. Out of line, so
    that each inlined copy of next_normal is only the fast path (and compiles fast)."""
    while True:
        if idx == 0:
            # The tail beyond R, by Marsaglia's exponential rejection; 1 - U avoids log(0).
            while True:
                xx = -_ZIG_INV_R * log1p(-next_uniform(state))
                yy = -log1p(-next_uniform(state))
                if yy + yy > xx * xx:
                    return -(_ZIG_R + xx) if (rabs >> 8) & 1 else _ZIG_R + xx
        wedge = (_ZIG_F[idx - 1] - _ZIG_F[idx]) * next_uniform(state) + _ZIG_F[idx]
        if wedge < exp(-0.5 * x * x):
            return x
        x, idx, rabs = _candidate(next_word(state))
        if rabs < np.int64(_ZIG_K[idx]):
            return x


@kernel
def replay_normals(state, out):
    """Fill ``out`` with normals drawn from ``state`` (see :func:`replay_state`)."""
    for i in range(out.shape[0]):
        out[i] = next_normal(state)


@kernel
def step_draws(key0, key1, path, step, state, out):
    """Fill ``out[0:8]`` with the draws of step ``step`` (1-based) of path ``path``.

    ``out[0:3]`` are the uncorrelated driver shocks (cost, open share, demand),
    ``out[3:7]`` the sentiment shocks (common, A, I, T), ``out[7]`` the jump uniform in
    ``[0, 1)``. ``state`` is scratch of size :data:`STATE_SIZE`.
    """
    open_stream(key0, key1, path, step, state)
    out[7] = next_uniform(state)
    for j in range(7):
        out[j] = next_normal(state)


@kernel
def path_draws(key0, key1, path, state, out):
    """Fill ``out[0:3]`` with the per-path draws ``Z_lambda, Z_g, Z_sel`` (stream 0)."""
    open_stream(key0, key1, path, 0, state)
    for j in range(3):
        out[j] = next_normal(state)


# -- lanes ------------------------------------------------------------------------------------
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
_STEP_DRAWS = len(StepDraw)
_PATH_DRAWS = len(PathDraw)
_N_NORMALS = _STEP_DRAWS - 1  # written out in step_draws_lanes' fast loop


@inline_kernel(wrapper=True)
def lane_path(first_path, lane, antithetic):
    """The stream path of a lane and whether it mirrors it (antithetic odd paths)."""
    path = np.uint64(first_path) + np.uint64(lane)
    if antithetic:
        return path >> np.uint64(1), (path & np.uint64(1)) == np.uint64(1)
    return path, False


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
        lo = np.uint32(path & _LO32)
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
    x, idx, rabs = _candidate(r)
    return x, np.int64(rabs >= np.int64(_ZIG_K[idx]))


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
        out[_JUMP * LANES + lane] = uint53_to_float(word) * _U53
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
    state = np.empty(_BUF + _LANE_STEP_WORDS, dtype=np.uint64)
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
            out[_JUMP * LANES + lane] = select(mirror, 1.0 - u - _U53, u)


@kernel
def _resume_normals(state, words, lane, out):
    """The seven normals of a lane whose words are ``words[j * LANES + lane]`` and whose
    stream state ``state`` holds the same words (:func:`_resume`): the same values as
    :func:`step_draws`, reading the words directly while the state has not refilled."""
    p = 1  # word 0 is the jump uniform
    for i in range(_N_NORMALS):
        if np.int64(state[_END]) != _LANE_STEP_WORDS or p >= _LANE_STEP_WORDS:
            # The buffer is used up (or was refilled): the state machine from here on.
            state[_POS] = p if np.int64(state[_END]) == _LANE_STEP_WORDS else state[_POS]
            for j in range(i, _N_NORMALS):
                out[j * LANES + lane] = next_normal(state)
            return
        x, idx, rabs = _candidate(words[p * LANES + lane])
        if rabs < np.int64(_ZIG_K[idx]):
            out[i * LANES + lane] = x
            p += 1
        else:
            state[_POS] = p + 1
            out[i * LANES + lane] = _beyond_fast_path(state, x, idx, rabs)
            p = np.int64(state[_POS])


@kernel
def _resume(state, key0, key1, path, stream, words, lane, n_words):
    """A stream state whose buffer holds the lane's first ``n_words`` words (whole blocks),
    its next block the one after them. ``state`` has room for them."""
    state[_KEY] = (np.uint64(key1) << np.uint64(32)) | np.uint64(key0)
    state[_PATH] = np.uint64(path)
    state[_STREAM] = np.uint64(stream)
    state[_BLOCK] = np.uint64(n_words // 2)
    for j in range(n_words):
        state[_BUF + j] = words[j * LANES + lane]
    state[_END] = n_words


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


@kernel
def _fill_draw_table(k0, k1, first_path, per_path, per_step):
    state = np.empty(STATE_SIZE, dtype=np.uint64)
    for i in range(per_path.shape[0]):
        path = np.uint64(first_path + i)
        path_draws(k0, k1, path, state, per_path[i])
        for n in range(per_step.shape[1]):
            step_draws(k0, k1, path, n + 1, state, per_step[i, n])


def draw_table(
    seed: int, n_paths: int, n_steps: int, first_path: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Every draw of paths ``first_path ..`` as arrays, for inspection and reference tests.

    Returns ``(per_path, per_step)`` with shapes ``(n_paths, 3)`` (``Z_lambda, Z_g, Z_sel``)
    and ``(n_paths, n_steps, 8)`` (see :func:`step_draws`). This allocates paths x steps, so
    it is meant for small ``n_paths``; the engine itself never calls it.
    """
    k0, k1 = key_from_seed(seed)
    per_path = np.empty((n_paths, 3))
    per_step = np.empty((n_paths, n_steps, 8))
    _fill_draw_table(k0, k1, first_path, per_path, per_step)
    return per_path, per_step


# -- uncertain parameters -----------------------------------------------------------------------
#: The stream of the uncertain parameters' uniforms (steps use streams 1..N, N <= 1200).
PARAMETER_STREAM = 0xFFFFFFFF
_MIRROR = np.uint64((1 << 53) - 1)


@inline_kernel(wrapper=True)
def path_uniforms(key0, key1, path, mirror, blocks, out):
    """The uncertain parameters' uniforms of one path (see :func:`parameter_uniforms`):
    ``out[j]`` from block ``blocks[j]``, mirrored (``1 - u``) but for the last column."""
    lo = np.uint32(path & _LO32)
    hi = np.uint32(path >> np.uint64(32))
    last = blocks.shape[0] - 1
    for j in range(blocks.shape[0]):
        w0, w1, _, _ = philox4x32(PARAMETER_STREAM, lo, hi, blocks[j], key0, key1)
        bits = ((np.uint64(w1) << np.uint64(32)) | np.uint64(w0)) >> np.uint64(11)
        if mirror and j < last:
            bits = _MIRROR - bits
        out[j] = (np.float64(bits) + 0.5) * _U53


@kernel
def _parameter_uniforms(key0, key1, first_path, antithetic, blocks, out):
    for i in range(out.shape[0]):
        path, mirror = lane_path(first_path, i, antithetic)
        path_uniforms(key0, key1, path, mirror, blocks, out[i])


def parameter_uniforms(
    key: tuple[int, int], first_path: int, n_paths: int, blocks: np.ndarray, *, antithetic: bool
) -> np.ndarray:
    """The uncertain parameters' uniforms of paths ``first_path ..``: ``(n_paths, len(blocks))``.

    Column ``j`` of path ``p`` is the first word of Philox block ``blocks[j]`` of stream
    :data:`PARAMETER_STREAM` of path ``p``, as ``(k + 1/2) 2**-53`` with ``k`` its top 53
    bits: in (0, 1), never 0 or 1, a pure function of (seed, path, block). With
    ``antithetic`` the odd path of a pair takes ``1 - u`` of its even path's (exactly), in
    every column but the last (the t copula's mixing variable, shared by the pair).
    """
    out = np.empty((n_paths, len(blocks)))
    _parameter_uniforms(key[0], key[1], first_path, antithetic, blocks.astype(np.uint32), out)
    return out


@kernel
def _path_normals(key0, key1, first_path, antithetic, out):
    state = np.empty(STATE_SIZE, dtype=np.uint64)
    for i in range(out.shape[0]):
        path, mirror = lane_path(first_path, i, antithetic)
        path_draws(key0, key1, path, state, out[i])
        if mirror:
            for j in range(out.shape[1]):
                out[i, j] = -out[i, j]


def path_normals(
    key: tuple[int, int], first_path: int, n_paths: int, *, antithetic: bool
) -> np.ndarray:
    """The per-path normals (:class:`~mcengine.layout.PathDraw`) of paths ``first_path ..``,
    ``(n_paths, 3)``, as the kernel draws them (for copulas linking beliefs to them)."""
    out = np.empty((n_paths, _PATH_DRAWS))
    _path_normals(key[0], key[1], first_path, antithetic, out)
    return out
