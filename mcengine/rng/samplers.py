"""Samplers: where a run's random inputs come from, and how its errors are estimated.

* ``pseudo`` (default): the Philox streams of :mod:`mcengine.rng.streams`; paths are independent
  and standard errors are the usual ones.
* ``antithetic``: path ``2k + 1`` replays path ``2k``'s stream mirrored (normals negated,
  ``U -> 1 - U``), which cancels the odd part of the response.
* ``sobol``: randomised quasi-Monte Carlo. ``replicates`` independent scramblings (LMS plus
  digital shift, :class:`scipy.stats.qmc.Sobol`) of a Sobol sequence of dimension
  ``3 + 8 N``: the three per-path normals first (the most important inputs get the best
  dimensions), then per step the seven normals and the jump uniform. Normals are inverse
  CDFs of the uniforms. The Poisson jump count is a step function of its uniform; RQMC stays
  unbiased there, it just gains less.

For ``antithetic`` and ``sobol`` the paths are not independent, so every standard error is
taken from ``replicates`` groups of consecutive paths (independent scramblings, or batches of
whole antithetic pairs): the spread of the group estimates divided by ``sqrt(replicates)``,
with a Student-t interval. One scrambling alone has no honest standard error.
"""

from __future__ import annotations

import warnings

import numpy as np

from mcengine.errors import InputError, Note
from mcengine.layout import StepDraw, draw_column, draw_dimension

__all__ = [
    "SAMPLERS",
    "DEFAULT_REPLICATES",
    "check_sampler",
    "fitting_paths",
    "sobol_draws",
    "draw_dimension",
]

SAMPLERS = ("pseudo", "antithetic", "sobol")
#: Paths a replicate must hold whole multiples of: antithetic pairs.
_PAIR = {"pseudo": 1, "antithetic": 2, "sobol": 1}
DEFAULT_REPLICATES = 16
_TINY = 2.0**-53


def check_sampler(sampler: str, n_paths: int, replicates: int) -> None:
    """Check that ``n_paths`` divides into the sampler's replicate groups (``sampler`` and
    ``replicates`` each checked by their declared ranges before,
    :mod:`mcengine.engine.settings`); warn if a Sobol replicate is not a power of two."""
    if sampler == "pseudo":
        return
    group = n_paths // replicates
    unit = _PAIR[sampler]
    if n_paths % replicates or group % unit or group < 2:
        pairs = " times 2 (whole antithetic pairs)" if unit == 2 else ""
        raise InputError(
            f"n_paths = {n_paths} with sampler = {sampler!r}, must be a multiple of "
            f"replicates = {replicates}{pairs}, with at least 2 paths per replicate"
        )
    if sampler == "sobol" and group & (group - 1):
        warnings.warn(
            f"sobol: n_paths / replicates = {group} is not a power of 2; the variance reduction "
            "is best at powers of 2",
            Note,
            stacklevel=3,
        )


def fitting_paths(n_paths: int, sampler: str, replicates: int = DEFAULT_REPLICATES) -> int:
    """The largest path count at most ``n_paths`` that ``sampler`` runs without a note:
    whole replicates (of whole antithetic pairs), and for ``sobol`` a power of two per
    replicate. Used to shrink fixed workloads (``bench --quick``); at least one valid size."""
    if sampler == "pseudo":
        return max(n_paths, 1)
    per_replicate = max(n_paths // replicates, 2)  # check_sampler's rules: at least 2,
    if sampler == "antithetic":  # whole pairs
        return replicates * (per_replicate - per_replicate % _PAIR[sampler])
    return replicates * 2 ** (per_replicate.bit_length() - 1)  # a power of 2 (no note)


def sobol_draws(seed: int, replicate: int, n_steps: int, start: int, count: int) -> np.ndarray:
    """Draws ``start .. start + count`` of scrambling ``replicate`` as ``(count, 3 + 8 N)``."""
    import scipy.special  # lazily: scipy.stats costs half a second of start-up
    from scipy.stats import qmc

    dims = draw_dimension(n_steps)
    rng = np.random.default_rng(np.random.SeedSequence([seed, replicate]))
    engine = qmc.Sobol(d=dims, scramble=True, seed=rng)
    if start:  # scipy's fast_forward(0) raises an OverflowError
        engine.fast_forward(start)
    with warnings.catch_warnings():
        # Chunks of one replicate are consecutive parts of one point set; balance is checked
        # for the whole replicate in check_sampler.
        warnings.simplefilter("ignore", UserWarning)
        u = engine.random(count)
    u = np.clip(u, _TINY, 1.0 - _TINY)
    out = scipy.special.ndtri(u)
    jumps = slice(draw_column(0, StepDraw.JUMP), None, len(StepDraw))
    out[:, jumps] = u[:, jumps]  # each step's jump uniform stays uniform
    return out
