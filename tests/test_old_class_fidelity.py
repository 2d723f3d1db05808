"""benchmarks/continual/old_class_fidelity.py: old-class sample fidelity along a course."""

import json

import pytest

TINY = ['scenario="class-incremental"', "days=2", "train_per_class=20", "val_per_class=5",
        "test_per_class=5"]  # fmt: skip
"""Two tasks of two classes on the smoke preset, a day each."""


@pytest.mark.slow
def test_old_classes_are_judged_from_the_second_task_on(tmp_path, load_script, one_thread):
    script = load_script("benchmarks/continual/old_class_fidelity.py")
    text = script.main(tmp_path, kinds=("gaussian",), seeds=(100,), preset="smoke", samples=8,
                       override=tuple(TINY))  # fmt: skip
    nights = json.loads((tmp_path / "gaussian" / "seed_100.json").read_text())
    assert [n["day"] for n in nights] == [1, 2]
    assert [set(n["classes"]) for n in nights] == [{"0", "1"}, {"0", "1", "2", "3"}]
    day2 = nights[1]["classes"]
    assert [day2[c]["old"] for c in "0123"] == [True, True, False, False]
    for row in day2.values():
        assert 0 <= row["sample_accuracy"] <= 1 and 0 <= row["real_accuracy"] <= 1
    assert "| gaussian |" in text and (tmp_path / "old_class_fidelity.md").exists()
    # reused, not rerun, when the table is made again
    stamp = (tmp_path / "gaussian" / "seed_100.json").stat().st_mtime_ns
    script.main(tmp_path, kinds=("gaussian",), seeds=(100,), preset="smoke", samples=8,
                override=tuple(TINY))  # fmt: skip
    assert (tmp_path / "gaussian" / "seed_100.json").stat().st_mtime_ns == stamp


def test_summary_averages_old_and_current_classes_separately(load_script):
    script = load_script("benchmarks/continual/old_class_fidelity.py")
    old, new = {"old": True}, {"old": False}
    nights = [
        {"classes": {"0": {**old, "sample_accuracy": 0.2, "real_accuracy": 0.4},
                     "1": {**new, "sample_accuracy": 1.0, "real_accuracy": 0.8}}},
        {"classes": {"0": {**old, "sample_accuracy": 0.6, "real_accuracy": 0.2}}},
    ]  # fmt: skip
    assert script.summarise(nights, old=True) == pytest.approx({"sample": 0.4, "real": 0.3})
    assert script.summarise(nights, old=False) == pytest.approx({"sample": 1.0, "real": 0.8})
