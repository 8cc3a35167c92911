"""The benchmark suite and the up-front compile."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mcengine.cli.errors import UserError
from mcengine.cli.types import OutputPath

_BENCH_OUTPUT = OutputPath(".json", what=".json")

if TYPE_CHECKING:
    pass

__all__ = ["COMMANDS"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report only.")
@click.option(
    "--output",
    default=None,
    type=_BENCH_OUTPUT,
    help="Where to write the JSON report of the full suite [default: bench-results.json].",
)
@click.option("--quick", is_flag=True, help="Tenfold smaller sizes (a smoke run).")
@click.option(
    "--workload",
    "workloads",
    multiple=True,
    metavar="NAME",
    help="Time only this workload (repeatable; see --list) and print its figures.",
)
@click.option("--list", "list_only", is_flag=True, help="List the workloads and exit.")
def bench(as_json, output, quick, workloads, list_only) -> None:
    """Run the benchmark suite: speed ratios measured side by side (docs/benchmarks.md).

    Everything it runs ships in the package, so it works from any directory.
    """
    from mcengine.bench import WORKLOADS, run_workload

    if list_only:
        for name, workload in WORKLOADS.items():
            click.echo(f"{name:<15} {workload.description}")
        return
    if workloads:
        unknown = [name for name in workloads if name not in WORKLOADS]
        if unknown:
            raise UserError(f"--workload {unknown[0]}: unknown; one of {', '.join(WORKLOADS)}")
        figures = [run_workload(name, quick=quick) for name in workloads]
        if as_json:
            from mcengine.present.encode import dumps

            click.echo(dumps(figures))
        for f in [] if as_json else figures:
            click.echo(
                f"{f['name']:<15} {f['paths']:>10,} paths  {f['seconds']:8.3f} s  "
                f"{f['paths_per_second']:>12,.0f} paths/s"
            )
        return
    from mcengine.bench import suite

    output = output or _BENCH_OUTPUT.check(Path("bench-results.json"), "--output")
    args = (
        ["--output", str(output)] + (["--json"] if as_json else []) + (["--quick"] if quick else [])
    )
    sys.exit(suite.main(args))


@click.command()
def warmup() -> None:
    """Compile every kernel now (about 30 s; once per machine and mcengine version), for
    images and CI jobs that would rather not compile during their first runs."""
    from mcengine.engine.api import warm_up

    click.echo(f"compiled or loaded every kernel in {warm_up():.0f} s")


#: This module's commands, for the group (:mod:`mcengine.cli`).
COMMANDS = [bench, warmup]
