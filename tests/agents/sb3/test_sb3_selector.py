"""The SB3 selector: a saved policy rebuilt from its weights alone, played by the runner."""

from __future__ import annotations

import json
import shutil
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from sb3_helpers import ALGO_SETTINGS, CLASSES, TINY, SpacesEnv, tiny_env
from stable_baselines3 import PPO

from replay_gym.agents.sb3 import SB3Selector, action_preferences, read_model, sidecar_path
from replay_gym.config import apply_overrides

OBSERVATIONS = np.random.default_rng(0).uniform(0, 2, (5, 14)).astype(np.float32)


@pytest.mark.parametrize("algo", sorted(ALGO_SETTINGS))
def test_selector_plays_a_course(trained, run, algo):
    env = tiny_env()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same settings as in training: no warning
        agent = SB3Selector(trained[algo], env)
    assert agent.name == "sb3" and agent.algo == algo and agent.preferences() is None
    actions = run(env, agent, seed=3)
    assert len(actions) == 8 and all(0 <= a < 4 for a in actions)
    values = agent.preferences()
    assert values is not None and values.shape == (4,)
    if algo != "dqn":
        assert values.sum() == pytest.approx(1.0, abs=1e-5)
        assert actions[-1] == int(np.argmax(values))  # deterministic: the likeliest class
    assert run(env, SB3Selector(trained[algo], env), seed=3) == actions
    env.close()


@pytest.mark.parametrize("algo", sorted(ALGO_SETTINGS))
def test_rebuilt_policy_computes_what_sb3s_own_load_gives(trained, algo):
    # SB3's load unpickles: acceptable here, on a file this test session wrote itself.
    reference = CLASSES[algo].load(trained[algo], device="cpu").policy
    agent = SB3Selector(trained[algo])
    for obs in OBSERVATIONS:
        np.testing.assert_allclose(
            action_preferences(agent.policy, obs), action_preferences(reference, obs), rtol=1e-6
        )
        expected, _ = reference.predict(obs, deterministic=True)
        assert agent.select(obs, {}) == int(expected)
    if algo == "dqn":
        assert agent.exploration_rate == pytest.approx(read_model(trained[algo]).data[
            "exploration_rate"])


def test_building_the_policy_leaves_torchs_random_state_alone(trained):
    before = torch.get_rng_state()
    SB3Selector(trained["ppo"])
    assert torch.equal(torch.get_rng_state(), before)


def test_stochastic_selector_draws_from_the_episode_rng(trained, run):
    env = tiny_env()
    first = run(env, SB3Selector(trained["ppo"], env, deterministic=False), seed=5)
    second = run(env, SB3Selector(trained["ppo"], env, deterministic=False), seed=5)
    assert first == second
    env.close()


def test_selector_without_sidecar_guesses_the_algorithm(trained, tmp_path):
    for algo in ("ppo", "a2c", "dqn"):
        path = tmp_path / f"bare-{algo}.zip"
        shutil.copy(trained[algo], path)
        agent = SB3Selector(path)
        assert agent.algo == algo and agent.metadata is None


def test_a_model_trained_elsewhere_with_plain_settings_loads(tmp_path):
    path = tmp_path / "foreign.zip"
    arch = {"pi": [16], "vf": [8, 8]}
    model = PPO("MlpPolicy", SpacesEnv(), policy_kwargs={"net_arch": arch}, n_steps=8,
                batch_size=8, seed=1)
    model.save(path)
    agent = SB3Selector(path)
    assert agent.algo == "ppo" and agent.metadata is None
    np.testing.assert_allclose(
        action_preferences(agent.policy, OBSERVATIONS),
        action_preferences(model.policy, OBSERVATIONS), rtol=1e-6,
    )


def test_known_classes_in_policy_kwargs_are_looked_up_by_name(tmp_path):
    path = tmp_path / "relu.zip"
    model = PPO("MlpPolicy", SpacesEnv(), policy_kwargs={"activation_fn": torch.nn.ReLU},
                n_steps=8, batch_size=8)
    model.save(path)
    agent = SB3Selector(path)
    assert isinstance(agent.policy.mlp_extractor.policy_net[1], torch.nn.ReLU)
    np.testing.assert_allclose(
        action_preferences(agent.policy, OBSERVATIONS),
        action_preferences(model.policy, OBSERVATIONS), rtol=1e-6,
    )


class CustomActivation(torch.nn.Tanh):
    """A class of the user's own: restoring it would need unpickling."""


def test_a_policy_that_needs_unpickling_is_refused(tmp_path):
    path = tmp_path / "custom.zip"
    PPO("MlpPolicy", SpacesEnv(), policy_kwargs={"activation_fn": CustomActivation}, n_steps=8,
        batch_size=8).save(path)
    with pytest.raises(ValueError, match=r"policy_kwargs\['activation_fn'\] is <class '.*"
                                         r"CustomActivation'>, which only unpickling"):
        SB3Selector(path)


def test_weights_of_another_architecture_are_refused(trained, tmp_path):
    path = tmp_path / "ppo.zip"
    shutil.copy(trained["ppo"], path)
    meta = json.loads(sidecar_path(trained["ppo"]).read_text())
    sidecar_path(path).write_text(json.dumps({**meta, "algo": "dqn"}))
    with pytest.raises(ValueError, match="does not rebuild as a dqn MlpPolicy"):
        SB3Selector(path)


def test_selector_refuses_another_observation_or_action_space(trained):
    env = gym.make("ReplaySelect-v0", config=apply_overrides(TINY, n_classes=3))
    with pytest.raises(ValueError) as error:
        SB3Selector(trained["ppo"], env)
    message = str(error.value)
    assert str(trained["ppo"]) in message
    assert "trained for Box(14,) / Discrete(4) but the environment has Box(11,) / Discrete(3)" in (
        message
    )


def test_selector_warns_about_other_settings(trained):
    with pytest.warns(UserWarning, match=r"learner\.lr: 0\.0003 -> 0\.001"):
        SB3Selector(trained["dqn"], tiny_env(lr=1e-3))


def test_selector_missing_or_broken_file(trained, tmp_path):
    missing = tmp_path / "nothing.zip"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        SB3Selector(missing)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read .*broken.zip as a Stable-Baselines3 model"):
        SB3Selector(broken)
    shutil.copy(trained["ppo"], broken)
    sidecar_path(broken).write_text(json.dumps({"algo": "sac"}))
    with pytest.raises(ValueError, match="names algo 'sac'"):
        SB3Selector(broken)
    sidecar_path(broken).write_text("[1, 2]")
    with pytest.raises(ValueError, match="does not hold a JSON object"):
        SB3Selector(broken)


@pytest.mark.parametrize("algo", sorted(ALGO_SETTINGS))
@pytest.mark.parametrize("deterministic", [True, False])
def test_selector_picks_only_valid_actions(trained, algo, deterministic):
    """A class-incremental course masks unseen classes: the policy's values there are ignored."""
    agent = SB3Selector(trained[algo], deterministic=deterministic)
    agent.rng = np.random.default_rng(0)
    agent.exploration_rate = 0.5 if algo == "dqn" else agent.exploration_rate
    mask = np.array([False, True, False, True])
    chosen = set()
    for obs in OBSERVATIONS:
        for _ in range(20 if not deterministic else 1):
            action = agent.select(obs, {"action_mask": mask})
            chosen.add(action)
            values = action_preferences(agent.policy, obs)
            if deterministic:
                assert action == 1 + 2 * int(np.argmax(values[[1, 3]]))
    assert chosen <= {1, 3}
