"""The run directory: append-only logs, staging, refusals, checkpoints and stop signals."""

from __future__ import annotations

import errno
import json
import os
import signal

import pytest
import torch

from replay_gym import rundir as rundir_module
from replay_gym.rundir import (
    CHECKPOINT,
    JsonLines,
    RunDir,
    StopSignals,
    read_config,
    resume_command,
    staging_path,
)

CONFIG = {"condition": "random", "seeds": [0], "threads": 1,
          "versions": {"replay-gym": "0.1.0", "torch": "2.14.1"}, "git": None}


def test_json_lines_append_whole_lines_and_cut_back(tmp_path):
    log = JsonLines(tmp_path / "log.jsonl")
    log.append({"a": 1})
    mark = log.position
    log.append({"b": [2, 3]})
    assert (tmp_path / "log.jsonl").read_text() == '{"a": 1}\n{"b": [2, 3]}\n'
    assert log.records() == [{"a": 1}, {"b": [2, 3]}]
    log.close()
    reopened = JsonLines(tmp_path / "log.jsonl", mark)  # a resume cuts what came after
    assert reopened.records() == [{"a": 1}]
    reopened.append({"c": 4})
    assert (tmp_path / "log.jsonl").read_text() == '{"a": 1}\n{"c": 4}\n'
    reopened.close()
    with pytest.raises(ValueError, match="changed after the checkpoint"):
        JsonLines(tmp_path / "log.jsonl", 10_000)


def test_json_lines_on_a_full_disk_can_be_cut_back(tmp_path, monkeypatch):
    log = JsonLines(tmp_path / "log.jsonl")
    log.append({"a": 1})
    mark = log.position

    def half_then_full(fd, data, offset):
        real(fd, data[: len(data) // 2], offset)
        raise OSError(errno.ENOSPC, "No space left on device")

    real = os.pwrite
    monkeypatch.setattr(rundir_module.os, "pwrite", half_then_full)
    with pytest.raises(OSError, match="No space"):
        log.append({"b": "x" * 50})
    monkeypatch.undo()
    log.close()
    assert not (tmp_path / "log.jsonl").read_text().endswith("\n")  # half a line on disk
    assert JsonLines(tmp_path / "log.jsonl", mark).records() == [{"a": 1}]


def test_create_writes_config_into_staging_and_finish_moves_it(tmp_path):
    out = tmp_path / "deep" / "run"
    run = RunDir.create(out, CONFIG, overwrite=False)
    assert run.staging == staging_path(out) == tmp_path / "deep" / "run.partial"
    assert json.loads((run.staging / "config.json").read_text()) == CONFIG
    run.results.append({"day": 1})
    run.save_checkpoint({"seed_index": 1}, None)
    run.finish({"done": True})
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json", "results.jsonl", "steps.jsonl", "summary.json"]
    assert not run.staging.exists()


def test_a_partial_run_is_refused_with_the_resume_command_and_kept(tmp_path):
    out = tmp_path / "run"
    RunDir.create(out, CONFIG, overwrite=False).close()
    with pytest.raises(FileExistsError) as caught:
        RunDir.create(out, CONFIG, overwrite=False)
    assert "interrupted run" in str(caught.value)
    assert resume_command(out) in str(caught.value) and "--overwrite" in str(caught.value)
    assert (staging_path(out) / "config.json").exists()
    RunDir.create(out, {**CONFIG, "condition": "ucb1"}, overwrite=True).close()  # asked for
    assert read_config(out)["condition"] == "ucb1"


@pytest.mark.parametrize("where", ["file", "under_a_file"])
def test_unwritable_out_is_refused_naming_it_and_leaves_nothing(tmp_path, where):
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" if where == "file" else tmp_path / "f" / "sub" / "run"
    with pytest.raises((ValueError, FileExistsError), match=f"--out {out}"):
        RunDir.create(out, CONFIG, overwrite=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_check_writable_names_what_is_in_the_way_and_creates_nothing(tmp_path, monkeypatch):
    from replay_gym.rundir import check_writable

    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match=f"^out x: {tmp_path / 'f'} is a file, not a folder$"):
        check_writable(tmp_path / "f" / "a" / "b", "out x")
    check_writable(tmp_path / "new" / "deeper", "out y")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
    monkeypatch.setattr(rundir_module.os, "access", lambda path, mode: False)
    with pytest.raises(ValueError, match=f"^out z: cannot create it: {tmp_path} is not writable"):
        check_writable(tmp_path / "new", "out z")


def test_failure_to_create_removes_the_folders_it_made(tmp_path, monkeypatch):
    def denied(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    out = tmp_path / "a" / "b" / "run"
    real_mkdir = type(out).mkdir

    def mkdir(self, *args, **kwargs):
        if self.name == "run.partial":
            denied(self)
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(type(out), "mkdir", mkdir)
    with pytest.raises(ValueError, match=f"--out {out}: cannot create it: Permission denied"):
        RunDir.create(out, CONFIG, overwrite=False)
    assert list(tmp_path.iterdir()) == []


def test_abandon_removes_a_run_without_checkpoint_and_keeps_one_with(tmp_path):
    run = RunDir.create(tmp_path / "new" / "run", CONFIG, overwrite=False)
    assert run.abandon() is None and list(tmp_path.iterdir()) == []
    run = RunDir.create(tmp_path / "run", CONFIG, overwrite=False)
    run.save_checkpoint({"seed_index": 0}, None)
    hint = run.abandon()
    assert hint is not None and resume_command(tmp_path / "run") in hint
    assert (staging_path(tmp_path / "run") / CHECKPOINT).exists()


def test_resume_cuts_logs_to_the_checkpoint_and_returns_its_state(tmp_path):
    out = tmp_path / "run"
    run = RunDir.create(out, CONFIG, overwrite=False)
    run.steps.append({"step": 1})
    run.save_checkpoint({"seed_index": 0}, {"w": torch.ones(2)})
    run.steps.append({"step": 2})  # after the checkpoint: lost in the crash
    run.close()
    again = RunDir.resume(out, {**CONFIG, "threads": 8})  # threads may differ
    assert again.steps.records() == [{"step": 1}]
    assert again.checkpoint["run"]["seed_index"] == 0
    assert torch.equal(again.checkpoint["course"]["w"], torch.ones(2))
    again.close()


def test_resume_refuses_other_settings_and_versions(tmp_path, monkeypatch):
    out = tmp_path / "run"
    RunDir.create(out, CONFIG, overwrite=False).save_checkpoint({"seed_index": 0}, None)
    with pytest.raises(ValueError, match="other settings: condition: saved 'random', now 'ucb1'"):
        RunDir.resume(out, {**CONFIG, "condition": "ucb1"})
    with pytest.warns(UserWarning, match="torch: saved '2.14.1', now '9'"):
        RunDir.resume(out, {**CONFIG, "versions": {"replay-gym": "0.1.0", "torch": "9"}}).close()
    monkeypatch.setattr(rundir_module, "replay_gym_version", lambda: "9.9.9")
    with pytest.raises(ValueError, match="started with replay-gym 0.1.0, this is 9.9.9"):
        RunDir.resume(out, CONFIG)


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    for name, condition in (("a", "random"), ("b", "ucb1")):
        RunDir.create(tmp_path / name, {**CONFIG, "condition": condition}, False).save_checkpoint(
            {"seed_index": 0}, None
        )
    os.replace(staging_path(tmp_path / "b") / CHECKPOINT, staging_path(tmp_path / "a") / CHECKPOINT)
    with pytest.raises(ValueError, match="belongs to another run"):
        RunDir.resume(tmp_path / "a", {**CONFIG, "condition": "random"})


def test_resume_of_nothing_or_of_a_finished_run_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no interrupted run there"):
        RunDir.resume(tmp_path / "run", CONFIG)
    run = RunDir.create(tmp_path / "run", CONFIG, overwrite=False)
    run.finish({})
    with pytest.raises(FileNotFoundError, match="that run has finished"):
        RunDir.resume(tmp_path / "run", CONFIG)


def test_stop_signals_request_a_stop_then_restore_the_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with StopSignals() as stop:
        assert not stop.requested()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested() and stop.signum == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGTERM)  # a second SIGTERM changes nothing
        with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C stops at once
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before


def test_stop_signals_inside_stopped_ones_start_with_their_signal():
    # Regression: a sweep worker's SIGTERM that came while a run was starting (before the run's
    # own handlers) was noted by the worker but not by the run, which then ran to its end.
    with StopSignals() as outer:
        with StopSignals() as fresh:
            assert not fresh.requested()  # nothing asked for yet
        os.kill(os.getpid(), signal.SIGTERM)
        assert outer.signum == signal.SIGTERM
        with StopSignals() as inner:
            assert inner.requested() and inner.signum == signal.SIGTERM


def test_resume_refuses_a_changed_model_file(tmp_path):
    out = tmp_path / "run"
    config = {**CONFIG, "model": "m.zip", "model_sha256": "aa"}
    RunDir.create(out, config, overwrite=False).close()
    with pytest.raises(ValueError, match="the model m.zip has changed since the run started"):
        RunDir.resume(out, {**config, "model_sha256": "bb"})


def test_a_parent_made_meanwhile_by_another_run_is_not_an_error(tmp_path, monkeypatch):
    """Two sweep cells create their shared parent folder at once (regression)."""
    from pathlib import Path

    from replay_gym import rundir

    real_mkdir = Path.mkdir
    target = tmp_path / "sweep" / "cell"

    def racing_mkdir(self, *args, **kwargs):
        if self == tmp_path / "sweep" and not self.exists():
            real_mkdir(self)  # the other cell wins the race
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", racing_mkdir)
    staging = target / "run.partial"
    created = rundir._make_dirs(target / "run", staging)
    assert staging.is_dir()
    assert tmp_path / "sweep" not in created  # the other run's folder is not ours to remove


def test_resume_on_another_processor_goes_on_and_says_the_course_differs(tmp_path):
    out = tmp_path / "run"
    first = {**CONFIG, "machine": {"cpu": "Intel Xeon", "cpu_capability": "AVX2"}}
    RunDir.create(out, first, overwrite=False).save_checkpoint({"seed_index": 0}, None)
    here = {**CONFIG, "machine": {"cpu": "AMD EPYC", "cpu_capability": "AVX512"}}
    with pytest.warns(UserWarning, match=r"another processor \(Intel Xeon -> AMD EPYC\)"):
        resumed = RunDir.resume(out, here)
    assert read_config(out)["machine"]["cpu"] == "Intel Xeon"  # config.json keeps the first
    resumed.close()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RunDir.resume(out, first).close()  # the same processor: nothing to say
        RunDir.resume(out, CONFIG).close()  # a run from before machines were recorded
