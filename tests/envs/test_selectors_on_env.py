"""Selectors on the real environment (their toy-problem tests live in tests/agents)."""

import numpy as np

from replay_gym.agents import OracleSelector, RegressionSelector
from replay_gym.envs import ReplaySelectionEnv


def test_oracle_replays_the_class_with_the_largest_probed_reward():
    env = ReplaySelectionEnv(preset="smoke", days=1)
    obs, info = env.reset(seed=0)
    oracle = OracleSelector()
    oracle.begin_episode(env, obs, info, np.random.default_rng(0))
    for _ in range(3):
        probes = np.array([env.probe(c) for c in range(env.n_classes)])
        action = oracle.select(obs, info)
        assert probes[action] == probes.max()
        _, reward, _, _, info = env.step(action)
        assert reward == probes[action]


def test_paper_selector_initial_values_are_one_probe_per_class():
    env = ReplaySelectionEnv(preset="smoke", days=1)
    obs, info = env.reset(seed=0)
    probes = [env.probe(c) for c in range(env.n_classes)]
    agent = RegressionSelector()
    agent.begin_episode(env, obs, info, np.random.default_rng(0))
    np.testing.assert_array_equal(agent.initial_rewards, probes)
    assert env.night_step == 0, "probing replays nothing"
