"""mcengine's benchmark suite: speed, scaling and memory as ratios measured side by side.

Run ``mcengine bench`` (or ``python -m mcengine.bench``, or ``python -m benchmarks`` in a
checkout) from any directory: everything it runs ships in the package. It prints a table and
writes JSON (schema ``mcengine-bench/1``, documented in ``docs/benchmarks.md``); ``--json``
prints the JSON instead. Targets are issue 3's; each row says whether it was met.

Absolute timings on shared machines are noisy, so every target is a ratio of two timings
taken in the same run (engine against numpy's random-number floor, against the plain-numpy
reference, against itself at another size or thread count). Memory and start-up are measured
in fresh subprocesses so that they see what a user sees.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from mcengine.bench import WORKLOADS, run_workload
from mcengine.results.files import atomic_path

__all__ = ["main", "run_suite", "startup_results", "dask_results", "render", "TARGETS"]

SCHEMA = "mcengine-bench/1"

#: Engine modes whose time per path is reported against the base workload's (kept paths).
MODES = ("summary_only", "antithetic", "sobol", "fan_chart", "record_inputs", "stress", "beliefs")

TARGETS = {
    "rng_floor_ratio": ("<=", 0.6),
    "reference_speedup": (">=", 8.0),
    "parallel_speedup_2_threads": (">=", 1.8),
    "small_run_fraction": ("<=", 0.05),
    "paths_scaling_ratio": ("in", (9.0, 11.0)),
    "steps_scaling_ratio": ("in", (9.6, 15.0)),  # 12 steps a year: 0.8 to 1.25 x 12
    "summary_only_peak_rss_mb": ("<=", 1024.0),
    "cached_startup_seconds": ("<=", 1.5),
    "import_seconds": ("<=", 0.4),
    "help_seconds": ("<=", 0.3),
    "scenarios_seconds": ("<=", 0.3),
    "cold_compile_seconds": ("<=", 20.0),
    "dask_overhead": ("<=", 0.15),
    "dask_scaling_1_to_2_workers": (">=", 1.7),
    "mode_ratio_beliefs": ("<=", 1.3),  # five uncertain keys against the point scenario
}


def _best_of(repeats: int, func) -> float:
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


def _child(code: str, env: dict | None = None) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line, returned with peak RSS."""
    wrapper = (
        "import json, time\n"
        "t0 = time.perf_counter()\n"
        f"{code}\n"
        "out['wall'] = time.perf_counter() - t0\n"
        # VmHWM is this process's own peak; ru_maxrss would include the parent's peak at
        # fork, which Linux carries across exec.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "out['peak_rss_mb'] = int(hwm.split()[1]) / 1024\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapper],
        cwd=tempfile.gettempdir(),
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _wall(args: list[str], cache_dir: str | None = None) -> float:
    """Wall seconds of ``python ARGS`` in a fresh process (the JIT cache as given)."""
    env = {**os.environ}
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, *args], cwd=tempfile.gettempdir(), env=env, capture_output=True, check=True
    )
    return time.perf_counter() - started


#: ``mcengine run -n 10000``: a user's first answer (its start-up, cached or cold).
_RUN_SMALL = ["-m", "mcengine", "run", "-n", "10000", "--seed", "1", "--json"]


def _cold_startup() -> float:
    with tempfile.TemporaryDirectory() as cold:
        return _wall(_RUN_SMALL, cold)


def startup_results(repeats: int = 3) -> dict[str, float]:
    """Start-up in fresh processes, best of ``repeats``, the JIT cache warm: a small run,
    ``import mcengine``, ``mcengine --help`` and ``mcengine scenarios``."""
    _wall(_RUN_SMALL)  # fills the cache if this mcengine has not run here yet
    commands = {
        "cached_startup_seconds": _RUN_SMALL,
        "import_seconds": ["-c", "import mcengine"],
        "help_seconds": ["-m", "mcengine", "--help"],
        "scenarios_seconds": ["-m", "mcengine", "scenarios"],
    }
    return {name: min(_wall(args) for _ in range(repeats)) for name, args in commands.items()}


def run_suite(quick: bool = False) -> dict:
    """Measure everything; ``quick`` shrinks sizes tenfold (for tests of the suite itself)."""
    import numba

    import mcengine

    n = WORKLOADS["base"].sized(quick)
    base = mcengine.load_scenario("base")
    results: dict[str, float | None] = {}

    threads = numba.get_num_threads()
    engine = run_workload("base", quick=quick)["seconds"]
    one_thread = run_workload("base_1_thread", quick=quick, repeats=2)["seconds"]
    floor = run_workload("rng_floor", quick=quick)["seconds"]
    results["paths_per_second"] = n / engine
    results["rng_floor_seconds"] = floor
    results["engine_seconds"] = engine
    results["rng_floor_ratio"] = engine / floor
    results["parallel_speedup_2_threads"] = one_thread / engine if threads >= 2 else 1.0
    results["parallel_efficiency"] = results["parallel_speedup_2_threads"] / min(threads, 2)

    reference = run_workload("reference", quick=quick, repeats=1)["seconds"]
    results["reference_seconds"] = reference
    results["reference_speedup"] = reference / engine

    # Each mode's time per path against base's; Sobol runs 2**20 paths.
    per_path = engine / n
    for mode in MODES:
        paths = WORKLOADS[mode].sized(quick)
        seconds = run_workload(mode, quick=quick, repeats=2)["seconds"]
        results[f"mode_ratio_{mode}"] = seconds / paths / per_path
    # Fixed costs: 10**4 paths against 10**6 (compile excluded: the kernel is warm).
    small_run = _best_of(5, lambda: mcengine.simulate(base, max(n // 100, 1), seed=1))
    results["small_run_fraction"] = small_run / engine

    monthly = base.with_overrides({"simulation.steps_per_year": 12})
    small = n // 5
    t_annual = _best_of(2, lambda: mcengine.simulate(base, small, seed=1))
    t_monthly = _best_of(1, lambda: mcengine.simulate(monthly, small, seed=1))
    results["steps_scaling_ratio"] = t_monthly / t_annual
    results["steps_scaling_exponent"] = math.log(t_monthly / t_annual) / math.log(12)

    large = _best_of(1, lambda: mcengine.simulate(base, 10 * n, seed=1))
    results["paths_scaling_ratio"] = large / engine
    results["paths_scaling_exponent"] = math.log10(large / engine)

    # Memory of a summary-only run, in a fresh process warmed first (loading the cached
    # kernel takes about a second), at the large size and at a tenth of it.
    code = (
        "import mcengine\n"
        "mcengine.simulate('base', 1000, seed=1, keep_paths=False)\n"
        "t = time.perf_counter()\n"
        "mcengine.simulate('base', {n}, seed=1, keep_paths=False)\n"
        "out = {{'seconds': time.perf_counter() - t}}"
    )
    small_run = _child(code.format(n=n))
    large_run = _child(code.format(n=10 * n))
    results["summary_only_paths"] = 10 * n
    results["summary_only_seconds"] = large_run["seconds"]
    results["summary_only_peak_rss_mb"] = large_run["peak_rss_mb"]
    results["summary_only_peak_rss_mb_at_tenth"] = small_run["peak_rss_mb"]

    results.update(_variance_reduction(mcengine, base, n // 8))

    results.update(startup_results(repeats=1 if quick else 3))
    # A cold compile takes a minute or more whatever the size: a quick run leaves it out.
    results["cold_compile_seconds"] = None if quick else _cold_startup()

    results.update(dask_results(10 * n))
    return {
        "schema": SCHEMA,
        "quick": quick,
        "machine": {
            "cpu_count": os.cpu_count(),
            "numba_threads": threads,
            "processor": _cpu_model(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "versions": {p: version(p) for p in ("mcengine", "numpy", "numba", "xarray")},
        },
        "paths": n,
        "results": results,
        "targets": {name: _verdict(name, results[name]) for name in TARGETS},
    }


def dask_results(n: int) -> dict[str, float]:
    """Summary-only runs of ``n`` paths: the local engine on 2 Numba threads against warm
    LocalClusters of 2 and 1 single-threaded worker processes, and the projection inputs."""
    import mcengine
    from mcengine.engine.dask import local_client
    from mcengine.layout import BLOCK_PATHS

    def run(client=None) -> float:
        return _best_of(
            1, lambda: mcengine.simulate("base", n, seed=1, keep_paths=False, client=client)
        )

    mcengine.simulate("base", 1000, seed=1)
    local = run()
    timed = {}
    for workers in (2, 1):
        with local_client(workers) as client:
            # Warm: every worker loads the cached kernel before the timed run.
            mcengine.simulate(
                "base", 2 * workers * BLOCK_PATHS, seed=2, client=client, keep_paths=False
            )
            timed[workers] = run(client)
    blocks = math.ceil(n / BLOCK_PATHS)
    return {
        "dask_paths": n,
        "dask_local_seconds": local,
        "dask_2_workers_seconds": timed[2],
        "dask_1_worker_seconds": timed[1],
        "dask_overhead": timed[2] / local - 1.0,
        "dask_scaling_1_to_2_workers": timed[1] / timed[2],
        # One block on one core, all included (kernel, summary, transfer, merge).
        "dask_seconds_per_block_core": timed[1] / blocks,
    }


def _variance_reduction(mcengine, scenario, n: int) -> dict[str, float]:
    """Each sampler's variance-reduction factor for the segment means, against ``pseudo``:
    at equal paths, (s.e. pseudo / s.e. sampler)^2, and at equal time, that times
    (time pseudo / time sampler). Reported as the smallest over the three segments."""
    n = 2 ** int(math.log2(n))  # Sobol replicates are best at powers of two
    out = {}
    timings, errors = {}, {}
    for sampler in ("pseudo", "antithetic", "sobol"):
        started = time.perf_counter()
        ds = mcengine.simulate(scenario, n, seed=1, sampler=sampler)
        timings[sampler] = time.perf_counter() - started
        errors[sampler] = mcengine.summarize(ds)["standard_error"].sel(statistic="mean").values
    for sampler in ("antithetic", "sobol"):
        factor = (errors["pseudo"] / errors[sampler]) ** 2
        out[f"vr_{sampler}_equal_paths"] = float(factor.min())
        out[f"vr_{sampler}_equal_time"] = float(
            (factor * timings["pseudo"] / timings[sampler]).min()
        )
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _verdict(name: str, value: float | None) -> dict:
    """``value`` against its target; ``met`` is None for a figure not measured (None)."""
    op, bound = TARGETS[name]
    if value is None:
        return {"value": None, "target": f"{op} {bound}", "met": None}
    met = (
        bound[0] <= value <= bound[1]
        if op == "in"
        else (value <= bound if op == "<=" else value >= bound)
    )
    return {"value": value, "target": f"{op} {bound}", "met": bool(met)}


def _target_text(op: str, bound) -> str:
    if op == "in":
        return f"{bound[0]:g} to {bound[1]:g}"
    return f"{'≤' if op == '<=' else '≥'} {bound:g}"


def render(report: dict) -> None:
    """The report as a table that fits 80 columns."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"mcengine benchmarks ({report['paths']:,} paths, base scenario)")
    table.add_column("measure", no_wrap=True, overflow="fold")
    for column in ("value", "target", "met"):
        table.add_column(column, no_wrap=True)
    r = report["results"]
    table.add_row("paths/s (warm)", f"{r['paths_per_second']:,.0f}", "", "")
    for name, verdict in report["targets"].items():
        op, bound = TARGETS[name]
        if verdict["value"] is None:
            table.add_row(name, "n/a", _target_text(op, bound), "")
            continue
        met = "yes" if verdict["met"] else "NO"
        table.add_row(name, f"{verdict['value']:.3g}", _target_text(op, bound), met)
    table.add_row("parallel efficiency (2 threads)", f"{r['parallel_efficiency']:.2f}", "", "")
    table.add_row("paths scaling exponent", f"{r['paths_scaling_exponent']:.3f}", "1", "")
    table.add_row("steps scaling exponent", f"{r['steps_scaling_exponent']:.3f}", "1", "")
    table.add_row("Dask s per block per core", f"{r['dask_seconds_per_block_core']:.3f}", "", "")
    for mode in MODES:
        table.add_row(f"time per path, {mode} ÷ base", f"{r[f'mode_ratio_{mode}']:.2f}", "", "")
    for sampler in ("antithetic", "sobol"):
        paths, timed = r[f"vr_{sampler}_equal_paths"], r[f"vr_{sampler}_equal_time"]
        table.add_row(f"variance reduction, {sampler}", f"{paths:.1f}x / {timed:.1f}x", "", "")
    m = report["machine"]
    console = Console()
    console.print(table)
    notes = ["variance reduction: the smallest over segments, at equal paths / equal time"]
    if r.get("cold_compile_seconds") is None:
        notes.append("cold_compile_seconds: not measured in a quick run (a minute at any size)")
    for note in notes:
        console.print(note)
    console.print(
        f"{m['processor']}, {m['cpu_count']} CPUs, numba threads {m['numba_threads']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m mcengine.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--json", action="store_true", help="print the JSON report only")
    parser.add_argument("--output", default="bench-results.json", help="where to write JSON")
    parser.add_argument("--quick", action="store_true", help="tenfold smaller sizes")
    parser.add_argument(
        "--dask-only", action="store_true", help="only the Dask rows (print their JSON)"
    )
    args = parser.parse_args(argv)
    if args.dask_only:
        print(json.dumps(dask_results(10**6 if args.quick else 10**7), indent=2))
        return 0
    report = run_suite(quick=args.quick)
    text = json.dumps(report, indent=2)
    if args.json:
        print(text)
    else:
        render(report)
    with atomic_path(args.output) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return 0
