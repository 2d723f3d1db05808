"""Fixed schedules save their position; restored with the env's state, they continue exactly."""

from __future__ import annotations

import pytest
from gymnasium.utils.env_checker import data_equivalence

from replay_gym.conditions import make_fixed_env
from replay_gym.config import apply_overrides, preset

SMALL = apply_overrides(
    preset("smoke"), days=2, data={"train_per_class": 12, "n_classes": 3}, batch_size=6
)  # generative nights: 12 x 3 / 6 = 6 steps


pytestmark = pytest.mark.usefixtures("one_thread")


def steps(env, n):
    return [env.step(0) for _ in range(n)]


@pytest.mark.parametrize("condition", ["round-robin", "generative", "veridical"])
def test_restored_schedule_continues_exactly(condition):
    env = make_fixed_env(condition, SMALL)
    env.reset(seed=2)
    steps(env, 4)  # mid-night 1
    env_state, schedule_state = env.unwrapped.state_dict(), env.schedule_state()
    expected = steps(env, 8)  # to the end of the course, through day 2

    twin = make_fixed_env(condition, SMALL)
    twin.reset(options={"state": env_state})
    twin.load_schedule_state(schedule_state)
    got = steps(twin, 8)
    assert got[-1][2] and data_equivalence(got, expected)


def test_schedule_state_of_another_schedule_is_refused():
    env = make_fixed_env("round-robin", SMALL)
    env.reset(seed=0)
    other = make_fixed_env("none", SMALL)
    with pytest.raises(ValueError, match="is a 'RoundRobin', not a NoReplay"):
        other.load_schedule_state(env.schedule_state())
