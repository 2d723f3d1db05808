"""Automatic recall at the replay layer, and the copy of the network before the day."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.spatial.distance
import torch

from replay_gym.samplers import state_bytes
from replay_gym.samplers.recall import js_divergence, total_variation

from .seeded import fit_day, make, tiny_learner, train_learner


def test_js_divergence_is_scipys_jensen_shannon():
    g = torch.Generator().manual_seed(0)
    p, q = (
        torch.randn(4, 5, generator=g, dtype=torch.float64),
        torch.randn(4, 5, generator=g, dtype=torch.float64),
    )
    ours = js_divergence(p, q).numpy()
    theirs = [
        scipy.spatial.distance.jensenshannon(a, b) ** 2
        for a, b in zip(torch.softmax(p, 1).numpy(), torch.softmax(q, 1).numpy(), strict=True)
    ]
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    assert js_divergence(p, p).abs().max() < 1e-12


def test_total_variation_by_hand():
    x = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])  # one 2x2 map
    # vertical differences 2, 3; horizontal 1, 2: 2 * ((4 + 9) / 2 + (1 + 4) / 2) / 1 = 18
    assert total_variation(x).item() == 18.0
    with pytest.raises(ValueError, match=r"at least 2x2, got \(1, 1\)"):
        total_variation(torch.zeros(3, 2, 1, 1))


def _changed_day(kind: str = "recall", **recall: object):
    """A recall sampler after two days, with the network changed since the second began."""
    learner = tiny_learner()
    sampler = make(kind, 4, learner, recall=recall)
    fit_day(sampler, 4, [0, 1, 2], seed=1)
    train_learner(learner, 4, steps=5)
    fit_day(sampler, 4, [0, 1, 2], seed=2)
    train_learner(learner, 4, steps=20, seed=3)
    return sampler, learner


def test_recall_finds_activations_where_the_day_changed_the_network_most():
    sampler, learner = _changed_day(divergence_weight=1.0, notlocal_weight=0.0,
                                    notlocal_new_weight=0.0, diversity_weight=0.0,
                                    sharpen_weight=0.0, class_weight=0.0, l2_weight=0.0,
                                    tv_weight=0.0, steps=10)  # fmt: skip
    old, new = sampler.network_before_day(), sampler.network()
    start = sampler._start(64, torch.Generator().manual_seed(0))
    recalled = sampler.recall(start, torch.full((64,), 1))
    with torch.no_grad():
        before = js_divergence(old(start), new(start)).mean()
        after = js_divergence(old(recalled), new(recalled)).mean()
    assert after > 1.5 * before > 0


def test_class_targeting_makes_the_old_network_see_the_class():
    sampler, _ = _changed_day(divergence_weight=0.0, notlocal_weight=0.0,
                              notlocal_new_weight=0.0, diversity_weight=0.0, sharpen_weight=0.0,
                              class_weight=1.0, l2_weight=0.0, tv_weight=0.0, steps=10)  # fmt: skip
    old = sampler.network_before_day()
    start = sampler._start(60, torch.Generator().manual_seed(0))
    labels = torch.arange(3).repeat(20)
    recalled = sampler.finish_batch(start, labels)
    with torch.no_grad():
        hits_before = (old(start).argmax(1) == labels).float().mean()
        hits_after = (old(recalled).argmax(1) == labels).float().mean()
    assert hits_after > hits_before + 0.25


def test_night_one_and_new_classes_use_the_current_network_and_hard_labels():
    learner = tiny_learner(n_classes=4)
    sampler = make("recall", 4, learner)
    fit_day(sampler, 4, [0, 1], seed=1, n_classes=4)
    assert sampler.network_before_day() is None  # nothing learned before day 1: no copy
    x = sampler.sample(1, 5, torch.Generator().manual_seed(0))
    assert sampler.replay_targets(x, torch.full((5,), 1)) is None
    fit_day(sampler, 4, [2, 3], seed=2, n_classes=4)
    x = sampler.sample(3, 4, torch.Generator().manual_seed(0))
    assert sampler.replay_targets(x, torch.full((4,), 3)) is None  # class 3 is new today
    targets = sampler.replay_targets(x, torch.tensor([0, 3, 1, 2]))
    assert targets.soft.tolist() == [True, False, True, False]


@pytest.mark.parametrize("kind", ["recall", "cvae"])
def test_soft_targets_are_the_frozen_network_from_before_the_day(kind):
    learner = tiny_learner()
    sampler = make(kind, 4, learner)
    fit_day(sampler, 4, [0, 1, 2], seed=1)
    fit_day(sampler, 4, [0, 1, 2], seed=2)
    copy = sampler.network_before_day()
    x = sampler.sample(0, 6, torch.Generator().manual_seed(0))
    with torch.no_grad():
        kept = copy(x)
    train_learner(learner, 4, steps=10)  # the night changes the network, not the copy
    targets = sampler.replay_targets(x, torch.zeros(6, dtype=torch.int64))
    temperature = sampler.temperature
    assert temperature == (1.0 if kind == "recall" else 2.0)  # ARM's 1, BI-R's 2
    torch.testing.assert_close(targets.probs, torch.softmax(kept / temperature, dim=1))
    with torch.no_grad():
        now = torch.softmax(sampler.network().eval()(x) / temperature, dim=1)
    assert not torch.allclose(targets.probs, now)
    assert targets.soft.all() and targets.temperature == temperature
    assert all(not p.requires_grad for p in copy.parameters())


@pytest.mark.parametrize("kind", ["recall", "cvae"])
def test_soft_targets_off_gives_hard_labels_and_cvae_keeps_no_copy(kind):
    if kind == "cvae":
        sampler = make(kind, 4, soft_targets=False)
    else:
        sampler = make(kind, 4, recall={"soft_targets": False})
    fit_day(sampler, 4, [0, 1, 2], seed=1)
    fit_day(sampler, 4, [0, 1, 2], seed=2)
    x = sampler.sample(0, 3, torch.Generator())
    assert sampler.replay_targets(x, torch.zeros(3, dtype=torch.int64)) is None
    # Recall still needs the old network to diverge from; the VAE does not.
    assert (sampler.network_before_day() is not None) == (kind == "recall")


def test_recall_starts_from_the_days_batch_or_channel_noise():
    sampler = make("recall", 4)
    fit_day(sampler, 4, [0, 1, 2], seed=1)
    pool = sampler._pool
    assert pool.shape[0] == sampler.config.init_pool == 36
    start = sampler._start(10, torch.Generator().manual_seed(0))
    assert all(any(torch.equal(row, p) for p in pool) for row in start)
    noisy = make("recall", 4, recall={"init": "noise"})
    fit_day(noisy, 4, [0, 1, 2], seed=1)
    start = noisy._start(2000, torch.Generator().manual_seed(0))
    channel_means = start.transpose(0, 1).flatten(1).mean(1)
    torch.testing.assert_close(channel_means, noisy._channel_mean, atol=0.05, rtol=0.05)
    assert noisy.memory()["start"] == 2 * 8 * 4  # mean and deviation of 8 channels


def test_nonnegative_clamps_recalled_activations():
    sampler, _ = _changed_day(nonnegative=True, lr=3.0)
    assert sampler.sample(0, 20, torch.Generator().manual_seed(0)).min() >= 0
    loose, _ = _changed_day(nonnegative=False, lr=3.0)
    assert loose.sample(0, 20, torch.Generator().manual_seed(0)).min() < 0


def test_memory_as_the_paper_reports_it():
    sampler, learner = _changed_day()
    parts = sampler.memory()
    params = sum(p.numel() for p in learner.model.above(4).parameters())
    assert parts["model_copy"] == 4 * params  # 4 bytes per parameter, as ARM counts
    assert parts["start"] == sampler._pool.numel() * 4
    # The saved state holds those same tensors (and the copy's buffers, none here).
    assert state_bytes(sampler.state_dict()) == parts["model_copy"] + parts["start"]


def test_state_bytes_counts_each_storage_once():
    t = torch.zeros(10)
    assert state_bytes({"a": t, "b": [t, t[:5]], "c": None, "d": "x"}) == 40
    assert state_bytes({"a": torch.zeros(3, dtype=torch.float64)}) == 24
