"""Checking a scenario against sourced targets, and fitting its keys to them.

:func:`check` runs the scenario with per-path yearly records (``record_years``) and
estimates each target's statistic with its Monte Carlo standard error and 95% interval
(:mod:`mcengine.stats.estimates`: order-statistic intervals for quantiles, Wilson for
shares). :func:`calibrate` moves chosen keys to bring the estimates to the targets, by
scipy.optimize's bounded least squares on common random numbers (the same seed at every
evaluation, so the objective moves smoothly with the keys).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import optimize

from mcengine.checks import did_you_mean
from mcengine.engine.api import simulate
from mcengine.errors import InputError
from mcengine.model.parameters import SECTIONS
from mcengine.model.scenario import Scenario, load_scenario
from mcengine.model.targets import DRAWDOWN_OBSERVABLES, Target, Targets, load_targets
from mcengine.model.toml_writer import toml_value
from mcengine.numerics import exp_array, log_array
from mcengine.results.files import atomic_path
from mcengine.stats import estimates
from mcengine.stats.samples import ExactSample, Moments

__all__ = [
    "check",
    "calibrate",
    "target_estimate",
    "write_calibrated",
    "year_end_drawdown",
    "joint_probability",
]


def _per_path(ds: xr.Dataset, target: Target) -> np.ndarray:
    """Each path's value of the target's quantity: a level, an annual growth factor, or a
    segment's largest drawdown up to a year end."""
    if target.observable in DRAWDOWN_OBSERVABLES:
        segment = target.observable.removeprefix("max_drawdown_")
        return year_end_drawdown(ds, segment, target.years[0])
    record = ds["yearly"].sel(quantity=target.observable)
    if len(target.years) == 1:
        return record.sel(year_end=target.years[0]).values
    a, b = target.years
    start, stop = record.sel(year_end=a).values, record.sel(year_end=b).values
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = (log_array(stop) - log_array(start)) / (b - a)
        return exp_array(growth)  # mcengine's exp/log: the same bits on every CPU


def year_end_drawdown(ds: xr.Dataset, segment: str, year: int) -> np.ndarray:
    """Each path's largest fall of the segment's wealth from its running peak, observed at
    the year ends ``0 .. year`` of a run with yearly records: 0.5 for a halving, 1 for a
    wipe-out. Wealth starts at 1, so the peak is never 0; a path whose wealth is NaN or
    infinite at any year end is NaN (undefined, and left out of every statistic)."""
    w = ds["yearly"].sel(quantity=f"wealth_{segment}", year_end=slice(0, year)).values
    with np.errstate(invalid="ignore"):  # inf / inf: NaN, as it should be
        falls = 1.0 - w / np.maximum.accumulate(w, axis=1)
    return np.where(np.isfinite(w).all(axis=1), falls.max(axis=1), np.nan)


def _between(target: Target, x: np.ndarray) -> np.ndarray:
    """Which values lie in a probability target's ``between`` range (ends included)."""
    lo, hi = target.between
    return (x >= lo) & (x <= hi)


def joint_probability(ds: xr.Dataset, targets: Targets, names) -> estimates.Estimate:
    """The share of paths on which every named ``probability`` target's quantity lies in its
    ``between`` range at once (the pieces of one history on the same path), with its
    standard error and Wilson interval; paths where any is undefined are left out."""
    chosen = [t for t in targets.targets if t.name in set(names)]
    if len(chosen) != len(set(names)) or any(t.statistic != "probability" for t in chosen):
        raise InputError(
            f"joint_probability: names = {list(names)}, must be probability targets of "
            f"{targets.path or targets.title}"
        )
    values = [_per_path(ds, t) for t in chosen]
    defined = np.all([~np.isnan(v) for v in values], axis=0)
    inside = np.all([_between(t, v) for t, v in zip(chosen, values, strict=True)], axis=0)
    return estimates.proportion(int(np.count_nonzero(inside & defined)), int(defined.sum()))


def _parameter_value(scenario: Scenario, key: str) -> float:
    section, name = key.split(".")
    for belief in scenario.beliefs:
        if belief.key == key:
            return belief.point  # a belief's median
    value = getattr(getattr(scenario, section), name, None)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InputError(f"target parameter {key}: not a numeric key of the scenario")
    return float(value)


def target_estimate(ds: xr.Dataset, scenario: Scenario, target: Target) -> estimates.Estimate:
    """The target's statistic on a run with yearly records (NaN paths, 0/0 growth,
    left out), with its standard error and 95% interval."""
    if target.parameter is not None:
        value = _parameter_value(scenario, target.parameter)
        return estimates.Estimate(value, 0.0, value, value)
    x = _per_path(ds, target)
    x = x[~np.isnan(x)]
    if target.statistic == "probability":
        return estimates.proportion(int(np.count_nonzero(_between(target, x))), x.size)
    if target.statistic == "mean":
        return estimates.mean(Moments.of(x[np.isfinite(x)]))
    q = 0.5 if target.statistic == "median" else target.q
    return estimates.quantile(ExactSample(x), q)


def _passes(target: Target, e: estimates.Estimate) -> bool:
    lo, hi = target.interval
    if not math.isfinite(e.value):
        return False
    if target.rule == "overlaps":
        return e.ci_low <= hi and e.ci_high >= lo
    return lo <= e.value <= hi


def _run(scenario: Scenario, targets: Targets, n_paths: int, seed: int) -> list:
    ds = simulate(scenario, n_paths, seed, record_years=True)
    return [target_estimate(ds, scenario, t) for t in targets.targets]


def _table(scenario, targets: Targets, found: list, n_paths: int, seed: int) -> xr.Dataset:
    ts = targets.targets
    passed = [_passes(t, e) for t, e in zip(ts, found, strict=True)]
    column = lambda f: ("target", [f(t) for t in ts])  # noqa: E731
    return xr.Dataset(
        {
            "estimate": ("target", [e.value for e in found]),
            "standard_error": ("target", [e.se for e in found]),
            "ci_low": ("target", [e.ci_low for e in found]),
            "ci_high": ("target", [e.ci_high for e in found]),
            "low": column(lambda t: t.interval[0]),
            "high": column(lambda t: t.interval[1]),
            "passed": ("target", passed),
        },
        coords={
            "target": [t.name for t in ts],
            "label": column(lambda t: t.label),
            "description": column(lambda t: t.describe()),
            "unit": column(lambda t: t.unit),
            "rule": column(lambda t: t.rule),
            "mapping": column(lambda t: t.mapping),
            "source_title": column(lambda t: t.source.title),
            "source_publisher": column(lambda t: t.source.publisher),
            "source_year": column(lambda t: t.source.year),
            "measured": column(lambda t: t.source.measured),
        },
        attrs={
            "scenario_name": scenario.label,
            "seed": np.int64(seed),
            "n_paths": np.int64(n_paths),
            "targets": targets.title,
            "all_passed": int(all(passed)),
        },
    )


def _inputs(scenario, targets) -> tuple[Scenario, Targets]:
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    tg = targets if isinstance(targets, Targets) else load_targets(targets)
    tg.check_against(sc)
    return sc, tg


def check(scenario, targets, n_paths: int = 100_000, seed: int = 0) -> xr.Dataset:
    """The validation report: each target's estimate (``estimate``, ``standard_error``,
    ``ci_low``/``ci_high``), its interval (``low``/``high``) and ``passed``, dims
    ``target``, with the sources as coordinates; ``attrs["all_passed"]``."""
    sc, tg = _inputs(scenario, targets)
    return _table(sc, tg, _run(sc, tg, n_paths, seed), n_paths, seed)


# -- calibration ----------------------------------------------------------------------------
def _residuals(targets: Targets, found: list) -> np.ndarray:
    """Each miss over its target's half-width, in logs for positive intervals (growth
    factors, prices: a miss of 2x counts the same above and below)."""
    out = []
    for t, e in zip(targets.targets, found, strict=True):
        lo, hi = t.interval
        if not (math.isfinite(lo) and math.isfinite(hi)):  # a criterion: one bound
            # inside: no miss; outside: the miss relative to the bound (continuous in the
            # estimate, so the optimiser sees a slope all the way to 0)
            bound = lo if math.isfinite(lo) else hi
            if not math.isfinite(e.value):
                out.append(1e6)
            elif lo <= e.value <= hi:
                out.append(0.0)
            else:
                out.append(abs(e.value - bound) / max(abs(bound), 1e-9))
            continue
        if lo > 0 and e.value > 0:
            centre, half = math.log(lo * hi) / 2, max(math.log(hi / lo) / 2, 1e-6)
            out.append((math.log(e.value) - centre) / half)
        else:
            half = max((hi - lo) / 2, 1e-9 * max(abs(lo), abs(hi), 1.0))
            out.append((e.value - (lo + hi) / 2) / half if math.isfinite(e.value) else 1e6)
    return np.array(out)


def _continuous_keys(scenario: Scenario) -> list[str]:
    return [
        f"{section}.{f.name}"
        for section in SECTIONS
        for f in dataclasses.fields(getattr(scenario, section))
        if isinstance(getattr(getattr(scenario, section), f.name), float)
    ]


def _bounds(scenario: Scenario, keys: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start values (a belief's: its median) and the keys' valid ranges (open ends moved
    inside by a hair)."""
    start, lo, hi = [], [], []
    beliefs = {b.key: b for b in scenario.beliefs}
    for key in keys:
        section, _, name = key.partition(".")
        fields = {f.name: f for f in dataclasses.fields(getattr(scenario, section, None) or object)}
        if name not in fields or not isinstance(getattr(getattr(scenario, section), name), float):
            raise InputError(
                f"--fit {key}: not a continuous key of the scenario (section.key)"
                f"{did_you_mean(key, _continuous_keys(scenario))}"
            )
        valid = fields[name].metadata["range"]
        start.append(
            beliefs[key].point if key in beliefs else getattr(getattr(scenario, section), name)
        )
        lo.append(valid.lo + (1e-9 * max(abs(valid.lo), 1.0) if valid.lo_open else 0.0))
        hi.append(valid.hi - (1e-9 * max(abs(valid.hi), 1.0) if valid.hi_open else 0.0))
    return np.array(start), np.array(lo), np.array(hi)


def calibrate(
    scenario, targets, fit, n_paths: int = 50_000, seed: int = 0, *, max_evaluations: int = 200
) -> tuple[Scenario, xr.Dataset]:
    """Fit the keys ``fit`` (``["section.key", ...]``) to the targets.

    Minimises the sum of squared misses, each over its target's half-width (in logs for
    positive intervals), by :func:`scipy.optimize.least_squares` (trust region reflective,
    bounded by each key's valid range, starting at the scenario's values), every
    evaluation on the same seed (common random numbers). An uncertain key is fitted by its
    location: its distribution moves (shifted; a lognormal scaled) so that its median is
    the fitted value, with its shape kept (:meth:`Belief.moved_to`).

    Returns the fitted scenario and a Dataset: ``before``/``after`` per target (with the
    interval), and per key ``start``, ``fitted`` and ``standard_error`` (from the local
    Jacobian, ``sqrt(diag((J'J)^-1))``: a miss of one half-width counts as one standard
    deviation), ``identified`` (False where the targets barely move the key) and
    ``attrs["cost"]`` (half the sum of squared scaled misses)."""
    sc, tg = _inputs(scenario, targets)
    keys = list(fit)
    x0, lo, hi = _bounds(sc, keys)
    beliefs = {b.key: b for b in sc.beliefs}

    def scenario_at(x) -> Scenario:
        values = {
            key: beliefs[key].moved_to(float(v)) if key in beliefs else float(v)
            for key, v in zip(keys, x, strict=True)
        }
        return sc.with_overrides(values, source="calibration")

    def misses(x) -> np.ndarray:
        try:
            at = scenario_at(x)
        except InputError:  # a belief moved past its key's range: as far as can be
            return np.full(len(tg.targets), 1e3)
        return _residuals(tg, _run(at, tg, n_paths, seed))

    before = _run(sc, tg, n_paths, seed)
    fitted = optimize.least_squares(
        misses, np.clip(x0, lo, hi), bounds=(lo, hi), diff_step=1e-3, max_nfev=max_evaluations
    )
    best = scenario_at(fitted.x)
    after = _run(best, tg, n_paths, seed)
    jac = fitted.jac
    information = jac.T @ jac
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = np.linalg.pinv(information)
        se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    scale = np.sqrt(np.diag(information))
    identified = scale > 1e-3 * max(scale.max(), 1e-12)
    se = np.where(identified, se, np.nan)  # undefined, not 0, for a key nothing moves
    report = xr.Dataset(
        {
            "before": ("target", [e.value for e in before]),
            "after": ("target", [e.value for e in after]),
            "after_standard_error": ("target", [e.se for e in after]),
            "low": ("target", [t.interval[0] for t in tg.targets]),
            "high": ("target", [t.interval[1] for t in tg.targets]),
            "passed_before": (
                "target",
                [_passes(t, e) for t, e in zip(tg.targets, before, strict=True)],
            ),
            "passed_after": (
                "target",
                [_passes(t, e) for t, e in zip(tg.targets, after, strict=True)],
            ),
            "start": ("key", x0),
            "fitted": ("key", fitted.x),
            "standard_error": ("key", se),
            "identified": ("key", identified),
        },
        coords={
            "target": [t.name for t in tg.targets],
            "label": ("target", [t.label for t in tg.targets]),
            "key": keys,
        },
        attrs={
            "scenario_name": sc.name,
            "targets": tg.title,
            "seed": np.int64(seed),
            "n_paths": np.int64(n_paths),
            "cost": float(fitted.cost),
            "evaluations": int(fitted.nfev),
            "status": _STATUS.get(int(fitted.status), str(fitted.message)),
        },
    )
    return best, report


#: scipy.optimize.least_squares's status codes, in words for a reader of the fit.
_STATUS = {
    0: "not converged: stopped at the evaluation limit",
    1: "converged: the gradient is flat",
    2: "converged: the misfit stopped falling",
    3: "converged: the fitted keys stopped moving",
    4: "converged: the misfit and the keys stopped changing",
}


def write_calibrated(
    path: Path,
    report: xr.Dataset,
    targets: Targets,
    fitted: Scenario,
    *,
    extends: str | None = None,
) -> None:
    """A scenario file that ``extends`` the original (``extends``: a built-in name or a
    path relative to ``path``'s folder; default the scenario's name) with the original's
    overrides and the fitted keys (a belief as its moved distribution), its header
    recording the fit, the residuals and the sources (written atomically)."""
    beliefs = {b.key: b for b in fitted.beliefs}
    lines = [
        f"# {report.attrs['scenario_name']} calibrated to {report.attrs['targets']}",
        f"# mcengine calibrate: {report.attrs['evaluations']} evaluations of "
        f"{int(report.attrs['n_paths']):,} paths (seed {int(report.attrs['seed'])}); "
        f"cost {report.attrs['cost']:.4g}",
        "# fitted (start -> fitted +- standard error from the local Jacobian):",
    ]
    for key in report["key"].values:
        row = report.sel(key=key)
        note = "" if bool(row["identified"]) else "  NOT IDENTIFIED by these targets"
        lines.append(
            f"#   {key}: {float(row['start']):.6g} -> {float(row['fitted']):.6g} "
            f"+- {float(row['standard_error']):.2g}{note}"
        )
    lines.append("# targets (before -> after; interval; source):")
    for t in targets.targets:
        row = report.sel(target=t.name)
        lines.append(
            f"#   {t.name}: {float(row['before']):.4g} -> {float(row['after']):.4g} "
            f"in [{t.interval[0]:g}, {t.interval[1]:g}]; {t.source.publisher} "
            f"{t.source.year}, {t.source.title}"
        )
    lines += ["", f"extends = {toml_value(extends or fitted.name)}", ""]
    values = {key: value for key, value in fitted.overrides if key not in report["key"].values}
    for key in report["key"].values:
        fit = beliefs[key].to_table() if key in beliefs else float(report["fitted"].sel(key=key))
        values[str(key)] = fit
    sections: dict[str, list[str]] = {}
    for key, value in values.items():
        section, name = key.split(".")
        sections.setdefault(section, []).append(f"{name} = {toml_value(value)}")
    for section, entries in sections.items():
        lines += [f"[{section}]", *entries, ""]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
