"""Numeric hygiene: the kernel run as plain Python (NUMBA_DISABLE_JIT=1) gives the same bits.

This catches Numba-only behaviour (integer wrap-around, casting, fast paths) and keeps the
kernel's logic measurable by ordinary Python tools (coverage, debuggers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_reproducibility import VARIABLES as MODEL_VARIABLES

import mcengine

# Subprocesses, clusters or builds: seconds each, so outside the quick subset.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CASES = [
    ("base", {}),
    ("training_bust", {"sampler": "antithetic", "replicates": 2}),
    (
        "inference_glut",
        {"fan_chart": True, "simulation_overrides": {"simulation.steps_per_year": 4}},
    ),
]
VARIABLES = (*MODEL_VARIABLES, "components", "wipe_year", "wipe_cause")

SCRIPT = """
import json, sys, warnings
warnings.simplefilter("ignore")  # numpy scalars warn where Numba's integers wrap silently
import mcengine
name, kwargs, variables = json.loads(sys.argv[1])
overrides = kwargs.pop("simulation_overrides", None)
ds = mcengine.simulate(mcengine.load_scenario(name, overrides), 8, seed=11, **kwargs)
print(json.dumps({v: ds[v].values.tolist() for v in variables}))
"""


def test_kernel_without_jit_gives_identical_bits():
    for name, kwargs in CASES:
        env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, json.dumps([name, kwargs, VARIABLES])],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        plain = json.loads(out.stdout)
        kwargs = dict(kwargs)
        overrides = kwargs.pop("simulation_overrides", None)
        ds = mcengine.simulate(mcengine.load_scenario(name, overrides), 8, seed=11, **kwargs)
        for variable in VARIABLES:
            # JSON keeps every bit of a float64 (repr round-trips); NaN stays NaN.
            np.testing.assert_array_equal(
                np.array(plain[variable], dtype=float),
                ds[variable].values.astype(float),
                err_msg=f"{name}: {variable}",
            )
