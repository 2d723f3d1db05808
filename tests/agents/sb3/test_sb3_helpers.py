"""The SB3 helpers that name algorithms and compare spaces, on known inputs."""

import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3 import DQN, PPO

from replay_gym.agents.sb3.args import algorithm_class, masks_actions
from replay_gym.agents.sb3.loading import check_spaces, guess_algorithm, space_text
from replay_gym.config import preset


def test_algorithm_class_names_the_sb3_class() -> None:
    assert algorithm_class("ppo") is PPO
    assert algorithm_class("dqn") is DQN


def test_algorithm_class_refuses_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="algo must be one of .*got 'sac'"):
        algorithm_class("sac")


def test_masks_actions_follows_the_scenario() -> None:
    assert not masks_actions(preset("smoke"))
    assert masks_actions(preset("class-incremental"))


@pytest.mark.parametrize(
    ("attributes", "algo"),
    [
        ({"target_update_interval": 4, "n_steps": 1}, "dqn"),
        ({"clip_range": 0.2, "n_steps": 64}, "ppo"),
        ({"n_steps": 5}, "a2c"),
        ({"learning_rate": 0.1}, None),
        (None, None),
        (
            {"clip_range": 0.2, "policy_class": {
                ":type:": "<class 'abc.ABCMeta'>",
                ":serialized:": "gAR...",
                "__module__": "sb3_contrib.common.maskable.policies",
            }},
            "maskable-ppo",
        ),
    ],
)
def test_guess_algorithm_reads_the_saved_attributes(attributes: dict | None, algo: str | None):
    assert guess_algorithm(attributes) == algo


def test_space_text_is_short() -> None:
    assert space_text(spaces.Box(0, 1, (14,), np.float32)) == "Box(14,)"
    assert space_text(spaces.Discrete(4)) == "Discrete(4)"


def test_check_spaces_accepts_equal_spaces_and_names_both_pairs_when_they_differ() -> None:
    box, four = spaces.Box(0, 1, (14,), np.float32), spaces.Discrete(4)
    other_bounds = spaces.Box(-5, 5, (14,), np.float32)
    check_spaces("m.zip", box, four, other_bounds, four)  # only shape and dtype count
    with pytest.raises(ValueError, match=r"m.zip was trained for Box\(14,\) / Discrete\(4\) but "
                       r"the environment has Box\(14,\) / Discrete\(5\)"):
        check_spaces("m.zip", box, four, box, spaces.Discrete(5))
    with pytest.raises(ValueError, match="float64"):  # same shape, another dtype: shown in full
        check_spaces("m.zip", box, four, spaces.Box(0, 1, (14,), np.float64), four)
