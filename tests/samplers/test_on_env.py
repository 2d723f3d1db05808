"""The seed samplers inside the environment: seeded, restorable, on the paper's conditions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from replay_gym.conditions import make_fixed_env
from replay_gym.config import apply_overrides, preset
from replay_gym.envs import ReplaySelectionEnv
from replay_gym.samplers import ContinualSampler

from .seeded import SEED_KINDS

TINY_COURSE = dict(days=2, steps_per_night=4, train_per_class=20, val_per_class=5,
                   test_per_class=5, cvae={"epochs": 2, "hidden": 32, "latent": 8},
                   recall={"steps": 2})  # fmt: skip
"""The smoke preset, smaller: 2 days of 4-step nights, 20 training images per class."""


def tiny_env(kind: str) -> ReplaySelectionEnv:
    return ReplaySelectionEnv(preset="smoke", sampler={"kind": kind}, **TINY_COURSE)


def same(a, b) -> None:
    obs_a, reward_a, *_, info_a = a
    obs_b, reward_b, *_, info_b = b
    assert np.array_equal(obs_a, obs_b) and reward_a == reward_b
    assert info_a.get("test_accuracy") == info_b.get("test_accuracy")


@pytest.mark.parametrize("kind", SEED_KINDS)
def test_seeded_and_restorable_mid_night(kind, tmp_path, global_rng_is_untouched, one_thread):
    a, b = tiny_env(kind), tiny_env(kind)
    a.reset(seed=3)
    b.reset(seed=3)
    assert isinstance(a.sampler, ContinualSampler) and a.sampler.learner is a.learner
    for t in range(5):  # night 1, day 2, the first step of night 2
        same(a.step(t % 4), b.step(t % 4))
    assert a.day == 2 and a.sampler.network_before_day() is not None  # the copy before day 2
    a.save_state(tmp_path / "mid.safetensors")
    c = tiny_env(kind)
    c.reset(options={"state": str(tmp_path / "mid.safetensors")})
    assert c.sampler.learner is c.learner and c.sampler.known_before_day == [0, 1, 2, 3]
    for t in range(3):
        same(a.step(t), c.step(t))
    a.reset(seed=4)
    assert not np.array_equal(a.step(0)[0], b.step(0)[0])  # another seed, another course


def test_a_state_from_before_the_sampler_generator_loads(tmp_path, one_thread):
    env = tiny_env("cvae")
    env.reset(seed=0)
    state = env.state_dict()
    del state["generators"]["sampler"]  # as written before the sampler had its own generator
    twin = tiny_env("cvae")
    twin.load_state_dict(state)
    assert twin.day == env.day


def test_gaussian_runs_keep_their_numbers_and_saved_configuration(one_thread):
    """The sampler's own generator is drawn after the others: a Gaussian course is unchanged."""
    env = ReplaySelectionEnv(preset="smoke", days=2, steps_per_night=2, train_per_class=20)
    _, info = env.reset(seed=0)
    seeds = np.random.default_rng(np.random.SeedSequence(0)).integers(0, 2**62, size=3)
    day = torch.Generator().manual_seed(int(seeds[1]))
    assert torch.equal(env.day_views.order, torch.randperm(80, generator=day))
    assert "cvae" not in json.loads(json.dumps(env.state_dict()["config"]))["sampler"]


def test_generative_nights_recall_each_batch_when_it_is_replayed(monkeypatch, one_thread):
    config = apply_overrides(preset("smoke"), kind="recall", **{
        k: v for k, v in TINY_COURSE.items() if k != "steps_per_night"})  # fmt: skip
    env = make_fixed_env("generative", config)
    env.reset(seed=0)
    sampler = env.unwrapped.sampler
    finished = []
    original = sampler.finish_batch

    def spy(samples, labels):
        out = original(samples, labels)
        finished.append((samples.clone(), out))
        return out

    monkeypatch.setattr(sampler, "finish_batch", spy)
    for _ in range(env.unwrapped.night_length):
        env.step(None)
    assert len(finished) == env.unwrapped.night_length  # one recall per replayed batch
    start, recalled = finished[0]
    assert not torch.equal(start, recalled)


@pytest.mark.parametrize("kind", SEED_KINDS)
def test_class_incremental_course_keeps_the_earlier_task_by_the_samplers_own_means(
    kind, global_rng_is_untouched, one_thread
):
    """The seed samplers remember classes themselves: in a class-incremental course the env
    uses them as they are (no per-task generators), and the night after task 2 replays task 1's
    classes, with soft targets from the network before the day."""
    course = {k: v for k, v in TINY_COURSE.items() if k != "days"}
    env = ReplaySelectionEnv(preset="smoke", sampler={"kind": kind}, scenario="class-incremental",
                             days=2, **course)  # fmt: skip
    env.reset(seed=0)
    sampler = env.sampler
    assert isinstance(sampler, ContinualSampler) and sampler.classes == [0, 1]
    with pytest.raises(ValueError, match="class 2 has not been seen"):
        sampler.sample(2, 3, torch.Generator())
    for t in range(4):
        env.step(t % 2)  # night 1 ends: day 2 trains task 2 (classes 2 and 3) only
    assert env.day == 2 and sampler.classes == [0, 1, 2, 3]
    assert sampler.known_before_day == [0, 1]
    x = sampler.sample(0, 6, torch.Generator().manual_seed(0))
    targets = sampler.replay_targets(x, torch.tensor([0, 1, 2, 3, 0, 3]))
    assert targets.soft.tolist() == [True, True, False, False, True, False]
    _, reward, terminated, _, info = env.step(0)  # an earlier task's class
    assert np.isfinite(reward) and info["action_mask"].tolist() == [True] * 4
