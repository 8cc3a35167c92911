"""The studies: explain, compare, sweep, verdict, sensitivity, voi, check, calibrate and
report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from mcengine.cli.errors import UserError, need, user_errors, write_error
from mcengine.cli.library import load, run_simulation, show
from mcengine.cli.options import (
    JSON_OPTION,
    PLOT_OPTION,
    SET_OPTION,
    TARGETS_OPTION,
    paths_option,
    seed_option,
    simulation_options,
)
from mcengine.cli.types import Fraction, GridAxis, OutputPath, PathCount
from mcengine.model.builtins import builtin_scenarios

if TYPE_CHECKING:
    pass

__all__ = ["COMMANDS"]


@click.command()
@simulation_options
@PLOT_OPTION
def explain(scenario, n_paths, seed, overrides, as_json, plot) -> None:
    """Where each segment's mean annual return comes from: weighing versus voting.

    Paths are streamed into the summary, so memory stays flat at any path count.
    """

    table = run_simulation(scenario, overrides, n_paths, seed, quiet=as_json, keep_paths=False)
    show("waterfall", table, as_json=as_json, plot=plot)


@click.command()
@click.argument("scenarios", nargs=-1, required=True)
@paths_option("200000", "Paths per scenario.")
@seed_option("One seed for every scenario (common random numbers).")
@JSON_OPTION
@PLOT_OPTION
def compare(scenarios, n_paths, seed, as_json, plot) -> None:
    """Compare SCENARIOS side by side; differences from the first carry their own errors."""
    from mcengine.studies.compare import compare as compare_scenarios

    resolved = [load(name, ()) for name in scenarios]
    with user_errors():
        table = compare_scenarios(resolved, n_paths, seed)
    show("comparison", table, as_json=as_json, plot=plot)


@click.command()
@click.argument("scenarios", nargs=-1, required=True)
@paths_option("100000", "Paths per scenario.")
@seed_option("One seed for every scenario (common random numbers).", draw=True)
@click.option(
    "--attribution",
    type=click.Choice(["shapley", "sobol", "none"]),
    default="shapley",
    show_default=True,
    help="For each scenario with uncertain keys: how much each input decides the essay's "
    "ordering (Shapley effects, right with a copula; or Sobol indices).",
)
@click.option(
    "--attribution-paths",
    type=PathCount(),
    default=None,
    help="Base sample of the attribution design [default: 2048 Shapley, 8192 Sobol].",
)
@JSON_OPTION
def verdict(scenarios, n_paths, seed, attribution, attribution_paths, as_json) -> None:
    """The essay's verdict with its odds: how often each ordering of the segments' annual
    returns happens under SCENARIOS, and, under uncertain keys, what decides it."""
    from mcengine.studies import verdict as study

    resolved = [load(name, ()) for name in scenarios]
    ctx = click.get_current_context()
    given = {
        name: ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)
        for name in ("attribution", "attribution_paths")
    }
    if given["attribution_paths"] and attribution == "none":
        raise UserError("--attribution-paths sizes the attribution: drop it or --attribution none")
    uncertain = any(sc.beliefs for sc in resolved)
    asked = given["attribution_paths"] or (given["attribution"] and attribution != "none")
    if asked and not uncertain:
        raise UserError(
            "--attribution splits the essay's odds over uncertain keys, and no scenario has "
            "any: add one (such as beliefs), or drop the option"
        )
    if attribution == "sobol" and uncertain:  # Shapley needs no SALib
        need("SALib", "sensitivity", what="mcengine verdict --attribution sobol")
    with user_errors():
        table = study.orderings(resolved, n_paths, seed)
        indices = {
            sc.label: study.attribution(sc, attribution, attribution_paths, seed)
            for sc in resolved
            if sc.beliefs and attribution != "none"
        }
    show("verdict", table, as_json=as_json, attribution=indices)


@click.command()
@click.argument("scenario")
@click.option(
    "--vary",
    "axes",
    type=GridAxis(),
    multiple=True,
    required=True,
    help="A key and its values: evenly spaced, training_cost.decline_median=0.7:2.3:9 "
    "(LOW:HIGH:COUNT), or listed, training_cost.decline_median=0.7,1.5,2.3 (v1,v2,...). "
    "Once or twice.",
)
@paths_option("100000", "Paths per grid point.")
@seed_option("One seed for every grid point (common random numbers).")
@SET_OPTION
@JSON_OPTION
@PLOT_OPTION
def sweep(scenario, axes, n_paths, seed, overrides, as_json, plot) -> None:
    """Sweep SCENARIO over a grid of one or two keys, on common random numbers."""
    from mcengine.studies.compare import sweep as sweep_grid

    keys = [key for key, _ in axes]
    if len(keys) > 2:
        raise UserError(f"--vary is given {len(keys)} times: a sweep varies one or two keys")
    repeated = next((key for key in keys if keys.count(key) > 1), None)
    if repeated is not None:
        raise UserError(
            f"--vary {repeated} is given twice: list all its values in one --vary "
            f"({repeated}=v1,v2,...)"
        )
    if plot is not None and len(axes) > 1:
        raise UserError("--plot draws a sweep of one key: vary one key, or drop --plot")
    base = load(scenario, overrides)
    with user_errors():
        table = sweep_grid(base, dict(axes), n_paths, seed)
    show("sweep", table, as_json=as_json, plot=plot, dim="|".join(key for key, _ in axes))


@click.command()
@click.argument("scenario", default="base")
@paths_option("200000", "Paths (one ensemble; no re-runs).")
@seed_option()
@SET_OPTION
@JSON_OPTION
@PLOT_OPTION
@paths_option(
    "4096",
    "Base sample of the Sobol indices (the design runs (2 + inputs) x this many paths).",
    "--sobol-paths",
)
@paths_option(
    "1024",
    "Base sample of the Shapley effects (the design runs 2^inputs x this many paths).",
    "--shapley-paths",
)
def sensitivity(
    scenario, n_paths, seed, overrides, as_json, plot, sobol_paths, shapley_paths
) -> None:
    """What moves each segment: a tornado, Sobol indices and Shapley effects by input (the
    shock groups and the scenario's uncertain keys)."""

    need("SALib", "sensitivity", what="mcengine sensitivity")
    from mcengine.studies.sensitivity import sobol_indices, tornado
    from mcengine.studies.shapley import shapley_effects

    ds = run_simulation(scenario, overrides, n_paths, seed, quiet=as_json, record_inputs=True)
    table = tornado(ds)
    sc, used_seed = load(scenario, overrides), int(ds.attrs["seed"])
    with user_errors():
        indices = sobol_indices(sc, sobol_paths, used_seed)
        shapley = shapley_effects(sc, shapley_paths, used_seed)
    show("sensitivity", table, as_json=as_json, plot=plot, sobol=indices, shapley=shapley)


@click.command()
@click.argument("scenario", default="beliefs")
@paths_option("200000", "Paths (one ensemble, recorded inputs).")
@seed_option()
@SET_OPTION
@JSON_OPTION
@click.option(
    "--decision",
    "objective",
    type=click.Choice(["mean", "mean-cvar"]),
    default="mean",
    show_default=True,
    help="What the allocator maximises: the expected annual return, or the mean minus "
    "--risk-aversion x the CVaR of the loss at --alpha.",
)
@click.option(
    "--risk-aversion",
    type=click.FloatRange(min=0.0, max=1e6),
    default=1.0,
    show_default=True,
    help="lambda in mean - lambda x CVaR.",
)
@click.option(
    "--alpha",
    type=Fraction(click.FloatRange(min=0.5, max=1.0, max_open=True)),
    default=0.95,
    show_default=True,
    help="CVaR level, a fraction (0.95 or 95%): the worst 1 - alpha of the paths.",
)
@click.option(
    "--step",
    type=Fraction(click.FloatRange(min=0.01, max=1.0)),
    default=0.1,
    show_default=True,
    help="Allocation grid, a fraction (0.1 or 10%): long-only weights on multiples of this "
    "(1/k), summing to 1.",
)
def voi(scenario, n_paths, seed, overrides, as_json, **decision):
    """Which uncertainty to resolve before allocating: EVPI, and each uncertain key's and
    shock group's EVPPI, with the allocations with and without the information."""
    # (decision: value_of_information's objective, risk_aversion, alpha and step)
    from mcengine.studies.voi import BATCH_PATHS, BATCHES, value_of_information

    if n_paths < BATCHES * BATCH_PATHS:  # checked before the run, not after it
        raise UserError(
            f"-n {n_paths}: voi needs at least {BATCHES * BATCH_PATHS:,} paths ({BATCHES} "
            f"batches of {BATCH_PATHS} for its standard errors)"
        )
    ds = run_simulation(scenario, overrides, n_paths, seed, quiet=as_json, record_inputs=True)
    with user_errors():
        table = value_of_information(ds, **decision)
    show("voi", table, as_json=as_json)


@click.command()
@click.argument("scenario", default="base")
@TARGETS_OPTION
@paths_option("100000", "Paths (with per-path yearly records).")
@seed_option(draw=True)
@SET_OPTION
@JSON_OPTION
def check(scenario, targets_file, n_paths, seed, overrides, as_json) -> None:
    """Check SCENARIO against sourced targets: each target's source, the model's figure
    with its standard error, and pass or fail. Exit 0 when all pass, 1 when any fails."""
    from mcengine.model.targets import load_targets
    from mcengine.studies.validation import check as check_targets

    sc = load(scenario, overrides)
    with user_errors():
        targets = load_targets(targets_file)
        table = check_targets(sc, targets, n_paths, seed)
    show("check", table, as_json=as_json)
    raise SystemExit(0 if table.attrs["all_passed"] else 1)


@click.command()
@click.argument("scenario", default="base")
@TARGETS_OPTION
@click.option(
    "--fit",
    required=True,
    help="The keys to fit, comma-separated (section.key,section.key).",
)
@click.option(
    "--out",
    "target",
    type=OutputPath(".toml", what=".toml"),
    required=True,
    help="The calibrated scenario .toml to write (it extends SCENARIO).",
)
@paths_option("50000", "Paths per evaluation (one seed for all: common random numbers).")
@seed_option(draw=True)
@SET_OPTION
def calibrate(scenario, targets_file, fit, target, n_paths, seed, overrides) -> None:
    """Fit the --fit keys of SCENARIO to the targets (bounded least squares on common
    random numbers) and write the calibrated scenario."""
    from mcengine.model.targets import load_targets
    from mcengine.studies.validation import calibrate as fit_keys
    from mcengine.studies.validation import write_calibrated

    sc = load(scenario, overrides)
    keys = [k.strip() for k in fit.split(",") if k.strip()]
    with user_errors():
        targets = load_targets(targets_file)
        fitted, report = fit_keys(sc, targets, keys, n_paths, seed)
    show("calibration", report, as_json=False)  # first: a write that fails loses no result
    for key in report["key"].values[~report["identified"].values]:
        click.echo(
            f"warning: the targets do not identify {key}; its fitted value is arbitrary", err=True
        )
    parent = scenario
    if scenario not in builtin_scenarios():  # a file: found from the calibrated one's folder
        parent = os.path.relpath(Path(scenario).resolve(), target.parent.resolve())
    try:
        write_calibrated(target, report, targets, fitted, extends=parent)
    except OSError as err:
        raise write_error(f"--out {target}", err) from None
    click.echo(f"wrote {target}")


@click.command()
@click.argument("scenarios", nargs=-1, required=True)
@click.option(
    "-o",
    "--out",
    "target",
    type=OutputPath(".html", ".htm", what=".html", needs=("matplotlib", "plot")),
    required=True,
    help="The .html file to write.",
)
@paths_option("100000", "Paths per scenario.")
@seed_option("One seed for every scenario (common random numbers).", draw=True)
@click.option(
    "--targets",
    "targets_file",
    default="public_2025",
    show_default=True,
    help="Check each scenario against these targets (a .toml file or a built-in name); "
    "'none' for no validation section.",
)
def report(scenarios, target, n_paths, seed, targets_file) -> None:
    """One self-contained HTML page (inline SVG, no network) with tables and figures."""
    from mcengine.studies.report import write_report

    resolved = [load(name, ()) for name in scenarios]
    try:
        targets = None if targets_file == "none" else targets_file
        write_report(target, resolved, n_paths, seed, targets)
    except ValueError as err:
        raise UserError(str(err)) from None
    except OSError as err:
        raise write_error(f"-o {target}", err) from None
    click.echo(f"wrote {target}")


#: This module's commands, for the group (:mod:`mcengine.cli`).
COMMANDS = [explain, compare, verdict, sweep, sensitivity, voi, check, calibrate, report]
