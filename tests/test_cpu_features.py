"""The same bits whichever SIMD paths numpy picks and whichever CPU LLVM compiles for.

Each variant runs in a subprocess with a fresh ``NUMBA_CACHE_DIR`` (the cache keeps machine
code, and with it constants baked in at compile time, from an earlier process):

* numpy without its AVX-512 loops (an AVX2 machine), and without any dispatched loop (its
  baseline, an SSE4.2 machine), through ``NPY_DISABLE_CPU_FEATURES``;
* the kernel compiled for a generic x86-64 CPU (``NUMBA_CPU_NAME=generic``).

The digest covers the kernel's outputs, the summary of kept paths (post-processing: moments,
quantiles, tails, the portfolio), a streamed summary-only run, a fan chart and a run with
uncertain parameters (their quantile tables, built from scipy with arithmetic only, the
path-parallel values kernel calling scipy.special's C functions, per-path coefficient
rows and the per-lane kernel; docs/model.md). On an AVX-512
machine the numpy variants failed before the ziggurat tables became literals and
post-processing stopped using numpy's ``exp``/``log``/``expm1``. On a machine without
AVX-512 they pass trivially; ``tests/test_ziggurat.py`` catches the table bug there too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

try:  # numpy >= 2
    from numpy._core import _multiarray_umath as umath
except ImportError:  # numpy 1.26
    from numpy.core import _multiarray_umath as umath

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import hashlib, json, numpy as np, mcengine
h = hashlib.sha256()
def feed(ds):
    for name in sorted(ds.data_vars):
        h.update(name.encode())
        h.update(np.ascontiguousarray(ds[name].values).tobytes())
full = mcengine.simulate("base", 3000, seed=42)
feed(full)
feed(mcengine.summarize(full))
feed(mcengine.simulate("training_bust", 3000, seed=7, keep_paths=False))
feed(mcengine.simulate("inference_glut", 1000, seed=3, fan_chart=True, keep_paths=False))
truncated = {"dist": "truncnormal", "mean": 0.3, "sd": 0.2, "min": 0.1, "max": 0.6}
beliefs = mcengine.load_scenario("beliefs", {"demand.volatility": truncated})
feed(mcengine.simulate(beliefs, 1000, seed=5, record_inputs=True))
print(json.dumps(h.hexdigest()))
"""


def dispatched(select) -> list[str]:
    return [f for f in umath.__cpu_dispatch__ if select(f)]


VARIANTS = {
    "numpy without AVX-512": {
        "NPY_DISABLE_CPU_FEATURES": ",".join(dispatched(lambda f: "AVX512" in f or f == "X86_V4"))
    },
    "numpy at its baseline": {"NPY_DISABLE_CPU_FEATURES": ",".join(dispatched(bool))},
    "LLVM for a generic CPU": {"NUMBA_CPU_NAME": "generic"},
}


def run_digest(tmp_path: Path, label: str, env: dict[str, str]) -> str:
    cache = tmp_path / label.replace(" ", "_")
    cache.mkdir()
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NUMBA_CPU_NAME", "NPY_DISABLE_CPU_FEATURES")
    }
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={**base, "NUMBA_CACHE_DIR": str(cache), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_results_do_not_depend_on_cpu_features(tmp_path):
    # Each subprocess compiles on one core from a cold cache: two at a time on two cores.
    runs = {"host": {}, **VARIANTS}
    with ThreadPoolExecutor(max_workers=max(1, min(len(runs), os.cpu_count() or 1))) as pool:
        futures = {
            label: pool.submit(run_digest, tmp_path, label, env) for label, env in runs.items()
        }
        digests = {label: future.result() for label, future in futures.items()}
    reference = digests.pop("host")
    assert digests == dict.fromkeys(VARIANTS, reference)


def test_numpy_accepts_the_disabled_features():
    # An unknown name would make numpy refuse to start, and every variant fail for it.
    for label, env in VARIANTS.items():
        features = env.get("NPY_DISABLE_CPU_FEATURES")
        if features:
            assert set(features.split(",")) <= set(umath.__cpu_dispatch__), label
