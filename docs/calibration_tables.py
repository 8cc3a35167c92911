"""Print docs/calibration.md's back-test, acceptance and verdict tables, as Markdown.

    python docs/calibration_tables.py            # all three (about a minute on two cores)
    python docs/calibration_tables.py verdict    # one: backtest, extrapolation, acceptance
                                                 # or verdict

Each table comes from the library calls the CLI makes (``mcengine check``, ``mcengine
verdict``) at fixed sizes and seeds (:data:`PATHS`, :data:`SEED`), so a reader can rerun any
row from the shell.
"""

from __future__ import annotations

import sys

import mcengine
from mcengine.layout import SEGMENTS
from mcengine.model.targets import load_targets
from mcengine.present.format import interval_text, target_cell
from mcengine.studies import verdict
from mcengine.studies.validation import check, joint_probability

PATHS, SEED = 100_000, 1
#: The scenarios the acceptance criteria are read for: every built-in AI scenario (the
#: back-test's telecom_1997 runs 8 years, short of the 10-year points).
AI_SCENARIOS = [name for name in mcengine.builtin_scenarios() if name != "telecom_1997"]
#: The held-out pieces that make one history when they happen on the same path.
BOOM_AND_BUST = ("capex_boom_1997_2000", "capex_bust_2000_2002")
WITH_THE_FALL = (*BOOM_AND_BUST, "carrier_equity_fall")


def _row(table, name) -> str:
    row = table.sel(target=name)
    return (
        f"{row['label'].values} ({row['unit'].values}) | "
        f"{target_cell(float(row['estimate']), float(row['standard_error']))} | "
        f"{interval_text(float(row['low']), float(row['high']))} | "
        f"{'pass' if bool(row['passed']) else '**miss**'}"
    )


def backtest() -> None:
    print(f"`mcengine check telecom_1997 --targets FILE -n {PATHS} --seed {SEED}`:\n")
    print("| | target | model | interval | |")
    print("|---|---|---|---|---|")
    for name, kind in (("telecom_1997_start", "fitted"), ("telecom_1997_2005", "held out")):
        table = check("telecom_1997", name, PATHS, SEED)
        for t in table["target"].values:
            print(f"| {kind} | {_row(table, t)} |")


def _percent(e) -> str:
    return f"{100 * e.value:.2f} ± {100 * e.se:.2f}%"


def extrapolation() -> None:
    print(
        "`telecom_1997` with `inference.capacity_upgrade` (step 8') and "
        "`valuation.growth_extrapolation` (step 14') at other values, "
        f"{PATHS:,} paths, seed {SEED}: the held-out targets passed, and the share of paths "
        "on which capex booms to 2000 and roughly halves by 2002 (and, as well, carriers "
        "fall 60-97%):\n"
    )
    print(
        "| capacity_upgrade | growth_extrapolation | held out passed | the glut of 2001 "
        "| boom then bust | with the carriers' fall |"
    )
    print("|---|---|---|---|---|---|")
    targets = load_targets("telecom_1997_2005")
    for upgrade, phi in ((0.0, 0.0), (0.693, 0.0), (0.693, 1.0), (0.693, 2.0), (0.693, 3.0)):
        keys = {"inference.capacity_upgrade": upgrade, "valuation.growth_extrapolation": phi}
        sc = mcengine.load_scenario("telecom_1997", keys)
        table = check(sc, targets, PATHS, SEED)
        ds = mcengine.simulate(sc, PATHS, SEED, record_years=True)
        missed = [str(t) for t in table["target"].values[~table["passed"].values]]
        print(
            f"| {upgrade:g} | {phi:g} | {int(table['passed'].sum())}/{table.sizes['target']}"
            f"{' (misses ' + ', '.join(missed) + ')' if missed else ''} | "
            f"{_percent(joint_probability(ds, targets, ('capacity_in_use_2001',)))} | "
            f"{_percent(joint_probability(ds, targets, BOOM_AND_BUST))} | "
            f"{_percent(joint_probability(ds, targets, WITH_THE_FALL))} |"
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
