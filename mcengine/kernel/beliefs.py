"""Each path's values of the uncertain parameters: uniforms, copula and quantiles, in Numba.

A run with beliefs needs five or so values per path before the path starts. Through
scipy.stats in Python they cost more than the path itself (a beta's inverse CDF is about
1.4 us a value), so they are drawn here, path-parallel: the uniforms from the parameter
stream (:func:`mcengine.rng.streams.path_uniforms`), the copula (:class:`Copula`) and each
belief's quantile function as :mod:`mcengine.kernel.belief_tables` encodes it
(scipy's own formulas, or a table built from and checked against scipy). Every value is a
function of (seed, path) alone, as the kernel's draws are.
"""

from __future__ import annotations

import math

import numpy as np

from mcengine.jit import inline_kernel, kernel, run_blocks, say_if_compiling
from mcengine.kernel.belief_tables import (
    CHOICE,
    FIXED,
    NO_COPULA,
    SCORE_TABLE,
    STUDENT_T,
    UNIFORM,
    Z_MAX,
    QuantileTables,
    kernel_copula,
)
from mcengine.kernel.special import chdtri, ndtr, ndtri, stdtr
from mcengine.layout import LANES, PathDraw
from mcengine.model.beliefs import Beliefs
from mcengine.rng.streams import lane_path, path_normals, path_uniforms

__all__ = ["draw_values", "values_at"]

#: The stream's uniforms lie in [2**-54, 1 - 2**-53]; a copula's probabilities are kept there.
_P_LO, _P_HI = 2.0**-54, 1.0 - 2.0**-53
_PATH_DRAWS = len(PathDraw)


@inline_kernel
def _quantile(tables, j, p, z):
    """Belief ``j``'s value at probability ``p`` (``z``: its normal score, or NaN).
    (Elements are read by two indices: a row view would cost reference counting.)"""
    kind = tables.kind[j]
    prm = tables.params
    start = tables.offset[j]
    if kind == FIXED:
        return prm[j, 0]
    if kind == CHOICE:
        k = start
        while k < tables.offset[j + 1] - 1 and tables.knots[k] < p:
            k += 1
        return tables.coeffs[k, 3]
    if kind == SCORE_TABLE:  # the table includes the truncation: G(z) = ppf(p'(Phi(z)))
        if math.isnan(z):
            z = ndtri(p)
        z = min(max(z, -Z_MAX), Z_MAX)
        last = tables.offset[j + 1] - start - 1
        i = start + min(max(int((z - prm[j, 2]) * prm[j, 3]), 0), last)
        d = z - tables.knots[i]
        c = tables.coeffs
        v = ((c[i, 0] * d + c[i, 1]) * d + c[i, 2]) * d + c[i, 3]
    else:
        q = prm[j, 0] + p * (prm[j, 1] - prm[j, 0])  # the part in the key's range
        if kind == UNIFORM:
            x = q
        else:  # triangular, scipy's triang._ppf
            c = prm[j, 4]
            x = math.sqrt(c * q) if q < c else 1.0 - math.sqrt((1.0 - c) * (1.0 - q))
        v = x * prm[j, 3] + prm[j, 2]
    return min(max(v, prm[j, 6]), prm[j, 7])


@inline_kernel
def _link(copula_kind, df, source, factor, kind, u, draws, z, prob, score):
    """Apply the copula to one path: the linked beliefs' probabilities and scores (``z``:
    scratch for the independent scores)."""
    m = source.shape[0]
    for a in range(m):
        s = source[a]
        z[a] = ndtri(u[s]) if s >= 0 else draws[-1 - s]
    scale = 1.0
    if copula_kind == STUDENT_T:
        scale = 1.0 / math.sqrt(chdtri(df, 1.0 - u[u.shape[0] - 1]) / df)
    for a in range(m):
        x = 0.0
        for c in range(a + 1):  # index order: no BLAS, the same rounding on every CPU
            x += factor[a, c] * z[c]
        s = source[a]
        if s < 0:
            continue
        if copula_kind == STUDENT_T:
            prob[s] = min(max(stdtr(df, x * scale), _P_LO), _P_HI)
        elif kind[s] == SCORE_TABLE:
            score[s] = x  # a table reads the score itself
        else:
            prob[s] = min(max(ndtr(x), _P_LO), _P_HI)


@kernel
def _draw_values(
    key0, key1, first_path, antithetic, blocks, tables, copula, normals, out, first, end
):
    copula_kind, df, source, factor = copula
    p, n = out.shape
    u = np.empty(blocks.shape[0])
    prob = np.empty(p)
    score = np.empty(p)
    z = np.empty(source.shape[0])
    draws = np.zeros(_PATH_DRAWS)
    for block in range(first, end):
        start = block * LANES
        for lane in range(min(n - start, LANES)):
            path, mirror = lane_path(first_path, start + lane, antithetic)
            path_uniforms(key0, key1, path, mirror, blocks, u)
            for j in range(p):
                prob[j] = u[j]
                score[j] = np.nan
            if copula_kind != NO_COPULA:
                if normals.shape[0] > 0:  # the copula links lambda or g0
                    for d in range(_PATH_DRAWS):
                        draws[d] = normals[start + lane, d]
                _link(copula_kind, df, source, factor, tables.kind, u, draws, z, prob, score)
            for j in range(p):
                out[j, start + lane] = _quantile(tables, j, prob[j], score[j])


def draw_values(
    beliefs: Beliefs,
    tables: QuantileTables,
    key: tuple[int, int],
    first_path: int,
    n_paths: int,
    *,
    antithetic: bool,
) -> np.ndarray:
    """The uncertain keys' values of paths ``first_path ..``, ``(n_paths, beliefs)``: a pure
    function of (seed, path), from the parameter stream (antithetic pairs mirror their
    uniforms; the t copula's mixing variable is shared by the pair)."""
    out = np.empty((len(beliefs.beliefs), n_paths))  # a column per key, for coefficient_rows
    copula = kernel_copula(beliefs)
    normals = np.empty((0, _PATH_DRAWS))
    if (copula.source < 0).any():  # a separate pass: the kernel compiles without the draws
        normals = path_normals(key, first_path, n_paths, antithetic=antithetic)
    blocks = beliefs.blocks
    args = (key[0], key[1], first_path, antithetic, blocks, tables, copula, normals, out)
    say_if_compiling(_draw_values, args + (0, 0), "the kernel that draws uncertain keys", "5 s")
    run_blocks(_draw_values, args, (n_paths + LANES - 1) // LANES)
    return out.T


@kernel
def _values_at(tables, probabilities, out, first, end):
    n, p = out.shape
    for i in range(first * LANES, min(end * LANES, n)):
        for j in range(p):
            q = min(max(probabilities[i, j], _P_LO), _P_HI)
            out[i, j] = _quantile(tables, j, q, np.nan)


def values_at(tables: QuantileTables, probabilities: np.ndarray) -> np.ndarray:
    """Each belief's value at given probabilities ``(n, beliefs)`` (designed draws: the
    sensitivity studies choose the probabilities), as a run draws it."""
    probabilities = np.ascontiguousarray(probabilities, dtype=float)
    out = np.empty(probabilities.shape)
    run_blocks(_values_at, (tables, probabilities, out), (len(out) + LANES - 1) // LANES)
    return out
