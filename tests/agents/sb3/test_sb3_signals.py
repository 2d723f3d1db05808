"""train-sb3 stopped by SIGTERM (Slurm's pre-emption notice) or SIGINT (Ctrl-C).

Training stops after the environment step in progress, at a point a periodic checkpoint could
have been taken; the model and a checkpoint are saved, one line says how to resume, and the
command exits with 128 + the signal, without a traceback. ``stop_at_replay`` (tests/conftest.py)
sends the signal just before the env's n-th replay step; the subprocess tests send a real one.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sb3_helpers import TINY_FLAGS, tiny_args

from replay_gym.__main__ import main
from replay_gym.agents.sb3 import list_checkpoints, read_model, read_sidecar, train_sb3
from replay_gym.agents.sb3.checkpoints import BUFFER_FILE, MODEL_FILE
from replay_gym.rundir import RunInterrupted

REPO = Path(__file__).resolve().parents[3]
PPO_FLAGS = [
    "train-sb3", "--preset", "smoke", "--n-steps", "8", "--batch-size", "8", "--n-epochs", "2",
    "--verbose", "0", *TINY_FLAGS,
]  # fmt: skip
"""tiny_args(..., "ppo") as command-line flags (8-step rollouts)."""


def weights(path: Path) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in read_model(path).policy_state.items()}


def resume_line(where: Path, target: int) -> str:
    return (
        f"resume with: the same command with --resume {where} (without --total-timesteps it "
        f"trains up to the {target} steps planned)"
    )


def test_sigterm_stops_ppo_at_its_rollout_start_and_resume_finishes(tmp_path, stop_at_replay):
    # 8-step rollouts; no periodic checkpoint is due in 16 steps, so any comes from the signal.
    args = tiny_args(tmp_path, checkpoint_every=100)
    folder, model = tmp_path / "ppo.ckpt", tmp_path / "ppo.zip"
    stop_at_replay(11)  # the third step of the second rollout
    with pytest.raises(RunInterrupted) as stopped:
        train_sb3(args)
    checkpoint = folder / "step-000000008"
    assert stopped.value.exit_code == 128 + signal.SIGTERM
    assert str(stopped.value) == (
        f"stopped by SIGTERM at step 8 of 16 (model saved to {model}, checkpoint {checkpoint}); "
        + resume_line(folder, 16)
    )
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored
    assert [step for step, _ in list_checkpoints(folder)] == [8]
    for path in (model, checkpoint / MODEL_FILE):
        meta = read_sidecar(path)
        assert meta["num_timesteps"] == 8 and not meta["complete"]
        assert meta["target_timesteps"] == 16
    assert "rng" in read_sidecar(checkpoint / MODEL_FILE)

    # The half-collected rollout is dropped: the checkpoint holds the model of that rollout's
    # start, as a run of 8 steps leaves it.
    expected = weights(train_sb3(tiny_args(tmp_path / "reference", total_timesteps=8)))
    got = weights(checkpoint / MODEL_FILE)
    assert got.keys() == expected.keys()
    assert all(np.array_equal(got[k], expected[k]) for k in got)

    stop_at_replay(10**9)  # disarmed
    path = train_sb3(dataclasses.replace(args, total_timesteps=None, resume=folder))
    meta = read_sidecar(path)
    assert meta["num_timesteps"] == meta["target_timesteps"] == 16 and meta["complete"]


def test_sigterm_takes_the_unstored_dqn_step_off_the_count(tmp_path, stop_at_replay):
    args = tiny_args(tmp_path, "dqn", checkpoint_every=100)
    stop_at_replay(6)
    with pytest.raises(RunInterrupted, match="at step 5 of 16"):
        train_sb3(args)
    checkpoint = tmp_path / "dqn.ckpt" / "step-000000005"
    with np.load(checkpoint / BUFFER_FILE, allow_pickle=False) as buffer:
        assert int(buffer["pos"]) == 5  # every counted step is in the buffer, and no other
    assert read_sidecar(checkpoint / MODEL_FILE)["num_timesteps"] == 5


def test_without_checkpoints_the_model_file_is_where_to_resume(tmp_path, stop_at_replay):
    args = tiny_args(tmp_path)
    model = tmp_path / "ppo.zip"
    stop_at_replay(3, signum=signal.SIGINT)
    with pytest.raises(RunInterrupted) as stopped:
        train_sb3(args)
    assert stopped.value.exit_code == 130
    assert str(stopped.value) == (
        f"stopped by SIGINT at step 0 of 16 (model saved to {model}); " + resume_line(model, 16)
    )
    assert not (tmp_path / "ppo.ckpt").exists()
    stop_at_replay(10**9)
    path = train_sb3(dataclasses.replace(args, total_timesteps=None, resume=model))
    assert read_sidecar(path)["num_timesteps"] == 16


def test_subprocess_workers_leave_signals_to_their_parent(monkeypatch):
    import replay_gym.agents.sb3.train as train

    monkeypatch.setattr(train, "_make_env", lambda config, threads: (config, threads))
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert train._make_worker_env("config", 1) == ("config", 1)
        for signum in before:
            assert signal.getsignal(signum) is signal.SIG_IGN
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def test_a_run_of_an_sb3_policy_stopped_mid_night_resumes_exactly(
    trained, tmp_path, monkeypatch, stop_at_replay
):
    # A sampling policy: the resumed run must draw the same actions from the restored RNG.
    command = [
        "run", "--condition", "sb3", "--model", str(trained["ppo"]), "--preset", "smoke",
        "--agent", "deterministic", "false", "--threads", "1", "--no-progress", *TINY_FLAGS,
    ]  # fmt: skip
    main([*command, "--out", str(tmp_path / "reference")])
    out = tmp_path / "run"
    stop_at_replay(6)  # night 2, step 2
    with pytest.raises(SystemExit) as stopped:
        main([*command, "--out", str(out)])
    assert stopped.value.code == 128 + signal.SIGTERM
    monkeypatch.undo()
    main(["run", "--resume", str(out), "--no-progress"])
    for name in ("results.jsonl", "steps.jsonl"):
        texts = [(d / name).read_text() for d in (tmp_path / "reference", out)]
        texts = [re.sub(r'"wall_time": [-+0-9.e]+', "", text) for text in texts]
        assert texts[0] == texts[1], name


@pytest.mark.slow
def test_a_real_sigterm_stops_train_sb3_and_resume_finishes(tmp_path, checkout_env):
    model, folder = tmp_path / "m.zip", tmp_path / "m.ckpt"
    command = [*PPO_FLAGS, "--out", str(model), "--checkpoint-every", "100"]
    done = subprocess.run(
        [sys.executable, str(REPO / "tests" / "kill_driver.py"), "replay", "11", "SIGTERM",
         *command, "--total-timesteps", "16"],
        capture_output=True, text=True, timeout=300, cwd=REPO, env=checkout_env,
    )  # fmt: skip
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"stopped by SIGTERM at step 8 of 16 (model saved to {model}, checkpoint "
        f"{folder / 'step-000000008'}); " + resume_line(folder, 16)
    ]
    main([*command, "--resume", str(folder)])
    meta = read_sidecar(model)
    assert meta["num_timesteps"] == 16 and meta["complete"]


@pytest.mark.slow
def test_sigterm_to_the_whole_job_with_subprocess_workers(tmp_path, checkout_env):
    """As Slurm does: every process of the job (the workers too) gets SIGTERM."""
    model, folder = tmp_path / "m.zip", tmp_path / "m.ckpt"
    process = subprocess.Popen(
        [sys.executable, "-m", "replay_gym", *PPO_FLAGS, "--out", str(model),
         "--n-envs", "2", "--vec-env", "subproc", "--checkpoint-every", "16",
         "--total-timesteps", "100000"],
        cwd=REPO, env=checkout_env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not list_checkpoints(folder) and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGTERM)
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("stopped by SIGTERM at step ")
    step, latest = list_checkpoints(folder)[-1]
    assert step % 16 == 0 and read_sidecar(latest / MODEL_FILE)["num_timesteps"] == step
    assert read_sidecar(model)["num_timesteps"] == step


@pytest.mark.slow
def test_a_second_ctrl_c_stops_busy_workers_at_once():
    import gymnasium as gym
    from stable_baselines3.common.vec_env import SubprocVecEnv

    from replay_gym.agents.sb3.train import _stop_workers

    def slow_env():  # every step takes a minute
        return gym.wrappers.TransformReward(gym.make("CartPole-v1"), lambda r: time.sleep(60) or r)

    venv = SubprocVecEnv([slow_env])
    venv.reset()
    venv.step_async(np.array([0]))
    started = time.monotonic()
    _stop_workers(venv)
    assert time.monotonic() - started < 30
    assert venv.closed and not any(p.is_alive() for p in venv.processes)
    venv.close()  # nothing is left to close, and nothing waits for the step
