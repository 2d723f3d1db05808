"""Runs survive a kill, a signal, a crash or a full disk and resume to the same bytes.

The reference is one uninterrupted run; every interrupted-then-resumed run must end with the same
``steps.jsonl`` and the same ``results.jsonl`` apart from wall times. The subprocess tests kill a
real process with SIGKILL, SIGTERM or SIGINT at an exact point (``tests/kill_driver.py``).
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from replay_gym import provenance, rundir, statefile
from replay_gym.__main__ import main
from replay_gym.envs.replay_select import ReplaySelectionEnv
from replay_gym.rundir import CHECKPOINT, RunFailed, RunInterrupted, staging_path
from replay_gym.runner import RunArgs, run

REPO = Path(__file__).resolve().parent.parent
NIGHT = 8
SMALL = ["--preset", "smoke", "--env.days", "2", "--env.steps-per-night", str(NIGHT),
         "--env.data.train-per-class", "20", "--threads", "1", "--no-progress"]
"""The smoke preset, smaller still: 2 days of 8-step nights, 20 training images per class."""


def cli(out, *extra, condition="regression"):
    return ["run", "--condition", condition, "--out", str(out), *SMALL, *extra]


def strip_wall_times(text: str) -> str:
    return re.sub(r'"wall_time": [-+0-9.e]+', '"wall_time": 0', text)


def outputs(run_dir: Path) -> tuple[str, str]:
    return (
        strip_wall_times((run_dir / "results.jsonl").read_text()),
        (run_dir / "steps.jsonl").read_text(),
    )


def seed_part(text: str, seed: int) -> str:
    return "".join(line for line in text.splitlines(keepends=True)
                   if json.loads(line)["seed"] == seed)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of two seeds: (results without wall times, steps) per seed count."""
    out = tmp_path_factory.mktemp("reference") / "run"
    main(cli(out, "--seeds", "2"))
    results, steps = outputs(out)
    return {1: (seed_part(results, 0), seed_part(steps, 0)), 2: (results, steps)}


def resume(out: Path) -> None:
    main(["run", "--resume", str(out), "--no-progress"])


# -- in this process -------------------------------------------------------------------------


def test_sigterm_stops_at_a_checkpoint_and_resume_is_exact(
    tmp_path, monkeypatch, stop_at_replay, reference
):
    out = tmp_path / "run"
    stop_at_replay(NIGHT + 3)  # night 2, step 3
    with pytest.raises(RunInterrupted) as stopped:
        run(_args(out))
    assert stopped.value.exit_code == 128 + signal.SIGTERM
    assert str(stopped.value).startswith("stopped by SIGTERM at seed 0, day 2, night step 3")
    assert str(stopped.value).endswith(f"resume with: python -m replay_gym run --resume {out}")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored
    monkeypatch.undo()
    resume(out)
    assert outputs(out) == reference[1]


def _args(out: Path) -> RunArgs:
    """The arguments ``cli(out)`` parses to, for calling :func:`run` directly."""
    from replay_gym.__main__ import _commands

    parse, _ = _commands()["run"]
    return parse(cli(out)[1:])


def test_checkpoints_after_each_day_and_night_and_before_each_nights_last_step(
    tmp_path, monkeypatch
):
    written = []
    save = rundir.RunDir.save_checkpoint

    def record(self, run_position, course):
        where = None if course is None else (course["info"]["day"], course["info"]["night_step"])
        written.append((run_position["seed_index"], where))
        save(self, run_position, course)

    monkeypatch.setattr(rundir.RunDir, "save_checkpoint", record)
    main(cli(tmp_path / "run", "--seeds", "2", condition="random"))
    last = NIGHT - 1  # the step that ends a night also trains the next day
    course = [(1, 0), (1, last), (2, 0), (2, last)]  # (day, night step) of the state saved
    assert written == [(0, w) for w in course] + [(1, None)] + [(1, w) for w in course] + [
        (2, None)
    ]


def test_a_crash_keeps_the_checkpoint_and_resume_is_exact(
    tmp_path, monkeypatch, stop_at_replay, capsys, reference
):
    out = tmp_path / "run"
    stop_at_replay(NIGHT + 5, RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom"):
        run(_args(out))
    assert f"resume with: python -m replay_gym run --resume {out}" in capsys.readouterr().err
    assert (staging_path(out) / CHECKPOINT).exists() and not out.exists()
    monkeypatch.undo()
    run(RunArgs.resuming(out, progress=False))  # the Python API's resume
    assert outputs(out) == reference[1]


def test_full_disk_while_writing_results_then_resume(tmp_path, monkeypatch, reference):
    out = tmp_path / "run"
    real = os.pwrite
    calls = {"n": 0}

    def pwrite(fd, data, offset):
        calls["n"] += 1
        if calls["n"] == NIGHT + 4:  # a step line of night 2: half of it, then a full disk
            real(fd, data[: len(data) // 2], offset)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data, offset)

    monkeypatch.setattr(rundir.os, "pwrite", pwrite)
    with pytest.raises(SystemExit, match=r"error: run failed: \[Errno 28\] No space left"):
        main(cli(out))
    monkeypatch.undo()
    assert not (staging_path(out) / "steps.jsonl").read_text().endswith("\n")  # half a line
    resume(out)
    assert outputs(out) == reference[1]


def test_full_disk_while_writing_a_checkpoint_then_resume(tmp_path, monkeypatch, reference):
    out = tmp_path / "run"
    real = statefile.save_file
    calls = {"n": 0}

    def save_file(tensors, filename, metadata=None):
        calls["n"] += 1
        if calls["n"] == 3:  # after day 1 and before night 1's last step: at night 1's end
            Path(filename).write_bytes(b"half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(statefile, "save_file", save_file)
    with pytest.raises(RunFailed, match="the last checkpoint is kept in"):
        run(_args(out))
    monkeypatch.undo()
    assert sorted(p.name for p in staging_path(out).iterdir()) == [
        CHECKPOINT, "config.json", "results.jsonl", "steps.jsonl", "tb"]  # no temporary file
    resume(out)
    assert outputs(out) == reference[1]


def test_a_kill_while_finishing_resumes_to_the_finished_run(tmp_path, monkeypatch, reference):
    out = tmp_path / "run"

    def killed(self, summary):
        raise KeyboardInterrupt

    monkeypatch.setattr(rundir.RunDir, "finish", killed)
    with pytest.raises(KeyboardInterrupt):
        run(_args(out))
    monkeypatch.undo()
    resume(out)  # every seed was done: only the summary and the move are left
    assert outputs(out) == reference[1] and (out / "summary.json").exists()
    assert not (out / CHECKPOINT).exists()


def test_a_partial_run_is_never_overwritten_silently(tmp_path, monkeypatch, stop_at_replay):
    out = tmp_path / "run"
    stop_at_replay(2)
    with pytest.raises(SystemExit) as stopped:
        main(cli(out))
    assert stopped.value.code == 128 + signal.SIGTERM
    monkeypatch.undo()
    before = (staging_path(out) / CHECKPOINT).read_bytes()
    command = f"python -m replay_gym run --resume {out}"
    with pytest.raises(SystemExit, match=f"resume it with: {command}"):
        main(cli(out))
    assert (staging_path(out) / CHECKPOINT).read_bytes() == before


def test_resume_refuses_other_settings_and_versions(tmp_path, monkeypatch, stop_at_replay):
    out = tmp_path / "run"
    stop_at_replay(2)
    with pytest.raises(SystemExit):
        main(cli(out))
    monkeypatch.undo()
    with pytest.raises(SystemExit, match="other settings: env.days: saved 2, now 3"):
        main(["run", "--resume", str(out), "--env.days", "3"])
    with pytest.raises(SystemExit, match="condition: saved 'regression', now 'ucb1'"):
        main(["run", "--resume", str(out), "--condition", "ucb1"])
    with pytest.raises(SystemExit, match="pick one"):
        main(["run", "--resume", str(out), "--overwrite"])
    monkeypatch.setattr(provenance, "replay_gym_version", lambda: "0.0.1")
    monkeypatch.setattr(rundir, "replay_gym_version", lambda: "0.0.1")
    with pytest.raises(SystemExit, match="started with replay-gym 0.1.0, this is 0.0.1"):
        main(["run", "--resume", str(out)])
    with pytest.raises(SystemExit, match="no interrupted run there"):
        main(["run", "--resume", str(tmp_path / "elsewhere")])


def test_available_cores_is_this_process_affinity():
    from replay_gym.runner import available_cores

    assert available_cores() == len(os.sched_getaffinity(0)) >= 1
    assert RunArgs().torch_threads == available_cores() and RunArgs(threads=3).torch_threads == 3


def test_threads_and_provenance_are_recorded(tmp_path):
    before = torch.get_num_threads()
    out = tmp_path / "run"
    main(cli(out, "--env.days", "1", condition="random"))
    config = json.loads((out / "config.json").read_text())
    assert config["threads"] == 1 and torch.get_num_threads() == before
    assert config["versions"] == provenance.package_versions()
    assert config["versions"]["replay-gym"] == provenance.replay_gym_version()
    assert {"torch", "torchvision", "gymnasium", "numpy", "stable-baselines3"} <= set(
        config["versions"])
    assert config["git"] == provenance.git_commit()  # {"commit": sha, "dirty": ...} in a checkout
    assert config["machine"] == provenance.machine()
    with pytest.raises(SystemExit, match="--threads must be a positive integer"):
        main(cli(tmp_path / "bad", "--threads", "0"))


def test_unwritable_out_is_refused_before_any_work_naming_it(tmp_path):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "run"
    with pytest.raises(SystemExit, match=f"--out {out}: {tmp_path / 'file'} is a file"):
        main(cli(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


# -- nothing loaded executes code --------------------------------------------------------------


class Planted:
    """Unpickling this creates ``marker`` (stands for any code a crafted file could run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture
def interrupted(tmp_path, monkeypatch, stop_at_replay):
    """A run stopped by SIGTERM in night 2 (its checkpoint counts one results line)."""
    out = tmp_path / "run"
    stop_at_replay(NIGHT + 2)
    with pytest.raises(SystemExit):
        main(cli(out))
    monkeypatch.undo()
    return out


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
@pytest.mark.parametrize("target", [CHECKPOINT, "config.json", "results.jsonl"])
def test_a_planted_pickle_in_a_run_is_refused_and_never_run(interrupted, tmp_path, how, target):
    marker = tmp_path / "pwned"
    path = staging_path(interrupted) / target
    if how == "pickle":
        path.write_bytes(pickle.dumps(Planted(marker)))
    else:
        torch.save({"x": Planted(marker)}, path)
    with pytest.raises(SystemExit, match="error: "):
        resume(interrupted)
    assert not marker.exists()


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_a_planted_pickle_as_env_state_is_refused_and_never_run(tmp_path, how):
    import gymnasium as gym

    marker, path = tmp_path / "pwned", tmp_path / "state.safetensors"
    if how == "pickle":
        path.write_bytes(pickle.dumps(Planted(marker)))
    else:
        torch.save({"x": Planted(marker)}, path)
    env = ReplaySelectionEnv(preset="smoke")
    with pytest.raises(statefile.StateFileError, match="never unpickled"):
        env.load_state(path)
    with pytest.raises(statefile.StateFileError, match="never unpickled"):
        gym.make("ReplaySelect-v0", preset="smoke").reset(options={"state": path})
    with pytest.raises(statefile.StateFileError):
        statefile.load_tree(path, "env")
    assert not marker.exists()


# -- real processes, killed ------------------------------------------------------------------


@pytest.fixture
def killed(checkout_env):
    """``killed(out, what, at, SIGNAME, *extra)``: ``kill_driver.py`` on ``cli(out, *extra)``."""

    def kill(out: Path, what: str, at: int, signame: str, *extra: str):
        return subprocess.run(
            [sys.executable, str(REPO / "tests" / "kill_driver.py"), what, str(at), signame,
             *cli(out, *extra)],
            capture_output=True, text=True, timeout=300, cwd=REPO, env=checkout_env,
        )

    return kill


@pytest.mark.slow
@pytest.mark.parametrize(
    ("what", "at", "where"),
    [
        ("replay", NIGHT + 4, "night 2, step 4"),
        ("day-batch", 7 + 3, "day 2, batch 3 of 7"),  # 80 images in batches of 12: 7 per day
    ],
)
def test_sigkill_then_resume_is_exact(tmp_path, reference, killed, what, at, where):
    out = tmp_path / "run"
    done = killed(out, what, at, "SIGKILL")
    assert done.returncode == -signal.SIGKILL, done.stderr
    resume(out)
    assert outputs(out) == reference[1], where


@pytest.mark.slow
def test_sigkill_in_the_second_seed_then_resume_is_exact(tmp_path, reference, killed):
    out = tmp_path / "run"
    done = killed(out, "replay", 2 * NIGHT + NIGHT + 2, "SIGKILL", "--seeds", "2")  # seed 1
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert '"seed": 1' in (staging_path(out) / "steps.jsonl").read_text()
    resume(out)
    assert outputs(out) == reference[2]


@pytest.mark.slow
@pytest.mark.parametrize(("signame", "what", "at"), [("SIGTERM", "replay", NIGHT + 2),
                                                      ("SIGINT", "day-batch", 10)])
def test_sigterm_and_sigint_stop_cleanly_then_resume_is_exact(tmp_path, reference, killed,
                                                              signame, what, at):
    out = tmp_path / "run"
    done = killed(out, what, at, signame)
    assert done.returncode == 128 + getattr(signal, signame)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"stopped by {signame} at seed 0, day 2")
    assert lines[0].endswith(f"resume with: python -m replay_gym run --resume {out}")
    resume(out)
    assert outputs(out) == reference[1]


@pytest.mark.slow
def test_sigkill_from_outside_at_an_unknown_moment_then_resume_is_exact(tmp_path, reference,
                                                                      checkout_env):
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "replay_gym", *cli(out)], cwd=REPO, env=checkout_env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    steps = staging_path(out) / "steps.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if steps.exists() and steps.read_text().count("\n") >= NIGHT + 2:
            break
        time.sleep(0.01)
    if process.poll() is not None:
        pytest.skip("the run finished before it could be killed")
    process.send_signal(signal.SIGKILL)
    process.wait()
    resume(out)
    assert outputs(out) == reference[1]


def test_a_run_started_before_settings_were_added_resumes(
    tmp_path, monkeypatch, stop_at_replay, reference
):
    """Regression: a sweep cell interrupted under an older checkout could not resume, not even
    with its own ``--resume`` command, because its config.json lacked settings added since
    (whose defaults are what it ran) and recorded other down-sampling factors for blocks it does
    not replay from; both cannot change the course (the latter: tests/sweep)."""
    from replay_gym.statefile import load_tree, save_tree

    out = tmp_path / "run"
    stop_at_replay(NIGHT + 3)
    with pytest.raises(RunInterrupted):
        run(_args(out))
    monkeypatch.undo()
    staging = staging_path(out)
    saved = json.loads((staging / "config.json").read_text())
    del saved["env"]["learner"]["compile"], saved["env"]["days_per_task"]  # added since
    (staging / "config.json").write_text(json.dumps(saved))
    checkpoint = load_tree(staging / CHECKPOINT, rundir.CHECKPOINT_KIND)
    checkpoint["config_sha256"] = rundir._digest(saved)
    save_tree(staging / CHECKPOINT, checkpoint, rundir.CHECKPOINT_KIND)
    resume(out)  # the run's own command
    assert outputs(out) == reference[1]


def test_resume_still_refuses_a_setting_that_changes_the_course(
    tmp_path, monkeypatch, stop_at_replay
):
    out = tmp_path / "run"
    stop_at_replay(2)
    with pytest.raises(RunInterrupted):
        run(_args(out))
    monkeypatch.undo()
    staging = staging_path(out)
    saved = json.loads((staging / "config.json").read_text())
    layer = saved["env"]["replay_layer"]
    saved["env"]["sampler"]["downsample"][layer - 1] = 2  # the replay layer's own factor
    (staging / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match=rf"env.sampler.downsample\[{layer - 1}\]: saved 2, now 1"):
        run(dataclasses.replace(_args(out), resume=out))
