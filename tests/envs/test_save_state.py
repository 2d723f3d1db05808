"""save_state / load_state: the steps after a load equal those of the original environment."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import data_equivalence

import replay_gym  # noqa: F401 - registers ReplaySelect-v0
from replay_gym import provenance
from replay_gym.envs import ReplaySelectionEnv
from replay_gym.statefile import StateFileError

SMALL = {"preset": "smoke", "days": 2, "steps_per_night": 4, "train_per_class": 20}


pytestmark = pytest.mark.usefixtures("one_thread")


def trace(env, actions):
    out = []
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        out.append((obs, reward, terminated, truncated, info))
        if terminated:
            break
    return out


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A state saved mid-night 1 (two of four steps done), and what the original did next."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        path = tmp_path_factory.mktemp("state") / "env.safetensors"
        env = gym.make("ReplaySelect-v0", **SMALL)
        env.reset(seed=3)
        trace(env, [1, 2])
        env.unwrapped.save_state(path)
        obs = env.unwrapped._observation()
        return path, obs, trace(env, [3, 0, 1, 2, 3, 0, 1, 2])  # across day 2 to the end
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("sampler", ["gaussian", "veridical"])
def test_steps_after_load_equal_the_original(sampler, tmp_path):
    env = gym.make("ReplaySelect-v0", **SMALL, sampler={"kind": sampler})
    env.reset(seed=5)
    trace(env, [0, 1, 2])  # mid-night
    env.unwrapped.save_state(tmp_path / "s")
    day_acts, day_labels = env.unwrapped.day_activations(2)
    actions = [3, 2, 1, 0, 3]  # ends night 1, trains day 2, into night 2
    expected = trace(env, actions)

    fresh = gym.make("ReplaySelect-v0", **SMALL, sampler={"kind": sampler})
    fresh.reset(options={"state": tmp_path / "s"})  # through gym.make's wrappers
    acts, labels = fresh.unwrapped.day_activations(2)  # the day's augmented views came back
    assert torch.equal(acts, day_acts) and torch.equal(labels, day_labels)
    got = trace(fresh, actions)
    assert any("day_end" in step[4] for step in got)
    assert data_equivalence(got, expected)


def test_load_into_a_running_env_and_to_the_end(saved):
    path, obs, expected = saved
    env = gym.make("ReplaySelect-v0", **SMALL)
    env.reset(seed=11)  # another course: everything must come from the file
    loaded_obs, info = env.unwrapped.load_state(path)
    np.testing.assert_array_equal(loaded_obs, obs)
    assert info["night_step"] == 2 and info["day"] == 1
    got = trace(env, [3, 0, 1, 2, 3, 0, 1, 2])
    assert got[-1][2] and data_equivalence(got, expected)


def test_env_state_after_the_end_stays_over(saved, tmp_path):
    path, _, _ = saved
    env = ReplaySelectionEnv(**SMALL)
    env.load_state(path)
    trace(env, [0] * 6)
    env.save_state(tmp_path / "end")
    twin = ReplaySelectionEnv(**SMALL)
    twin.load_state(tmp_path / "end")
    with pytest.raises(gym.error.ResetNeeded, match="course is over"):
        twin.step(0)


def test_refusals(saved, monkeypatch):
    path, _, _ = saved
    with pytest.raises(gym.error.ResetNeeded, match="saving the state"):
        ReplaySelectionEnv(**SMALL).save_state(path.with_name("never"))
    with pytest.raises(ValueError, match="a seed or options"):
        ReplaySelectionEnv(**SMALL).reset(seed=0, options={"state": path})
    other = ReplaySelectionEnv(**{**SMALL, "days": 3})
    with pytest.raises(ValueError, match="another configuration: days: saved 2, now 3"):
        other.load_state(path)
    monkeypatch.setattr(provenance, "replay_gym_version", lambda: "9.9.9")
    with pytest.raises(ValueError, match="written by replay-gym 0.1.0, this is 9.9.9"):
        ReplaySelectionEnv(**SMALL).load_state(path)


def test_a_run_checkpoint_is_not_an_env_state(tmp_path):
    from replay_gym.statefile import save_tree

    save_tree(tmp_path / "c", {"a": 1}, "run-checkpoint")
    with pytest.raises(StateFileError, match="not 'env' state"):
        ReplaySelectionEnv(**SMALL).load_state(tmp_path / "c")
