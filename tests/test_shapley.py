"""Shapley effects: the estimator against closed forms, and the engine's design."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

import mcengine
from mcengine.studies.shapley import (
    MAX_INPUTS,
    closed_indices,
    conditional_scores,
    shapley_effects,
    shapley_from_closed,
)

#: A linear model Y = beta . X of correlated inputs: X1 and X2 correlated, X3 alone.
R = np.array([[1.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 1.0]])
BETA = np.array([1.0, 0.5, 0.8])


def exact_closed(r, beta):
    """c(S) = Var(E[Y | X_S]) / Var(Y) of Y = beta . X for an elliptical X with correlation
    r: E[Y | X_S] is linear in X_S, so the ratio is the Gaussian one for the t too."""
    d = len(beta)
    total = beta @ r @ beta
    out = np.zeros(1 << d)
    for mask in range(1, 1 << d):
        s = [k for k in range(d) if mask >> k & 1]
        cross = r[:, s].T @ beta
        out[mask] = cross @ np.linalg.solve(r[np.ix_(s, s)], cross) / total
    return out


def test_shapley_of_an_additive_independent_model_is_each_share():
    d = 3
    share = np.array([0.5, 0.3, 0.2])
    closed = np.array([sum(share[k] for k in range(d) if m >> k & 1) for m in range(1 << d)])
    np.testing.assert_allclose(shapley_from_closed(closed), share, rtol=1e-12)


def test_shapley_of_a_linear_gaussian_model_has_the_closed_form():
    # Owen and Prieur (2017): for two inputs, phi_1 = (c1 + 1 - c2) / 2.
    r2 = np.array([[1.0, 0.5], [0.5, 1.0]])
    c = exact_closed(r2, np.array([1.0, 2.0]))
    np.testing.assert_allclose(shapley_from_closed(c)[0], (c[1] + 1 - c[2]) / 2, rtol=1e-12)


@pytest.mark.parametrize("df", [None, 5.0], ids=["gaussian", "t"])
def test_pick_freeze_with_conditional_sampling_recovers_the_shapley_effects(df):
    rng = np.random.default_rng(7)
    n = 40_000
    chol = np.linalg.cholesky(R)
    x = rng.standard_normal((n, 3)) @ chol.T
    if df is not None:
        x /= np.sqrt(rng.chisquare(df, n) / df)[:, None]
    eps, mixing = rng.standard_normal((n, 3)), rng.random(n)
    y = x @ BETA
    y_s = np.array(
        [
            conditional_scores(R, [m >> k & 1 for k in range(3)], x, eps, df=df, mixing=mixing)
            @ BETA
            for m in range(8)
        ]
    )
    closed = closed_indices(y, y_s)
    exact = exact_closed(R, BETA)
    np.testing.assert_allclose(closed[-1], 1.0, rtol=1e-12)  # keeping all is the same path
    np.testing.assert_allclose(closed, exact, atol=0.03)
    np.testing.assert_allclose(shapley_from_closed(closed), shapley_from_closed(exact), atol=0.03)


def test_conditional_t_draws_keep_the_joint_law():
    # Drawing X2 given X1 keeps (X1, X2) bivariate t: its tail rank dependence matches.
    rng = np.random.default_rng(3)
    n, df, rho = 200_000, 4.0, 0.6
    r = np.array([[1.0, rho], [rho, 1.0]])
    x = rng.standard_normal((n, 2)) @ np.linalg.cholesky(r).T
    x /= np.sqrt(rng.chisquare(df, n) / df)[:, None]
    redrawn = conditional_scores(
        r, [True, False], x, rng.standard_normal((n, 2)), df=df, mixing=rng.random(n)
    )
    gaussian = conditional_scores(r, [True, False], x, rng.standard_normal((n, 2)))

    def both_low(column):  # P(U2 < 1% | U1 < 1%): about 2,000 paths, so an SE of ~0.011
        u = special.stdtr(df, column)
        return np.mean((u[:, 0] < 0.01) & (u[:, 1] < 0.01)) / 0.01

    assert both_low(redrawn) == pytest.approx(both_low(x), abs=4 * 0.011 * np.sqrt(2))
    assert both_low(gaussian) < both_low(x) - 0.06  # the Gaussian law loses the tail (12 SE)


def test_engine_shapley_effects_add_up_to_one_and_find_the_one_uncertain_key():
    from tests.test_sensitivity import SHOCKS_OFF

    belief = {"dist": "normal", "mean": 0.05, "sd": 0.12}
    sc = mcengine.load_scenario("base", {**SHOCKS_OFF, "open_share.drift": belief})
    table = shapley_effects(sc, 512, seed=3, bootstrap=30)
    # Under model 2 the open share moves applications too (inference's revenue -> q -> capex
    # -> capacity -> price -> tokens served), so the drift explains all three.
    segments = ["applications", "inference", "training"]
    drift = table["shapley"].sel(input="open_share.drift", segment=segments)
    se = table["shapley_standard_error"].sel(input="open_share.drift", segment=segments)
    assert (abs(drift - 1.0) <= 4 * se).all() and (se < 0.1).all(), (drift.values, se.values)
    # A shock that is off changes no copy: its marginal contributions are exactly zero.
    groups = table["shapley"].sel(input=table["input"].values[:5], segment=segments)
    np.testing.assert_array_equal(groups, 0.0)
    np.testing.assert_allclose(table["shapley"].sum("input").sel(segment=segments), 1.0, rtol=1e-12)
    # With model 2's capex responses off, applications do not move at all: their shares are
    # undefined, not 0.
    off = sc.with_overrides(
        {"inference.capex_q_response": 0.0, "inference.capex_margin_response": 0.0}
    )
    table = shapley_effects(off, 512, seed=3, bootstrap=30)
    assert table["shapley"].sel(segment="applications").isnull().all()


def test_engine_shapley_effects_with_dependent_beliefs():
    table = shapley_effects("beliefs", 256, seed=1, bootstrap=20)
    assert "Shapley effects apply" in table.attrs["method"]
    np.testing.assert_allclose(table["shapley"].sum("input"), 1.0, rtol=1e-12)
    assert (table["shapley_standard_error"] >= 0).all()
    assert (table["shapley_standard_error"].sel(input="demand.jump_rate") > 0).all()
    assert set(table["kind"].values) == {"shock group", "belief"}


def test_too_many_inputs_are_refused():
    keys = [
        "open_share.drift", "training.brand_moat", "training.opex", "applications.opex",
        "applications.markup", "inference.markup", "demand.growth_long_run",
        "training.tech_premium",
    ]  # fmt: skip
    sc = mcengine.load_scenario(
        "base", {k: {"dist": "uniform", "min": 0.1, "max": 0.2} for k in keys}
    )
    with pytest.raises(mcengine.InputError, match=f"at most {MAX_INPUTS} inputs"):
        shapley_effects(sc, 16)
