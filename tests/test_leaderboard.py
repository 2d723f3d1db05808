"""benchmarks/leaderboard/leaderboard.py: rows on held-out seeds, scores, tests, one-command add."""

import json
import sys

import numpy as np
import pytest

from replay_gym.config import preset


@pytest.mark.slow
def test_run_then_add_a_user_selector_row(tmp_path, load_script, monkeypatch):
    board = load_script("benchmarks/leaderboard/leaderboard.py")
    text = board.main(board.Run(presets=("smoke",), rows=("round-robin", "oracle", "random"),
                                seeds=(0, 1), out=tmp_path))  # fmt: skip
    assert "## smoke" in text and "| random | 2 |" in text
    assert "0 (by definition)" in text and "1 (by definition)" in text
    row = json.loads((tmp_path / "leaderboard.json").read_text())["boards"][0]["rows"]["random"]
    assert len(row["normalised"]) == 2 and row["vs_round_robin"]["text"].startswith("t(1)=")
    # a user's selector, registered by a module of theirs: one command adds its row
    (tmp_path / "my_selectors.py").write_text(
        "from replay_gym.agents import make_selector, register_selector\n"
        "register_selector('my-weakest', lambda **kw: make_selector('weakest', **kw),"
        " overwrite=True)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    text = board.main(board.Add(name="my-weakest", imports=("my_selectors",), presets=("smoke",),
                                seeds=(0, 1), out=tmp_path))  # fmt: skip
    assert "| my-weakest | 2 |" in text
    # regression: with --workers 2 the cells run in spawned processes, which must import the
    # user's module too (they failed with "unknown condition 'my-weakest'")
    text = board.main(board.Add(name="my-weakest", imports=("my_selectors",), presets=("smoke",),
                                seeds=(0, 1, 2), out=tmp_path, workers=2))  # fmt: skip
    assert "| my-weakest | 3 |" in text
    sys.modules.pop("my_selectors", None)
    with pytest.raises(SystemExit, match="not a registered selector"):
        board.main(board.Add(name="nobody", presets=("smoke",), seeds=(0,), out=tmp_path))


def test_boards_without_their_reference_rows_wait(tmp_path, load_script):
    board = load_script("benchmarks/leaderboard/leaderboard.py")
    text = board.build(tmp_path, ("smoke",))
    assert "Waiting for the round-robin, oracle rows." in text


def test_aggregate_across_boards(load_script):
    board = load_script("benchmarks/leaderboard/leaderboard.py")

    def fake(shift):
        rows = {
            "round-robin": {"mean_over_days": [0.5, 0.52, 0.51]},
            "oracle": {"mean_over_days": [0.7, 0.71, 0.72]},
            "good": {"mean_over_days": list(np.add([0.6, 0.62, 0.61], shift)),
                     "normalised": [0.5, 0.6, 0.55]},
            "bad": {"mean_over_days": [0.4, 0.41, 0.42], "normalised": [-0.5, -0.4, None]},
        }  # fmt: skip
        return {"preset": f"p{shift}", "rows": rows}

    overall = board.aggregate([fake(0.0), fake(0.01)])
    assert set(overall) == {"good", "bad"}
    assert overall["good"]["p_improvement"]["estimate"] == 1.0
    assert overall["bad"]["p_improvement"]["estimate"] == 0.0
    assert overall["good"]["iqm_normalised"]["estimate"] == pytest.approx(0.55)
    assert overall["bad"]["runs"] == 2  # the seed without a score is left out
    assert "| good | 0.550 [" in board.markdown([], overall)


def test_a_rows_intervals_do_not_move_when_rows_are_added(load_script):
    # Regression: one generator was shared by the rows in turn, so adding a row (a new selector,
    # an SB3 agent) moved every other row's bootstrap interval.
    board = load_script("benchmarks/leaderboard/leaderboard.py")
    rng = np.random.default_rng(7)

    def rows(names):
        made = {name: {"mean_over_days": list(rng.uniform(0.4, 0.8, 5)),
                       "normalised": list(rng.normal(0.0, 1.0, 5))} for name in names}
        return made  # fmt: skip

    boards = [{"preset": p, "rows": rows(["round-robin", "oracle", "good"])} for p in "ab"]
    before = board.aggregate(boards)
    for b in boards:
        b["rows"].update(rows(["aaa-new"]))
    after = board.aggregate(boards)
    assert set(after) == {"good", "aaa-new"} and after["good"] == before["good"]


def test_sb3_row_refuses_training_on_an_evaluation_seed(load_script):
    board = load_script("benchmarks/leaderboard/leaderboard.py")
    with pytest.raises(SystemExit, match="keep training seeds apart"):
        board.main(board.AddSB3(train_seed=3, seeds=(0, 1, 2, 3)))


@pytest.mark.slow
def test_rows_run_in_parallel_and_a_failed_cell_stops_after_the_others(tmp_path, load_script):
    board = load_script("benchmarks/leaderboard/leaderboard.py")
    with pytest.raises(SystemExit, match=r"smoke no-such-selector/base/seed_0 failed"):
        board.run_rows(tmp_path, "smoke", ("round-robin", "no-such-selector"), (0,), threads=1,
                       workers=2)  # fmt: skip
    assert (tmp_path / "smoke" / "round-robin" / "base" / "seed_0" / ".done.json").exists()


def test_rows_stopped_by_a_signal_stop_the_command_instead_of_building_a_partial_table(
    tmp_path, load_script, monkeypatch
):
    board = load_script("benchmarks/leaderboard/leaderboard.py")

    def stopped_pool(cells, sweep_dir, **_):  # what run_local returns after a SIGTERM
        return [{"dir": c["dir"], "status": "not started", "seconds": 0.0, "error": None,
                 "interrupted": True, "signum": 15} for c in cells]

    monkeypatch.setattr(board, "run_local", stopped_pool)
    with pytest.raises(SystemExit, match=r"smoke: stopped by a signal \(2 cells"):
        board.run_rows(tmp_path, "smoke", ("round-robin",), (0, 1), threads=1, workers=2)


def test_sb3_row_trains_side_by_side_with_checkpoints_and_resumes_a_killed_training(
    tmp_path, load_script, monkeypatch
):
    import replay_gym.agents.sb3 as sb3
    import replay_gym.runner as runner
    from replay_gym.agents.sb3.checkpoints import MODEL_FILE

    board = load_script("benchmarks/leaderboard/leaderboard.py")
    trained, evaluated = [], []

    def train(args):  # records the arguments and writes the sidecar a training writes
        trained.append(args)
        write_sidecar(args.out, args.env)

    monkeypatch.setattr(sb3, "train_sb3", train)
    monkeypatch.setattr(runner, "run", lambda args: evaluated.append(args.first_seed))
    row = board.train_and_run_sb3(tmp_path, "smoke", "ppo", 500, 1000, (0, 1), 1, workers=2)
    assert row == "sb3-ppo" and evaluated == [0, 1]
    fresh = trained[-1]
    assert (fresh.n_envs, fresh.vec_env, fresh.threads) == (2, "subproc", 1)
    assert fresh.total_timesteps == 500 and fresh.resume is None
    assert fresh.checkpoint_every == board.SB3_CHECKPOINT_STEPS
    assert fresh.out.name == "ppo-500-seed1000-envs2.zip"
    # killed after its first checkpoint: the same command resumes it to its target
    step = fresh.out.with_suffix(".ckpt") / "step-256"
    step.mkdir(parents=True)
    (step / MODEL_FILE).write_bytes(b"")
    board.train_and_run_sb3(tmp_path, "smoke", "ppo", 500, 1000, (0,), 1, workers=2)
    resumed = trained[-1]
    assert resumed.resume == fresh.out.with_suffix(".ckpt") and resumed.total_timesteps is None
    assert resumed.env == fresh.env == preset("smoke")  # the board's preset, not EnvConfig()


def write_sidecar(model, env):
    import json

    from replay_gym.agents.sb3 import sidecar_path
    from replay_gym.config import config_to_dict

    model.parent.mkdir(parents=True, exist_ok=True)
    sidecar_path(model).write_text(json.dumps({"env": config_to_dict(env)}))


def test_an_sb3_row_refuses_a_model_trained_on_other_settings(tmp_path, load_script, monkeypatch):
    # Regression: a model trained on EnvConfig()'s bare defaults was evaluated on the board with
    # only a warning; a board's row must come from its own preset.
    import replay_gym.runner as runner

    board = load_script("benchmarks/leaderboard/leaderboard.py")
    monkeypatch.setattr(runner, "run", lambda args: pytest.fail("evaluated a mismatched model"))
    model = tmp_path / "smoke" / "models" / "ppo-500-seed1000.zip"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"")
    write_sidecar(model, preset("default"))
    with pytest.raises(SystemExit, match=r"trained on other settings than the 'smoke' board's"):
        board.train_and_run_sb3(tmp_path, "smoke", "ppo", 500, 1000, (0,), 1)
    assert board.settings_changed(model, "default") == []


def test_a_board_says_how_far_its_ceiling_lies_above_round_robin(tmp_path, load_script, make_run):
    # The normalised score divides by oracle - round-robin night by night; a board must say how
    # large that room is and on how many nights it exists, and warn when it is not clearly > 0.
    board = load_script("benchmarks/leaderboard/leaderboard.py")

    def cells(row, curves):
        for seed, curve in curves.items():
            accuracy = {seed: [[a, a] for a in curve]}
            make_run(tmp_path / "smoke" / row / "base" / f"seed_{seed}", row, accuracy, accuracy)

    cells("round-robin", {0: [0.4, 0.5, 0.6], 1: [0.5, 0.6, 0.7]})
    cells("oracle", {0: [0.5, 0.5, 0.7], 1: [0.6, 0.7, 0.6]})  # above on 4 of 6 nights
    cells("random", {0: [0.45, 0.5, 0.6], 1: [0.5, 0.6, 0.7]})
    result = board.board_table(tmp_path, "smoke")
    room = result["ceiling"]
    assert room["mean_over_days"] == pytest.approx([0.2 / 3, 0.1 / 3])
    assert (room["nights_scored"], room["nights"]) == (4, 6)
    text = board.markdown([result], {})
    assert "Normaliser: oracle − round-robin in mean test accuracy over days 0.050 ± 0.017" in text
    assert "above round-robin on 4 of 6 nights" in text
    assert "divides noise by noise" not in text  # 0.050 > 2 x 0.017
    flat = {"mean_over_days": [0.01, -0.01, 0.02], "nights_scored": 5, "nights": 30}
    assert "divides noise by noise" in board._ceiling_lines(flat)[0]


def test_an_sb3_row_refuses_to_train_a_second_model_beside_its_evaluated_one(
    tmp_path, load_script, monkeypatch
):
    # Regression: the model's file name carries the number of training envs (``--workers``), so
    # running `add-sb3` again with another --workers trained a new model for 14 minutes, then
    # skipped every evaluation (the row's cells existed) and kept the first model's numbers.
    import replay_gym.agents.sb3 as sb3
    import replay_gym.runner as runner

    board = load_script("benchmarks/leaderboard/leaderboard.py")
    monkeypatch.setattr(sb3, "train_sb3", lambda args: pytest.fail("trained a second model"))
    monkeypatch.setattr(runner, "run", lambda args: pytest.fail("evaluated"))
    cell = tmp_path / "smoke" / "sb3-ppo" / "base" / "seed_0"
    cell.mkdir(parents=True)
    first = tmp_path / "smoke" / "models" / "ppo-500-seed1000-envs2.zip"
    (cell / "config.json").write_text(json.dumps({"model": str(first)}))
    (cell / "results.jsonl").write_text("")
    (cell / "summary.json").write_text("{}")
    with pytest.raises(SystemExit, match=r"ppo-500-seed1000-envs2\.zip.*--workers 2"):
        board.train_and_run_sb3(tmp_path, "smoke", "ppo", 500, 1000, (0,), 1, workers=1)
    assert board.row_models(tmp_path / "smoke" / "sb3-ppo", (0,)) == {first.name}


def test_a_row_with_selector_arguments_is_its_own_row_and_keeps_its_arguments(
    tmp_path, load_script
):
    board = load_script("benchmarks/leaderboard/leaderboard.py")
    with pytest.raises(SystemExit, match="name it with --row .e.g. --row ucb1-discount0.9"):
        board.main(board.Add(name="ucb1", agent={"discount": "0.9"}, presets=("smoke",),
                             seeds=(0,), out=tmp_path))  # fmt: skip
    with pytest.raises(SystemExit, match="do not fit condition 'weakest'.*discount"):
        board.main(board.Add(name="weakest", agent={"discount": "0.9"}, row="w",
                             presets=("smoke",), seeds=(0,), out=tmp_path))  # fmt: skip
    with pytest.raises(SystemExit, match="--row 'a/b'"):
        board.main(board.Add(name="ucb1", row="a/b", presets=("smoke",), seeds=(0,),
                             out=tmp_path))  # fmt: skip
    board.main(board.Add(name="ucb1", agent={"discount": "0.9"}, row="ucb1-d0.9",
                         presets=("smoke",), seeds=(0,), out=tmp_path))  # fmt: skip
    cell = tmp_path / "smoke" / "ucb1-d0.9" / "base" / "seed_0"
    recorded = json.loads((cell / "config.json").read_text())
    assert recorded["condition"] == "ucb1" and recorded["agent"] == {"discount": 0.9}
    # the same row with other arguments would mix two settings in one row: refused
    with pytest.raises(SystemExit, match="ucb1-d0.9/base/seed_0: agent .*another --row"):
        board.main(board.Add(name="ucb1", agent={"discount": "0.5"}, row="ucb1-d0.9",
                             presets=("smoke",), seeds=(0,), out=tmp_path))  # fmt: skip


def test_a_board_shows_how_each_row_aims_its_replay(tmp_path, load_script, make_run):
    board = load_script("benchmarks/leaderboard/leaderboard.py")
    before = {0: [[0.2, 0.8], [0.3, 0.9]], 1: [[0.2, 0.8], [0.3, 0.9]]}
    after = {0: [[0.4, 0.8], [0.5, 0.9]], 1: [[0.4, 0.8], [0.5, 0.9]]}
    rows = {"round-robin": [18, 18], "oracle": [30, 6], "weak-first": [30, 6],
            "strong-first": [6, 30]}  # fmt: skip
    for row, counts in rows.items():
        for seed in (0, 1):
            make_run(tmp_path / "smoke" / row / "base" / f"seed_{seed}", row,
                     {seed: before[seed]}, {seed: after[seed]},
                     replays={seed: [counts, counts]})  # fmt: skip
    result = board.board_table(tmp_path, "smoke")
    weak, strong = result["rows"]["weak-first"], result["rows"]["strong-first"]
    assert weak["targeting"] == pytest.approx([-1.0, -1.0])
    assert strong["targeting"] == pytest.approx([1.0, 1.0])
    assert weak["entropy"] == pytest.approx([0.650] * 2, abs=1e-3)  # shares 5/6, 1/6
    assert result["rows"]["round-robin"]["targeting"] == [None, None]  # equal counts: no rho
    text = board.markdown([result], {})
    assert "| targeting (rho) | night entropy |" in text and "-1.000 ± 0.000 | 0.650" in text
    # a class-incremental course has no profile: the columns stay empty, the table is built
    assert board.policy_profile([], []) == {"targeting": [], "entropy": []}
    results = tmp_path / "smoke" / "weak-first" / "base" / "seed_0" / "results.jsonl"
    results.write_text(results.read_text().replace('"day": 1,', '"task": 1, "day": 1,'))
    assert "targeting" not in board.board_table(tmp_path, "smoke")["rows"]["weak-first"]


def test_the_command_line_refuses_a_flag_given_twice(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "benchmarks/leaderboard/leaderboard.py", "add", "--name", "ucb1",
         "--agent", "discount", "0.9", "--agent", "c", "2", "--row", "x", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "--agent is given twice" in done.stderr and "--agent discount 0.9 c 2" in done.stderr
    assert list(tmp_path.iterdir()) == []
