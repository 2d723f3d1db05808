"""The learner saves and restores its weights and Adam state; training then goes on identically."""

from __future__ import annotations

import pytest
import torch

from replay_gym.config import preset
from replay_gym.learner.cortex import Learner
from replay_gym.statefile import load_tree, save_tree

CONFIG = preset("smoke").learner


def _learner(seed: int) -> Learner:
    return Learner(CONFIG, 3, None, torch.Generator().manual_seed(seed))


def _batch():
    gen = torch.Generator().manual_seed(5)
    return torch.randn(6, *CONFIG.pool_shape(4), generator=gen), torch.tensor([0, 1, 2] * 2)


def test_restored_learner_trains_identically(tmp_path):
    learner = _learner(0)
    acts, labels = _batch()
    for _ in range(2):  # Adam has moments and a step count now
        learner.train_above(acts, labels, 4, torch.Generator().manual_seed(1))
    save_tree(tmp_path / "l.safetensors", {"l": learner.state_dict()}, "test")
    twin = _learner(1)  # other initial weights: everything must come from the state
    twin.load_state_dict(load_tree(tmp_path / "l.safetensors", "test")["l"])
    for model in (learner, twin):
        model.train_above(acts, labels, 4, torch.Generator().manual_seed(2))
    for (name, a), (_, b) in zip(
        learner.model.state_dict().items(), twin.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    state_a, state_b = learner.optimizer.state_dict(), twin.optimizer.state_dict()
    assert state_a["param_groups"] == state_b["param_groups"]
    for index, moments in state_a["state"].items():
        for key, value in moments.items():
            assert torch.equal(value, state_b["state"][index][key]), (index, key)


def test_weights_of_another_network_are_refused():
    state = _learner(0).state_dict()
    other = Learner(CONFIG, 5, None, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="do not fit this network"):
        other.load_state_dict(state)


def test_a_probe_undone_by_restore_above_leaves_training_as_if_it_never_ran():
    """The greedy oracle probes a class with a replay step and undoes it: nothing may remain."""
    learner, twin = _learner(0), _learner(0)
    acts, labels = _batch()
    for model in (learner, twin):  # Adam state exists before the probe
        model.train_above(acts, labels, 4, torch.Generator().manual_seed(1))
    below = {k: v.clone() for k, v in learner.model.state_dict().items()}
    snapshot = learner.snapshot_above(4)
    learner.train_above(acts * 2, labels.flip(0), 4, torch.Generator().manual_seed(9))  # the probe
    assert any(not torch.equal(below[k], v) for k, v in learner.model.state_dict().items())
    learner.restore_above(4, snapshot)
    for model in (learner, twin):
        model.train_above(acts, labels, 4, torch.Generator().manual_seed(2))
    for (name, a), (_, b) in zip(
        learner.model.state_dict().items(), twin.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
