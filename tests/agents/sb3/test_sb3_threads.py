"""Torch threads: one per subprocess worker by default, --threads otherwise, restored after."""

from __future__ import annotations

import pytest
import torch
from sb3_helpers import TINY, TINY_FLAGS, tiny_args

from replay_gym.__main__ import main
from replay_gym.agents.sb3 import make_vec_env, read_sidecar, train_sb3
from replay_gym.agents.sb3.train import _make_env, worker_threads


def test_worker_threads_default_to_one_per_subprocess(tmp_path):
    assert worker_threads(tiny_args(tmp_path)) is None  # dummy: the envs run in this process
    assert worker_threads(tiny_args(tmp_path, vec_env="subproc")) == 1
    assert worker_threads(tiny_args(tmp_path, vec_env="subproc", threads=3)) == 3


def test_the_env_factory_sets_its_process_threads_first():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        env = _make_env(TINY, 1)
        assert env.get_wrapper_attr("torch_threads") == 1 == torch.get_num_threads()
        env.close()
    finally:
        torch.set_num_threads(before)


def test_training_uses_threads_and_restores_the_setting(tmp_path):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        path = train_sb3(tiny_args(tmp_path, "a2c", threads=1, total_timesteps=4))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert read_sidecar(path)["threads"] == {"main": 1, "workers": None, "per_env": [1]}


@pytest.mark.slow
def test_subprocess_workers_get_one_thread_each(tmp_path):
    args = tiny_args(tmp_path, n_envs=2, vec_env="subproc")
    venv = make_vec_env(args)
    try:
        assert venv.get_attr("torch_threads") == [1, 1]
    finally:
        venv.close()


@pytest.mark.slow
def test_cli_fast_path_sets_one_thread_per_worker_by_itself(tmp_path):
    """``train-sb3 --n-envs 2 --vec-env subproc`` with no --threads: one thread in each process."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # what this process had: the workers must not inherit it
        model = tmp_path / "fast.zip"
        main([
            "train-sb3", "--preset", "smoke", *TINY_FLAGS, "--n-envs", "2", "--vec-env",
            "subproc", "--total-timesteps", "8", "--n-steps", "4", "--batch-size", "8",
            "--out", str(model), "--verbose", "0",
        ])  # fmt: skip
        assert torch.get_num_threads() == 2  # restored
    finally:
        torch.set_num_threads(before)
    threads = read_sidecar(model)["threads"]
    assert threads == {"main": 1, "workers": 1, "per_env": [1, 1]}  # per_env: as measured
