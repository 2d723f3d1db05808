"""Nothing loaded runs code: crafted pickles in every SB3 load path are refused or never read.

Each test plants a payload that creates a marker file when unpickled, and checks the marker is
never created. A control shows the payload is live: SB3's own ``load`` (which unpickles by
design) creates it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sb3_helpers import TINY_FLAGS, evil_data, rewrite_zip, tiny_args, tiny_env
from stable_baselines3 import PPO

from replay_gym.agents.sb3 import SB3Selector, read_model, sidecar_path, train_sb3
from replay_gym.agents.sb3.checkpoints import BUFFER_FILE


def with_sidecar(src: Path, dst: Path, sidecar: bool) -> Path:
    if sidecar:
        shutil.copy(sidecar_path(src), sidecar_path(dst))
    return dst


def test_the_payload_is_live(trained, tmp_path, marker, evil_pickle):
    pickle.loads(evil_pickle)
    assert marker.exists()
    marker.unlink()
    evil = rewrite_zip(trained["ppo"], tmp_path / "evil.zip",
                       {"data": evil_data(trained["ppo"], evil_pickle, keys=("clip_range",))})
    with contextlib.suppress(Exception):  # the payload breaks the model after it has run
        PPO.load(evil, device="cpu")  # SB3's own load unpickles the data
    assert marker.exists()


@pytest.mark.parametrize("sidecar", [True, False], ids=["sidecar", "no-sidecar"])
@pytest.mark.parametrize("member", ["policy.pth", "policy.optimizer.pth"])
def test_selector_refuses_a_pickle_in_the_weights(
    trained, tmp_path, marker, sidecar, member, evil_torch_file
):
    evil = rewrite_zip(trained["ppo"], tmp_path / "evil.zip", {member: evil_torch_file})
    with_sidecar(trained["ppo"], evil, sidecar)
    with pytest.raises(ValueError, match=f"refused {member} in .*weights_only=True"):
        SB3Selector(evil)
    assert not marker.exists()


@pytest.mark.parametrize("sidecar", [True, False], ids=["sidecar", "no-sidecar"])
@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_selector_never_unpickles_the_data(
    trained, tmp_path, marker, run, sidecar, algo, evil_pickle
):
    evil = rewrite_zip(trained[algo], tmp_path / "evil.zip",
                       {"data": evil_data(trained[algo], evil_pickle)})
    with_sidecar(trained[algo], evil, sidecar)
    assert read_model(evil).pickled()  # every pickled entry now holds the payload
    env = tiny_env()
    actions = run(env, SB3Selector(evil, env), seed=0)  # it works without them
    assert len(actions) == 8
    assert not marker.exists()


@pytest.mark.parametrize("sidecar", [True, False], ids=["sidecar", "no-sidecar"])
def test_selector_refuses_a_pickle_it_would_need(trained, tmp_path, marker, sidecar, evil_pickle):
    # policy_kwargs pickled, naming an object only the pickle could give back
    data = evil_data(trained["ppo"], evil_pickle, keys=("policy_kwargs",),
                     activation_fn="<function system at 0x7f00>")
    evil = rewrite_zip(trained["ppo"], tmp_path / "evil.zip", {"data": data})
    with_sidecar(trained["ppo"], evil, sidecar)
    with pytest.raises(ValueError, match="only unpickling could restore.*never unpickles"):
        SB3Selector(evil)
    assert not marker.exists()
    # the same pickle beside plain settings only: they are read, the pickle never decoded
    data = evil_data(trained["ppo"], evil_pickle, keys=("policy_kwargs",))
    SB3Selector(rewrite_zip(trained["ppo"], tmp_path / "plain.zip", {"data": data}))
    assert not marker.exists()


def test_run_condition_sb3_refuses_a_crafted_model(trained, tmp_path, marker, evil_torch_file):
    from replay_gym.__main__ import main

    evil = rewrite_zip(trained["ppo"], tmp_path / "evil.zip",
                       {"policy.pth": evil_torch_file})
    with pytest.raises(SystemExit, match="refused policy.pth"):
        main(["run", "--condition", "sb3", "--preset", "smoke", "--model", str(evil),
              "--out", str(tmp_path / "run"), "--no-progress", *TINY_FLAGS])
    assert not marker.exists()


@pytest.mark.parametrize("sidecar", [True, False], ids=["sidecar", "no-sidecar"])
def test_resume_refuses_a_pickle_in_the_weights(
    trained, tmp_path, marker, sidecar, evil_torch_file
):
    evil = rewrite_zip(trained["ppo"], tmp_path / "evil.zip",
                       {"policy.optimizer.pth": evil_torch_file})
    with_sidecar(trained["ppo"], evil, sidecar)
    with pytest.raises(ValueError, match="refused policy.optimizer.pth"):
        train_sb3(tiny_args(tmp_path, resume=evil, total_timesteps=8))
    assert not marker.exists()


def test_resume_never_unpickles_the_data(trained, tmp_path, marker, evil_pickle):
    evil = rewrite_zip(trained["dqn"], tmp_path / "evil.zip",
                       {"data": evil_data(trained["dqn"], evil_pickle)})
    with_sidecar(trained["dqn"], evil, True)
    path = train_sb3(tiny_args(tmp_path, "dqn", resume=evil, total_timesteps=4))
    assert read_model(path).data["num_timesteps"] == 20
    assert not marker.exists()


def test_resume_from_a_checkpoint_refuses_a_pickled_replay_buffer(
    trained, tmp_path, marker, evil_pickle, plant
):
    checkpoint = tmp_path / "run.ckpt" / "step-000000016"
    checkpoint.mkdir(parents=True)
    shutil.copy(trained["dqn"], checkpoint / "model.zip")
    with_sidecar(trained["dqn"], checkpoint / "model.zip", True)
    buffer = io.BytesIO()
    np.savez(buffer, pos=np.int64(0), full=np.bool_(False),
             observations=np.array([plant], dtype=object))
    (checkpoint / BUFFER_FILE).write_bytes(buffer.getvalue())
    args = dataclasses.replace(tiny_args(tmp_path, "dqn", total_timesteps=4),
                               resume=checkpoint.parent)
    with pytest.raises(ValueError, match="cannot read the replay buffer .*allow_pickle=False"):
        train_sb3(args)
    assert not marker.exists()
    (checkpoint / BUFFER_FILE).write_bytes(evil_pickle)  # a bare pickle, not an npz
    with pytest.raises(ValueError, match="cannot read the replay buffer"):
        train_sb3(args)
    assert not marker.exists()


def test_resume_from_a_checkpoint_refuses_a_crafted_model(
    trained, tmp_path, marker, evil_torch_file
):
    checkpoint = tmp_path / "run.ckpt" / "step-000000016"
    checkpoint.mkdir(parents=True)
    rewrite_zip(trained["dqn"], checkpoint / "model.zip", {"policy.pth": evil_torch_file})
    args = dataclasses.replace(tiny_args(tmp_path, "dqn", total_timesteps=4),
                               resume=checkpoint.parent)
    with pytest.raises(ValueError, match="refused policy.pth"):
        train_sb3(args)
    assert not marker.exists()


def test_a_zip_without_a_model_is_named(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match=r"not a Stable-Baselines3 model: it has no \['data', "):
        read_model(path)
