"""The class-incremental scenario in the environment, its conditions, selectors, runner and CLI."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import data_equivalence

import replay_gym  # noqa: F401 - registers ReplaySelect-v0
from replay_gym.__main__ import main
from replay_gym.agents import SELECTORS, make_selector
from replay_gym.conditions import make_fixed_env
from replay_gym.config import apply_overrides, preset
from replay_gym.envs import ReplaySelectionEnv

pytestmark = pytest.mark.usefixtures("one_thread")

CI = {
    "preset": "smoke",
    "scenario": "class-incremental",
    "days": 2,
    "train_per_class": 20,
}
"""Two tasks of two classes, a day each; nights of ceil(20 x seen / 12) = 4, then 7 steps."""


CLI = "--preset smoke --env.scenario class-incremental --env.days 2"
CLI += " --env.data.train-per-class 20 --threads 1 --no-progress"
"""The CLI flags of :data:`CI`."""


def run_cli(condition, out, *extra):
    """``python -m replay_gym run`` of ``condition`` on :data:`CI` into ``out``."""
    return main(["run", "--condition", condition, "--out", str(out), *CLI.split(), *extra])


def config(**overrides):
    return apply_overrides(
        preset("smoke"), **{k: v for k, v in CI.items() if k != "preset"}, **overrides
    )


def valid(env):
    return np.flatnonzero(env.unwrapped.action_masks())


def play(env, actions):
    """Step through ``actions`` (callables of the env give the action); the step tuples."""
    out = []
    for action in actions:
        step = env.step(action(env) if callable(action) else action)
        out.append(step)
        if step[2]:
            break
    return out


def first_valid(env):
    return int(valid(env)[env.unwrapped.night_step % len(valid(env))])


def test_days_train_only_the_current_tasks_images_and_test_the_seen_classes():
    env = ReplaySelectionEnv(**CI)
    obs, info = env.reset(seed=0)
    _, labels = env.day_activations(env.layer)
    assert sorted(set(labels.tolist())) == [0, 1] and len(labels) == 40
    assert info["test_class_accuracy"][2:].tolist() == [0, 0]  # not tested: no images
    assert info["test_accuracy"] == pytest.approx(info["test_class_accuracy"][:2].mean())
    assert obs[2:4].tolist() == [0, 0] and info["class_accuracy"][2:].tolist() == [0, 0]
    assert env.night_length == 4
    steps = play(env, [0, 1, 0, 1])  # night 1 ends, day 2 trains task 2
    info = steps[-1][4]
    _, labels = env.day_activations(env.layer)
    assert sorted(set(labels.tolist())) == [2, 3] and len(labels) == 40
    assert env.night_length == 7 and info["night_end"]["replay_counts"].tolist()[2:] == [0, 0]
    assert info["test_accuracy"] == pytest.approx(info["test_class_accuracy"].mean())
    night = info["night_end"]
    assert night["task"] == 1 and night["task_test_accuracy"][1] is None
    assert night["task_test_accuracy"][0] == pytest.approx(night["test_accuracy"])


def test_unseen_classes_are_masked_and_refused():
    env = gym.make("ReplaySelect-v0", **CI)
    _, info = env.reset(seed=1)
    np.testing.assert_array_equal(info["action_mask"], [True, True, False, False])
    np.testing.assert_array_equal(env.unwrapped.action_masks(), info["action_mask"])
    with pytest.raises(ValueError, match=r"class 2 \(proto-002\) has not been seen yet on day 1"):
        env.step(2)
    with pytest.raises(ValueError, match="has not been seen yet"):
        env.unwrapped.probe(3)
    with pytest.raises(ValueError, match="class 3 .* has not been seen yet"):
        env.unwrapped.replay_batch(torch.zeros(2, 128, 2, 2), torch.tensor([0, 3]))
    info = play(env, [0] * 4)[-1][4]
    assert info["action_mask"].all() and env.unwrapped.action_masks().all()
    with pytest.raises(gym.error.ResetNeeded):
        ReplaySelectionEnv(**CI).action_masks()


@pytest.mark.parametrize(
    ("condition", "counts"),
    [
        ("generative", [[20, 20, 0, 0], [20, 20, 20, 20]]),  # every sample of the seen classes
        ("veridical", [[20, 20, 0, 0], [20, 20, 20, 20]]),  # every stored activation once
        ("round-robin", [[24, 24, 0, 0], [24, 12, 24, 24]]),  # turns skip unseen classes
    ],
)
def test_fixed_conditions_replay_the_seen_classes(condition, counts):
    env = make_fixed_env(condition, config())
    env.reset(seed=2)
    nights = [s[4]["night_end"] for s in play(env, [0] * 20) if "night_end" in s[4]]
    assert [n["replay_counts"].tolist() for n in nights] == counts


def test_continuous_condition_does_not_apply():
    with pytest.raises(ValueError, match="real_days=1"):
        make_fixed_env("continuous", config())


def test_state_round_trip_mid_course(tmp_path):
    """Saved in night 2 (two sampler groups, the second task's classes seen), loaded, continued."""
    env = gym.make("ReplaySelect-v0", **CI)
    env.reset(seed=3)
    play(env, [0, 1, 0, 1, 2, 3])  # night 1, then two steps into night 2
    env.unwrapped.save_state(tmp_path / "s")
    expected = play(env, [first_valid] * 10)
    fresh = gym.make("ReplaySelect-v0", **CI)
    obs, info = fresh.reset(options={"state": tmp_path / "s"})
    assert info["night_step"] == 2 and info["action_mask"].all()
    assert fresh.unwrapped.night_length == 7
    assert fresh.unwrapped.sampler.fitted_classes == (0, 1, 2, 3)
    got = play(fresh, [first_valid] * 10)
    assert got[-1][2] and data_equivalence(got, expected)
    assert got[-1][4]["night_end"]["task"] == 2


def test_state_of_another_scenario_is_refused(tmp_path):
    env = ReplaySelectionEnv(**CI)
    env.reset(seed=0)
    env.save_state(tmp_path / "s")
    paper = ReplaySelectionEnv(**{**CI, "scenario": "paper"})
    with pytest.raises(ValueError, match="scenario: saved 'class-incremental', now 'paper'"):
        paper.load_state(tmp_path / "s")


def course(selector, seed=0):
    """A whole small course driven by ``selector`` as the runner drives it; its actions by day."""
    env = gym.make("ReplaySelect-v0", **CI)
    obs, info = env.reset(seed=seed)
    selector.begin_episode(env, obs, info, np.random.default_rng(seed))
    actions: dict[int, list[int]] = {}
    terminated = False
    while not terminated:
        action = int(selector.select(obs, info))
        actions.setdefault(info["day"], []).append(action)
        obs, reward, terminated, _, info = env.step(action)
        selector.observe(action, reward, obs, info)
    return actions


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_every_selector_picks_only_seen_classes(name):
    actions = course(make_selector(name))
    assert set(actions[1]) <= {0, 1} and len(actions[1]) == 4
    assert set(actions[2]) <= {0, 1, 2, 3} and len(actions[2]) == 7


def test_regression_selector_probes_each_class_when_it_arrives():
    env = gym.make("ReplaySelect-v0", **CI)
    obs, info = env.reset(seed=4)
    agent = make_selector("regression")
    agent.begin_episode(env, obs, info, np.random.default_rng(0))
    probed = agent.initial_rewards.copy()
    assert np.isfinite(probed[:2]).all() and np.isnan(probed[2:]).all()
    for _ in range(4):  # night 1
        action = agent.select(obs, info)
        obs, reward, _, _, info = env.step(action)
        agent.observe(action, reward, obs, info)
    expected = [env.unwrapped.probe(c) for c in (2, 3)]
    agent.select(obs, info)  # the first choice of night 2 probes the new classes first
    np.testing.assert_array_equal(agent.initial_rewards[2:], expected)
    np.testing.assert_array_equal(agent.initial_rewards[:2], probed[:2])


def test_maskable_ppo_learns_on_the_masked_env():
    sb3_contrib = pytest.importorskip("sb3_contrib")
    from sb3_contrib.common.maskable.utils import get_action_masks

    env = gym.make("ReplaySelect-v0", **CI)
    model = sb3_contrib.MaskablePPO(
        "MlpPolicy", env, n_steps=8, batch_size=8, n_epochs=1, seed=0, device="cpu"
    )
    model.learn(total_timesteps=16)  # an unseen class as action would raise in the env
    np.testing.assert_array_equal(get_action_masks(model.get_env())[0], [True] * 4)
    obs, _ = env.reset(seed=5)
    for _ in range(4):
        action, _ = model.predict(obs, action_masks=env.unwrapped.action_masks())
        assert int(action) in (0, 1)
        obs, *_ = env.step(int(action))


def test_run_records_the_accuracy_matrix_and_its_measures(tmp_path):
    out = tmp_path / "ci"
    run_cli("round-robin", out, "--seeds", "2")
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["seed"], r["day"], r["task"]) for r in rows] == [
        (0, 1, 1),
        (0, 2, 2),
        (1, 1, 1),
        (1, 2, 2),
    ]
    for seed in (0, 1):
        first, last = (r for r in rows if r["seed"] == seed)
        matrix = [first["task_test_accuracy"], last["task_test_accuracy"]]
        assert last["accuracy_matrix"] == matrix and matrix[0][1] is None
        assert last["acc"] == pytest.approx(np.mean(matrix[1]))
        assert last["bwt"] == pytest.approx(matrix[1][0] - matrix[0][0])
        assert last["forgetting"] == pytest.approx(matrix[0][0] - matrix[1][0])
        assert last["first_20pct_accuracy"] == pytest.approx(last["test_class_accuracy"][0])
        assert last["first_50pct_accuracy"] == pytest.approx(
            np.mean(last["test_class_accuracy"][:2])
        )
        assert "acc" not in first
    summary = json.loads((out / "summary.json").read_text())["continual"]
    lasts = [r for r in rows if r["day"] == 2]
    assert summary["acc"] == [r["acc"] for r in lasts]
    assert summary["acc_mean"] == pytest.approx(np.mean(summary["acc"]))
    assert summary["bwt_sem"] == pytest.approx(np.std(summary["bwt"], ddof=1) / np.sqrt(2))
    assert summary["accuracy_matrix_mean"][1][0] == pytest.approx(
        np.mean([r["accuracy_matrix"][1][0] for r in lasts])
    )
    assert summary["accuracy_matrix_mean"][0][1] is None
    first_task = summary["task_test_accuracy_by_day"][0]
    assert first_task == pytest.approx(
        [np.mean([r["task_test_accuracy"][0] for r in rows if r["day"] == d]) for d in (1, 2)]
    )
    config = json.loads((out / "config.json").read_text())["env"]
    assert config["scenario"] == "class-incremental" and config["classes_per_task"] == 2


def test_an_interrupted_run_resumes_to_the_same_results(tmp_path, monkeypatch, capsys):
    """SIGTERM in night 2 (after task 2's classes arrived), resume: the same bytes as no stop."""
    import os
    import re
    import signal

    def outputs(out):
        results = re.sub(r'"wall_time": [-+0-9.e]+', "", (out / "results.jsonl").read_text())
        return results, (out / "steps.jsonl").read_text()

    run_cli("regression", tmp_path / "reference")
    original, calls = ReplaySelectionEnv._replay, {"n": 0}

    def replay(self, *args):
        calls["n"] += 1
        if calls["n"] == 4 + 3:  # night 2, third step
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, *args)

    monkeypatch.setattr(ReplaySelectionEnv, "_replay", replay)
    with pytest.raises(SystemExit) as stopped:  # the CLI turns RunInterrupted into an exit
        run_cli("regression", tmp_path / "run")
    assert stopped.value.code == 128 + signal.SIGTERM
    assert "seed 0, day 2, night step 3" in capsys.readouterr().err
    monkeypatch.undo()
    main(["run", "--resume", str(tmp_path / "run"), "--no-progress"])
    assert outputs(tmp_path / "run") == outputs(tmp_path / "reference")
