"""Sweeps run cells on every backend into one layout, skip finished cells, report failures."""

import json
import signal

import pytest

from replay_gym.__main__ import main
from replay_gym.sweep import SweepArgs, sweep

TINY = ("days=1", "steps_per_night=2")


def _args(tmp_path, **kwargs):
    base = dict(out=tmp_path / "sweep", conditions=("round-robin",), seeds=(0, 1),
                preset="smoke", set=TINY, threads=1)
    return SweepArgs(**{**base, **kwargs})


def _sigterm_at_replay(monkeypatch, n):
    """Send this process SIGTERM at the env's n-th replay step (``monkeypatch.undo()`` disarms)."""
    import os

    from replay_gym.envs.replay_select import ReplaySelectionEnv

    original, calls = ReplaySelectionEnv._replay, []

    def replay(self, *args):
        calls.append(1)
        if len(calls) == n:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, *args)

    monkeypatch.setattr(ReplaySelectionEnv, "_replay", replay)


@pytest.mark.slow
def test_local_sweep_runs_skips_finished_cells_and_matches_the_runner(tmp_path, capsys):
    args = _args(tmp_path, workers=2)
    outcomes = sweep(args)
    assert sorted(o["status"] for o in outcomes) == ["done", "done"]
    cell = args.out / "round-robin" / "days=1,steps_per_night=2" / "seed_1"
    records = [json.loads(line) for line in (cell / "results.jsonl").read_text().splitlines()]
    assert [r["seed"] for r in records] == [1]
    assert json.loads((cell / ".done.json").read_text())["seed"] == 1
    again = sweep(args)
    assert again == []  # nothing left to run
    assert "finished earlier" in capsys.readouterr().out


@pytest.mark.slow
def test_a_failing_cell_is_reported_and_does_not_stop_the_others(tmp_path, capsys, monkeypatch):
    from replay_gym.sweep import backends

    real_run_cell = backends.run_cell

    def flaky(cell, sweep_dir, threads):
        if cell["seed"] == 0:
            cell = {**cell, "condition": "no-such-condition"}
        return real_run_cell(cell, sweep_dir, threads)

    monkeypatch.setattr(backends, "run_cell", flaky)
    with pytest.raises(SystemExit, match="1 of 2 cells failed"):
        sweep(_args(tmp_path))
    err = capsys.readouterr().err
    assert "seed_0" in err and "no-such-condition" in err
    assert (tmp_path / "sweep/round-robin/days=1,steps_per_night=2/seed_1/.done.json").exists()


def test_dry_run_lists_cells_and_runs_nothing(tmp_path, capsys):
    main(["sweep", "--out", str(tmp_path / "s"), "--conditions", "none", "generative",
          "--seeds", "0", "1", "2", "--preset", "smoke", "--dry-run"])
    out = capsys.readouterr().out
    assert "6 cells, 6 to run" in out and "todo  generative/base/seed_2" in out
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_submitit_local_executor_writes_the_same_layout(tmp_path):
    pytest.importorskip("submitit")
    outcomes = sweep(_args(tmp_path, backend="submitit", cluster="local", seeds=(0,)))
    assert [o["status"] for o in outcomes] == ["done"]
    assert (tmp_path / "sweep/round-robin/days=1,steps_per_night=2/seed_0/results.jsonl").exists()


@pytest.mark.slow
def test_ray_local_cluster_writes_the_same_layout(tmp_path):
    pytest.importorskip("ray")
    handlers = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    outcomes = sweep(_args(tmp_path, backend="ray", workers=2, seeds=(0,)))
    assert [o["status"] for o in outcomes] == ["done"]
    assert (tmp_path / "sweep/round-robin/days=1,steps_per_night=2/seed_0/results.jsonl").exists()
    # ray.init installs SIGINT/SIGTERM handlers in this process; the backend gives ours back
    assert [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)] == handlers


@pytest.mark.slow
def test_a_users_selector_runs_in_spawned_workers_with_imports(tmp_path, monkeypatch):
    """Regression: spawned pool workers did not import the module that registers a user's
    selector, so its cells failed with "unknown condition"; ``imports`` reaches every cell."""
    import sys

    (tmp_path / "my_sweep_selectors.py").write_text(
        "from replay_gym.agents import make_selector, register_selector\n"
        "register_selector('my-random', lambda **kw: make_selector('random', **kw),"
        " overwrite=True)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        args = _args(tmp_path, conditions=("my-random",), workers=2,
                     imports=("my_sweep_selectors",))  # fmt: skip
        outcomes = sweep(args)
        assert sorted(o["status"] for o in outcomes) == ["done", "done"]
        cells = json.loads((args.out / "sweep.json").read_text())["cells"]
        assert all(cell["imports"] == ["my_sweep_selectors"] for cell in cells)
    finally:
        sys.modules.pop("my_sweep_selectors", None)


def test_an_import_that_fails_is_named_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="--imports no_such_module_here: "):
        sweep(_args(tmp_path, imports=("no_such_module_here",)))
    assert not (tmp_path / "sweep").exists()


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="--workers"):
        sweep(_args(tmp_path, workers=0))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        sweep(_args(tmp_path, out=tmp_path / "file"))


@pytest.mark.slow
def test_an_interrupted_cell_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    import re

    from replay_gym.rundir import CHECKPOINT, staging_path
    from replay_gym.sweep.backends import run_cell
    from replay_gym.sweep.grid import Cell

    cell = Cell(condition="random", seed=0, preset="smoke",
                overrides=(("days", 2), ("steps_per_night", 3))).to_dict()
    _sigterm_at_replay(monkeypatch, 4)  # night 2, step 1
    first = run_cell(cell, str(tmp_path / "a"), 1)
    assert first["status"] == "failed" and "stopped by SIGTERM" in first["error"]
    assert (staging_path(tmp_path / "a" / cell["dir"]) / CHECKPOINT).exists()
    monkeypatch.undo()
    assert run_cell(cell, str(tmp_path / "a"), 1)["status"] == "done"
    assert run_cell(cell, str(tmp_path / "b"), 1)["status"] == "done"  # never interrupted

    def results(root):
        text = (root / cell["dir"] / "results.jsonl").read_text()
        return re.sub(r'"wall_time": [-+0-9.e]+', "", text)

    assert results(tmp_path / "a") == results(tmp_path / "b")
    config = json.loads((tmp_path / "a" / cell["dir"] / "config.json").read_text())
    assert config["threads"] == 1


def test_a_cell_interrupted_under_older_settings_resumes_with_its_own(tmp_path, monkeypatch):
    """Regression: a cell whose partial run was started by an older checkout (other down-sampling
    of blocks it does not replay from, settings added since absent) failed to resume forever."""
    import re

    from replay_gym.sweep.backends import run_cell
    from replay_gym.sweep.grid import Cell

    older = (("days", 2), ("sampler.downsample", [2, 2, 2, 1, 1]), ("steps_per_night", 3))
    now = Cell(condition="random", seed=0, preset="smoke",
               overrides=(("days", 2), ("steps_per_night", 3))).to_dict()
    then = {**Cell(condition="random", seed=0, preset="smoke", overrides=older).to_dict(),
            "dir": now["dir"]}  # fmt: skip
    _sigterm_at_replay(monkeypatch, 4)
    assert run_cell(then, str(tmp_path / "a"), 1)["status"] == "failed"  # interrupted
    monkeypatch.undo()
    assert run_cell(now, str(tmp_path / "a"), 1)["status"] == "done"
    assert run_cell(then, str(tmp_path / "b"), 1)["status"] == "done"  # never interrupted

    def results(root):
        text = (root / now["dir"] / "results.jsonl").read_text()
        return re.sub(r'"wall_time": [-+0-9.e]+', "", text)

    assert results(tmp_path / "a") == results(tmp_path / "b")


def test_a_cell_interrupted_under_a_setting_that_matters_is_refused(tmp_path, monkeypatch):

    from replay_gym.sweep.backends import run_cell
    from replay_gym.sweep.grid import Cell

    now = Cell(condition="random", seed=0, preset="smoke",
               overrides=(("days", 2), ("steps_per_night", 3))).to_dict()
    then = {**Cell(condition="random", seed=0, preset="smoke",
                   overrides=(("days", 2), ("lr", 1e-3), ("steps_per_night", 3))).to_dict(),
            "dir": now["dir"]}  # fmt: skip
    _sigterm_at_replay(monkeypatch, 4)
    run_cell(then, str(tmp_path / "a"), 1)
    monkeypatch.undo()
    outcome = run_cell(now, str(tmp_path / "a"), 1)
    assert outcome["status"] == "failed" and "env.learner.lr: saved 0.001, now" in outcome["error"]


def test_default_threads_shares_the_allowed_cores_among_workers(monkeypatch):
    from replay_gym.sweep import backends

    monkeypatch.setattr(backends.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4})
    assert backends.default_threads(1) == 5
    assert backends.default_threads(2) == 2
    assert backends.default_threads(8) == 1  # never zero
    assert backends.default_threads(0) == 5  # no workers reads as one


def test_pending_lists_cells_without_a_done_marker(tmp_path):
    from replay_gym.sweep.backends import DONE, pending

    cells = [{"dir": d} for d in ("none/base/seed_0", "none/base/seed_1", "oracle/base/seed_0")]
    done = tmp_path / "none/base/seed_1"
    done.mkdir(parents=True)
    (done / DONE).write_text("{}")
    (tmp_path / "oracle/base/seed_0").mkdir(parents=True)  # started, not finished
    assert pending(cells, tmp_path) == [cells[0], cells[2]]


def test_a_one_worker_sweep_stops_at_sigterm_instead_of_running_the_next_cells(
    tmp_path, monkeypatch
):
    # Regression: with --workers 1 the cells run in the sweep's own process, where the runner
    # turns SIGTERM into a checkpointed stop of the current cell; the sweep reported that cell
    # as failed and went on with the next ones, so a queue "killed" at 07:37 kept running for
    # 90 minutes beside its replacement, and both ran one cell into the same folder.
    from replay_gym.sweep.backends import run_local
    from replay_gym.sweep.grid import Cell

    cells = [Cell(condition="random", seed=s, preset="smoke",
                  overrides=(("days", 1), ("steps_per_night", 2))).to_dict() for s in (0, 1)]
    _sigterm_at_replay(monkeypatch, 1)  # the first cell's first replay step
    seen = []
    outcomes = run_local(cells, tmp_path, workers=1, threads=1, report=seen.append)
    assert [o["dir"] for o in seen] == [cells[0]["dir"]] and seen == outcomes[:1]
    assert outcomes[0]["status"] == "failed" and outcomes[0]["interrupted"]
    assert outcomes[1] == {**outcomes[1], "dir": cells[1]["dir"], "status": "not started",
                           "interrupted": True, "signum": signal.SIGTERM}
    assert "stopped by SIGTERM" in outcomes[0]["error"]
    assert not (tmp_path / cells[1]["dir"]).exists()  # the next cell never started


@pytest.mark.slow
def test_a_pool_sweep_stopped_by_sigterm_checkpoints_its_cells_and_starts_no_more(
    tmp_path, checkout_env
):
    # Regression: with --workers 2 a SIGTERM to the sweep killed only the sweep process; its
    # pool workers ran on as orphans, finished their cells and took the cells already queued for
    # them, so a stopped queue kept writing cells (as the one-worker sweep did before
    # CellOutcome.interrupted). The sweep now hands the signal to its workers, whose runs stop
    # at a checkpoint, starts no further cell and exits 128 + SIGTERM.
    import os
    import subprocess
    import sys
    import time

    out = tmp_path / "sweep"
    seeds = [str(s) for s in range(8)]
    process = subprocess.Popen(
        [sys.executable, "-m", "replay_gym", "sweep", "--out", str(out), "--preset", "smoke",
         "--conditions", "random", "--seeds", *seeds, "--set", "days=4", "--workers", "2",
         "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=checkout_env,
        start_new_session=True,
    )
    cells = [out / "random" / "days=4" / f"seed_{s}" for s in seeds]
    for line in process.stdout:  # the first finished cell: the others are running or queued
        if line.startswith("done"):
            break
    # what has finished when the signal goes out (more than one cell may have, on a busy machine)
    before = {c for c in cells if (c / ".done.json").exists()}
    process.send_signal(signal.SIGTERM)  # the sweep process only, not its workers
    _, stderr = process.communicate(timeout=120)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # no worker of the sweep outlives it
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("the sweep's workers went on after it stopped")
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "stopped by SIGTERM" in stderr and "rerun the same command" in stderr
    after = {c for c in cells if (c / ".done.json").exists()}
    started = [c for c in cells if c.exists() or c.with_name(c.name + ".partial").exists()]
    # Only a cell running at the signal can still have ended (at most one per worker), and no
    # worker holds more than one unfinished cell: nothing was started after the signal. (Before
    # the fix the orphaned workers went on to finish every cell.)
    assert before and before <= after and len(after - before) <= 2
    assert len(started) - len(after) <= 2 and len(after) < len(cells), (before, after, started)


def test_a_cell_finished_with_other_settings_is_refused_not_reused(tmp_path, capsys):
    """Regression: a cell's folder names its condition, overrides and seed, not its preset or
    selector arguments, so a sweep with another preset or ``agent`` into the same folder took
    the finished cells for its own and reported them done."""
    from replay_gym.sweep.backends import DONE, pending

    cell = {"condition": "ucb1", "seed": 0, "preset": "default", "overrides": {"days": 10},
            "agent": {}, "dir": "ucb1/days=10/seed_0"}  # fmt: skip
    done = tmp_path / cell["dir"]
    done.mkdir(parents=True)
    (done / DONE).write_text(json.dumps({**cell, "seconds": 1.0, "threads": 1}))
    assert pending([cell], tmp_path) == []
    listed = {**cell, "overrides": {"days": 10, "sampler.downsample": (4, 4, 2, 2, 1)}}
    (done / DONE).write_text(json.dumps({**listed, "seconds": 1.0, "threads": 1}))
    assert pending([listed], tmp_path) == []  # a tuple is the JSON list the marker holds
    (done / DONE).write_text(json.dumps({**cell, "seconds": 1.0, "threads": 1}))
    for changed, named in (({"agent": {"discount": "0.9"}}, "agent"),
                           ({"preset": "fashion-mnist"}, "preset")):  # fmt: skip
        with pytest.raises(ValueError, match=f"ucb1/days=10/seed_0.*{named}.*another --out"):
            pending([{**cell, **changed}], tmp_path)
    args = SweepArgs(out=tmp_path, conditions=("ucb1",), seeds=(0,), preset="fashion-mnist",
                     set=("days=10",), dry_run=True)  # fmt: skip
    with pytest.raises(ValueError, match="preset"):
        sweep(args)  # refused before anything runs, the dry run included
    (done / DONE).write_text("{not json")
    with pytest.raises(ValueError, match=r"\.done\.json"):
        pending([cell], tmp_path)
