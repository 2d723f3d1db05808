"""The night-level oracle and the environment's ``probe_plan`` it is built on."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from replay_gym.agents import NightOracleSelector, make_selector
from replay_gym.config import apply_overrides, preset
from replay_gym.envs import ReplaySelectionEnv

pytestmark = pytest.mark.usefixtures("one_thread")

CI = dict(scenario="class-incremental", days=2, train_per_class=20)
"""Smoke, two tasks of two classes, a day each: nights of 4, then 7 steps."""


def smoke(**overrides):
    return ReplaySelectionEnv(config=apply_overrides(preset("smoke"), **overrides))


def learner_state(env):
    params = [p.detach().clone() for p in env.learner.model.parameters()]
    return params, env._night_gen.get_state().clone(), env._chi2, env.night_step


def test_probe_plan_changes_nothing_and_predicts_the_steps():
    env = smoke(days=1)
    env.reset(seed=0)
    env.step(1)
    before = learner_state(env)
    plan = [0, 3, 3, 2]
    predicted = env.probe_plan(plan)
    after = learner_state(env)
    assert all(torch.equal(p, q) for p, q in zip(before[0], after[0], strict=True))
    assert torch.equal(before[1], after[1]) and before[2:] == after[2:]
    rewards = [env.step(a)[1] for a in plan]
    assert sum(rewards) == pytest.approx(predicted, abs=1e-9)
    assert env.probe(2) == pytest.approx(env.probe_plan([2]))


def test_probe_plan_refuses_bad_plans():
    env = smoke(**CI)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="at least one class"):
        env.probe_plan([])
    with pytest.raises(ValueError, match="does not fit the 4 steps left"):
        env.probe_plan([0] * 5)
    with pytest.raises(ValueError, match="not seen|seen"):
        env.probe_plan([0, 3])
    with pytest.raises(ValueError):
        env.probe_plan([7])


def test_night_oracle_follows_the_best_plan_and_gets_its_score():
    env = smoke(**CI)
    obs, info = env.reset(seed=1)
    agent = NightOracleSelector()
    agent.begin_episode(env, obs, info, np.random.default_rng(0))
    nights = []
    while True:
        start_day, rewards = info["day"], []
        while True:
            action = agent.select(obs, info)
            obs, reward, terminated, _, info = env.step(action)
            rewards.append(reward)
            if terminated or info["day"] != start_day:
                break
        nights.append((agent.chosen_plan, dict(agent.scores), rewards))
        if terminated:
            break
    assert len(nights) == 2
    first, second = nights
    # Night 1: only task 1's classes (0, 1), all trained today: no "old" plan.
    assert set(first[1]) == {"all", "weaker-half"} and len(first[2]) == 4
    # Night 2: task 2 trained 2 and 3; "old" replays 0 and 1 only.
    assert set(second[1]) == {"all", "old", "weaker-half"} and len(second[2]) == 7
    for chosen, scores, rewards in nights:
        assert scores[chosen] == max(scores.values())
        assert sum(rewards) == pytest.approx(scores[chosen], abs=1e-9)


def test_night_oracle_plans_are_round_robins_over_their_classes():
    env = smoke(**CI)
    obs, info = env.reset(seed=2)
    info = {**info, "class_accuracy": [0.9, 0.1, 0.0, 0.0], "day": 2}
    env.day = 2  # the second task's day: classes 0-3 valid, 2 and 3 trained
    valid = np.arange(4)
    assert NightOracleSelector._plan_classes("all", valid, info, env, 2) == [0, 1, 2, 3]
    assert NightOracleSelector._plan_classes("old", valid, info, env, 2) == [0, 1]
    assert NightOracleSelector._plan_classes("weaker-half", valid, info, env, 2) == [2, 3]
    three = np.array([0, 1, 2])
    assert NightOracleSelector._plan_classes("weaker-half", three, info, env, 2) == [1, 2]


def test_night_oracle_with_one_plan_is_round_robin():
    env = smoke(days=1)
    obs, info = env.reset(seed=0)
    agent = make_selector("oracle-night", plans=["all"])
    agent.begin_episode(env, obs, info, np.random.default_rng(0))
    actions = []
    for _ in range(6):
        actions.append(agent.select(obs, info))
        obs, _, _, _, info = env.step(actions[-1])
    assert actions == [0, 1, 2, 3, 0, 1]
    np.testing.assert_allclose(agent.preferences(), [0.25] * 4)


def test_night_oracle_state_round_trip_continues_the_plan():
    env = smoke(days=1)
    obs, info = env.reset(seed=0)
    agent = NightOracleSelector()
    agent.begin_episode(env, obs, info, np.random.default_rng(0))
    for _ in range(3):
        obs, _, _, _, info = env.step(agent.select(obs, info))
    restored = NightOracleSelector()
    restored.load_state_dict(agent.state_dict(), env)
    assert restored.chosen_plan == agent.chosen_plan and restored.scores == agent.scores
    assert restored.select(obs, info) == agent.select(obs, info)


def test_night_oracle_refuses_bad_plans_and_envs_without_probe_plan():
    with pytest.raises(ValueError, match="plans must be distinct names"):
        NightOracleSelector(plans=["all", "all"])
    with pytest.raises(ValueError, match="plans must be distinct names"):
        NightOracleSelector(plans=["best"])
    with pytest.raises(ValueError, match="plans must be distinct names"):
        NightOracleSelector(plans=[])
    assert NightOracleSelector.privileged
    env = gym.make("CartPole-v1")
    obs, info = env.reset(seed=0)
    with pytest.raises(TypeError, match="probe_plan"):
        NightOracleSelector().begin_episode(env, obs, info, np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="before begin_episode"):
        NightOracleSelector().select(obs, {"day": 1, "night_step": 0})


def test_night_oracle_runs_from_the_cli_with_its_plans(tmp_path):
    from replay_gym.__main__ import main

    out = tmp_path / "run"
    main(["run", "--condition", "oracle-night", "--agent", "plans", '["all", "weaker-half"]',
          "--preset", "smoke", "--env.days", "1", "--threads", "1", "--no-progress",
          "--out", str(out)])  # fmt: skip
    config = json.loads((out / "config.json").read_text())
    assert config["agent"]["plans"] == ["all", "weaker-half"]
    assert (out / "summary.json").is_file()
