"""Every example runs on a tiny budget (the smoke preset, one or two days)."""

import json
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_every_example_opens_with_a_usage_block():
    for path in sorted(EXAMPLES.glob("*.py")):
        head = path.read_text().split('"""')[1]
        assert "Usage:" in head and "python examples/" + path.name in head, path.name


@pytest.mark.slow
def test_01_random_agent(load_script):
    accuracy = load_script("examples/01_random_agent.py").main(preset="smoke")
    assert 0.0 <= accuracy <= 1.0


def test_02_paper_regression_agent(load_script):
    result = load_script("examples/02_paper_regression_agent.py").main(preset="smoke", days=1)
    assert result["replays"].sum() == 20


@pytest.mark.slow
def test_03_train_ppo(tmp_path, load_script):
    result = load_script("examples/03_train_ppo.py").main(
        out=tmp_path, preset="smoke", days=1, total_timesteps=16, n_steps=8, batch_size=8
    )
    assert Path(result["model"]).exists()
    assert (tmp_path / "eval" / "results.jsonl").exists()


def test_04_custom_agent(tmp_path, load_script):
    records = load_script("examples/04_custom_agent.py").main(
        out=tmp_path / "run", preset="smoke", days=1
    )
    assert [r["condition"] for r in records] == ["largest-drop"]
    assert (tmp_path / "run" / "results.jsonl").exists()


@pytest.mark.slow
def test_05_compare_conditions(tmp_path, load_script):
    curves = load_script("examples/05_compare_conditions.py").main(
        out=tmp_path, conditions=("none", "round-robin"), preset="smoke", seeds=1, days=1
    )
    assert set(curves) == {"none", "round-robin"}
    assert json.loads((tmp_path / "curves.json").read_text()) == curves
    assert all(np.isfinite(c).all() for c in curves.values())
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_04_custom_agent_keeps_its_state_in_checkpoints(load_script):
    from types import SimpleNamespace

    from gymnasium.spaces import Discrete

    module = load_script("examples/04_custom_agent.py")
    env = SimpleNamespace(action_space=Discrete(3))
    info = {"class_accuracy": np.array([0.5, 0.2, 0.9]), "night_step": 4}
    agent = module.LargestDropSelector()
    agent.begin_episode(env, None, info, np.random.default_rng(0))
    twin = module.LargestDropSelector()
    twin.load_state_dict(agent.state_dict(), env)  # mid-night: night_start must come back
    later = {"class_accuracy": np.array([0.1, 0.2, 0.9]), "night_step": 5}
    assert [twin.select(None, later) for _ in range(5)] == [
        agent.select(None, later) for _ in range(5)]
