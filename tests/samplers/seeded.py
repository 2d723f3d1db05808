"""A tiny learner and class-structured activations for the seed papers' samplers."""

from __future__ import annotations

import torch

from replay_gym.config import CVAEConfig, LearnerConfig, RecallConfig, SamplerConfig
from replay_gym.learner.cortex import Learner
from replay_gym.samplers import make_sampler

TINY = LearnerConfig(widths=(4, 4, 8, 8, 8), hidden=16, weights="none", augment=False,
                     adam_eps=1e-2)  # fmt: skip
"""A VGG-16 small enough to train in milliseconds: maps 16x16 at block 1 down to 1x1 at 5."""

SEED_KINDS = ["cvae", "cvae-repulsion", "recall"]


def tiny_learner(n_classes: int = 3, seed: int = 0) -> Learner:
    """A fresh tiny learner, its head drawn from ``seed``."""
    return Learner(TINY, n_classes, None, torch.Generator().manual_seed(seed))


def sampler_config(kind: str, recall: dict | None = None, **cvae: object) -> SamplerConfig:
    """Small, fast settings of ``kind`` (the VAE a few units wide, two epochs; 3 recall steps)."""
    settings = {"hidden": 16, "latent": 4, "epochs": 2, "batch_size": 16, **cvae}
    return SamplerConfig(
        kind=kind,
        downsample=(4, 4, 2, 1, 1),
        cvae=CVAEConfig(**settings),
        recall=RecallConfig(**{"steps": 3, **(recall or {})}),
    )


def make(
    kind: str,
    layer: int = 4,
    learner: Learner | None = None,
    recall: dict | None = None,
    **cvae: object,
):
    """A ``kind`` sampler for ``layer``, bound to ``learner`` (a fresh tiny one by default)."""
    sampler = make_sampler(sampler_config(kind, recall, **cvae), layer)
    sampler.bind(learner if learner is not None else tiny_learner(), layer)
    return sampler


def activations(
    layer: int, classes: list[int], n_per_class: int = 12, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-negative activations at ``layer`` of the tiny learner, one prototype per class.

    Class ``c``'s prototype is drawn from a generator seeded by ``c`` (the same on every day and
    for every ``seed``); ``seed`` draws the noise around it.
    """
    shape = TINY.pool_shape(layer)
    noise = torch.Generator().manual_seed(1000 + seed)
    acts, labels = [], []
    for c in classes:
        prototype = 2 * torch.rand(shape, generator=torch.Generator().manual_seed(c))
        x = prototype + 0.2 * torch.randn(n_per_class, *shape, generator=noise)
        acts.append(x.clamp(min=0))
        labels.append(torch.full((n_per_class,), c, dtype=torch.int64))
    return torch.cat(acts), torch.cat(labels)


def fit_day(sampler, layer: int, classes: list[int], seed: int, n_classes: int = 3) -> None:
    """What the environment does around a day: ``before_day``, then ``fit`` to its activations."""
    sampler.before_day()
    acts, labels = activations(layer, classes, seed=seed)
    sampler.fit(acts, labels, n_classes, torch.Generator().manual_seed(seed))


def train_learner(learner: Learner, layer: int, steps: int = 5, seed: int = 0) -> None:
    """A few night steps on random activations: the network above ``layer`` changes."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.rand(8, *TINY.pool_shape(layer), generator=generator)
        y = torch.randint(3, (8,), generator=generator)
        learner.train_above(x, y, layer, generator)
