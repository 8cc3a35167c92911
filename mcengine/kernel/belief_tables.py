"""How the kernel draws a belief: the encoding of a scenario's beliefs as arrays.

:func:`quantile_tables` turns each :class:`~mcengine.model.beliefs.Belief` into a row of
:class:`QuantileTables` (a quantile kind, its parameters, and for most distributions a cubic
table over normal scores checked against scipy), and :func:`kernel_copula` turns the
:class:`~mcengine.model.beliefs.Dependence` into a :class:`Copula`. Both are built once per
run; :mod:`mcengine.kernel.beliefs` evaluates them path by path. This is the beliefs'
counterpart of :mod:`mcengine.kernel.coefficients` for point values.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from mcengine.errors import ScenarioError
from mcengine.model.beliefs import PER_PATH_DRAWS, Belief, Beliefs
from mcengine.model.distributions import Choice

__all__ = [
    "FIXED",
    "SCORE_TABLE",
    "UNIFORM",
    "TRIANGULAR",
    "CHOICE",
    "NO_COPULA",
    "GAUSSIAN",
    "STUDENT_T",
    "Z_MAX",
    "TABLE_TOLERANCE",
    "QuantileTables",
    "Copula",
    "quantile_tables",
    "kernel_copula",
]

#: Quantile kinds: a fixed value; a table over normal scores; scipy's uniform and
#: triangular formulas; a discrete choice.
FIXED, SCORE_TABLE, UNIFORM, TRIANGULAR, CHOICE = range(5)
#: Copula kinds: no dependence, Gaussian, Student-t.
NO_COPULA, GAUSSIAN, STUDENT_T = range(3)
#: Normal scores a table covers: the stream's uniforms, in [2**-54, 1 - 2**-53], score
#: within +-8.4.
Z_MAX = 8.5
#: Largest error of a table against scipy, relative to the value plus the central spread.
TABLE_TOLERANCE = 1e-10
_PARAMS = 8
_NO_TABLE = (np.empty(0), np.empty((0, 4)))


class QuantileTables(NamedTuple):
    """Every belief's quantile function as the kernel evaluates it at a probability ``p``.

    ``kind[j]`` says how; ``params[j]``: ``[6:8]`` the interval the value is clipped to
    (the key's range); FIXED ``[0]`` the value; UNIFORM and TRIANGULAR ``p' = params[0] +
    p (params[1] - params[0])`` (the truncation), then scipy's ``loc + scale x(p')`` with
    ``[2:5] = loc, scale, c``; SCORE_TABLE the same ``p'`` at normal score ``z`` through a
    cubic on a uniform grid, ``[2:4] = first knot, 1 / spacing``; CHOICE the first value
    whose cumulative probability reaches ``p``. A table's rows are ``knots[offset[j] :
    offset[j + 1]]`` and ``coeffs`` (highest power first, in ``z - knot``; a choice's
    cumulative probabilities and values in column 3)."""

    kind: np.ndarray
    params: np.ndarray
    offset: np.ndarray
    knots: np.ndarray
    coeffs: np.ndarray


class Copula(NamedTuple):
    """The dependence as the kernel applies it, path by path.

    ``kind``: :data:`NO_COPULA`, :data:`GAUSSIAN`, or :data:`STUDENT_T` with ``df``. Its
    variables are ``source[m]``: a belief's index, or ``-1 - d`` for per-path draw ``d``
    (:class:`~mcengine.layout.PathDraw`); their correlated scores are ``factor @ z``,
    summed in index order, of their independent scores ``z``."""

    kind: int
    df: float
    source: np.ndarray
    factor: np.ndarray


def quantile_tables(beliefs: Beliefs) -> QuantileTables:
    """Every belief's quantile function for the kernel (built once per run)."""
    rows = [belief_quantile(b) for b in beliefs.beliefs]
    lengths = [len(knots) for _, _, knots, _ in rows]
    return QuantileTables(
        np.array([kind for kind, *_ in rows], dtype=np.int64),
        np.array([params for _, params, *_ in rows]).reshape(len(rows), _PARAMS),
        np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        np.concatenate([np.empty(0)] + [knots for *_, knots, _ in rows]),
        np.concatenate([np.empty((0, 4))] + [coeffs for *_, coeffs in rows]),
    )


def kernel_copula(beliefs: Beliefs) -> Copula:
    """The dependence for the kernel (no variables when there is none)."""
    dep = beliefs.dependence
    if dep is None or not dep.spearman:
        return Copula(NO_COPULA, math.nan, np.empty(0, dtype=np.int64), np.empty((0, 0)))
    keys = beliefs.keys
    names = dep.names(keys)
    source = [-1 - int(PER_PATH_DRAWS[n]) if n in PER_PATH_DRAWS else keys.index(n) for n in names]
    kind = STUDENT_T if dep.copula == "t" else GAUSSIAN
    return Copula(
        kind, float(dep.df or math.nan), np.array(source, dtype=np.int64), dep.factor(keys)
    )


def belief_quantile(belief: Belief) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """How the kernel draws ``belief``: ``(kind, params, knots, coeffs)`` of
    :class:`QuantileTables` (one belief's row and its table)."""
    frozen, lo_hi = belief.frozen, belief.inside()
    lo, hi, _ = belief.bounds
    params = np.full(_PARAMS, np.nan)
    params[6:] = lo_hi
    if isinstance(frozen, float):
        params[0] = frozen
        return FIXED, params, np.empty(0), np.empty((0, 4))
    if isinstance(frozen, Choice):
        return CHOICE, params, frozen.cumulative, frozen.values[:, None] * [0, 0, 0, 1]
    params[:2] = lo, hi
    if belief.dist in ("uniform", "triangular"):  # closed forms: scipy's own formulas
        loc, scale = frozen.kwds["loc"], frozen.kwds["scale"]
        c = frozen.args[0] if belief.dist == "triangular" else math.nan
        params[2:5] = loc, scale, c
        return (UNIFORM if belief.dist == "uniform" else TRIANGULAR), params, *_NO_TABLE
    knots, coeffs = _score_table(belief)
    params[2:4] = knots[0], 1.0 / (knots[1] - knots[0])
    return SCORE_TABLE, params, knots, coeffs


def _score_table(belief: Belief) -> tuple[np.ndarray, np.ndarray]:
    """A cubic Hermite table of the belief's values at normal scores
    (:meth:`~mcengine.model.beliefs.Belief.at_scores`) over ``[-Z_MAX, Z_MAX]``: knots and
    the local polynomial coefficients ``(knots, 4)``, highest power first.

    scipy's inverse CDFs cost about 1.4 us a value for a beta; the table costs a few
    nanoseconds in the kernel. Its slopes are sixth-order central differences of
    scipy's values (arithmetic only: the same bits on every CPU, where a density
    through numpy's exp would not be), and it is refined until every interval's
    midpoint is within :data:`TABLE_TOLERANCE` of scipy, relative to the value plus
    the distribution's central spread."""
    spread = float(np.ptp(belief.at_scores(np.array([-1.0, 1.0]))))
    for intervals in (1 << k for k in range(9, 16)):
        h = 2 * Z_MAX / intervals
        x = -Z_MAX + h * np.arange(-3, intervals + 4)
        y = belief.at_scores(x)
        slopes = -y[:-6] + 9 * y[1:-5] - 45 * y[2:-4] + 45 * y[4:-2] - 9 * y[5:-1] + y[6:]
        # scipy imported here: a second of start-up (model.distributions.frozen_distribution)
        from scipy.interpolate import CubicHermiteSpline

        spline = CubicHermiteSpline(x[3:-3], y[3:-3], slopes / (60 * h))
        mid = x[3:-4] + h / 2
        exact = belief.at_scores(mid)
        if np.all(np.abs(spline(mid) - exact) <= TABLE_TOLERANCE * (np.abs(exact) + spread)):
            return spline.x[:-1].copy(), np.ascontiguousarray(spline.c.T)
    raise ScenarioError(
        f"{belief.key} = {belief.describe()}: its quantile function is too steep to tabulate "
        f"within {TABLE_TOLERANCE:g} on {intervals} intervals"
    )
