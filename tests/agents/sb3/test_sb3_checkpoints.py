"""train-sb3's checkpoints: written atomically between updates, resumed from the latest."""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from sb3_helpers import TINY, TINY_FLAGS, tiny_args
from stable_baselines3 import DQN

import replay_gym.agents.sb3.checkpoints as checkpoints
from replay_gym.agents.sb3 import (
    ReplayLogCallback,
    list_checkpoints,
    read_model,
    read_sidecar,
    resume_point,
    train_sb3,
)
from replay_gym.agents.sb3.checkpoints import (
    BUFFER_FILE,
    MODEL_FILE,
    restore_training_state,
    rng_state,
)
from replay_gym.config import apply_overrides


def interrupt_at(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    """Make training stop with Ctrl-C once the model has taken ``step`` steps."""

    def interrupt(self):
        if self.num_timesteps >= step:
            raise KeyboardInterrupt
        return True

    monkeypatch.setattr(ReplayLogCallback, "_on_step", interrupt)


def steps(folder) -> list[int]:
    return [step for step, _ in list_checkpoints(folder)]


@pytest.fixture(scope="module")
def dqn_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16-step DQN run with checkpoints every 8 steps (at 8 and 16), made once."""
    folder = tmp_path_factory.mktemp("dqn-run")
    train_sb3(tiny_args(folder, "dqn", checkpoint_every=8))
    return folder


@pytest.fixture
def dqn_copy(dqn_run: Path, tmp_path: Path) -> Path:
    """A copy of :func:`dqn_run` in this test's folder (dqn.zip, its sidecar, dqn.ckpt/)."""
    shutil.copytree(dqn_run, tmp_path, dirs_exist_ok=True)
    return tmp_path


def test_ppo_checkpoints_after_its_updates(tmp_path):
    # 8-step rollouts: a checkpoint is due after 6 steps and taken after the update at 8.
    train_sb3(tiny_args(tmp_path, checkpoint_every=6, keep_checkpoints=5))
    assert steps(tmp_path / "ppo.ckpt") == [8, 16]  # 16: the end of training


def test_dqn_checkpoints_hold_model_rng_and_buffer(dqn_run):
    # Rollouts of train_freq=1 step: every 8 steps, then the end (the same step here).
    folder = dqn_run / "dqn.ckpt"
    assert steps(folder) == [8, 16]
    latest = folder / "step-000000016"
    assert sorted(p.name for p in latest.iterdir()) == sorted(
        [MODEL_FILE, MODEL_FILE + ".json", BUFFER_FILE]
    )
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary folders
    meta = read_sidecar(latest / MODEL_FILE)
    assert meta["num_timesteps"] == 16 and meta["complete"] and meta["target_timesteps"] == 16
    assert set(meta["rng"]) >= {"python", "numpy", "torch", "action_space"}
    with np.load(latest / BUFFER_FILE, allow_pickle=False) as buffer:
        assert int(buffer["pos"]) == 16 and buffer["observations"].shape == (64, 1, 14)


def test_a_killed_run_resumes_from_its_latest_checkpoint_and_finishes(tmp_path, monkeypatch):
    args = tiny_args(tmp_path, "dqn", checkpoint_every=5)
    interrupt_at(monkeypatch, 13)
    with pytest.raises(KeyboardInterrupt):
        train_sb3(args)
    folder = tmp_path / "dqn.ckpt"
    assert steps(folder) == [5, 10]
    monkeypatch.undo()
    # Same command plus --resume: the run goes on to its target of 16 steps.
    path = train_sb3(dataclasses.replace(args, total_timesteps=None, resume=folder))
    meta = read_sidecar(path)
    assert meta["num_timesteps"] == meta["target_timesteps"] == 16 and meta["complete"]
    assert meta["total_timesteps"] == 6 and meta["resumed_from"] == str(folder)
    assert steps(folder) == [15, 16]
    with pytest.raises(ValueError, match="reached its target of 16 steps; pass --total-timesteps"):
        train_sb3(dataclasses.replace(args, total_timesteps=None, resume=folder))


def test_resume_restores_the_replay_buffer_and_the_random_state(dqn_run):
    point = resume_point(dqn_run / "dqn.ckpt")
    assert point.step == 16 and point.checkpoint is not None
    saved = read_model(point.model)
    model = DQN("MlpPolicy", saved_env(), buffer_size=64, seed=99)
    restored = restore_training_state(model, point, saved.sidecar["rng"])
    assert restored == ["rng", "replay buffer (16 transitions)"]
    with np.load(point.checkpoint / BUFFER_FILE, allow_pickle=False) as buffer:
        assert np.array_equal(model.replay_buffer.observations, buffer["observations"])
        assert np.array_equal(model.replay_buffer.rewards, buffer["rewards"])
    assert model.replay_buffer.pos == 16 and not model.replay_buffer.full
    assert torch.equal(torch.get_rng_state(), torch.tensor(saved.sidecar["rng"]["torch"],
                                                           dtype=torch.uint8))


def saved_env():
    from sb3_helpers import SpacesEnv

    return SpacesEnv()


def test_rng_state_round_trips_through_json(tmp_path):
    model = DQN("MlpPolicy", saved_env(), buffer_size=8, seed=3)
    state = json.loads(json.dumps(rng_state(model)))
    first = (random.random(), np.random.random(), torch.rand(2), model.action_space.sample())  # noqa: NPY002
    checkpoints._restore_rng(model, state, tmp_path)
    again = (random.random(), np.random.random(), torch.rand(2), model.action_space.sample())  # noqa: NPY002
    assert first[0] == again[0] and first[1] == again[1] and first[3] == again[3]
    assert torch.equal(first[2], again[2])


def test_a_failed_write_leaves_the_previous_checkpoints_and_no_litter(dqn_copy, monkeypatch):
    tmp_path = dqn_copy
    folder = tmp_path / "dqn.ckpt"
    before = steps(folder)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints, "_save_buffer", full_disk)
    args = tiny_args(tmp_path, "dqn", checkpoint_every=8, resume=folder, total_timesteps=8)
    with pytest.raises(OSError, match="No space left"):
        train_sb3(args)
    assert steps(folder) == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_incomplete_checkpoints_are_ignored(dqn_copy):
    tmp_path = dqn_copy
    folder = tmp_path / "dqn.ckpt"
    (folder / "step-000000099").mkdir()  # no model inside: not a checkpoint
    (folder / ".step-000000098.abc").mkdir()  # an interrupted write
    assert steps(folder) == [8, 16]
    assert resume_point(folder).step == 16
    with pytest.raises(ValueError, match="holds no checkpoint"):
        resume_point(tmp_path)
    train_sb3(tiny_args(tmp_path, "dqn", checkpoint_every=8, resume=folder, total_timesteps=1))
    assert not (folder / ".step-000000098.abc").exists()  # the next run tidies up


def test_another_runs_checkpoints_are_kept_unless_overwrite(dqn_copy):
    tmp_path = dqn_copy
    args = tiny_args(tmp_path, "dqn", name="other.zip", checkpoint_every=8,
                     checkpoint_dir=tmp_path / "dqn.ckpt")
    with pytest.raises(FileExistsError, match="holds checkpoints of an earlier run"):
        train_sb3(args)
    train_sb3(dataclasses.replace(args, total_timesteps=4, overwrite=True))
    assert steps(tmp_path / "dqn.ckpt") == [4]


def test_resuming_an_older_checkpoint_into_its_folder_is_refused(dqn_copy):
    tmp_path = dqn_copy
    older = tmp_path / "dqn.ckpt" / "step-000000008"
    args = tiny_args(tmp_path, "dqn", checkpoint_every=8, resume=older, total_timesteps=4)
    with pytest.raises(ValueError, match="older than step-000000016"):
        train_sb3(args)


def test_a_checkpoint_of_other_settings_or_another_version_is_refused(dqn_copy):
    tmp_path = dqn_copy
    folder = tmp_path / "dqn.ckpt"
    args = tiny_args(tmp_path, "dqn", checkpoint_every=8, resume=folder, total_timesteps=4)
    other = dataclasses.replace(args, env=apply_overrides(TINY, lr=1e-3, days=3))
    message = r"other environment settings: days: saved 2, now 3; learner.lr: saved 0.0003, now"
    with pytest.raises(ValueError, match=message):
        train_sb3(other)
    # the model file alone may be trained further on other settings (with a warning)
    model = folder / "step-000000016" / MODEL_FILE
    tuned = dataclasses.replace(other, resume=model, checkpoint_every=0, out=tmp_path / "t.zip")
    with pytest.warns(UserWarning, match="other environment settings"):
        train_sb3(tuned)
    sidecar = folder / "step-000000016" / (MODEL_FILE + ".json")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "replay_gym_version": "0.0.1"}))
    with pytest.raises(ValueError, match=r"written by replay-gym 0.0.1, this is 0.1.0"):
        train_sb3(args)


def test_a_damaged_buffer_or_foreign_shape_is_refused(dqn_copy):
    tmp_path = dqn_copy
    point = resume_point(tmp_path / "dqn.ckpt")
    saved = read_model(point.model)
    model = DQN("MlpPolicy", saved_env(), buffer_size=32)
    with pytest.raises(ValueError, match=r"holds observations of shape \(64, 1, 14\).*"
                                         r"takes \(32, 1, 14\)"):
        restore_training_state(model, point, saved.sidecar["rng"])
    (point.checkpoint / BUFFER_FILE).write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot read the replay buffer"):
        restore_training_state(model, point, None)


def test_cli_checkpoints_and_resumes(tmp_path, monkeypatch, capsys):
    from replay_gym.__main__ import main

    model = tmp_path / "m.zip"
    command = [
        "train-sb3", "--algo", "dqn", "--preset", "smoke", "--total-timesteps", "12",
        "--learning-starts", "4", "--batch-size", "4", "--buffer-size", "64",
        "--checkpoint-every", "4", "--verbose", "0", "--out", str(model), *TINY_FLAGS,
    ]
    interrupt_at(monkeypatch, 6)
    with pytest.raises(SystemExit):
        main(command)
    assert f"continue with --resume {tmp_path / 'm.ckpt'}" in capsys.readouterr().out
    monkeypatch.undo()
    main([*command[:5], *command[7:], "--resume", str(tmp_path / "m.ckpt")])
    meta = read_sidecar(model)
    assert meta["num_timesteps"] == 12 and meta["complete"]
