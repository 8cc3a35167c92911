"""mcengine's own exp, log, log1p and expm1: within 1 ulp everywhere, IEEE special values,
and the same bits compiled and in plain Python.

References: mpmath at 120 bits (correctly rounded for all practical purposes) on sampled
points and the edge cases; x86's 80-bit long double (64-bit mantissa, 11 bits more than a
double) on millions of points in the slow test.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import mpmath
import numba
import numpy as np
import pytest

from mcengine import numerics

mpmath.mp.prec = 120

FUNCTIONS = {
    "exp": (numerics.exp, numerics.exp_array, mpmath.exp, np.exp),
    "log": (numerics.log, numerics.log_array, mpmath.log, np.log),
    "log1p": (numerics.log1p, numerics.log1p_array, mpmath.log1p, np.log1p),
    "expm1": (numerics.expm1, numerics.expm1_array, mpmath.expm1, np.expm1),
}


def sample(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Points over the whole finite domain where the result is a finite nonzero double:
    uniform in the argument and log-uniform in its magnitude, subnormals included."""
    tiny = np.exp2(rng.uniform(-1074, -1, n // 4))
    if name == "exp":
        parts = [rng.uniform(-745.13, 709.78, n // 2), rng.uniform(-1, 1, n // 4), tiny]
    elif name == "log":
        parts = [np.exp2(rng.uniform(-1074, 1024, n // 2)), rng.uniform(0.5, 2, n // 4), tiny]
    elif name == "log1p":
        near = np.exp2(rng.uniform(-60, 0, n // 4)) * rng.choice([-1, 1], n // 4)
        parts = [np.exp2(rng.uniform(-1, 1000, n // 4)) - 1, rng.uniform(-1, 1, n // 4), near]
        parts.append(tiny)
    else:
        parts = [rng.uniform(-40, 709.78, n // 2), rng.uniform(-1, 1, n // 4), tiny]
    return np.concatenate(parts)


def ulp_errors(values: np.ndarray, reference) -> np.ndarray:
    out = np.empty(len(values))
    for i, (y, r) in enumerate(zip(values.tolist(), reference, strict=True)):
        out[i] = float(abs(mpmath.mpf(y) - r) / math.ulp(float(r)))
    return out


def compiled(name, x: np.ndarray) -> np.ndarray:
    scalar, array, _, _ = FUNCTIONS[name]
    if array is not None:
        return array(x)
    return np.array([scalar(v) for v in x.tolist()])


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_within_one_ulp_of_mpmath(name):
    x = sample(name, 4000, np.random.default_rng(7))
    reference = [FUNCTIONS[name][2](mpmath.mpf(v)) for v in x.tolist()]
    errors = ulp_errors(compiled(name, x), reference)
    assert errors.max() < 1.0, (name, x[errors.argmax()], errors.max())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["exp", "log", "log1p", "expm1"])
def test_within_one_ulp_on_millions_of_points(name):
    if np.finfo(np.longdouble).nmant < 63:
        pytest.skip("needs x86's 80-bit long double as the reference")
    x = sample(name, 2_000_000, np.random.default_rng(11))
    x = x[(x > -700) & (x < 700)] if name != "log" else x[x > 1e-300]  # long double's range
    reference = FUNCTIONS[name][3](x.astype(np.longdouble))
    got = compiled(name, x).astype(np.longdouble)
    ulp = np.spacing(reference.astype(np.float64)).astype(np.longdouble)
    errors = np.abs(got - reference) / np.abs(ulp)
    # The reference is good to 2**-11 ulp; allow that much on top of the bound.
    assert errors.max() < 1.0 + 2.0**-10, (name, x[errors.argmax()], errors.max())


SPECIAL = {
    "exp": [
        (0.0, 1.0),
        (-0.0, 1.0),
        (math.inf, math.inf),
        (-math.inf, 0.0),
        (710.0, math.inf),
        (709.78, math.exp(709.78)),
        (-745.2, 0.0),
        (-745.1, 5e-324),
        (1e-300, 1.0),
    ],
    "log": [
        (1.0, 0.0),
        (0.0, -math.inf),
        (-0.0, -math.inf),
        (math.inf, math.inf),
        (-1.0, math.nan),
        (-math.inf, math.nan),
        (5e-324, math.log(5e-324)),
    ],
    "log1p": [
        (0.0, 0.0),
        (-0.0, -0.0),
        (-1.0, -math.inf),
        (-2.0, math.nan),
        (math.inf, math.inf),
        (-math.inf, math.nan),
        (5e-324, 5e-324),
        (1e-300, 1e-300),
    ],
    "expm1": [
        (0.0, 0.0),
        (-0.0, -0.0),
        (math.inf, math.inf),
        (-math.inf, -1.0),
        (710.0, math.inf),
        (-50.0, -1.0),
        (5e-324, 5e-324),
        (-1e-300, -1e-300),
    ],
}


@pytest.mark.parametrize("name", list(SPECIAL))
def test_special_values_follow_ieee(name):
    scalar = FUNCTIONS[name][0]
    for x, expected in SPECIAL[name] + [(math.nan, math.nan)]:
        got = scalar(x)
        if math.isnan(expected):
            assert math.isnan(got), (name, x, got)
        else:
            assert got == expected and math.copysign(1, got) == math.copysign(1, expected), (
                name,
                x,
                got,
            )


PLAIN_PYTHON = """
import json, sys
import numpy as np
from mcengine import numerics
name, values = json.loads(sys.argv[1])
out = [getattr(numerics, name)(v) for v in values]
print(json.dumps(np.array(out).view(np.int64).tolist()))
"""


@pytest.mark.slow
def test_compiled_and_plain_python_give_the_same_bits():
    # Plain Python is what NUMBA_DISABLE_JIT runs (its bit casts are struct conversions).
    for name in FUNCTIONS:
        x = sample(name, 2000, np.random.default_rng(3))
        x = np.concatenate([x, [v for v, _ in SPECIAL[name]], [math.nan]])
        env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
        out = subprocess.run(
            [sys.executable, "-c", PLAIN_PYTHON, json.dumps([name, x.tolist()])],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        plain = np.array(json.loads(out.stdout), dtype=np.int64)
        assert np.array_equal(compiled(name, x).view(np.int64), plain), name


@numba.njit
def _conversions(i, u, w):
    return numerics.int_to_float(i), numerics.uint52_to_float(u), numerics.uint53_to_float(w)


@pytest.mark.parametrize("i", [0, 1, -1, 1023, -1075, 2**50, -(2**50), 2**51 - 1, -(2**51) + 1])
def test_vector_conversions_equal_the_builtin_ones(i):
    u = 2 * abs(i) + 1  # up to 2**52 - 1
    w = 2 * u + 1  # up to 2**53 - 1, the top bit set from 2**52 on
    assert _conversions(i, u, w) == (float(i), float(u), float(w))


@numba.njit
def _fused(a, b, c):
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        out[i] = numerics.fma(a[i], b[i], c[i])
    return out


def test_fma_rounds_once_as_the_exact_fraction():
    rng = np.random.default_rng(5)
    a = rng.standard_normal(3000) * np.exp2(rng.integers(-540, 500, 3000))
    b = rng.standard_normal(3000) * np.exp2(rng.integers(-540, 500, 3000))
    c = -a * b * (1.0 + rng.choice([0.0, 2.0**-52, -(2.0**-53), 1e-9], 3000))  # cancellation
    c[::3] = rng.standard_normal(1000) * 1e-310  # subnormal terms
    edges = [(1.0 + 2.0**-52, 1.0 - 2.0**-52, -1.0), (0.0, -1.0, -0.0), (1e308, 10.0, -1e308)]
    edges += [(math.inf, 0.0, 1.0), (2.0, 3.0, math.inf), (math.nan, 1.0, 1.0)]
    edges += [(1e-200, -1e-200, 0.0), (5e-324, 0.5, 0.0), (1e300, 1e300, -math.inf)]
    for x, y, z in edges:
        a, b, c = np.append(a, x), np.append(b, y), np.append(c, z)
    got = _fused(a, b, c)
    triples = zip(a.tolist(), b.tolist(), c.tolist(), strict=True)
    exact = np.array([numerics._python_fma(*t) for t in triples])
    assert np.array_equal(np.isnan(got), np.isnan(exact))
    same = ~np.isnan(got)
    assert np.array_equal(got[same].view(np.int64), exact[same].view(np.int64))
    assert got[-9] == -(2.0**-104)  # fused: a * b rounded first would give 0
    assert math.copysign(1.0, got[-8]) == -1.0  # -0 + -0
    assert got[-7] == math.inf and math.isnan(got[-6]) and got[-5] == math.inf
    assert got[-3] == 0.0 and math.copysign(1.0, got[-3]) == -1.0  # -1e-400 rounds to -0
    assert got[-2] == 0.0  # half the least subnormal: a tie, to even


def test_the_coefficients_literal_logs_are_numerics_bits():
    # kernel/coefficients.py writes two logs as literals, to start without calling the kernel.
    from mcengine.kernel import coefficients

    assert numerics.log(float(np.finfo(np.float64).max)) == coefficients.LOG_MAX
    assert numerics.log(2.0) == coefficients._LN2
