"""Uncertain parameters: declared distributions, truncation, dependence, and the engine's
guarantees (bits, prefix, common random numbers) with them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

import mcengine
from mcengine.errors import InputError, ScenarioError
from mcengine.kernel.belief_tables import quantile_tables
from mcengine.model.scenario import load_scenario

N = 20_000


def scenario_with(**tables):
    """base with ``{"section.key": table}`` as beliefs (and ``dependence=...``)."""
    dependence = tables.pop("dependence", None)
    mapping = load_scenario("base").to_dict()
    for dotted, table in tables.items():
        section, key = dotted.split(".")
        mapping[section][key] = table
    if dependence is not None:
        mapping["dependence"] = dependence
    return mcengine.Scenario.from_mapping(mapping, name="beliefs_test")


MARGINALS = [
    ("open_share.drift", {"dist": "normal", "mean": 0.05, "sd": 0.12}, stats.norm(0.05, 0.12)),
    (
        "demand.jump_rate",
        {"dist": "lognormal", "p05": 0.05, "p95": 0.5},
        stats.lognorm(math.log(10) / (2 * 1.6448536269514722), scale=math.sqrt(0.025)),
    ),
    ("training.brand_moat", {"dist": "uniform", "min": 0.1, "max": 0.4}, stats.uniform(0.1, 0.3)),
    (
        "training.moat_erosion",
        {"dist": "triangular", "min": 0.0, "mode": 0.1, "max": 0.4},
        stats.triang(0.25, 0, 0.4),
    ),
    (
        "applications.opex",
        {"dist": "pert", "min": 0.3, "mode": 0.45, "max": 0.6},
        stats.beta(3, 3, loc=0.3, scale=0.3),
    ),
    (
        "applications.markup",
        {"dist": "beta", "a": 2, "b": 5, "min": 0.2, "max": 1.0},
        stats.beta(2, 5, loc=0.2, scale=0.8),
    ),
    (
        "demand.volatility",
        {"dist": "truncnormal", "mean": 0.3, "sd": 0.2, "min": 0.1, "max": 0.6},
        stats.truncnorm(-1, 1.5, loc=0.3, scale=0.2),
    ),
]


@pytest.mark.parametrize(("key", "table", "expected"), MARGINALS, ids=[m[0] for m in MARGINALS])
def test_drawn_marginals_match_the_declared_distributions(key, table, expected):
    ds = mcengine.simulate(scenario_with(**{key: table}), N, seed=5, record_inputs=True)
    drawn = ds.parameters.sel(parameter=key).values
    # Kolmogorov-Smirnov at a fixed seed: a wrong shape, scale or truncation fails by far.
    assert stats.kstest(drawn, expected.cdf).pvalue > 1e-3


CHOICE = {"dist": "choice", "values": [0.0, 0.15, 0.6], "weights": [1, 2, 1]}
TRUNCATED = {"dist": "normal", "mean": 0.05, "sd": 0.1, "truncate": True}


@pytest.mark.parametrize(
    ("key", "table"),
    [(k, t) for k, t, _ in MARGINALS]
    + [("demand.jump_rate", CHOICE), ("applications.opex", TRUNCATED)],
    ids=[m[0] for m in MARGINALS] + ["choice", "truncated normal"],
)
def test_the_kernel_draws_scipys_quantiles(key, table):
    """The kernel's quantile functions against scipy's at the stream's own extremes and
    in between: scipy's formulas (uniform, triangular, choice) to the bit, a table within
    its stated tolerance of scipy's ppf (isf above the median, as the table is built: a
    ppf at 1 - 1e-12 has lost digits to rounding)."""
    from mcengine.kernel.belief_tables import TABLE_TOLERANCE
    from mcengine.kernel.beliefs import values_at

    belief = scenario_with(**{key: table}).beliefs[0]
    u = np.concatenate(
        [[2.0**-54, 1e-12, 0.5, 1 - 1e-12, 1 - 2.0**-53], np.linspace(0, 1, 4097)[1:-1]]
    )
    u = np.concatenate([u, np.random.default_rng(0).random(20_000)])
    drawn = values_at(quantile_tables(scenario_with(**{key: table}).uncertain), u[:, None])[:, 0]
    if belief.dist in ("uniform", "triangular", "choice"):
        np.testing.assert_array_equal(drawn, belief.ppf(u))
    else:
        exact = belief.at_scores(special.ndtri(u))
        spread = np.ptp(belief.ppf(np.array([stats.norm.cdf(-1), stats.norm.cdf(1)])))
        assert np.all(np.abs(drawn - exact) <= 2 * TABLE_TOLERANCE * (np.abs(exact) + spread))
    lo, hi = belief.inside()
    assert drawn.min() >= lo and drawn.max() <= hi


def test_a_run_draws_the_stream_uniforms_through_the_same_quantiles():
    """Without dependence a path's value is the quantile at its parameter-stream uniform:
    the run's path-parallel kernel against the stream and :func:`values_at`."""
    from mcengine.kernel.beliefs import values_at
    from mcengine.rng.streams import key_from_seed, parameter_uniforms

    sc = scenario_with(**{k: t for k, t, _ in MARGINALS})
    ds = mcengine.simulate(sc, 3008, seed=11, record_inputs=True, sampler="antithetic")
    beliefs = sc.uncertain
    u = parameter_uniforms(key_from_seed(11), 0, 3008, beliefs.blocks, antithetic=True)
    expected = values_at(quantile_tables(beliefs), u[:, :-1])  # the last: a t copula's
    np.testing.assert_array_equal(ds.parameters.values, expected)


def test_a_choice_draws_its_values_with_their_weights():
    table = {"dist": "choice", "values": [0.0, 0.15, 0.6], "weights": [1, 2, 1]}
    ds = mcengine.simulate(
        scenario_with(**{"demand.jump_rate": table}), N, seed=2, record_inputs=True
    )
    drawn = ds.parameters.values[:, 0]
    shares = [np.mean(drawn == v) for v in (0.0, 0.15, 0.6)]
    se = math.sqrt(0.25 * 0.75 / N)
    np.testing.assert_allclose(shares, [0.25, 0.5, 0.25], atol=4 * 2 * se)


def test_truncation_draws_the_conditional_distribution_and_reports_the_cut():
    table = {"dist": "normal", "mean": 0.05, "sd": 0.1}
    with pytest.raises(
        ScenarioError,
        match=r"applications.opex = normal\(mean=0.05, sd=0.1\): 30.9% of it lies outside "
        r"the key's range \[0, 1\]",
    ):
        scenario_with(**{"applications.opex": table})
    sc = scenario_with(**{"applications.opex": {**table, "truncate": True}})
    belief = sc.beliefs[0]
    assert belief.cut == pytest.approx(stats.norm.cdf(-0.5), rel=1e-12)
    ds = mcengine.simulate(sc, N, seed=3, record_inputs=True)
    drawn = ds.parameters.values[:, 0]
    assert drawn.min() >= 0.0
    conditional = stats.truncnorm(-0.5, np.inf, loc=0.05, scale=0.1)
    assert stats.kstest(drawn, conditional.cdf).pvalue > 1e-3


@pytest.mark.parametrize(
    ("key", "table", "message"),
    [
        ("open_share.drift", {"dist": "gamma", "k": 1}, "dist = 'gamma', must be one of normal"),
        (
            "open_share.drift",
            {"dist": "normal", "mean": 0.1},
            r"normal takes \(mean, sd\) or \(p05, p95\), not \(mean\)",
        ),
        (
            "open_share.drift",
            {"dist": "normal", "mean": 0.1, "sd": -1},
            "normal sd = -1, must be at least 0",
        ),
        (
            "demand.jump_rate",
            {"dist": "lognormal", "p05": 0.5, "p95": 0.1},
            "p95 = 0.1, must be greater than p05",
        ),
        (
            "training.brand_moat",
            {"dist": "pert", "min": 0.1, "mode": 0.5, "max": 0.4},
            r"mode = 0.5, must be in \[min, max\]",
        ),
        (
            "simulation.horizon_years",
            {"dist": "uniform", "min": 5, "max": 10},
            "cannot be a distribution: it sets the time grid",
        ),
        (
            "training.brand_moat",
            {"dist": "choice", "values": [0.2, 2.0]},
            r"value 2 must be in \[0, 1\]",
        ),
        (
            "training.brand_moat",
            {"dist": "uniform", "min": 0.1, "max": "x"},
            "uniform max = 'x', must be a number",
        ),
    ],
)
def test_bad_distributions_get_one_line_naming_key_and_parameter(key, table, message):
    with pytest.raises(ScenarioError, match=message):
        scenario_with(**{key: table})


def test_the_cli_refuses_a_bad_belief_with_exit_2(tmp_path):
    from click.testing import CliRunner

    from mcengine.cli import cli

    path = tmp_path / "bad.toml"
    path.write_text('extends = "base"\n[open_share]\ndrift = { dist = "normal", mean = 0 }\n')
    result = CliRunner().invoke(cli, ["run", str(path), "-n", "1000"])
    assert result.exit_code == 2
    assert "open_share.drift: normal takes (mean, sd)" in result.output
    assert "Traceback" not in result.output


def test_degenerate_beliefs_give_the_point_scenarios_bits():
    point = load_scenario("base")
    degenerate = scenario_with(
        **{
            "open_share.drift": {"dist": "normal", "mean": 0.05, "sd": 0.0},
            "training.brand_moat": {"dist": "uniform", "min": 0.2, "max": 0.2},
            "demand.jump_rate": {"dist": "pert", "min": 0.15, "mode": 0.15, "max": 0.15},
        }
    )
    assert len(degenerate.beliefs) == 3
    a = mcengine.simulate(point, 3000, seed=11)
    b = mcengine.simulate(degenerate, 3000, seed=11)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_values_are_a_function_of_seed_path_and_key_alone():
    sc = load_scenario("beliefs")
    ds = mcengine.simulate(sc, 5000, seed=8, record_inputs=True)
    # any chunking and thread count, and the prefix property
    again = mcengine.simulate(sc, 1500, seed=8, record_inputs=True, chunk_paths=333, threads=1)
    for name in again.data_vars:
        np.testing.assert_array_equal(
            again[name].values, ds[name].isel(path=slice(0, 1500)).values, err_msg=name
        )
    # common random numbers: a key's draws do not depend on which other keys are uncertain
    only = scenario_with(**{"training.brand_moat": sc.beliefs[-1].to_table()})
    alone = mcengine.simulate(only, 5000, seed=8, record_inputs=True)
    np.testing.assert_array_equal(
        alone.parameters.values[:, 0], ds.parameters.sel(parameter="training.brand_moat").values
    )


def fisher_z_bound(rho: float, n: int) -> float:
    """Four standard errors of atanh(Spearman's rho) (Bonett & Wright, 2000)."""
    return 4 * math.sqrt((1 + rho**2 / 2) / (n - 3))


@pytest.mark.parametrize("copula", ["gaussian", "t"])
def test_realised_rank_correlations_match_their_targets(copula):
    dependence = {
        "copula": copula,
        "spearman": [
            ["open_share.drift", "training.brand_moat", -0.5],
            ["open_share.drift", "applications.opex", 0.3],
        ],
    }
    if copula == "t":
        dependence["df"] = 4
    else:
        dependence["spearman"].append(["open_share.drift", "decline_rate", 0.4])
    sc = scenario_with(
        **{
            "open_share.drift": {"dist": "normal", "mean": 0.05, "sd": 0.12},
            "training.brand_moat": {"dist": "pert", "min": 0.1, "mode": 0.2, "max": 0.4},
            "applications.opex": {"dist": "uniform", "min": 0.3, "max": 0.6},
        },
        dependence=dependence,
    )
    n = 40_000
    ds = mcengine.simulate(sc, n, seed=13, record_inputs=True)
    values = {k: ds.parameters.sel(parameter=k).values for k in ds.parameter.values}
    values["decline_rate"] = ds.inputs.sel(input="decline_rate").values
    for a, b, target in dependence["spearman"]:
        realised = stats.spearmanr(values[a], values[b])[0]
        # the t copula's Pearson parameter is set by the Gaussian relation: its Spearman
        # rho differs by under 0.02 at df = 4 for these targets
        slack = 0.02 if copula == "t" else 0.0
        assert abs(math.atanh(realised) - math.atanh(target)) < fisher_z_bound(target, n) + slack


def test_an_invalid_correlation_matrix_is_refused_with_the_nearest_valid_one():
    dependence = {
        "spearman": [
            ["open_share.drift", "training.brand_moat", 0.9],
            ["open_share.drift", "applications.opex", 0.9],
            ["training.brand_moat", "applications.opex", -0.9],
        ]
    }
    beliefs = {
        "open_share.drift": {"dist": "normal", "mean": 0.05, "sd": 0.12},
        "training.brand_moat": {"dist": "uniform", "min": 0.1, "max": 0.4},
        "applications.opex": {"dist": "uniform", "min": 0.3, "max": 0.6},
    }
    with pytest.raises(
        ScenarioError, match="not a valid .positive definite. matrix; the nearest valid one is"
    ):
        scenario_with(**beliefs, dependence=dependence)


def test_beliefs_round_trip_through_toml_and_overrides():
    sc = load_scenario("beliefs")
    text = sc.to_toml()
    assert 'dist = "pert"' in text and "[dependence]" in text
    import tomllib

    again = mcengine.Scenario.from_mapping(tomllib.loads(text), name="beliefs")
    assert again == sc
    # a key set to a number is a point again, and its rank correlations go with it
    fixed = sc.with_overrides({"open_share.drift": 0.1})
    assert "open_share.drift" not in [b.key for b in fixed.beliefs]
    assert all("open_share.drift" not in pair for pair in fixed.dependence.spearman)


def test_samplers_without_beliefs_in_their_design_are_refused():
    with pytest.raises(InputError, match="the Sobol sampler cannot draw them yet"):
        mcengine.simulate("beliefs", 1024, seed=1, sampler="sobol")


def test_show_prints_each_belief_with_its_quantiles():
    from click.testing import CliRunner

    from mcengine.cli import cli

    result = CliRunner().invoke(cli, ["show", "beliefs"])
    assert result.exit_code == 0
    assert (
        "#   open_share.drift ~ pert(min=-0.1, mode=0.05, max=0.3): "
        "5% -0.04889, 50% 0.06274, 95% 0.1957" in result.output
    )


def test_each_path_equals_the_point_scenario_at_its_drawn_values():
    # The per-path kernel (coefficient rows, per-lane loads) against the point kernel:
    # path i of the belief run is path i of the point scenario set to path i's values.
    sc = load_scenario("beliefs")
    ds = mcengine.simulate(sc, 200, seed=6, record_inputs=True)
    for i in (0, 63, 64, 137, 199):
        values = ds.parameters.isel(path=i).values
        point = sc.with_overrides(
            {k: float(v) for k, v in zip(ds.parameter.values, values, strict=True)}
        )
        assert not point.beliefs
        alone = mcengine.simulate(point, i + 1, seed=6).isel(path=i)
        for name in alone.data_vars:
            np.testing.assert_array_equal(
                ds[name].isel(path=i).values, alone[name].values, err_msg=f"{name}, path {i}"
            )


@pytest.mark.parametrize(
    ("dependence", "message"),
    [
        ({"copula": "t"}, r'dependence.df is needed with copula = "t"'),
        ({"copula": "clayton"}, r"dependence.copula = 'clayton', must be \"gaussian\" or \"t\""),
        (
            {"spearman": [["open_share.drift", "nosuch.key", 0.2]]},
            "'nosuch.key' is not an uncertain key",
        ),
        (
            {"copula": "t", "df": 4, "spearman": [["open_share.drift", "decline_rate", 0.2]]},
            "the t copula links uncertain keys only",
        ),
    ],
)
def test_bad_dependence_gets_one_line(dependence, message):
    belief = {"open_share.drift": {"dist": "normal", "mean": 0.05, "sd": 0.12}}
    with pytest.raises(ScenarioError, match=message):
        scenario_with(**belief, dependence=dependence)


def test_the_literal_95_percent_score_is_scipys():
    from mcengine.model import distributions

    assert float(special.ndtri(0.95)) == distributions._Z_Q95
