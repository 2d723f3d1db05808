"""Heuristic selectors: weakest class, uniform random, and the privileged probing oracle."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from replay_gym.agents.heuristics import OracleSelector, RandomSelector, WeakestSelector


def _start(agent, env, seed: int = 0):
    obs, info = env.reset(seed=seed)
    agent.begin_episode(env, obs, info, np.random.default_rng(seed))
    return obs, info


def test_weakest_picks_the_lowest_accuracy(make_toy, run) -> None:
    accuracy = [0.8, 0.3, 0.9, 0.5, 0.6]
    env = make_toy(accuracy=accuracy)
    agent = WeakestSelector()
    actions = run(env, agent, seed=0, max_steps=20)
    assert set(actions) == {1}
    np.testing.assert_allclose(agent.preferences(), 1 - np.array(accuracy))


def test_weakest_reads_the_current_info(make_toy) -> None:
    agent = WeakestSelector()
    obs, info = _start(agent, make_toy())
    info = info | {"class_accuracy": np.array([0.5, 0.5, 0.1, 0.5, 0.5])}
    assert agent.select(obs, info) == 2
    info = info | {"class_accuracy": np.array([0.5, 0.5, 0.6, 0.5, 0.05])}
    assert agent.select(obs, info) == 4


def test_weakest_breaks_ties_at_random(make_toy) -> None:
    info = {"class_accuracy": np.array([0.2, 0.7, 0.2, 0.9, 0.2])}
    picks = set()
    for seed in range(30):
        agent = WeakestSelector()
        obs, _ = _start(agent, make_toy(), seed)
        picks.add(agent.select(obs, info))
    assert picks == {0, 2, 4}


def test_random_is_uniform_and_seeded(make_toy, run) -> None:
    env = make_toy(night_length=1000, n_nights=1)
    actions = run(env, RandomSelector(), seed=1)
    counts = np.bincount(actions, minlength=5)
    assert counts.min() > 150 and counts.max() < 250
    assert run(make_toy(), RandomSelector(), seed=4) == run(make_toy(), RandomSelector(), seed=4)
    np.testing.assert_allclose(RandomSelector().preferences(), np.ones(0))


def test_oracle_picks_the_argmax_of_probe(make_toy) -> None:
    probe_values = [0.1, -0.3, 0.2, 0.9, 0.4]
    env = make_toy(means=[5.0, 0.0, 0.0, 0.0, 0.0], probe_values=probe_values)
    agent = OracleSelector()
    assert agent.privileged
    obs, info = _start(agent, env)
    assert agent.preferences() is None
    for step in range(1, 4):
        a = agent.select(obs, info)
        assert a == 3  # probe's argmax, not the (hidden) best mean
        assert len(env.probe_calls) == 5 * step  # n probes per step
        obs, r, _, _, info = env.step(a)
        agent.observe(a, r, obs, info)
    np.testing.assert_array_equal(agent.preferences(), probe_values)
    assert env.night_step == 3  # probing did not advance the env


def test_oracle_breaks_ties_at_random(make_toy) -> None:
    picks = set()
    for seed in range(30):
        agent = OracleSelector()
        env = make_toy(probe_values=[1.0, 0.0, 1.0, 1.0, -1.0])
        obs, info = _start(agent, env, seed)
        picks.add(agent.select(obs, info))
    assert picks == {0, 2, 3}


def test_oracle_needs_probe() -> None:
    env = gym.make("CartPole-v1")
    obs, info = env.reset(seed=0)
    with pytest.raises(TypeError, match="probe"):
        OracleSelector().begin_episode(env, obs, info, np.random.default_rng(0))
