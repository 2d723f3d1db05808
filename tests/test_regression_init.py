"""benchmarks/paper/regression_init.py on regression courses whose answers are known."""

import json
import math

import pytest

from replay_gym.agents.regression import glorot_uniform
from replay_gym.runner import selector_rng

SCRIPT = "benchmarks/paper/regression_init.py"


def _course(folder, seed, agent=None, condition="regression", counts=True):
    """A finished one-seed run whose night-1 replays rise with its initial weights."""
    weights = glorot_uniform(4, selector_rng(seed))
    folder.mkdir(parents=True)
    config = {"condition": condition, "seeds": [seed], "agent": agent or {}}
    (folder / "config.json").write_text(json.dumps(config))
    days = []
    for day in (1, 2):
        accuracy = list(0.5 - weights / 4)
        record = {"seed": seed, "day": day, "test_class_accuracy_after_day": accuracy}
        if counts:
            record["replay_counts"] = list(100 + 50 * weights) if day == 1 else [36.0] * 4
        days.append(json.dumps(record))
    (folder / "results.jsonl").write_text("\n".join(days) + "\n")


def test_replays_are_set_against_the_recovered_initial_weights(tmp_path, load_script):
    script = load_script(SCRIPT)
    for seed in (0, 1):
        _course(tmp_path / "plain" / f"seed_{seed}", seed)
        _course(tmp_path / "zeros" / f"seed_{seed}", seed, agent={"initial_weights": "zeros"})
    rows = script.course_classes(tmp_path / "plain" / "seed_1")
    assert [r["initial_weight"] for r in rows] == list(glorot_uniform(4, selector_rng(1)))
    assert rows[2]["replays_total"] == rows[2]["replays_night1"] + 36
    folders = [tmp_path / "plain", tmp_path / "zeros"]
    text = script.main(script.Args(runs=folders, out=tmp_path / "o"))
    saved = json.loads((tmp_path / "o" / "regression_init.json").read_text())
    plain, zeros = saved[str(tmp_path / "plain")], saved[str(tmp_path / "zeros")]
    # Replays are a rising function of the weights, accuracy a falling one, pooled over courses.
    assert plain["night1_vs_initial_weight"] == pytest.approx(1.0)
    assert plain["total_vs_initial_weight"] == pytest.approx(1.0)
    assert plain["night1_vs_accuracy_day1"] == pytest.approx(-1.0)
    assert (plain["courses"], plain["classes"]) == (2, 8)
    assert math.isnan(zeros["night1_vs_initial_weight"])  # zero-initialised: no such rho
    assert zeros["night1_vs_accuracy_day1"] == pytest.approx(-1.0)
    assert "| 2 × 4 | +1.00 (p=0) | -1.00 (p=0) |" in text and "| – |" in text


def test_courses_it_cannot_read_are_named(tmp_path, load_script):
    script = load_script(SCRIPT)
    _course(tmp_path / "rr" / "seed_0", 0, condition="round-robin")
    with pytest.raises(SystemExit, match="condition 'round-robin', not 'regression'"):
        script.main(script.Args(runs=[tmp_path / "rr"], out=tmp_path / "o"))
    _course(tmp_path / "old" / "seed_0", 0, counts=False)
    with pytest.raises(SystemExit, match="seed 0 has a day without replay_counts"):
        script.main(script.Args(runs=[tmp_path / "old"], out=tmp_path / "o"))
    with pytest.raises(SystemExit, match="no such run directory"):
        script.main(script.Args(runs=[tmp_path / "missing"], out=tmp_path / "o"))
    assert not (tmp_path / "o").exists()
