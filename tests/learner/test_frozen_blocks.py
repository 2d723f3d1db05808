"""learner.frozen_blocks: the bottom blocks never train, so the activations a generator was
fitted to stay where they were (brain-inspired replay freezes its pretrained conv layers)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from replay_gym.config import LearnerConfig, preset
from replay_gym.envs import ReplaySelectionEnv
from replay_gym.learner.cortex import Learner

CONFIG = preset("smoke").learner


def _images(n: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    size = CONFIG.input_size
    images = torch.randint(0, 256, (n, 3, size, size), generator=gen, dtype=torch.uint8)
    return images, torch.arange(n) % 3


@pytest.mark.parametrize("frozen", [0, 2, 4, 5])
def test_a_day_trains_only_the_blocks_above_the_frozen_ones(frozen):
    learner = Learner(dataclasses.replace(CONFIG, frozen_blocks=frozen), 3, None,
                      torch.Generator().manual_seed(0))  # fmt: skip
    model = learner.model
    below = {id(p) for p in model.below(frozen).parameters()} if frozen else set()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    images, labels = _images()
    learner.train_day(images, labels, torch.Generator().manual_seed(1))
    for name, p in model.named_parameters():
        changed = not torch.equal(before[name], p)
        assert changed != (id(p) in below), name
    in_optimizer = {id(p) for group in learner.optimizer.param_groups for p in group["params"]}
    assert not in_optimizer & below
    assert len(in_optimizer) == len(list(model.parameters())) - len(below)


def test_frozen_blocks_keep_the_replay_layer_activations_of_earlier_days():
    learner = Learner(dataclasses.replace(CONFIG, frozen_blocks=4), 3, None,
                      torch.Generator().manual_seed(0))  # fmt: skip
    images, labels = _images()
    before = learner.activations(images, 4)
    learner.train_day(images, labels, torch.Generator().manual_seed(1))
    assert torch.equal(learner.activations(images, 4), before)


@pytest.mark.parametrize("bad", [-1, 6, True, 1.5])
def test_frozen_blocks_outside_0_to_5_are_refused_by_name(bad):
    with pytest.raises(ValueError, match="frozen_blocks"):
        LearnerConfig(frozen_blocks=bad)


def test_an_env_with_frozen_blocks_runs_and_records_the_setting():
    env = ReplaySelectionEnv(preset="smoke", days=2, frozen_blocks=4)
    env.reset(seed=0)
    assert env.config.learner.frozen_blocks == 4
    start = {n: p.detach().clone() for n, p in env.learner.model.below(4).named_parameters()}
    while True:
        *_, terminated, _, info = env.step(0)
        if terminated:
            break
    for name, p in env.learner.model.below(4).named_parameters():
        assert torch.equal(start[name], p), name
