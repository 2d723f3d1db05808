import json

import pytest

from replay_gym.analysis import fig3c, markdown, run_or_reuse, summarise
from replay_gym.config import apply_overrides, preset
from replay_gym.runner import RunArgs

RECORDS = [
    {
        "seed": 0,
        "day": 1,
        "test_accuracy_after_day": 0.4,
        "test_class_accuracy_after_day": [0.2, 0.5, 0.8],
        "replay_counts": [5, 3, 1],
        "test_class_accuracy": [0.3, 0.5, 0.8],
        "test_accuracy": 0.53,
        "wall_time": 1.0,
    },
    {
        "seed": 0,
        "day": 2,
        "test_accuracy_after_day": 0.5,
        "test_class_accuracy_after_day": [0.3, 0.5, 0.8],
        "replay_counts": [5, 3, 1],
        "test_class_accuracy": [0.6, 0.6, 0.7],
        "test_accuracy": 0.63,
        "wall_time": 2.0,
    },
]


def test_fig3c_by_hand():
    result = fig3c(RECORDS)
    assert result["r_replays_vs_day1"] < -0.95  # replays [10, 6, 2] fall with day-1 accuracy
    assert result["r_change_vs_day1"] < -0.95  # change [0.4, 0.1, -0.1]
    assert result["r2_replays_vs_day1"] == pytest.approx(result["r_replays_vs_day1"] ** 2)
    assert result["n_points"] == 3


def test_summarise_and_markdown():
    second_seed = [
        {
            **r,
            "seed": 1,
            "test_accuracy": r["test_accuracy"] + 0.1,
            "test_accuracy_after_day": r["test_accuracy_after_day"] + 0.1,
        }
        for r in RECORDS
    ]
    row = summarise("mine", RECORDS + second_seed)
    assert row["final_test_accuracy"] == pytest.approx(0.68)
    assert row["final_sem"] == pytest.approx(0.05)
    assert row["curve"] == pytest.approx([0.58, 0.68])
    # day 1 before its night (the paper's Fig. 3C/D x-axis) and after it, each named so
    assert row["test_accuracy_after_day1_before_night"] == pytest.approx(0.45)
    assert row["test_accuracy_after_night1"] == pytest.approx(0.58)
    assert row["seconds_per_course"] == pytest.approx(3.0)
    table = markdown([row], "header")
    assert table.startswith("header\n") and "| mine | 0.680 | 0.050 |" in table
    assert "| acc after day 1 (before night) | acc after night 1 |" in table
    assert "| 0.450 | 0.580 |" in table


def test_run_or_reuse_reruns_only_when_settings_differ(tmp_path):
    env = apply_overrides(preset("smoke"), days=1)
    args = RunArgs(condition="none", preset="smoke", out=tmp_path / "r", env=env, progress=False)
    first = run_or_reuse(args)
    stamp = (tmp_path / "r" / "results.jsonl").stat().st_mtime_ns
    assert run_or_reuse(args) == first
    assert (tmp_path / "r" / "results.jsonl").stat().st_mtime_ns == stamp
    changed = RunArgs(
        condition="none",
        preset="smoke",
        out=tmp_path / "r",
        env=apply_overrides(env, days=2),
        progress=False,
    )
    assert len(run_or_reuse(changed)) == 2
    assert json.loads((tmp_path / "r" / "config.json").read_text())["env"]["days"] == 2


def test_reusable_ignores_factors_of_blocks_the_run_does_not_replay_from(tmp_path):
    """Changing block 1's down-sampling cannot change a run replaying at block 4."""
    from replay_gym.analysis import reusable

    env = apply_overrides(preset("smoke"), days=1)
    run_or_reuse(RunArgs(condition="none", preset="smoke", out=tmp_path / "r", env=env,
                         progress=False))  # fmt: skip
    other_block = apply_overrides(env, downsample=(2, 1, 1, 1, 1))
    replay_block = apply_overrides(env, downsample=(1, 1, 1, 2, 1))
    assert env.replay_layer == 4
    assert reusable(tmp_path / "r", [0], env)
    assert reusable(tmp_path / "r", [0], other_block)
    assert not reusable(tmp_path / "r", [0], replay_block)
    assert not reusable(tmp_path / "r", [1], env)
    assert not reusable(tmp_path / "nowhere", [0], env)


def test_reusable_fills_settings_added_since_the_run_with_their_defaults(tmp_path):
    """A run recorded before a setting existed matches when the setting is at its default."""
    from replay_gym.analysis import reusable

    env = apply_overrides(preset("smoke"), days=1)
    run_or_reuse(RunArgs(condition="none", preset="smoke", out=tmp_path / "r", env=env,
                         progress=False))  # fmt: skip
    path = tmp_path / "r" / "config.json"
    config = json.loads(path.read_text())
    del config["env"]["scenario"], config["env"]["sampler"]["fit_on"]  # an older run
    path.write_text(json.dumps(config))
    assert reusable(tmp_path / "r", [0], env)
    assert not reusable(tmp_path / "r", [0], apply_overrides(env, fit_on="clean"))


def test_factors_of_other_blocks_do_not_change_a_run(tmp_path):
    """What lets reuse ignore them: a generative course replaying at block 4 is the same."""
    records = []
    for i, factors in enumerate(((4, 4, 2, 1, 1), (1, 1, 1, 1, 1))):
        env = apply_overrides(preset("smoke"), days=2, downsample=factors)
        args = RunArgs(condition="generative", preset="smoke", out=tmp_path / str(i), env=env,
                       progress=False)  # fmt: skip
        records.append([{k: v for k, v in r.items() if k != "wall_time"}
                        for r in run_or_reuse(args)])  # fmt: skip
    assert records[0] == records[1]


def test_read_json_names_a_file_that_is_not_json(tmp_path):
    from replay_gym.analysis import read_json

    (tmp_path / "ok.json").write_text('{"a": [1, 2]}')
    assert read_json(tmp_path / "ok.json") == {"a": [1, 2]}
    (tmp_path / "bad.json").write_bytes(b"\x80\x04not json")
    with pytest.raises(ValueError, match=f"cannot read {tmp_path / 'bad.json'} as JSON"):
        read_json(tmp_path / "bad.json")


def test_load_records_reads_json_lines_and_names_a_file_it_cannot_read(tmp_path):
    from replay_gym.analysis import load_records

    (tmp_path / "results.jsonl").write_text('{"day": 1}\n{"day": 2}\n')
    assert load_records(tmp_path) == [{"day": 1}, {"day": 2}]
    (tmp_path / "results.jsonl").write_text('{"day": 1}\n{"day": 2')  # cut off by a kill
    with pytest.raises(ValueError, match="cannot read .*results.jsonl as JSON lines"):
        load_records(tmp_path)
    (tmp_path / "results.jsonl").write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match="cannot read .*results.jsonl as JSON lines"):
        load_records(tmp_path)


def test_read_json_lines_reads_each_line_and_names_a_bad_file(tmp_path):
    from replay_gym.analysis import read_json_lines

    path = tmp_path / "steps.jsonl"
    path.write_text('{"day": 1}\n{"day": 2}\n')
    assert read_json_lines(path) == [{"day": 1}, {"day": 2}]
    path.write_text('{"day": 1}\n{not json\n')
    with pytest.raises(ValueError, match="cannot read .*steps.jsonl as JSON lines"):
        read_json_lines(path)
