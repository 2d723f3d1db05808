"""replay_gym.replay_profile and benchmarks/leaderboard/replay_profile.py on small boards whose
answers are known."""

import json
import math

import numpy as np
import pytest

SCRIPT = "benchmarks/leaderboard/replay_profile.py"


def _cell(board, row, seed, nights, accuracy=0.5):
    """A finished cell: ``nights`` is one list of (action, reward) steps per day."""
    folder = board / row / "base" / f"seed_{seed}"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"condition": row, "preset": "t"}))
    after_day = [0.2, 0.4, 0.6, 0.8]
    records, steps = [], []
    for day, night in enumerate(nights, start=1):
        counts = np.bincount([a for a, _ in night], minlength=4) * 36
        records.append({"seed": seed, "day": day, "test_accuracy": accuracy,
                        "val_accuracy": accuracy - 0.1,
                        "test_class_accuracy_after_day": after_day,
                        "replay_counts": counts.tolist()})  # fmt: skip
        steps += [{"seed": seed, "day": day, "night_step": k, "action": a, "reward": r}
                  for k, (a, r) in enumerate(night, start=1)]  # fmt: skip
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "steps.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))


def test_night_measures_on_hand_computed_nights():
    from replay_gym import replay_profile as profile

    assert profile.night_entropy([5, 5, 5, 5]) == pytest.approx(1.0)
    assert profile.night_entropy([7, 0, 0, 0]) == pytest.approx(0.0)
    assert profile.night_entropy([1, 1, 0, 0]) == pytest.approx(0.5)  # log 2 / log 4
    assert profile.night_targeting([4, 3, 2, 1], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(-1.0)
    assert math.isnan(profile.night_targeting([2, 2, 2, 2], [0.1, 0.2, 0.3, 0.4]))
    steps = [{"action": 0, "reward": 3.0}, {"action": 1, "reward": 1.0},
             {"action": 0, "reward": 1.0}, {"action": 0, "reward": 2.0}]  # fmt: skip
    assert profile.repeat_minus_first(steps) == pytest.approx(1.5 - 3.0)  # class 1 has no repeat
    assert math.isnan(profile.repeat_minus_first(steps[:2]))
    for bad in ([0, 0, 0], [3], [-1, 2]):
        with pytest.raises(ValueError, match="replay counts"):
            profile.night_entropy(bad)
    with pytest.raises(ValueError, match="3 replay counts for 4"):
        profile.night_targeting([1, 2, 3], [0.1, 0.2, 0.3, 0.4])


def test_a_board_is_profiled_per_row_and_written(tmp_path, load_script):
    profile = load_script(SCRIPT)
    weak_first = [(0, 2.0), (0, 1.0), (0, 0.0), (1, 1.0)]  # weak classes most, reward shrinks
    strong_first = [(3, 1.0), (3, 1.0), (3, 1.0), (2, 1.0)]
    uniform = [(0, 1.0), (1, 1.0), (2, 1.0), (3, 1.0)]
    for seed in range(2):
        _cell(tmp_path, "weak", seed, [weak_first] * 3, accuracy=0.8)
        _cell(tmp_path, "strong", seed, [strong_first] * 3, accuracy=0.4)
        _cell(tmp_path, "uniform", seed, [uniform] * 3, accuracy=0.6)
    (tmp_path / "models").mkdir()  # the SB3 models' folder is no row
    text = profile.main(profile.Args(board=tmp_path))
    rows = json.loads((tmp_path / "replay_profile.json").read_text())
    assert set(rows) == {"weak", "strong", "uniform"}
    assert rows["weak"]["targeting"] == pytest.approx([-0.9486833] * 2)
    assert rows["weak"]["repeat_minus_first"] == pytest.approx([-1.5, -1.5])
    assert rows["strong"]["repeat_minus_first"] == pytest.approx([0.0, 0.0])
    assert rows["uniform"]["entropy"] == pytest.approx([1.0, 1.0])
    assert rows["uniform"]["targeting"] == [None, None]  # equal counts: no rho
    assert text.index("| weak |") < text.index("| strong |") < text.index("| uniform |")
    assert "Too few rows" in text  # two rows with a rho: no correlation across rows
    assert (tmp_path / "replay_profile.md").read_text() == text


def test_bad_boards_are_named(tmp_path, load_script):
    profile = load_script(SCRIPT)
    with pytest.raises(SystemExit, match="no such folder"):
        profile.main(profile.Args(board=tmp_path / "missing"))
    (tmp_path / "row").mkdir()
    with pytest.raises(SystemExit, match="no finished cells"):
        profile.main(profile.Args(board=tmp_path))
    _cell(tmp_path, "broken", 0, [[(0, 1.0), (1, 1.0)]])
    (tmp_path / "broken" / "base" / "seed_0" / "steps.jsonl").write_text("{not json\n")
    with pytest.raises(ValueError, match="steps.jsonl"):
        profile.main(profile.Args(board=tmp_path))


def test_a_screen_reads_validation_accuracy_and_a_missing_metric_is_named(tmp_path, load_script):
    profile = load_script(SCRIPT)
    _cell(tmp_path, "ucb1", 0, [[(0, 1.0), (1, 0.5)]] * 2, accuracy=0.7)
    text = profile.main(profile.Args(board=tmp_path, metric="val_accuracy"))
    rows = json.loads((tmp_path / "replay_profile.json").read_text())
    assert rows["ucb1"]["mean_accuracy"] == pytest.approx([0.6])
    assert "mean val_accuracy over days" in text
    with pytest.raises(ValueError, match="no 'train_accuracy' on day 1"):
        profile.main(profile.Args(board=tmp_path, metric="train_accuracy"))


def test_a_class_incremental_course_is_refused(tmp_path, load_script):
    profile = load_script(SCRIPT)
    _cell(tmp_path, "ucb1", 0, [[(0, 1.0), (1, 0.5)]])
    results = tmp_path / "ucb1" / "base" / "seed_0" / "results.jsonl"
    record = json.loads(results.read_text())
    results.write_text(json.dumps({**record, "task": 1}) + "\n")
    with pytest.raises(ValueError, match="class-incremental course"):
        profile.main(profile.Args(board=tmp_path))
