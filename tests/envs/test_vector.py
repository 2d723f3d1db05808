"""Vector envs of ReplaySelect-v0: each worker's torch threads set, this process's kept."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from replay_gym.config import apply_overrides, preset
from replay_gym.envs import TorchThreads, make_env, make_vector_env

TINY = apply_overrides(
    preset("smoke"), days=1, steps_per_night=2, weights="none", augment=False,
    train_per_class=8, val_per_class=4, test_per_class=4,
)  # fmt: skip
"""A one-night, two-step course of the smoke preset on few images: quick to reset."""


def test_make_env_sets_this_process_threads_first(two_threads):
    env = make_env(TINY, 1)
    try:
        assert isinstance(env, TorchThreads) and env.unwrapped.config == TINY
        assert env.torch_threads == 1 == torch.get_num_threads()
    finally:
        env.close()
    torch.set_num_threads(2)
    make_env(TINY).close()  # None: leaves them
    assert torch.get_num_threads() == 2


@pytest.mark.slow
def test_sync_vector_env_steps_in_this_process(two_threads):
    envs = make_vector_env(TINY, 2, mode="sync")
    assert envs.get_attr("torch_threads") == (2, 2)  # None: this process's setting
    envs.close()
    envs = make_vector_env(TINY, 2, mode="sync", threads=1)
    try:
        assert isinstance(envs, gym.vector.SyncVectorEnv)
        assert envs.get_attr("torch_threads") == (1, 1) and torch.get_num_threads() == 1
        obs, _ = envs.reset(seed=0)
        assert obs.shape == (2, 14) and not np.array_equal(obs[0], obs[1])  # seeds 0 and 1
    finally:
        envs.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_envs": 0}, r"n_envs must be an integer >= 1, got 0"),
        ({"n_envs": 1.5}, r"n_envs must be an integer >= 1, got 1\.5"),
        ({"mode": "threads"}, r"mode must be 'async' or 'sync', got 'threads'"),
        ({"threads": 0}, r"threads must be None or an integer >= 1, got 0"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_vector_env(TINY, **kwargs)


def test_make_env_refuses_bad_threads():
    with pytest.raises(ValueError, match=r"threads must be an integer >= 1, got 0"):
        make_env(TINY, 0)


@pytest.mark.slow
def test_async_workers_get_one_thread_each_and_this_process_keeps_its_own(two_threads):
    envs = make_vector_env(TINY, 2)
    try:
        assert isinstance(envs, gym.vector.AsyncVectorEnv)
        assert torch.get_num_threads() == 2  # AsyncVectorEnv built one env here: restored
        assert envs.get_attr("torch_threads") == (1, 1)
        obs, _ = envs.reset(seed=0)
        obs, rewards, terminated, _, _ = envs.step(np.array([0, 1]))
        assert obs.shape == (2, 14) and rewards.shape == (2,) and not terminated.any()
    finally:
        envs.close()
