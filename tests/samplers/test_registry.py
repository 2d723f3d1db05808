import pytest
import torch

from replay_gym.config import SamplerConfig
from replay_gym.samplers import (
    _REGISTRY,
    GaussianSampler,
    Sampler,
    VeridicalSampler,
    make_sampler,
    register_sampler,
)


@pytest.mark.parametrize("layer", [1, 2, 3, 4, 5])
def test_gaussian_uses_the_layer_factor(layer: int) -> None:
    config = SamplerConfig(kind="gaussian", downsample=(8, 4, 4, 2, 1))
    sampler = make_sampler(config, layer)
    assert isinstance(sampler, GaussianSampler)
    assert sampler.factor == config.downsample[layer - 1]
    assert not sampler.fitted


def test_veridical() -> None:
    assert isinstance(make_sampler(SamplerConfig(kind="veridical"), 4), VeridicalSampler)


def test_unknown_kind_lists_registered_names() -> None:
    with pytest.raises(ValueError, match=r"unknown sampler kind 'nope'.*gaussian.*veridical"):
        make_sampler(SamplerConfig(kind="nope"), 4)


@pytest.mark.parametrize("layer", [0, 6, True])
def test_bad_layer(layer: int) -> None:
    with pytest.raises(ValueError, match="layer"):
        make_sampler(SamplerConfig(), layer)


class _MeanSampler(Sampler):
    """A user plug-in: replays each class's mean activation."""

    def _fit(self, activations: torch.Tensor, labels: torch.Tensor, n_classes: int) -> None:
        self.means = [activations[labels == c].mean(0) for c in range(n_classes)]

    def _sample(self, label: int, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.means[label].expand(n, *self.shape).clone()


def test_register_custom_sampler() -> None:
    try:
        register_sampler("mean", lambda config, layer: _MeanSampler())
        sampler = make_sampler(SamplerConfig(kind="mean"), 3)
        acts = torch.arange(4, dtype=torch.float32).reshape(4, 1, 1, 1)
        sampler.fit(acts, torch.tensor([0, 0, 1, 1]), 2)
        x, y = sampler.sample_night(3, torch.Generator())
        assert x.flatten().tolist() == [0.5] * 3 + [2.5] * 3 and y.tolist() == [0] * 3 + [1] * 3
        with pytest.raises(ValueError, match="already registered"):
            register_sampler("mean", lambda config, layer: _MeanSampler())
        register_sampler("mean", lambda config, layer: _MeanSampler(), overwrite=True)
    finally:
        _REGISTRY.pop("mean", None)


def test_factory_must_return_a_sampler() -> None:
    try:
        register_sampler("broken", lambda config, layer: object())  # type: ignore[arg-type,return-value]
        with pytest.raises(TypeError, match="not a Sampler"):
            make_sampler(SamplerConfig(kind="broken"), 4)
    finally:
        _REGISTRY.pop("broken", None)


def test_register_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="name"):
        register_sampler("", lambda config, layer: VeridicalSampler())
    with pytest.raises(TypeError, match="callable"):
        register_sampler("x", 3)  # type: ignore[arg-type]
