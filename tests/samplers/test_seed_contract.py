"""The contract every seed-paper sampler keeps: shapes at every layer, classes across days,
determinism under its generators, no global RNG, saving, and clear errors."""

from __future__ import annotations

import pytest
import torch

from replay_gym.config import CVAEConfig
from replay_gym.samplers import ContinualSampler, CVAESampler, RecallSampler, make_sampler
from replay_gym.statefile import load_tree, save_tree

from .seeded import (
    SEED_KINDS,
    TINY,
    activations,
    fit_day,
    make,
    sampler_config,
    tiny_learner,
    train_learner,
)


@pytest.mark.parametrize("layer", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("kind", SEED_KINDS)
def test_shapes_at_every_layer(kind, layer, global_rng_is_untouched):
    sampler = make(kind, layer)
    assert isinstance(sampler, ContinualSampler) and not sampler.fitted
    fit_day(sampler, layer, [0, 1, 2], seed=1)
    fit_day(sampler, layer, [0, 1, 2], seed=2)  # a second day: replay, repulsion, a copy
    shape = TINY.pool_shape(layer)
    generator = torch.Generator().manual_seed(3)
    x = sampler.sample(2, 5, generator)
    assert x.shape == (5, *shape) and x.dtype == torch.float32 and torch.isfinite(x).all()
    night, labels = sampler.sample_night(4, generator)
    assert night.shape == (12, *shape) and labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    finished = sampler.finish_batch(night[:6], labels[:6])
    assert finished.shape == (6, *shape) and torch.isfinite(finished).all()
    assert sampler.sample(1, 0, generator).shape == (0, *shape)


@pytest.mark.parametrize("kind", SEED_KINDS)
def test_same_generators_same_samples(kind, global_rng_is_untouched):
    def course(fit_seed: int) -> torch.Tensor:
        learner = tiny_learner()
        sampler = make(kind, 4, learner)
        fit_day(sampler, 4, [0, 1, 2], seed=fit_seed)
        train_learner(learner, 4)
        fit_day(sampler, 4, [0, 1, 2], seed=fit_seed + 1)
        train_learner(learner, 4, seed=1)
        x = sampler.sample(1, 6, torch.Generator().manual_seed(7))
        night, labels = sampler.sample_night(3, torch.Generator().manual_seed(8))
        return torch.cat([x, sampler.finish_batch(night, labels)])

    first, again, other = course(1), course(1), course(11)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("kind", SEED_KINDS)
def test_state_round_trip_continues_identically(kind, tmp_path):
    learner = tiny_learner()
    sampler = make(kind, 4, learner)
    fit_day(sampler, 4, [0, 1], seed=1)
    train_learner(learner, 4)
    fit_day(sampler, 4, [0, 1, 2], seed=2)
    assert sampler.network_before_day() is not None
    save_tree(tmp_path / "s.safetensors", {"s": sampler.state_dict()}, "test")
    twin = make(kind, 4, learner)
    twin.load_state_dict(load_tree(tmp_path / "s.safetensors", "test")["s"])
    assert twin.classes == [0, 1, 2] and twin.known_before_day == [0, 1]
    for a in (sampler, twin):
        x = a.sample(2, 5, torch.Generator().manual_seed(4))
        targets = a.replay_targets(x, torch.tensor([0, 1, 2, 2, 0]))
        a.outputs = (x, targets.probs, targets.soft)
    for got, want in zip(twin.outputs, sampler.outputs, strict=True):
        assert torch.equal(got, want)
    # The next day continues from the same state (the VAE's weights and Adam moments).
    train_learner(learner, 4, seed=3)
    for a in (sampler, twin):
        fit_day(a, 4, [0, 1, 2], seed=5)
    generator = torch.Generator()
    assert torch.equal(
        sampler.sample(0, 4, generator.manual_seed(6)), twin.sample(0, 4, generator.manual_seed(6))
    )


def test_unfitted_state_round_trips():
    sampler = make("cvae")
    state = sampler.state_dict()
    assert state["fitted"] is False and state["continual"]["seen"] == []
    twin = make("cvae")
    twin.load_state_dict(state)
    assert not twin.fitted


@pytest.mark.parametrize("kind", SEED_KINDS)
def test_classes_accumulate_over_days_that_hold_only_some(kind):
    sampler = make(kind, 4, tiny_learner(n_classes=4))
    fit_day(sampler, 4, [0, 1], seed=1, n_classes=4)
    assert sampler.classes == [0, 1] and sampler.n_classes == 4
    with pytest.raises(ValueError, match=r"class 2 has not been seen by this sampler yet \(seen"):
        sampler.sample(2, 3, torch.Generator())
    _, labels = sampler.sample_night(2, torch.Generator())
    assert labels.tolist() == [0, 0, 1, 1]
    fit_day(sampler, 4, [2, 3], seed=2, n_classes=4)
    assert sampler.classes == [0, 1, 2, 3] and sampler.known_before_day == [0, 1]
    assert sampler.sample(0, 3, torch.Generator()).shape == (3, *TINY.pool_shape(4))
    with pytest.raises(ValueError, match="fitted with n_classes=4, now 5"):
        fit_day(sampler, 4, [0], seed=3, n_classes=5)


@pytest.mark.parametrize("replay", [True, False])
def test_cvae_replays_the_classes_a_day_lacks(replay):
    """BI-R's own replay: after a day of classes 2 and 3 only, class 0 still decodes near its
    own prototype, not near the new classes'; without replay it drifts to them."""
    layer = 5  # 8 features: a VAE of 16 units learns them in a few epochs
    sampler = make(
        "cvae", layer, tiny_learner(n_classes=4), epochs=40, lr=3e-3, gating=False, replay=replay
    )
    fit_day(sampler, layer, [0, 1], seed=1, n_classes=4)
    fit_day(sampler, layer, [2, 3], seed=2, n_classes=4)
    means = {c: activations(layer, [c], seed=9)[0].mean(0).flatten() for c in range(4)}
    drawn = sampler.sample(0, 200, torch.Generator().manual_seed(0)).mean(0).flatten()
    distance = {c: float((drawn - means[c]).norm()) for c in range(4)}
    nearest_new = min(distance[2], distance[3])
    assert (distance[0] < nearest_new) == replay, distance


def test_errors_name_what_is_missing():
    acts, labels = activations(4, [0, 1, 2])
    with pytest.raises(ValueError, match=r"CVAESampler\.fit draws random numbers: pass generator"):
        make("cvae").fit(acts, labels, 3)
    loose = make_sampler(sampler_config("recall"), 4)
    loose.fit(acts, labels, 3, torch.Generator())
    with pytest.raises(RuntimeError, match=r"RecallSampler needs the learner's network: call bind"):
        loose.sample(0, 2, torch.Generator())
    repel = make_sampler(sampler_config("cvae-repulsion"), 4)
    with pytest.raises(RuntimeError, match="CVAESampler needs the learner's network"):
        repel.fit(acts, labels, 3, torch.Generator())
    with pytest.raises(ValueError, match="made for replay at block 4, not block 3"):
        make_sampler(sampler_config("cvae"), 4).bind(tiny_learner(), 3)
    with pytest.raises(ValueError, match="generator must be a torch.Generator"):
        make("cvae").fit(acts, labels, 3, generator=3)
    fitted = make("recall")
    fit_day(fitted, 4, [0, 1, 2], seed=1)
    fit_day(fitted, 4, [0, 1, 2], seed=2)
    with pytest.raises(ValueError, match="holds a copy of the network: bind"):
        make_sampler(sampler_config("recall"), 4).load_state_dict(fitted.state_dict())
    with pytest.raises(ValueError, match="is a 'RecallSampler', not a CVAESampler"):
        make("cvae").load_state_dict(fitted.state_dict())
    with pytest.raises(ValueError, match="config must be a CVAEConfig"):
        CVAESampler(sampler_config("recall").recall, 4, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="config must be a RecallConfig"):
        RecallSampler(CVAEConfig(), 4)  # type: ignore[arg-type]


def test_a_day_of_no_classes_is_refused():
    acts, labels = activations(4, [0, 1])
    with pytest.raises(ValueError, match="class 0 has no activations"):
        make("cvae").fit(acts[:0], labels[:0], 2, torch.Generator())


def test_kinds_are_registered_with_their_settings():
    config = sampler_config("cvae-repulsion")
    sampler = make_sampler(config, 3)
    assert isinstance(sampler, CVAESampler) and sampler.config.repulsion
    assert sampler.factor == config.downsample[2] and sampler.layer == 3
    assert not make_sampler(sampler_config("cvae"), 3).config.repulsion
    recall = make_sampler(sampler_config("recall"), 2)
    assert isinstance(recall, RecallSampler) and recall.config.steps == 3


def test_frozen_copy_is_independent_and_does_not_learn():
    from replay_gym.samplers import frozen_copy

    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5)).train()
    copy = frozen_copy(net)
    assert not copy.training and all(not p.requires_grad for p in copy.parameters())
    with torch.no_grad():
        net[0].weight.add_(1.0)
    assert not torch.equal(copy[0].weight, net[0].weight) and net.training
