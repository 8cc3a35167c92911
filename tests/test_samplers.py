"""Antithetic and randomised-QMC samplers: correctness, honest errors, variance reduction."""

from __future__ import annotations

import numpy as np
import pytest

import mcengine
from mcengine.errors import InputError

N = 2**14


@pytest.fixture(scope="module")
def runs():
    return {
        s: mcengine.simulate("base", N, seed=7, sampler=s)
        for s in ("pseudo", "antithetic", "sobol")
    }


def test_antithetic_pairs_mirror_the_shocks():
    # Without lambda dispersion, log C_H = -lambda H + sigma sqrt(dt) sum(eps): a pair's
    # shocks cancel exactly.
    sc = mcengine.load_scenario("base", {"training_cost.decline_dispersion": 0.0})
    ds = mcengine.simulate(sc, 64, seed=1, sampler="antithetic", replicates=4)
    log_c = np.log(ds["training_cost"].values)
    np.testing.assert_allclose(log_c[0::2] + log_c[1::2], -2 * 1.25 * 10, rtol=1e-12)
    pseudo = mcengine.simulate(sc, 64, seed=1)
    np.testing.assert_array_equal(
        ds["training_cost"].values[0::2], pseudo["training_cost"].values[:32]
    )


def test_samplers_are_reproducible_and_antithetic_keeps_prefixes():
    for sampler in ("antithetic", "sobol"):
        a = mcengine.simulate("training_bust", 512, seed=3, sampler=sampler)
        b = mcengine.simulate("training_bust", 512, seed=3, sampler=sampler, chunk_paths=50)
        np.testing.assert_array_equal(a["total_return"], b["total_return"])
    long = mcengine.simulate("base", 1024, seed=3, sampler="antithetic")
    short = mcengine.simulate("base", 512, seed=3, sampler="antithetic")
    np.testing.assert_array_equal(short["total_return"], long["total_return"][:512])


@pytest.mark.slow
def test_estimates_agree_and_intervals_cover(runs):
    truth = mcengine.simulate("base", 1_000_000, seed=99, keep_paths=False)["estimate"]
    for sampler in ("antithetic", "sobol"):
        table = mcengine.summarize(runs[sampler])
        assert table.attrs["standard_errors"] == f"from 16 replicate groups ({sampler})"
        for stat in ("mean", "q50", "p_loss"):
            est = table["estimate"].sel(statistic=stat)
            se = table["standard_error"].sel(statistic=stat)
            # Within 4 of the replicate s.e. plus the large run's own error (tiny).
            assert (abs(est - truth.sel(statistic=stat)) < 4 * se + 2e-4).all(), (sampler, stat)
        assert (table["ci_low"] <= table["estimate"]).all()


def test_variance_is_reduced_at_equal_paths(runs):
    se = {
        s: mcengine.summarize(ds)["standard_error"].sel(statistic="mean").values
        for s, ds in runs.items()
    }
    assert np.all(se["antithetic"] < se["pseudo"])
    assert np.all(se["sobol"] < se["pseudo"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sampler": "latin"}, r"sampler = 'latin', must be one of pseudo, antithetic, sobol"),
        (
            {"sampler": "sobol", "replicates": 1},
            r"replicates = 1, must be an integer of at least 2",
        ),
        (
            {"sampler": "sobol", "n_paths": 100, "replicates": 16},
            r"n_paths = 100 with sampler = 'sobol', must be a multiple of replicates = 16",
        ),
        (
            {"sampler": "antithetic", "n_paths": 48, "replicates": 16},
            r"must be a multiple of replicates = 16 times 2",
        ),
        ({"sampler": "sobol", "keep_paths": False}, r"needs keep_paths=True"),
        ({"sampler": "antithetic", "target_se": 0.01}, r"needs keep_paths=True and no target"),
    ],
)
def test_bad_sampler_requests(kwargs, message):
    kwargs = {"n_paths": 64, **kwargs}
    with pytest.raises(InputError, match=message):
        mcengine.simulate("base", seed=1, **kwargs)


def test_sobol_warns_off_powers_of_two():
    with pytest.warns(UserWarning, match=r"n_paths / replicates = 12 is not a power of 2"):
        mcengine.simulate("base", 192, seed=1, sampler="sobol")
