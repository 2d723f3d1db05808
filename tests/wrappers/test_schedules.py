import gymnasium as gym
import numpy as np
import pytest
import torch

from replay_gym.conditions import FIXED_CONDITIONS, make_fixed_env
from replay_gym.config import apply_overrides, preset
from replay_gym.wrappers import ContinuousReplay, NoReplay, ShuffledReplay, VeridicalReplay


def smoke(**overrides):
    return apply_overrides(preset("smoke"), **overrides)


def run_course(env, seed=0):
    obs, info = env.reset(seed=seed)
    infos = [info]
    while True:
        obs, reward, terminated, truncated, info = env.step(0)
        infos.append(info)
        if terminated or truncated:
            return infos


def test_none_performs_no_replay_step():
    env = make_fixed_env("none", smoke(days=2))
    inner = env.unwrapped
    calls = []
    env.reset(seed=0)
    train_above = inner.learner.train_above
    inner.learner.train_above = lambda *a, **k: calls.append(1) or train_above(*a, **k)
    infos = []
    for _ in range(2):
        infos.append(env.step(3)[4])
    assert calls == []
    assert [i["night_end"]["steps"] for i in infos] == [0, 0]
    assert [i["night_end"]["replay_counts"].sum() for i in infos] == [0, 0]


def test_generative_replays_every_generated_sample_exactly_once_per_night():
    env = make_fixed_env("generative", smoke(days=2))
    inner = env.unwrapped
    env.reset(seed=1)
    for _night in range(2):
        expected = (env._samples.clone(), env._labels.clone())
        seen_x, seen_y = [], []
        original = inner.replay_batch

        def record(x, y, original=original, seen_x=seen_x, seen_y=seen_y):
            seen_x.append(x.clone())
            seen_y.append(y.clone())
            return original(x, y)

        inner.replay_batch = record
        for _ in range(inner.night_length):
            info = env.step(0)[4]
        inner.replay_batch = original
        assert torch.equal(torch.cat(seen_x), expected[0])
        assert torch.equal(torch.cat(seen_y), expected[1])
        counts = np.bincount(expected[1].numpy(), minlength=inner.n_classes)
        assert (counts == inner.config.samples_per_class).all()
        assert (info["night_end"]["replay_counts"] == counts).all()
        # batches mix classes
        assert any(len(torch.unique(y)) > 1 for y in seen_y)


def test_generative_refuses_a_night_that_cannot_hold_every_sample():
    env = make_fixed_env("generative", smoke(steps_per_night=3))
    with pytest.raises(ValueError, match="steps_per_night is 3"):
        env.reset(seed=0)


def test_round_robin_counts_are_equal():
    env = make_fixed_env("round-robin", smoke(days=1))
    infos = run_course(env)
    assert [i["action"] for i in infos[1:9]] == [0, 1, 2, 3, 0, 1, 2, 3]
    info = infos[-1]
    counts = info["night_end"]["replay_counts"]
    assert len(set(counts.tolist())) == 1 and counts.sum() == env.unwrapped.night_length * 12


@pytest.mark.slow
def test_continuous_sees_real_images_on_day_one_only():
    env = make_fixed_env("continuous", smoke(days=3))
    inner = env.unwrapped
    env.reset(seed=0)
    days = []
    train_day = inner.learner.train_day
    inner.learner.train_day = lambda *a, **k: days.append(inner.day) or train_day(*a, **k)
    infos = run_course(env)
    assert days == [], "no real-image day after day 1"
    day_ends = [i["day_end"] for i in infos[1:] if "day_end" in i]
    assert [d["real_images"] for d in day_ends] == [False, False]
    assert [i["night_end"]["steps"] for i in infos if "night_end" in i] == [inner.night_length] * 3


def test_veridical_replays_the_stored_activations():
    """The day's activations as the sampler is fitted to them: the augmented views by default."""
    env = make_fixed_env("veridical", smoke(days=1))
    inner = env.unwrapped
    env.reset(seed=0)
    stored, _ = inner.day_activations(inner.layer)
    rows = lambda t: torch.unique(t.flatten(1), dim=0, return_counts=True)  # noqa: E731
    (replayed, n_replayed), (kept, n_kept) = rows(env._samples), rows(stored)
    assert torch.equal(replayed, kept) and torch.equal(n_replayed, n_kept)


@pytest.mark.parametrize(
    ("wrapper", "overrides", "message"),
    [
        (VeridicalReplay, {}, "sampler.kind='veridical'"),
        (ContinuousReplay, {}, "real_days=1"),
    ],
)
def test_wrappers_check_the_env_they_need(wrapper, overrides, message):
    env = gym.make("ReplaySelect-v0", config=smoke(**overrides))
    with pytest.raises(ValueError, match=message):
        wrapper(env)


def test_wrappers_refuse_other_envs():
    with pytest.raises(TypeError, match="wraps a ReplaySelectionEnv"):
        NoReplay(gym.make("CartPole-v1"))
    with pytest.raises(TypeError):
        ShuffledReplay(gym.make("CartPole-v1"))


def test_unknown_fixed_condition_lists_names():
    with pytest.raises(ValueError, match="choose one of"):
        make_fixed_env("sometimes", smoke())
    assert set(FIXED_CONDITIONS) == {"none", "generative", "round-robin", "veridical", "continuous"}
