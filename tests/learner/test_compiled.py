"""learner.compile and learner.adam_fused: same rewards and observations as eager, same state."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
import torch

import replay_gym  # noqa: F401 - registers ReplaySelect-v0
from replay_gym.config import apply_overrides, preset
from replay_gym.devices import compile_unavailable
from replay_gym.learner.compiled import CompiledForward
from replay_gym.learner.cortex import Learner
from replay_gym.statefile import load_tree, save_tree

WHY_NOT = compile_unavailable("cpu")
needs_compile = pytest.mark.skipif(
    WHY_NOT is not None, reason=f"torch.compile cannot run on this machine: {WHY_NOT}"
)

ATOL = 1e-6
"""Tolerance on rewards and observations against the eager environment. Both are functions of
the validation predictions, so in practice they are identical: the compiled logits differ from
the eager ones by float rounding (LOGIT_RTOL) and a prediction changes only on a tie within it."""

LOGIT_RTOL = 1e-5
"""Tolerance on the compiled logits, relative to the largest eager logit."""

ACTIONS = (0, 1, 2, 3, 1, 0, 2, 3, 1, 2)
"""Two 5-step nights on the smoke preset; the fifth step ends night 1 and trains day 2."""

SHORT = {"days": 2, "steps_per_night": 5}


def rollout(**overrides) -> tuple[np.ndarray, np.ndarray, gym.Env]:
    """Observations (reset and every step) and rewards of ACTIONS on the smoke preset, seed 0."""
    env = gym.make("ReplaySelect-v0", preset="smoke", **SHORT, **overrides)
    obs, _ = env.reset(seed=0)
    observations, rewards = [obs], []
    for action in ACTIONS:
        obs, reward, terminated, _, _ = env.step(action)
        observations.append(obs)
        rewards.append(reward)
    assert terminated
    return np.array(observations), np.array(rewards), env


@pytest.fixture(scope="module")
def eager(request):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    return rollout()


def _learner(**settings) -> Learner:
    config = apply_overrides(preset("smoke"), **settings).learner
    return Learner(config, 4, None, torch.Generator().manual_seed(0))


def _activations(n: int = 20) -> torch.Tensor:
    shape = preset("smoke").learner.pool_shape(4)
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(3))


@pytest.mark.slow
@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"compile": True}, marks=needs_compile, id="compile"),
        pytest.param({"adam_fused": True}, id="adam_fused"),
        pytest.param({"compile": True, "adam_fused": True}, marks=needs_compile, id="both"),
    ],
)
def test_rewards_and_observations_equal_the_eager_ones(eager, settings):
    observations, rewards, env = rollout(**settings)
    for name, value in settings.items():
        assert getattr(env.unwrapped.config.learner, name) is value  # gym.make's override
    np.testing.assert_allclose(observations, eager[0], rtol=0, atol=ATOL)
    np.testing.assert_allclose(rewards, eager[1], rtol=0, atol=ATOL)


@needs_compile
@pytest.mark.slow
def test_compiled_logits_equal_eager_within_rounding(one_thread):
    learner = _learner(compile=True)
    forward = learner.forward_above(4)
    assert isinstance(forward, CompiledForward) and learner.forward_above(4) is forward
    acts = _activations()
    with torch.no_grad():
        compiled = forward(acts)
        eager = learner.model.above(4).eval()(acts)
    assert compiled.shape == (20, 4)
    torch.testing.assert_close(compiled, eager, rtol=0, atol=LOGIT_RTOL * eager.abs().max())
    assert np.array_equal(learner.predict_from(acts, 4), eager.argmax(1).numpy())


@needs_compile
@pytest.mark.slow
def test_compiled_learner_state_dict_has_plain_keys_and_loads(tmp_path, one_thread):
    plain, compiled = _learner(), _learner(compile=True)
    acts = _activations()
    compiled.predict_from(acts, 4)  # compiled now
    keys = list(compiled.state_dict()["model"])
    assert keys == list(plain.state_dict()["model"])
    assert not any("_orig_mod" in key for key in keys)
    # Train the plain learner, then load its state into the compiled one: the compiled code
    # must see the loaded weights (they are copied into the same tensors).
    plain.train_above(acts, torch.arange(20) % 4, 4, torch.Generator().manual_seed(1))
    save_tree(tmp_path / "l.safetensors", {"l": plain.state_dict()}, "test")
    compiled.load_state_dict(load_tree(tmp_path / "l.safetensors", "test")["l"])
    with torch.no_grad():
        expected = plain.model.above(4).eval()(acts)
        got = compiled.forward_above(4)(acts)
    torch.testing.assert_close(got, expected, rtol=0, atol=LOGIT_RTOL * expected.abs().max())
    # A pickled learner drops its compiled forwards and compiles again when used.
    clone = pickle.loads(pickle.dumps(compiled))
    assert clone._compiled == {}
    assert np.array_equal(clone.predict_from(acts, 4), compiled.predict_from(acts, 4))


@needs_compile
@pytest.mark.slow
def test_compiled_env_saves_and_restores_its_state(tmp_path, one_thread):
    def make():
        return gym.make("ReplaySelect-v0", preset="smoke", compile=True, adam_fused=True, **SHORT)

    env = make()
    env.reset(seed=0)
    env.step(0)
    env.unwrapped.save_state(tmp_path / "s.safetensors")
    assert not any("_orig_mod" in key for key in env.unwrapped.state_dict()["learner"]["model"])
    actions = (1, 2, 3, 0)  # the last ends night 1 and trains day 2
    expected = [env.step(action)[:2] for action in actions]
    twin = make()
    twin.reset(options={"state": tmp_path / "s.safetensors"})
    for (obs, reward), action in zip(expected, actions, strict=True):
        got_obs, got_reward = twin.step(action)[:2]
        assert np.array_equal(got_obs, obs) and got_reward == reward


@needs_compile
@pytest.mark.slow
def test_compiled_forward_compiles_past_dynamos_default_limit(one_thread):
    """Nine shapes of one module: dynamo's default limit (8) would run the ninth eagerly."""
    from torch._dynamo.utils import counters

    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    forward = CompiledForward(module)
    before = counters["stats"]["unique_graphs"]
    with torch.no_grad():
        for batch in range(1, 10):
            inputs = torch.rand(batch, 3)
            torch.testing.assert_close(forward(inputs), module(inputs))
    assert counters["stats"]["unique_graphs"] - before == 9
    assert not module.training


def test_adam_fused_trains_within_rounding_of_the_loop(one_thread):
    loop, fused = _learner(), _learner(adam_fused=True)
    assert fused.optimizer.defaults["fused"] is True and not loop.optimizer.defaults["fused"]
    acts, labels = _activations(), torch.arange(20) % 4
    for step in range(3):
        for learner in (loop, fused):
            learner.train_above(acts, labels, 4, torch.Generator().manual_seed(step))
    for (name, a), (_, b) in zip(
        loop.model.state_dict().items(), fused.model.state_dict().items(), strict=True
    ):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=name)
    assert set(fused.optimizer.state_dict()["state"]) == set(loop.optimizer.state_dict()["state"])


def test_uncompiled_forward_is_the_eager_network():
    learner = _learner()
    forward = learner.forward_above(4)
    assert isinstance(forward, torch.nn.Sequential) and not forward.training
    assert learner._compiled == {}


def test_cli_flags_reach_the_learner_config(monkeypatch):
    from replay_gym import devices
    from replay_gym.__main__ import _commands

    monkeypatch.setattr(devices, "compile_unavailable", lambda device="cpu": None)
    flags = ["--preset", "smoke", "--env.learner.compile", "--env.learner.adam-fused"]
    for command in ("run", "train-sb3"):
        parse = _commands()[command][0]
        learner = parse(flags).env.learner
        assert learner.compile is True and learner.adam_fused is True
        assert parse(["--preset", "smoke"]).env.learner.compile is False


def test_compile_where_it_cannot_run_is_refused_by_every_route(monkeypatch, tmp_path, capsys):
    from replay_gym import devices
    from replay_gym.__main__ import main

    monkeypatch.setattr(devices, "compile_unavailable", lambda device="cpu": "no compiler (test)")
    message = r"learner\.compile=True but no compiler \(test\); set learner\.compile=False here"
    with pytest.raises(ValueError, match=message):
        gym.make("ReplaySelect-v0", preset="smoke", compile=True)
    with pytest.raises(ValueError, match=message):
        apply_overrides(preset("smoke"), learner={"compile": True})
    with pytest.raises(SystemExit):
        main(["run", "--preset", "smoke", "--out", str(tmp_path / "x"), "--env.learner.compile"])
    assert "no compiler (test)" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
