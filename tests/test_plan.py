"""The run plan: checked once when built, frozen, and the chunks it hands the executors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mcengine.engine.plan import RunPlan
from mcengine.errors import InputError


def test_a_plan_is_frozen_and_holds_its_arguments():
    plan = RunPlan.build("base", 1000, 3, fan_chart=True)
    assert (plan.n_paths, plan.seed, plan.limit, plan.years) == (1000, 3, 1000, 11)  # year 0 to 10
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.n_paths = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sampler": "antithetic", "replicates": 4, "target_se": 0.01}, "needs keep_paths=True"),
        ({"record_inputs": True, "keep_paths": False}, "record_inputs=True needs keep_paths"),
        ({"target_se": 0.01, "max_paths": 10}, r"max_paths = 10, must be in \[1000, "),
        ({"client": "local", "target_se": 0.01}, "client: target_se cannot run on Dask"),
        ({"chunk_paths": 0}, r"chunk_paths = 0, must be in \[1, "),
        ({"chunk_paths": 100.5}, r"chunk_paths = 100.5, must be an integer in \[1, "),
        (
            {"max_paths": 10**6},
            "max_paths applies to a target: add target_se or rel_tol, or drop it",
        ),
        ({"stop_statistic": "q50"}, "stop_statistic applies to a target"),
        ({"portfolio_weights": [1, 2]}, r"weights = \[1, 2\], must be 3 non-negative numbers"),
    ],
)
def test_contradictions_are_refused_when_the_plan_is_built(kwargs, message):
    with pytest.raises(InputError, match=message):
        RunPlan.build("base", 1000, 1, **kwargs)


def test_chunks_cover_the_run_in_order_and_never_cross_a_replicate_group():
    plan = RunPlan.build("base", 1024, 1, sampler="sobol", replicates=4, chunk_paths=100)
    ranges = list(plan.ranges())
    assert ranges[0] == (0, 100) and ranges[-1][1] == 1024
    assert all(b == c for (_, b), (c, _) in zip(ranges, ranges[1:], strict=False))
    assert all(a // 256 == (b - 1) // 256 for a, b in ranges)


def test_with_a_target_the_first_batch_is_n_paths():
    plan = RunPlan.build("base", 1000, 1, target_se=0.01, max_paths=10**6)
    first, second = list(plan.ranges())[:2]
    assert first == (0, 1000) and second[0] == 1000 and second[1] - 1000 <= plan.chunk_paths


def test_dask_task_keys_differ_when_results_would():
    # Equal keys let the scheduler hand one run another's results.
    from mcengine.engine.tasks import task_identity as _identity

    def plan_of(**settings):
        return RunPlan.build("base", 1000, 1, keep_paths=False, client="local", **settings)

    plan = plan_of()
    reweighted = plan_of(portfolio_weights=(0.5, 0.25, 0.25))
    with_fan = plan_of(fan_chart=True)
    more_threads = plan_of(threads=2)
    assert len({_identity(plan), _identity(reweighted), _identity(with_fan)}) == 3
    assert _identity(more_threads) == _identity(plan)  # threads change no bit


def test_kept_paths_are_a_sink_whose_merge_is_one_run():
    # Two partials of disjoint ranges, merged in either order, hold the paths of one run.

    from mcengine.engine.chunk import Partial, run_range

    plan = RunPlan.build("base", 300, 9, record_inputs=True)
    whole = run_range(plan, 0, 300, Partial.empty(plan, summary=False, keep=True))
    low = run_range(plan, 0, 130, Partial.empty(plan, summary=False, keep=True))
    high = run_range(plan, 130, 300, Partial.empty(plan, summary=False, keep=True))
    expected, expected_inputs, *_ = whole.paths.result()
    for merged in (low.merge(high), high.merge(low)):
        paths, inputs, *_ = merged.paths.result()
        for name, values in expected._asdict().items():
            np.testing.assert_array_equal(getattr(paths, name), values, err_msg=name)
        np.testing.assert_array_equal(inputs, expected_inputs)
    assert merged.overflow.count == 0


def test_one_declaration_of_executor_rules_serves_the_library_and_the_cli():
    from mcengine.engine.settings import RunSettings

    assert RunSettings.of(fan_chart=True, keep_paths=False).refused("dask") == []
    assert RunSettings.of(fan_chart=True).refused("dask") == ["fan_chart"]
    assert RunSettings.of(fan_chart=True, sampler="sobol", keep_paths=False).refused("zarr") == [
        "keep_paths",
        "sampler",
        "fan_chart",
    ]
    with pytest.raises(InputError, match="fan_chart with keep_paths cannot run on Dask"):
        RunPlan.build("base", 1000, 1, fan_chart=True, client="local")
    with pytest.raises(InputError, match="record_years cannot run into a Zarr store"):
        RunPlan.build("base", 1000, 1, record_years=True, executor="zarr")
    with pytest.raises(InputError, match=r"^keep_paths=False cannot run into a Zarr store"):
        RunPlan.build("base", 1000, 1, keep_paths=False, executor="zarr")
    with pytest.raises(InputError, match="executor = 'zar', must be None or one of dask, zarr"):
        RunPlan.build("base", 1000, 1, executor="zar")
    with pytest.raises(InputError, match="threads = 0, must be in"):
        RunPlan.build("base", 1000, 1, threads=0)


def test_path_counts_take_integral_floats_and_numpy_integers():

    plan = RunPlan.build("base", 1e3, 1, chunk_paths=np.float64(256), target_se=0.01, max_paths=2e4)
    assert (plan.n_paths, plan.chunk_paths, plan.max_paths) == (1000, 256, 20_000)
    assert all(type(v) is int for v in (plan.n_paths, plan.chunk_paths, plan.max_paths))
    assert RunPlan.build("base", np.int32(7), np.uint8(1)).n_paths == 7
    with pytest.raises(InputError, match=r"n_paths = 1000.5, must be an integer in \[1, "):
        RunPlan.build("base", 1000.5, 1)
    with pytest.raises(InputError, match=r"n_paths = inf, must be an integer"):
        RunPlan.build("base", float("inf"), 1)
    with pytest.raises(InputError, match=r"seed = 1.0, must be an integer"):  # not a count
        RunPlan.build("base", 10, 1.0)
    with pytest.raises(InputError, match=r"n_paths = True, must be an integer"):
        RunPlan.build("base", True, 1)


def test_portfolio_weights_may_be_an_array_and_are_kept_as_given():

    plan = RunPlan.build("base", 10, 1, portfolio_weights=np.array([1, 2, 4]), keep_paths=False)
    assert plan.settings.portfolio_weights == (1.0, 2.0, 4.0)  # the summary normalises them once


@pytest.mark.parametrize(
    "kwargs",
    [
        {"parameter_values": [[0.1]] * 10},  # without draws: dropped in silence before
        {"parameter_values": [[0.1]] * 10, "draws": [[0.0]]},
    ],
)
def test_designed_values_are_refused_on_dask_before_a_cluster_starts(kwargs):
    # A plan that exists is valid: the Dask branch checks them before it returns.
    from mcengine.engine.settings import RunSettings

    with pytest.raises(InputError, match="client: .*parameter_values cannot run on Dask"):
        RunPlan.build("beliefs", 10, 1, client="local", **kwargs)
    assert RunSettings.of(parameter_values=[[0.1]]).refused("dask") == ["parameter_values"]


def test_settings_are_declared_once_and_checked_against_their_ranges():
    from mcengine.engine.settings import RunSettings, declared

    with pytest.raises(
        TypeError, match="'keep_path' is not a run setting; did you mean keep_paths"
    ):
        RunSettings.of(keep_path=False)
    with pytest.raises(InputError, match=r"rel_tol = 1.5, must be a number in \(0, 1\]"):
        RunPlan.build("base", 1000, 1, rel_tol=1.5)
    with pytest.raises(InputError, match="keep_paths = 'no', must be True or False"):
        RunPlan.build("base", 1000, 1, keep_paths="no")
    with pytest.raises(InputError, match="sampler = 'sobl', must be one of .*did you mean sobol"):
        RunPlan.build("base", 1000, 1, sampler="sobl")
    # Every setting the CLI offers has a flag, a help line and a kind the CLI can read.
    for name, setting in declared().items():
        assert setting.help and setting.kind, name
        assert (setting.flag is None) == (setting.kind == "array"), name


def test_a_dask_plan_checks_its_chunks_and_client_when_built():
    with pytest.raises(InputError, match="must be a multiple of 65536 .* with a Dask client"):
        RunPlan.build("base", 1000, 1, keep_paths=False, chunk_paths=1000, client="local")
    with pytest.raises(InputError, match="client = 3, must be None, 'local' or a"):
        RunPlan.build("base", 1000, 1, keep_paths=False, client=3)
