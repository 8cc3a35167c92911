"""The estimate formulas and their one edge rule: what cannot be estimated is NaN, never 0."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mcengine.stats import estimates
from mcengine.stats.samples import ExactSample, Moments


def test_a_mean_of_one_value_has_no_standard_error():
    one = estimates.mean(Moments.of(np.array([0.3])))
    assert one.value == 0.3 and math.isnan(one.se) and math.isnan(one.ci_low)
    none = estimates.mean(Moments())
    assert math.isnan(none.value) and math.isnan(none.se)


def test_mean_standard_error_is_the_textbook_one():
    x = np.random.default_rng(3).normal(size=1000)
    m = Moments.of(x)
    assert estimates.mean_standard_error(m.m2, m.n) == pytest.approx(
        x.std(ddof=1) / math.sqrt(x.size), rel=1e-12
    )
    assert math.isnan(estimates.mean_standard_error(0.0, 1))


def test_std_of_a_constant_has_no_standard_error():
    constant = estimates.std(Moments.of(np.full(10, 2.0)))
    assert constant.value == 0.0 and math.isnan(constant.se)
    assert math.isnan(estimates.std(Moments.of(np.array([1.0]))).value)


def test_proportions_at_the_edges():
    zero = estimates.proportion(0, 100)
    assert zero.value == 0.0 and zero.se == 0.0 and zero.ci_low == 0.0 and zero.ci_high > 0
    assert math.isnan(estimates.proportion(0, 1).se)
    assert all(math.isnan(v) for v in estimates.proportion(0, 0))


def test_quantiles_and_tails_of_too_few_paths():
    empty = ExactSample(np.array([]), Moments())
    assert all(math.isnan(v) for v in estimates.quantile(empty, 0.5))
    single = estimates.quantile(ExactSample(np.array([0.1])), 0.5)
    assert single.value == 0.1 and math.isnan(single.se)
    q, var, cvar = estimates.tail(ExactSample(np.array([0.1])))
    assert var.value == -0.1 and cvar.value == -0.1 and math.isnan(cvar.se)
