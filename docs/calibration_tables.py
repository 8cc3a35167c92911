"""Print docs/calibration.md's back-test, acceptance and verdict tables, as Markdown.

    python docs/calibration_tables.py            # all three (about a minute on two cores)
    python docs/calibration_tables.py verdict    # one: backtest, extrapolation, acceptance
                                                 # or verdict

Each table comes from the library calls the CLI makes (``mcengine check``, ``mcengine
verdict``) at fixed sizes and seeds (:data:`PATHS`, :data:`SEED`), so a reader can rerun any
row from the shell.
"""

from __future__ import annotations

import math
import sys

import numpy as np

import mcengine
from mcengine.model.targets import load_targets
from mcengine.studies import verdict
from mcengine.studies.validation import check

PATHS, SEED = 100_000, 1
#: The scenarios the acceptance criteria are read for: every built-in AI scenario (the
#: back-test's telecom_1997 runs 8 years, short of the 10-year points).
AI_SCENARIOS = [name for name in mcengine.builtin_scenarios() if name != "telecom_1997"]
SEGMENTS = ("applications", "inference", "training")


def _figure(value: float, se: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    decimals = 3 if not math.isfinite(se) or se <= 0 else max(0, 1 - math.floor(math.log10(se)))
    return f"{value:.{min(decimals, 4)}f} ± {se:.{min(decimals, 4)}f}"


def _bounds(low: float, high: float) -> str:
    if not math.isfinite(high):
        return f"≥ {low:g}"
    return f"[{low:g}, {high:g}]"


def backtest() -> None:
    print(f"`mcengine check telecom_1997 --targets FILE -n {PATHS} --seed {SEED}`:\n")
    print("| | target | model | interval | |")
    print("|---|---|---|---|---|")
    for name, kind in (("telecom_1997_start", "fitted"), ("telecom_1997_2005", "held out")):
        table = check("telecom_1997", name, PATHS, SEED)
        for t in table["target"].values:
            row = table.sel(target=t)
            print(
                f"| {kind} | {row['label'].values} ({row['unit'].values}) | "
                f"{_figure(float(row['estimate']), float(row['standard_error']))} | "
                f"{_bounds(float(row['low']), float(row['high']))} | "
                f"{'pass' if bool(row['passed']) else '**miss**'} |"
            )


def _joint(scenario) -> tuple[float, float, int, int]:
    """On the same paths: the share where capex booms (1997-2000) and then roughly halves
    (2000-02) as the held-out targets have it, with the carriers' fall as well; and the
    year ends of the median path's peaks of carriers' wealth and capex."""
    ds = mcengine.simulate(scenario, PATHS, SEED, record_years=True)
    capex = ds["yearly"].sel(quantity="capex").values
    wealth = ds["yearly"].sel(quantity="wealth_inference").values
    boom = (capex[:, 3] / capex[:, 0]) ** (1 / 3)
    bust = (capex[:, 5] / capex[:, 3]) ** 0.5
    falls = (1 - wealth[:, :6] / np.maximum.accumulate(wealth[:, :6], axis=1)).max(axis=1)
    both = (boom >= 1.15) & (boom <= 1.5) & (bust >= 0.55) & (bust <= 0.85)
    equity = both & (falls >= 0.6) & (falls <= 0.97)
    median_w, median_c = np.median(wealth, axis=0), np.median(capex, axis=0)
    return both.mean(), equity.mean(), int(np.argmax(median_w)), int(np.argmax(median_c))


def extrapolation() -> None:
    print(
        "`telecom_1997` across `valuation.growth_extrapolation` (step 14', 0 in the "
        f"scenario), {PATHS:,} paths, seed {SEED}: held-out targets passed, the share of "
        "paths where capex booms to 2000 and halves by 2002 (and carriers fall 60-97%), and "
        "the year end of the median path's peak (3 = 2000):\n"
    )
    print(
        "| growth_extrapolation | held out passed | boom then bust | with the equity fall "
        "| median carriers' wealth peaks | median capex peaks |"
    )
    print("|---|---|---|---|---|---|")
    targets = load_targets("telecom_1997_2005")
    for phi in (0.0, 0.5, 1.0, 2.0, 3.0):
        sc = mcengine.load_scenario("telecom_1997", {"valuation.growth_extrapolation": phi})
        table = check(sc, targets, PATHS, SEED)
        both, equity, peak_w, peak_c = _joint(sc)
        missed = [str(t) for t in table["target"].values[~table["passed"].values]]
        print(
            f"| {phi:g} | {int(table['passed'].sum())}/{table.sizes['target']}"
            f"{' (' + ', '.join(missed) + ')' if missed else ''} | {100 * both:.1f}% | "
            f"{100 * equity:.1f}% | year {peak_w} | year {peak_c} |"
        )


def acceptance() -> None:
    print(
        f"`mcengine check NAME --targets acceptance_equity -n {PATHS} --seed {SEED}`: criteria "
        "met per segment (18 wealth-factor points each: 1, 5 and 10 years, 3 tails each "
        "side), then the drawdown floors; the points missed are listed.\n"
    )
    print("| scenario | applications | inference | training | drawdowns | missed |")
    print("|---|---|---|---|---|---|")
    targets = load_targets("acceptance_equity")
    for name in AI_SCENARIOS:
        table = check(name, targets, PATHS, SEED)
        passed = dict(zip(table["target"].values, table["passed"].values, strict=True))
        cells = []
        for segment in SEGMENTS:
            points = [t for t in passed if t.startswith(f"{segment}_") and "drawdown" not in t]
            cells.append(f"{sum(passed[t] for t in points)}/{len(points)}")
        drawdowns = [t for t in passed if "drawdown" in t]
        cells.append(f"{sum(passed[t] for t in drawdowns)}/{len(drawdowns)}")
        missed = ", ".join(t for t, ok in passed.items() if not ok) or "none"
        print(f"| `{name}` | {' | '.join(cells)} | {missed} |")


def verdict_table() -> None:
    names = ["base", "calibrated_2025", "beliefs"]
    table = verdict.orderings(names, PATHS, SEED)
    print(f"`mcengine verdict {' '.join(names)} -n {PATHS} --seed {SEED}` (% of paths):\n")
    print(f"| ordering of annual returns | {' | '.join(names)} |")
    print(f"|---|{'---|' * len(names)}")
    rows = [
        ("ordering", o, f"**{o}** (the essay)" if o == verdict.ESSAY else o)
        for o in table["ordering"].values
    ]
    rows += [("event", e, e) for e in table["event"].values]
    for dim, key, label in rows:
        prefix = "event_" if dim == "event" else ""
        at = table.sel({dim: key})
        cells = [
            f"{100 * float(at[prefix + 'probability'].sel(scenario=s)):.1f} ± "
            f"{100 * float(at[prefix + 'standard_error'].sel(scenario=s)):.1f}"
            for s in names
        ]
        print(f"| {label} | {' | '.join(cells)} |")
    shapley = verdict.attribution("beliefs", "shapley", 2048, SEED)
    print(
        "\nUnder `beliefs`, the Shapley effects on the indicator of the essay's ordering "
        "(`mcengine verdict beliefs`, 2,048 base paths × 1,024 subsets):\n"
    )
    print("| input | share of the variance |")
    print("|---|---|")
    effects = shapley["shapley"].sel(output=verdict.ESSAY)
    errors = shapley["shapley_standard_error"].sel(output=verdict.ESSAY)
    for name in effects.sortby(effects, ascending=False)["input"].values:
        print(
            f"| {name} | {float(effects.sel(input=name)):.2f} ± "
            f"{float(errors.sel(input=name)):.2f} |"
        )


TABLES = {
    "backtest": backtest,
    "extrapolation": extrapolation,
    "acceptance": acceptance,
    "verdict": verdict_table,
}

if __name__ == "__main__":
    for which in sys.argv[1:] or list(TABLES):
        print(f"\n<!-- {which} -->\n")
        TABLES[which]()
