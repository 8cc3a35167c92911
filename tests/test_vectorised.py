"""The kernel's lane loops are vectorised by LLVM: the speed of the kernel rests on it.

Each loop is compiled alone in a subprocess with a fresh ``NUMBA_CACHE_DIR`` (cached machine
code says nothing) and LLVM's loop-vectorizer remarks on. A change that puts a branch, a
call (a builtin ``min``, a float class test that LLVM folds into ``llvm.is.fpclass``, an
array passed to an inlined function with branches) or a variable offset into one of them
stops the vectorisation, and this test names the loop. On any x86-64 the loops vectorise
(8 lanes with AVX-512, 4 with AVX2, 2 with SSE2), so the test does not depend on the CPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Subprocesses, clusters or builds: seconds each, so outside the quick subset.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys
import llvmlite.binding as llvm
llvm.set_option("", "-pass-remarks=loop-vectorize")
import numpy as np
from mcengine.kernel import paths
from mcengine.kernel.coefficients import C
from mcengine.rng import lanes
st = np.zeros(paths._BLOCK_SIZE)  # the state, then the per-lane coefficients
k = tuple(np.zeros(int(C.SIZE)).tolist())
words = np.zeros(lanes.LANE_WORDS, dtype=np.uint64)
calls = {
    "market": lambda: paths._market_lanes(st, k, 1.0, (0.0, 0.0, 0.0, 0.0)),
    "cash": lambda: paths._cash_lanes(st, k, 0.5),
    "values": lambda: paths._value_lanes(st, k, 1.0, 0.0),
    "outputs": lambda: paths._final_lanes(st, k),
    "step draws": lambda: lanes.step_draws_lanes(1, 2, 0, False, 1, words, st),
    # per-path parameters: each lane's coefficients loaded from after its state
    "market per lane": lambda: paths._market_lanes(st, None, 1.0, (0.0, 0.0, 0.0, 0.0)),
    "cash per lane": lambda: paths._cash_lanes(st, None, 0.5),
    "values per lane": lambda: paths._value_lanes(st, None, 1.0, 0.0),
    "outputs per lane": lambda: paths._final_lanes(st, None),
}
calls[sys.argv[1]]()
"""

# The loops each function must vectorise: the lane loop; for the draws, Philox and the
# ziggurat's fast path.
LOOPS = {
    "market": 1,
    "cash": 1,
    "values": 1,
    "outputs": 1,
    "step draws": 2,
    "market per lane": 1,
    "cash per lane": 1,
    "values per lane": 1,
    "outputs per lane": 1,
}


@pytest.mark.parametrize("name", list(LOOPS))
def test_lane_loops_are_vectorised(name, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("NUMBA_CPU_NAME", "NUMBA_OPT")},
        "NUMBA_CACHE_DIR": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    vectorised = out.stderr.count("remark: <unknown>:0:0: vectorized loop")
    assert vectorised >= LOOPS[name], f"{name}: LLVM said\n{out.stderr[-3000:]}"
