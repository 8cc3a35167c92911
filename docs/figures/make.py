"""Draw every figure in docs/figures (README's and docs/model.md's) from fixed runs.

    python docs/figures/make.py

Each figure comes from a run of a fixed size and seed (:data:`PATHS`, :data:`SEED`), through
:mod:`mcengine.present.plots`, and is written by :func:`mcengine.present.plots.save` with
the code version that drew it (:func:`code_version`) in a PNG text chunk, :data:`KEY`.
``tests/test_plots.py`` reads that chunk back and fails, naming this script, when the code
has changed since: redraw them all (about 10 s on two cores) and commit the PNGs.

The code version is a SHA-256 over what decides a figure's pixels: the source of
``mcengine/present/plots.py`` and of this script, the labels the figures print (the
waterfall's parts, the tornado's inputs), the values of the scenarios drawn, and the
numerics and model versions of the results (one changes whenever the same seed gives
different numbers). A figure that is redrawn from
unchanged code is the same, byte for byte.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The text chunk of each PNG that holds :func:`code_version`.
KEY = "mcengine-figures"
#: Every run that feeds a figure: one ensemble per scenario, as README quotes it.
PATHS, SEED = 200_000, 42
#: Each figure: its file and what draws it (scenario, kind).
FIGURES = {
    "base_fan.png": ("base", "fan"),
    "base_tornado.png": ("base", "tornado"),
    "base_waterfall.png": ("base", "waterfall"),
    "beliefs_tornado.png": ("beliefs", "tornado"),
}


def code_version() -> str:
    """The SHA-256 (hex) of the code that draws the figures: what each PNG records."""
    from mcengine.layout import INPUT_LABELS
    from mcengine.numerics import NUMERICS
    from mcengine.present import plots
    from mcengine.present.format import PART_LABELS
    from mcengine.results.dataset import MODEL

    digest = hashlib.sha256()
    for source in (Path(plots.__file__), Path(__file__)):
        digest.update(source.read_bytes().replace(b"\r\n", b"\n"))
    from mcengine import load_scenario

    scenarios = [(n, load_scenario(n).to_dict()) for n in sorted({s for s, _ in FIGURES.values()})]
    words = (NUMERICS, MODEL, sorted(PART_LABELS.items()), sorted(INPUT_LABELS.items()), scenarios)
    digest.update(repr(words).encode())
    return digest.hexdigest()


def draw(out: Path = HERE) -> list[Path]:
    """Run each scenario once and write every figure of :data:`FIGURES` into ``out``."""
    import mcengine
    from mcengine.present import plots
    from mcengine.studies.sensitivity import tornado

    version = code_version()
    kinds = {
        "fan": plots.fan_chart,
        "tornado": lambda ds: plots.tornado(tornado(ds)),
        "waterfall": lambda ds: plots.waterfall(mcengine.summarize(ds)),
    }
    runs = {}
    written = []
    for name, (scenario, kind) in FIGURES.items():
        if scenario not in runs:
            runs[scenario] = mcengine.simulate(
                scenario, PATHS, seed=SEED, fan_chart=True, record_inputs=True
            )
        metadata = {
            KEY: version,
            "Description": f"{kind} of scenario {scenario}, {PATHS:,} paths, seed {SEED}",
            "Source": "python docs/figures/make.py",
        }
        written.append(plots.save(kinds[kind](runs[scenario]), out / name, metadata=metadata))
    return written


if __name__ == "__main__":
    for path in draw(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(f"wrote {path}")
