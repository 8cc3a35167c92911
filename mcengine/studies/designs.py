"""Designed experiments on the engine: its independent inputs as columns, mixed and re-run.

A path's randomness is its draws (the per-path normals and each step's normals and jump
uniform, :func:`mcengine.rng.streams.draw_table`) and, with beliefs, each uncertain key's
independent normal score (``Phi^-1`` of its parameter-stream uniform) and a t copula's
mixing uniform. The variance-based studies (:mod:`~mcengine.studies.sensitivity`,
:mod:`~mcengine.studies.shapley`) take two independent samples of these, mix them input by
input, and run the mixtures through :func:`mcengine.simulate` with ``draws`` and
``parameter_values``. The inputs they attribute variance to are the shock groups
(:data:`GROUPS`) and the uncertain keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import special

from mcengine.engine.api import simulate
from mcengine.kernel.belief_tables import kernel_copula, quantile_tables
from mcengine.kernel.beliefs import values_at
from mcengine.layout import N_SEGMENTS, SEGMENTS, PathDraw, StepDraw, draw_column
from mcengine.model.scenario import Scenario
from mcengine.rng.streams import draw_table, key_from_seed, parameter_uniforms

__all__ = [
    "GROUPS",
    "Sample",
    "DesignInput",
    "Output",
    "SEGMENT_RETURNS",
    "design_inputs",
    "stream_sample",
    "run_design",
    "index_dataset",
    "linked_scores",
    "probabilities",
]

#: Shock groups and their draws: per-path columns, and per-step slots. Groups are sets of
#: the *independent* normals before the driver correlation is applied.
_S = StepDraw
GROUPS = {
    "cost_path": ((PathDraw.DECLINE_RATE,), (_S.COST,)),
    "open_share_path": ((), (_S.OPEN_SHARE,)),
    "demand_path": ((PathDraw.INITIAL_GROWTH,), (_S.DEMAND, _S.JUMP)),
    "sentiment": (
        (),
        (
            _S.SENTIMENT_COMMON,
            _S.SENTIMENT_APPLICATIONS,
            _S.SENTIMENT_INFERENCE,
            _S.SENTIMENT_TRAINING,
        ),
    ),
    "selection": ((PathDraw.SELECTION,), ()),
}
#: Paths per engine call of a design (its draws take 8 (3 + 8 N) bytes a path).
_BATCH_PATHS = 1 << 16


@dataclass(frozen=True)
class Sample:
    """The independent inputs of ``n`` paths: ``draws`` ``(n, 3 + 8 N)``, each belief's
    normal score ``scores`` ``(n, beliefs)`` and the t copula's mixing uniform ``mixing``
    ``(n,)``."""

    draws: np.ndarray
    scores: np.ndarray
    mixing: np.ndarray

    def take(self, rows: np.ndarray) -> Sample:
        return Sample(self.draws[rows], self.scores[rows], self.mixing[rows])


@dataclass(frozen=True)
class DesignInput:
    """One input of a design: a shock group (its ``columns`` of the draws) or a belief
    (``belief``, its index in ``scenario.beliefs``)."""

    name: str
    kind: str  # "shock group" or "belief"
    columns: np.ndarray
    belief: int = -1


@dataclass(frozen=True)
class Output:
    """What a design attributes variance of: ``of`` maps the designed paths' annual returns
    ``(n, 3)`` to ``(n, len(names))`` values, named along dimension ``dim``."""

    dim: str
    names: tuple[str, ...]
    of: Callable[[np.ndarray], np.ndarray]


#: The default output: each segment's annual return.
SEGMENT_RETURNS = Output("segment", SEGMENTS, lambda annual: annual)


def design_inputs(scenario: Scenario) -> list[DesignInput]:
    """The shock groups, then the scenario's uncertain keys."""
    out = []
    for name, (per_path, per_step) in GROUPS.items():
        cols = list(per_path)
        for n in range(scenario.n_steps):
            cols += [draw_column(n, slot) for slot in per_step]
        out.append(DesignInput(name, "shock group", np.array(cols, dtype=np.int64)))
    for j, belief in enumerate(scenario.beliefs):
        out.append(DesignInput(belief.key, "belief", np.empty(0, dtype=np.int64), j))
    return out


def stream_sample(scenario: Scenario, seed: int, n_paths: int, first_path: int) -> Sample:
    """Paths ``first_path ..`` of the seed's own streams, as a :class:`Sample` (two
    disjoint ranges are independent samples, for any seed)."""
    per_path, per_step = draw_table(seed, n_paths, scenario.n_steps, first_path=first_path)
    draws = np.concatenate([per_path, per_step.reshape(n_paths, -1)], axis=1)
    if not scenario.beliefs:
        return Sample(draws, np.empty((n_paths, 0)), np.full(n_paths, 0.5))
    blocks = scenario.uncertain.blocks
    u = parameter_uniforms(key_from_seed(seed), first_path, n_paths, blocks, antithetic=False)
    return Sample(draws, special.ndtri(u[:, :-1]), u[:, -1])


def linked_scores(scenario: Scenario, sample: Sample) -> np.ndarray:
    """The copula's variables ``(n, m)`` of each path (:meth:`Beliefs.copula`): the
    correlated scores ``factor @ z`` of their independent scores ``z`` (for a t copula,
    divided by its mixing variable's square root: multivariate t)."""
    copula = kernel_copula(scenario.uncertain)
    if not len(copula.source):
        return np.empty((len(sample.mixing), 0))
    columns = [sample.draws[:, -1 - s] if s < 0 else sample.scores[:, s] for s in copula.source]
    x = np.column_stack(columns) @ copula.factor.T
    if copula.kind == 2:
        x = x / np.sqrt(special.chdtri(copula.df, 1.0 - sample.mixing) / copula.df)[:, None]
    return x


def probabilities(scenario: Scenario, sample: Sample, linked: np.ndarray | None = None):
    """Each belief's probability ``(n, beliefs)``: ``Phi`` of its own score, or for a key
    the copula links, the copula's CDF at its variable (``linked``, by default
    :func:`linked_scores` of the sample)."""
    p = special.ndtr(sample.scores)
    copula = kernel_copula(scenario.uncertain)
    if len(copula.source):
        linked = linked_scores(scenario, sample) if linked is None else linked
        cdf = special.ndtr if copula.kind == 1 else lambda y: special.stdtr(copula.df, y)
        for m, s in enumerate(copula.source.tolist()):
            if s >= 0:
                p[:, s] = cdf(linked[:, m])
    return p


def run_design(scenario: Scenario, seed: int, draws: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Each segment's annual return ``(n, 3)`` of designed paths: their ``draws`` and their
    beliefs' probabilities (through the kernel's quantile functions), in batches."""
    n = draws.shape[0]
    out = np.empty((n, N_SEGMENTS))
    tables = quantile_tables(scenario.uncertain) if scenario.beliefs else None
    for start in range(0, n, _BATCH_PATHS):
        stop = min(start + _BATCH_PATHS, n)
        values = None if tables is None else values_at(tables, probs[start:stop])
        ds = simulate(
            scenario, stop - start, seed, draws=draws[start:stop], parameter_values=values
        )
        out[start:stop] = ds["annual_return"].values
    return out


def index_dataset(
    scenario: Scenario, variables, inputs, *, seed, n_paths, design, method,
    output: Output = SEGMENT_RETURNS,
):  # fmt: skip
    """A variance-based study's Dataset: ``variables`` over ``(input, output.dim[,
    bound])``, ``inputs`` its ``(name, kind)`` pairs, and the run's attributes; ``method``
    is a pair of sentences, for independent inputs and for dependent ones (a copula)."""
    dependent = scenario.dependence is not None and bool(scenario.dependence.spearman)
    return xr.Dataset(
        variables,
        coords={
            "input": [name for name, _ in inputs],
            "kind": ("input", [kind for _, kind in inputs]),
            output.dim: list(output.names),
            "bound": ["low", "high"],
        },
        attrs={
            "scenario_name": scenario.label,
            "seed": np.int64(seed),
            "n_paths": np.int64(n_paths),
            "design": design,
            "method": method[1] if dependent else method[0],
        },
    )
