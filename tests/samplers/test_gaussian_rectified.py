"""The rectified Gaussian: the paper's sampler with samples clipped at zero, as real maps are."""

from __future__ import annotations

import pytest
import torch

from replay_gym.config import SamplerConfig
from replay_gym.samplers import GaussianSampler, make_sampler
from replay_gym.statefile import load_tree, save_tree


def _relu_maps(n_per_class: int = 40, n_classes: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Sparse non-negative maps like a max-pool of ReLU outputs (about half exactly zero)."""
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(n_classes).repeat(n_per_class)
    acts = (torch.randn(len(labels), 2, 4, 4, generator=gen) + 0.3 * labels[:, None, None, None])
    return acts.clamp_min(0), labels


def test_registered_kind_builds_a_rectified_gaussian_with_the_layer_factor():
    config = SamplerConfig(kind="gaussian-rectified", downsample=(4, 4, 2, 2, 1))
    sampler = make_sampler(config, 3)
    assert isinstance(sampler, GaussianSampler) and sampler.rectify and sampler.factor == 2
    assert not make_sampler(SamplerConfig(kind="gaussian"), 3).rectify


def test_samples_are_the_plain_gaussians_clipped_at_zero():
    acts, labels = _relu_maps()
    plain, rectified = GaussianSampler(2), GaussianSampler(2, rectify=True)
    plain.fit(acts, labels, 3)
    rectified.fit(acts, labels, 3)
    a = plain.sample(1, 200, torch.Generator().manual_seed(5))
    b = rectified.sample(1, 200, torch.Generator().manual_seed(5))
    assert (a < 0).any(), "the plain Gaussian puts mass below zero on such maps"
    assert torch.equal(b, a.clamp_min(0))


def test_fit_refuses_negative_activations_by_name():
    acts, labels = _relu_maps()
    acts[7, 1, 2, 3] = -0.5
    sampler = GaussianSampler(1, rectify=True)
    with pytest.raises(ValueError, match=r"non-negative activations.*reach -0\.5.*'gaussian'"):
        sampler.fit(acts, labels, 3)
    assert not sampler.fitted


def test_rectify_must_be_a_bool():
    with pytest.raises(TypeError, match="rectify must be a bool"):
        GaussianSampler(1, rectify="yes")


def test_state_round_trips_and_a_plain_gaussians_state_is_refused(tmp_path):
    acts, labels = _relu_maps()
    sampler = GaussianSampler(2, rectify=True)
    sampler.fit(acts, labels, 3)
    save_tree(tmp_path / "s.safetensors", {"s": sampler.state_dict()}, "test")
    twin = GaussianSampler(2, rectify=True)
    twin.load_state_dict(load_tree(tmp_path / "s.safetensors", "test")["s"])
    night = sampler.sample_night(6, torch.Generator().manual_seed(2))
    again = twin.sample_night(6, torch.Generator().manual_seed(2))
    assert all(torch.equal(x, y) for x, y in zip(night, again, strict=True))
    with pytest.raises(ValueError, match="rectify=True, this one False"):
        GaussianSampler(2).load_state_dict(sampler.state_dict())


def test_an_env_replays_only_non_negative_samples_and_resumes_identically(tmp_path, one_thread):
    from replay_gym.envs import ReplaySelectionEnv

    def env():
        return ReplaySelectionEnv(preset="smoke", sampler={"kind": "gaussian-rectified"},
                                  days=2, steps_per_night=3, train_per_class=20)  # fmt: skip

    a = env()
    a.reset(seed=1)
    replayed = []
    original = a.sampler.sample
    a.sampler.sample = lambda *args: replayed.append(original(*args)) or replayed[-1]
    a.step(0)
    assert replayed and all(bool((x >= 0).all()) for x in replayed)
    a.save_state(tmp_path / "mid.safetensors")
    b = env()
    b.reset(options={"state": str(tmp_path / "mid.safetensors")})
    assert b.sampler.rectify
    for action in (1, 2, 3):
        obs_a, reward_a, *_ = a.step(action)
        obs_b, reward_b, *_ = b.step(action)
        assert reward_a == reward_b and (obs_a == obs_b).all()
