"""Each selector saves and restores its state; a restored copy acts exactly as the original."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from replay_gym.agents import SELECTORS, RegressionSelector, make_selector
from replay_gym.agents.base import Selector
from replay_gym.statefile import load_tree, save_tree


def _drive(agent, env, obs, info, steps):
    """Continue the runner's loop for ``steps`` steps; the actions and preferences seen."""
    trace = []
    for _ in range(steps):
        action = agent.select(obs, info)
        obs, reward, terminated, truncated, info = env.step(action)
        agent.observe(action, float(reward), obs, info)
        prefs = agent.preferences()
        trace.append((action, None if prefs is None else prefs.tolist()))
        if terminated:
            break
    return trace


CASES = [(name, {}) for name in sorted(SELECTORS)] + [
    ("regression", {"reload_each_night": True}),
    ("ucb1", {"discount": 0.9}),
    ("epsilon-greedy", {"step_size": 0.3}),
]


@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_restored_selector_continues_exactly(name, kwargs, make_toy, tmp_path):
    env = make_toy(night_length=6, n_nights=3)
    obs, info = env.reset(seed=1)
    agent = make_selector(name, **kwargs)
    agent.begin_episode(env, obs, info, np.random.default_rng(7))
    for _ in range(8):  # into the second night, past a night boundary
        action = agent.select(obs, info)
        obs, reward, _, _, info = env.step(action)
        agent.observe(action, float(reward), obs, info)
    save_tree(tmp_path / "selector.safetensors", {"s": agent.state_dict()}, "test")
    state = load_tree(tmp_path / "selector.safetensors", "test")["s"]

    twin_env = copy.deepcopy(env)
    twin = make_selector(name, **kwargs)
    twin.load_state_dict(state, twin_env)
    assert _drive(twin, twin_env, obs, info, 12) == _drive(agent, env, obs, info, 12)


def test_state_of_another_selector_or_class_count_is_refused(make_toy):
    env = make_toy()
    obs, info = env.reset(seed=0)
    agent = make_selector("ucb1")
    agent.begin_episode(env, obs, info, np.random.default_rng(0))
    with pytest.raises(ValueError, match="is a 'UCB1Selector', not a ThompsonSelector"):
        make_selector("thompson").load_state_dict(agent.state_dict(), env)
    with pytest.raises(ValueError, match="has 5 classes, the env 3"):
        make_selector("ucb1").load_state_dict(agent.state_dict(), make_toy(means=(0, 1, 2)))


def test_base_state_is_the_generator_and_class_count(make_toy):
    class Plain(Selector):
        def select(self, obs, info):
            return int(self.rng.integers(self.n_actions))

    env = make_toy()
    obs, info = env.reset(seed=0)
    agent = Plain()
    agent.begin_episode(env, obs, info, np.random.default_rng(3))
    state = agent.state_dict()
    assert set(state) == {"selector", "n_actions", "rng"} and state["n_actions"] == 5
    twin = Plain()
    twin.load_state_dict(state, env)
    picks = [twin.select(obs, info) for _ in range(20)]
    assert picks == [agent.select(obs, info) for _ in range(20)]


def test_regression_restore_does_not_probe(make_toy):
    env = make_toy()
    obs, info = env.reset(seed=0)
    agent = RegressionSelector()
    agent.begin_episode(env, obs, info, np.random.default_rng(0))
    calls = len(env.probe_calls)
    RegressionSelector().load_state_dict(agent.state_dict(), env)
    assert len(env.probe_calls) == calls
