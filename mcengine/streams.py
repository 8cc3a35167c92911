"""Random streams: entropy -> key -> counter-based bits -> distributions (NEP 19's split).

Every random number the model consumes is a pure function of ``(key, path, draw)``:

* **Entropy -> key.** :func:`key_from_seed` hashes a user seed through
  :class:`numpy.random.SeedSequence` into a 64-bit Philox key (two 32-bit words).
* **Key -> bits.** :func:`philox4x32` is the Philox4x32-10 block cipher of Salmon et al.
  (SC'11, "Parallel random numbers: as easy as 1, 2, 3"). It maps a 128-bit counter to 128
  random bits. It is checked against the Random123 known-answer vectors in
  ``tests/test_streams.py::test_philox_known_answers``.
* **Bits -> distributions.** :func:`uniform53` and :func:`normal_pair` turn blocks into
  uniforms in ``[0, 1)`` and standard normals.

The counter of a block is ``(block, path_lo, path_hi, domain)``: the block index within a
path, the 64-bit path index, and a domain word reserved for other samplers. No state is
carried between paths, so results do not depend on thread count, chunk size or worker count,
and the first ``m`` paths of a long run equal a run of ``m`` paths.

Block layout of one path (see :data:`BLOCKS_PER_STEP`):

* block 0: one normal pair -> ``Z_lambda``, ``Z_g``
* block 1: one normal pair -> ``Z_sel`` (the second normal is unused)
* step ``n`` (1-based) uses blocks ``4n .. 4n+3``: four Box-Muller pairs give the seven
  normals of the step (the eighth is unused), and the spare fourth words of blocks ``4n`` and
  ``4n+1`` give the 53-bit jump uniform.
"""

from __future__ import annotations

import secrets

import numpy as np

from mcengine.jit import kernel

__all__ = [
    "BLOCKS_PER_STEP",
    "MAX_SEED",
    "key_from_seed",
    "fresh_seed",
    "philox4x32",
    "uniform53",
    "normal_pair",
    "step_draws",
    "path_draws",
    "draw_table",
]

#: Philox blocks reserved per time step (and for the per-path draws, as step 0).
BLOCKS_PER_STEP = 4
#: Seeds are non-negative integers below 2**63, so that they fit a netCDF int64 attribute.
MAX_SEED = 2**63 - 1

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint32(0x9E3779B9)
_W1 = np.uint32(0xBB67AE85)
_LO32 = np.uint64(0xFFFFFFFF)
_TWO_PI = 2.0 * np.pi
# 2**-53 and 2**-32: spacing of the uniforms built below.
_U53 = 1.0 / 9007199254740992.0
_U32 = 1.0 / 4294967296.0


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


@kernel
def _mulhilo(a, b):
    # 32x32 -> 64-bit product split into high and low words; uint64 arithmetic is exact here.
    p = np.uint64(a) * np.uint64(b)
    return np.uint32(p >> np.uint64(32)), np.uint32(p & _LO32)


@kernel
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


@kernel
def uniform53(hi, lo):
    """Uniform double in ``[0, 1)`` from two 32-bit words (53 random bits)."""
    bits = (np.uint64(hi) << np.uint64(21)) ^ (np.uint64(lo) >> np.uint64(11))
    return np.float64(bits & np.uint64(0x1FFFFFFFFFFFFF)) * _U53


@kernel
def _block(k0, k1, block, path):
    # Counter (block, path_lo, path_hi, domain 0); other domains are left to other samplers.
    return philox4x32(block, path & _LO32, path >> np.uint64(32), 0, k0, k1)


@kernel
def _box_muller(w0, w1, w2):
    # The radius uses 53 bits, so the largest normal is about 8.57 and nothing is truncated at
    # any sample size the engine can reach; the angle uses 32 bits. The radius uniform is
    # taken in (0, 1] so that its logarithm is finite.
    u = 1.0 - uniform53(w0, w1)
    r = np.sqrt(-2.0 * np.log(u))
    theta = _TWO_PI * (np.float64(w2) * _U32)
    return r * np.cos(theta), r * np.sin(theta)


@kernel
def normal_pair(k0, k1, block, path):
    """Two independent standard normals from Philox block ``block`` of path ``path``."""
    w0, w1, w2, _ = _block(k0, k1, block, path)
    return _box_muller(w0, w1, w2)


@kernel
def step_draws(k0, k1, path, step, out):
    """Fill ``out[0:8]`` with the draws of step ``step`` (1-based) of path ``path``.

    ``out[0:3]`` are the uncorrelated driver shocks (cost, open share, demand),
    ``out[3:7]`` are the sentiment shocks (common, A, I, T), and ``out[7]`` is the jump
    uniform in ``[0, 1)``, built from the spare fourth words of the first two blocks.
    """
    base = np.uint64(step) * np.uint64(BLOCKS_PER_STEP)
    a0, a1, a2, a3 = _block(k0, k1, base, path)
    b0, b1, b2, b3 = _block(k0, k1, base + np.uint64(1), path)
    c0, c1, c2, _ = _block(k0, k1, base + np.uint64(2), path)
    d0, d1, d2, _ = _block(k0, k1, base + np.uint64(3), path)
    out[0], out[1] = _box_muller(a0, a1, a2)
    out[2], out[3] = _box_muller(b0, b1, b2)
    out[4], out[5] = _box_muller(c0, c1, c2)
    out[6], _ = _box_muller(d0, d1, d2)
    out[7] = uniform53(a3, b3)


@kernel
def path_draws(k0, k1, path):
    """The per-path draws ``(Z_lambda, Z_g, Z_sel)`` (blocks 0 and 1, before step 1)."""
    z_lam, z_g = normal_pair(k0, k1, np.uint64(0), path)
    z_sel, _ = normal_pair(k0, k1, np.uint64(1), path)
    return z_lam, z_g, z_sel


@kernel
def _fill_draw_table(k0, k1, first_path, per_path, per_step):
    for i in range(per_path.shape[0]):
        path = np.uint64(first_path + i)
        per_path[i, 0], per_path[i, 1], per_path[i, 2] = path_draws(k0, k1, path)
        for n in range(per_step.shape[1]):
            step_draws(k0, k1, path, n + 1, per_step[i, n])


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
