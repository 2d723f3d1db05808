"""Samplers save and restore their fit: a restored sampler draws exactly what the original draws."""

from __future__ import annotations

import pytest
import torch

from replay_gym.samplers import GaussianSampler, Sampler, VeridicalSampler
from replay_gym.statefile import load_tree, save_tree


def _fitted(sampler: Sampler) -> Sampler:
    gen = torch.Generator().manual_seed(0)
    acts = torch.randn(30, 2, 4, 4, generator=gen)
    labels = torch.arange(3).repeat(10)
    sampler.fit(acts, labels, 3)
    return sampler


@pytest.mark.parametrize("make", [lambda: GaussianSampler(2), VeridicalSampler])
def test_restored_sampler_draws_the_same(make, tmp_path):
    sampler = _fitted(make())
    save_tree(tmp_path / "s.safetensors", {"s": sampler.state_dict()}, "test")
    twin = make()
    twin.load_state_dict(load_tree(tmp_path / "s.safetensors", "test")["s"])
    assert twin.fitted and twin.n_classes == 3 and twin.shape == (2, 4, 4)
    for label in range(3):
        a = sampler.sample(label, 5, torch.Generator().manual_seed(label))
        b = twin.sample(label, 5, torch.Generator().manual_seed(label))
        assert torch.equal(a, b) and b.dtype == a.dtype
    night_a = sampler.sample_night(4, torch.Generator().manual_seed(9))
    night_b = twin.sample_night(4, torch.Generator().manual_seed(9))
    assert all(torch.equal(x, y) for x, y in zip(night_a, night_b, strict=True))


def test_unfitted_state_restores_unfitted():
    twin = GaussianSampler(2)
    twin.load_state_dict(GaussianSampler(2).state_dict())
    assert not twin.fitted


def test_state_of_another_kind_or_factor_is_refused():
    state = _fitted(GaussianSampler(2)).state_dict()
    with pytest.raises(ValueError, match="is a 'GaussianSampler', not a VeridicalSampler"):
        VeridicalSampler().load_state_dict(state)
    with pytest.raises(ValueError, match="down-samples by 2, this one by 1"):
        GaussianSampler(1).load_state_dict(state)


def test_a_sampler_without_state_hooks_says_so():
    class Mine(Sampler):
        def _fit(self, activations, labels, n_classes):
            pass

        def _sample(self, label, n, generator):
            return torch.zeros(n, *self.shape)

    with pytest.raises(NotImplementedError, match="Mine cannot be saved"):
        _fitted(Mine()).state_dict()
    assert Mine().state_dict() == {"sampler": "Mine", "fitted": False}
