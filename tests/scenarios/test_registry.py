"""The scenario registry and the schedules of the two built-in scenarios (no data, no learner)."""

import numpy as np
import pytest

from replay_gym.config import EnvConfig, apply_overrides, preset
from replay_gym.scenarios import _REGISTRY as REGISTRY
from replay_gym.scenarios import (
    ClassIncrementalScenario,
    PaperScenario,
    Scenario,
    make_scenario,
    register_scenario,
    scenario_names,
)


def incremental(**overrides):
    return make_scenario(
        apply_overrides(preset("default"), scenario="class-incremental", **overrides)
    )


def test_built_ins_are_registered_and_paper_is_the_default():
    assert {"paper", "class-incremental"} <= set(scenario_names())
    assert EnvConfig().scenario == "paper"
    assert isinstance(make_scenario(preset("default")), PaperScenario)
    assert isinstance(incremental(), ClassIncrementalScenario)


def test_paper_scenario_is_every_class_every_day():
    config = preset("smoke")
    scenario = make_scenario(config)
    assert scenario.tasks == ((0, 1, 2, 3),) and scenario.task_end_days() == (3,)
    for day in (1, 2, 3):
        assert scenario.train_classes(day) == scenario.seen_classes(day) == (0, 1, 2, 3)
        assert scenario.action_mask(day).all()
        assert scenario.night_length(day) == config.night_length
    assert scenario.night_summary(1, np.eye(4)) == {} and scenario.course_summary([]) == {}


def test_class_incremental_default_is_five_tasks_of_two_classes():
    scenario = incremental()
    assert scenario.tasks == ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))
    assert scenario.days_per_task == 2 and scenario.task_end_days() == (2, 4, 6, 8, 10)
    assert [scenario.task_of_day(d) for d in range(1, 11)] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert scenario.train_classes(3) == (2, 3)
    assert scenario.seen_classes(3) == (0, 1, 2, 3)
    np.testing.assert_array_equal(scenario.action_mask(5), [True] * 6 + [False] * 4)
    # a night replays every seen class's 180 samples once, in batches of 36
    assert scenario.night_lengths() == (10, 10, 20, 20, 30, 30, 40, 40, 50, 50)
    assert incremental(steps_per_night=7).night_lengths() == (7,) * 10
    assert scenario.class_order == tuple(range(10))


def test_class_incremental_settings_are_configurable():
    scenario = incremental(classes_per_task=5, days_per_task=3, days=6)
    assert scenario.tasks == ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9))
    assert scenario.task_end_days() == (3, 6)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"classes_per_task": 3}, "classes_per_task=3 must divide data.n_classes=10"),
        ({"classes_per_task": 10}, "at least 2 tasks"),
        ({"days": 7}, "days=7 must be a multiple of the 5 tasks"),
        ({"days_per_task": 3}, r"days=10 must equal 5 tasks x days_per_task=3 = 15"),
        ({"real_days": 1}, "real_days=1"),
        ({"classes_per_task": 0}, "classes_per_task must be positive"),
        ({"days_per_task": 0}, "days_per_task must be positive"),
    ],
)
def test_class_incremental_refuses_settings_that_do_not_fit(overrides, message):
    with pytest.raises(ValueError, match=message):
        incremental(**overrides)


def test_unknown_scenario_is_refused_with_the_names():
    with pytest.raises(ValueError, match=r"unknown scenario 'nope' \(scenario\); registered: "):
        EnvConfig(scenario="nope")


def test_days_out_of_range_are_refused():
    with pytest.raises(ValueError, match="day must be in 1..days=10"):
        incremental().seen_classes(11)
    with pytest.raises(ValueError, match="day must be an integer"):
        incremental().task_of_day(1.5)


class Reversed(Scenario):
    """A test scenario: one class per task, in reverse label order, one day each."""

    name = "reversed"

    def tasks_of(self):
        return tuple((c,) for c in reversed(range(self.n_classes)))

    def task_of_day(self, day):
        return self._check_day(day) - 1


@pytest.fixture
def reversed_registered():
    register_scenario("reversed", Reversed)
    yield
    del REGISTRY["reversed"]


def test_a_registered_scenario_is_selected_by_name(reversed_registered):
    scenario = make_scenario(apply_overrides(preset("smoke"), scenario="reversed", days=4))
    assert scenario.train_classes(1) == (3,) and scenario.seen_classes(2) == (2, 3)
    assert scenario.class_order == (3, 2, 1, 0)
    with pytest.raises(ValueError, match="already registered"):
        register_scenario("reversed", Reversed)
    register_scenario("reversed", Reversed, overwrite=True)


def test_registration_refusals():
    with pytest.raises(ValueError, match="non-empty string"):
        register_scenario("", PaperScenario)
    with pytest.raises(TypeError, match="must be callable"):
        register_scenario("x", None)
    register_scenario("not-a-scenario", lambda config: object())
    try:
        with pytest.raises(TypeError, match="returned object, not a Scenario"):
            EnvConfig(scenario="not-a-scenario")
    finally:
        del REGISTRY["not-a-scenario"]


def test_class_incremental_refuses_samplers_that_use_the_network_per_task():
    """ClassGroupSampler does not pass the network hooks on: a sampler that uses them and does
    not remember classes itself is refused by name, not run wrongly (the seed samplers remember
    classes and are used as they are: tests/samplers/test_on_env.py)."""
    import gymnasium as gym

    from replay_gym.samplers import _REGISTRY as SAMPLERS
    from replay_gym.samplers import GaussianSampler, register_sampler

    class Targeted(GaussianSampler):
        def replay_targets(self, samples, labels):
            return None

    register_sampler("targeted", lambda config, layer: Targeted(1))
    try:
        with pytest.raises(ValueError, match=r"sampler\.kind='targeted' works with the network "
                           r"\(replay_targets\)"):  # fmt: skip
            gym.make("ReplaySelect-v0", preset="smoke", scenario="class-incremental", days=2,
                     sampler={"kind": "targeted"})  # fmt: skip
    finally:
        del SAMPLERS["targeted"]
