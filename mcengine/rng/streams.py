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

The kernel draws LANES paths at once through :mod:`mcengine.rng.lanes`, which reproduces
these draws word for word.
"""

from __future__ import annotations

import secrets

import numpy as np

from mcengine.checks import check_int
from mcengine.jit import inline_kernel, kernel
from mcengine.layout import MAX_SEED, PathDraw, StepDraw
from mcengine.numerics import exp, log1p, select, uint52_to_float
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
    "draw_table",
    "replay_state",
    "replay_normals",
    "words_used",
    "PARAMETER_STREAM",
    "parameter_uniforms",
    "path_uniforms",
    "path_normals",
    "lane_path",
    # the stream state and the ziggurat, for the lane-vectorised draws (mcengine.rng.lanes)
    "STATE_KEY",
    "STATE_PATH",
    "STATE_STREAM",
    "STATE_BLOCK",
    "STATE_POS",
    "STATE_END",
    "STATE_BUF",
    "LO32",
    "U53",
    "ZIG_K",
    "ziggurat_candidate",
    "beyond_fast_path",
]

#: Seeds are non-negative integers below 2**63, so that they fit a netCDF int64 attribute.

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint32(0x9E3779B9)
_W1 = np.uint32(0xBB67AE85)
LO32 = np.uint64(0xFFFFFFFF)
#: 2**-53: spacing of the uniforms built below.
U53 = 1.0 / 9007199254740992.0


# Marsaglia-Tsang tables for 256 layers and 52-bit mantissas: literals, the exact tables
# correctly rounded (tests/test_ziggurat.py). They were computed here with numpy's exp/log,
# whose AVX-512 loops changed 44 entries by an ulp, and so 6% of normals, on such CPUs.
_ZIG_R = _ziggurat_tables.R
_ZIG_INV_R = 1.0 / _ZIG_R
ZIG_K = np.array(_ziggurat_tables.KI, dtype=np.uint64)
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
    seed = check_int("seed", seed, 0, MAX_SEED)  # InputError, as RunPlan.build says it
    k0, k1 = np.random.SeedSequence(seed).generate_state(2, dtype=np.uint32)
    return int(k0), int(k1)


def fresh_seed() -> int:
    """Draw a new seed from the operating system's entropy (recorded so runs can repeat)."""
    return secrets.randbits(63)


@inline_kernel(wrapper=True)
def _mulhilo(a, b):
    # 32x32 -> 64-bit product split into high and low words; uint64 arithmetic is exact here.
    p = np.uint64(a) * np.uint64(b)
    return np.uint32(p >> np.uint64(32)), np.uint32(p & LO32)


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
STATE_KEY, STATE_PATH, STATE_STREAM, STATE_BLOCK, STATE_POS, STATE_END, STATE_BUF = range(7)
_PREFILL_BLOCKS = 4
STATE_SIZE = STATE_BUF + 2 * _PREFILL_BLOCKS
REPLAY = np.uint64(0xFFFFFFFFFFFFFFFF)
# The draw layout (mcengine.layout): a step's jump uniform and normals, the per-path normals.
_JUMP = int(StepDraw.JUMP)
_STEP_DRAWS = len(StepDraw)
_N_NORMALS = _STEP_DRAWS - 1
_PATH_DRAWS = len(PathDraw)


@inline_kernel(wrapper=True)
def _fill_block(state, slot):
    """Encrypt the next block of the stream into buffer words ``slot, slot + 1``."""
    key = state[STATE_KEY]
    path = state[STATE_PATH]
    w0, w1, w2, w3 = philox4x32(
        state[STATE_STREAM],
        path & LO32,
        path >> np.uint64(32),
        state[STATE_BLOCK],
        key & LO32,
        key >> np.uint64(32),
    )
    state[STATE_BLOCK] += np.uint64(1)
    state[STATE_BUF + slot] = (np.uint64(w1) << np.uint64(32)) | np.uint64(w0)
    state[STATE_BUF + slot + 1] = (np.uint64(w3) << np.uint64(32)) | np.uint64(w2)


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
    state[STATE_KEY] = (np.uint64(key1) << np.uint64(32)) | np.uint64(key0)
    state[STATE_PATH] = np.uint64(path)
    state[STATE_STREAM] = np.uint64(stream)
    state[STATE_BLOCK] = 0
    _prefill(state)
    state[STATE_POS] = 0
    state[STATE_END] = 2 * _PREFILL_BLOCKS


@inline_kernel(wrapper=True)
def next_word(state):
    """The stream's next 64-bit word (of each Philox block, the low words come first)."""
    pos = np.int64(state[STATE_POS])
    if pos == np.int64(state[STATE_END]):
        if state[STATE_STREAM] == REPLAY:
            state[STATE_BLOCK] += np.uint64(1)
            return state[STATE_BUF + np.int64(state[STATE_BLOCK]) - 1]
        _refill(state)
        state[STATE_END] = 2
        pos = 0
    state[STATE_POS] = pos + 1
    return state[STATE_BUF + pos]


def replay_state(words: np.ndarray) -> np.ndarray:
    """A stream state that returns ``words`` in order (then fails with an index error)."""
    state = np.zeros(STATE_BUF + len(words), dtype=np.uint64)
    state[STATE_STREAM] = REPLAY
    state[STATE_BUF:] = words
    return state


@kernel
def words_used(state):
    """How many words a replay state has handed out."""
    return state[STATE_BLOCK]


@inline_kernel(wrapper=True)
def next_uniform(state):
    """Uniform double in ``[0, 1)`` with 53 random bits (numpy's ``next_double``)."""
    return np.float64(next_word(state) >> np.uint64(11)) * U53


@inline_kernel(wrapper=True)
def ziggurat_candidate(r):
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
    x, idx, rabs = ziggurat_candidate(next_word(state))
    if rabs < np.int64(ZIG_K[idx]):
        return x
    return beyond_fast_path(state, x, idx, rabs)


@kernel
def beyond_fast_path(state, x, idx, rabs):
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
        x, idx, rabs = ziggurat_candidate(next_word(state))
        if rabs < np.int64(ZIG_K[idx]):
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
    out[_JUMP] = next_uniform(state)
    for j in range(_N_NORMALS):
        out[j] = next_normal(state)


@kernel
def path_draws(key0, key1, path, state, out):
    """Fill ``out[0:3]`` with the per-path draws ``Z_lambda, Z_g, Z_sel`` (stream 0)."""
    open_stream(key0, key1, path, 0, state)
    for j in range(_PATH_DRAWS):
        out[j] = next_normal(state)


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
    per_path = np.empty((n_paths, _PATH_DRAWS))
    per_step = np.empty((n_paths, n_steps, _STEP_DRAWS))
    _fill_draw_table(k0, k1, first_path, per_path, per_step)
    return per_path, per_step


@inline_kernel(wrapper=True)
def lane_path(first_path, lane, antithetic):
    """The stream path of path ``first_path + lane`` and whether it mirrors it (antithetic:
    the odd path of a pair replays its even neighbour's stream, mirrored)."""
    path = np.uint64(first_path) + np.uint64(lane)
    if antithetic:
        return path >> np.uint64(1), (path & np.uint64(1)) == np.uint64(1)
    return path, False


# -- uncertain parameters -----------------------------------------------------------------------
#: The stream of the uncertain parameters' uniforms (steps use streams 1..N, N <= 1200).
PARAMETER_STREAM = 0xFFFFFFFF
_MIRROR = np.uint64((1 << 53) - 1)


@inline_kernel(wrapper=True)
def path_uniforms(key0, key1, path, mirror, blocks, out):
    """The uncertain parameters' uniforms of one path (see :func:`parameter_uniforms`):
    ``out[j]`` from block ``blocks[j]``, mirrored (``1 - u``) but for the last column."""
    lo = np.uint32(path & LO32)
    hi = np.uint32(path >> np.uint64(32))
    last = blocks.shape[0] - 1
    for j in range(blocks.shape[0]):
        w0, w1, _, _ = philox4x32(PARAMETER_STREAM, lo, hi, blocks[j], key0, key1)
        bits = ((np.uint64(w1) << np.uint64(32)) | np.uint64(w0)) >> np.uint64(11)
        if mirror and j < last:
            bits = _MIRROR - bits
        out[j] = (np.float64(bits) + 0.5) * U53


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
