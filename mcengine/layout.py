"""Named layouts: the positions of segments, draws, yearly columns, recorded inputs and
return components, as IntEnums (the idiom of the coefficient vector ``C``), in one place;
and the vocabulary of runs and result files that the command line's options are made of
(statistics, limits, file suffixes), here on the ground floor so that reading them loads
nothing of the engine.

Any array whose columns mean something is indexed by these names, not by literals: the
draws of a path are ``len(PathDraw)`` per-path normals, then ``len(StepDraw)`` per step
(:func:`draw_column`).
"""

from __future__ import annotations

import enum

__all__ = [
    "QUANTILES",
    "STATISTICS",
    "MAX_SEED",
    "MAX_PATHS",
    "ZARR_SUFFIX",
    "RESULT_SUFFIXES",
    "FIGURE_FORMATS",
    "LANES",
    "BLOCK_PATHS",
    "Segment",
    "SEGMENTS",
    "N_SEGMENTS",
    "PathDraw",
    "StepDraw",
    "Yearly",
    "OBSERVABLES",
    "Input",
    "Component",
    "StressColumn",
    "WIPE_CASH_SHORTFALL",
    "WIPE_ZERO_VALUE",
    "WIPE_NOT_FINITE",
    "FLAG_CAPEX_OVERFLOW",
    "FLAG_DEMAND_OVERFLOW",
    "FLAG_WEALTH_OVERFLOW",
    "names",
    "INPUT_LABELS",
    "input_label",
    "draw_column",
    "draw_dimension",
]


#: Paths the kernel advances in lockstep, one per SIMD lane (a compile-time constant: the
#: lane loops need a constant trip count to vectorise; docs/architecture.md, "The kernel").
LANES = 64

#: Paths per statistics block: the unit of the summary's merge tree
#: (:mod:`mcengine.stats.blocks`), of Dask tasks and Zarr chunks (multiples of it) and of a
#: netCDF file's chunks along ``path``.
BLOCK_PATHS = 1 << 16


class Segment(enum.IntEnum):
    """The three investor segments, in the order of every per-segment array."""

    APPLICATIONS = 0
    INFERENCE = 1
    TRAINING = 2


#: The number of segments, and their names as the Dataset's ``segment`` coordinate spells
#: them (defined after :func:`names`, below).
N_SEGMENTS = len(Segment)


class PathDraw(enum.IntEnum):
    """The per-path standard normals (stream 0)."""

    DECLINE_RATE = 0  # Z_lambda
    INITIAL_GROWTH = 1  # Z_g
    SELECTION = 2  # Z_sel


class StepDraw(enum.IntEnum):
    """The draws of one step: seven normals (uncorrelated driver shocks, then sentiment),
    then the jump uniform in [0, 1)."""

    COST = 0
    OPEN_SHARE = 1
    DEMAND = 2
    SENTIMENT_COMMON = 3
    SENTIMENT_APPLICATIONS = 4
    SENTIMENT_INFERENCE = 5
    SENTIMENT_TRAINING = 6
    JUMP = 7


class Yearly(enum.IntEnum):
    """Columns of the kernel's per-year record (fan charts, per-path yearly records): logs
    but for the open-weight share. Year ``y``'s record is the state after the year's last
    step (year 0: the initial state)."""

    LOG_WEALTH_APPLICATIONS = 0
    LOG_WEALTH_INFERENCE = 1
    LOG_WEALTH_TRAINING = 2
    LOG_TRAINING_COST = 3
    OPEN_SHARE = 4
    LOG_DEMAND = 5
    # the economics behind the returns (MODEL.md steps 2-12)
    LOG_TOKEN_PRICE = 6  # log(P_t / P_0): the token price relative to year 0
    LOG_SERVING_COST = 7  # log k_t
    LOG_CAPEX = 8
    LOG_CAPACITY = 9
    LOG_UTILISATION = 10  # log r_t
    LOG_REVENUE_APPLICATIONS = 11
    LOG_REVENUE_INFERENCE = 12
    LOG_REVENUE_TRAINING = 13
    # model 2: the price and serving cost of a token of fixed capability (the price relative
    # to year 0), and inference's q (value over the replacement cost of its capacity)
    LOG_FIXED_CAPABILITY_PRICE = 14
    LOG_FIXED_CAPABILITY_COST = 15
    LOG_Q_INFERENCE = 16


#: Each yearly column's name as an observable (in natural units: exp of the logs).
OBSERVABLES = (
    "wealth_applications",
    "wealth_inference",
    "wealth_training",
    "training_cost",
    "open_share",
    "demand",
    "token_price",
    "serving_cost",
    "capex",
    "capacity",
    "utilisation",
    "revenue_applications",
    "revenue_inference",
    "revenue_training",
    "fixed_capability_price",
    "fixed_capability_cost",
    "q_inference",
)
assert len(OBSERVABLES) == len(Yearly)


class Input(enum.IntEnum):
    """Columns of ``inputs`` (sensitivity analysis): the per-path draws, then the
    standardised sums of each shock group over the steps."""

    DECLINE_RATE = 0
    INITIAL_GROWTH = 1
    SELECTION = 2
    COST_SHOCKS = 3
    OPEN_SHARE_SHOCKS = 4
    DEMAND_SHOCKS = 5
    DEMAND_JUMPS = 6
    SENTIMENT_COMMON = 7
    SENTIMENT_APPLICATIONS = 8
    SENTIMENT_INFERENCE = 9
    SENTIMENT_TRAINING = 10


class Component(enum.IntEnum):
    """The additive parts of ``ln W`` (weighing versus voting), in the kernel's order."""

    FUNDAMENTAL = 0
    SENTIMENT = 1
    CONTAGION = 2
    CASH_FLOW = 3
    DILUTION = 4
    SELECTION = 5


class StressColumn(enum.IntEnum):
    """Columns of the per-step stress schedule (``kernel.coefficients.stress_schedule``):
    the deterministic shocks a scenario's ``[[stress]]`` entries add at a step (docs/model.md,
    "Stress overlays"). Not :class:`mcengine.model.parameters.Stress`, the entry itself."""

    DEMAND = 0
    SENTIMENT = 1
    OPEN_SHARE = 2
    TRAINING_COST = 3


#: Why an investor was wiped out (``wipe_cause``); 0 = not wiped out.
WIPE_CASH_SHORTFALL = 1  # G <= 0: cash needs exceeded the segment's value
WIPE_ZERO_VALUE = 2  # V_prev = 0: nothing left to invest in
WIPE_NOT_FINITE = 3  # G not finite

#: Path flags: a quantity left float64's range, so the run must be refused (engine.inputs).
#: The wealth flag is shifted left by the segment index (4, 8, 16 for A, I, T).
FLAG_CAPEX_OVERFLOW = 1
FLAG_DEMAND_OVERFLOW = 2
FLAG_WEALTH_OVERFLOW = 4


def names(layout: type[enum.IntEnum]) -> tuple[str, ...]:
    """The labels of a layout, as the Dataset's coordinates spell them."""
    return tuple(member.name.lower() for member in layout)


#: The segments' labels, in the order of every per-segment array.
SEGMENTS = names(Segment)


#: What each recorded input (:class:`Input`, by its name) means, as tables label it.
INPUT_LABELS = {
    "decline_rate": "training-cost decline rate (lambda)",
    "initial_growth": "today's demand growth (g0)",
    "selection": "applications winner-picking draw",
    "cost_shocks": "training-cost shocks",
    "open_share_shocks": "open-weight share shocks",
    "demand_shocks": "demand-growth shocks",
    "demand_jumps": "adoption jumps (count)",
    "sentiment_common": "common sentiment shocks",
    "sentiment_applications": "applications sentiment shocks",
    "sentiment_inference": "inference sentiment shocks",
    "sentiment_training": "training sentiment shocks",
}
assert tuple(INPUT_LABELS) == names(Input)


def input_label(name: str) -> str:
    """The label of input ``name``: a recorded input's, or ``belief: <key>`` for the drawn
    value of an uncertain scenario key."""
    return INPUT_LABELS.get(name, f"belief: {name}")


def draw_column(step: int, slot: int) -> int:
    """Column of ``slot`` (a :class:`StepDraw`) of step ``step`` (0-based) in a path's
    draws."""
    return len(PathDraw) + len(StepDraw) * step + int(slot)


def draw_dimension(n_steps: int) -> int:
    """Random inputs per path: the per-path normals, then each step's draws."""
    return len(PathDraw) + len(StepDraw) * n_steps


# -- the vocabulary of runs and results ------------------------------------------------------

#: The quantiles of annual return in the summary.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: The summary's statistics, by name, with what each means (``--stop-on`` takes the names).
STATISTICS = {
    "mean": "mean annual return",
    "std": "standard deviation of annual return",
    **{f"q{round(q * 100):02d}": f"{q:.0%} quantile of annual return" for q in QUANTILES},
    "var95": "95% value at risk: minus the 5% quantile of annual return",
    "cvar95": "95% expected shortfall: minus the mean annual return in the worst 5%",
    "p_loss": "probability of a loss (total return < 1)",
    "p_wiped_out": "probability the investor is wiped out (total return = 0)",
    "median_max_drawdown": "median of the maximum drawdown of investor wealth",
    "p_crash_origin": "probability that the contagion crash starts in this segment",
}
#: Seeds are int64 attributes of a result: 0 to this.
MAX_SEED = 2**63 - 1
#: The path index is 64-bit in the streams; this bound keeps output sizes sane.
MAX_PATHS = 1 << 40
#: A result is a netCDF-4 file or a Zarr store (a folder with this suffix).
ZARR_SUFFIX = ".zarr"
RESULT_SUFFIXES = (".nc", ZARR_SUFFIX)
#: Figures are written as PNG or SVG.
FIGURE_FORMATS = (".png", ".svg")
