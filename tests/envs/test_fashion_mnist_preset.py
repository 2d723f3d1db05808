"""The fashion-mnist preset: real images, a shipped base that never saw its new classes."""

import json
from pathlib import Path

import pytest
import torch

from replay_gym.config import apply_overrides, preset
from replay_gym.data.fashion_mnist import DEFAULT_ROOT
from replay_gym.envs import ReplaySelectionEnv
from replay_gym.learner import weights
from replay_gym.learner.cortex import Learner
from replay_gym.learner.weights import load_base_state
from replay_gym.runner import RunArgs, run

needs_data = pytest.mark.skipif(
    not Path(DEFAULT_ROOT).is_dir(),
    reason=f"Fashion-MNIST is not installed at {DEFAULT_ROOT} (Debian: apt-get install "
    "dataset-fashion-mnist)",
)


def tiny(**changes):
    """The preset on 12 training images per class, one day, a 3-step night."""
    return apply_overrides(
        preset("fashion-mnist"), days=1, steps_per_night=3,
        data={"train_per_class": 12, "val_per_class": 4, "test_per_class": 4}, **changes,
    )  # fmt: skip


def test_the_preset_builds_its_learner_offline_from_the_shipped_base(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the fashion-mnist preset must not download anything")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    config = preset("fashion-mnist")
    state = load_base_state(config.learner)
    learner = Learner(config.learner, config.data.n_classes, state, torch.Generator())
    assert torch.equal(learner.model.features[0].weight, state["features.0.weight"])
    assert config.data.source == "fashion-mnist" and config.night_length >= 50


@needs_data
def test_the_env_refuses_a_tampered_base(monkeypatch, tmp_path):
    base = weights.SHIPPED_BASES["embedded-fashion-mnist"]
    (tmp_path / base.meta_path.name).write_bytes(base.meta_path.read_bytes())
    (tmp_path / base.file).write_bytes(base.path.read_bytes() + b"\0")
    monkeypatch.setattr(weights, "ASSETS", tmp_path)
    with pytest.raises(ValueError, match="refused .*vgg16_fmnist_base.pt: its SHA-256"):
        ReplaySelectionEnv(tiny())


@needs_data
def test_a_one_day_run_on_real_images(tmp_path):
    rows = run(
        RunArgs(
            condition="round-robin",
            preset="fashion-mnist",
            env=tiny(),
            out=tmp_path / "run",
            progress=False,
            threads=1,
        )
    )
    assert [r["day"] for r in rows] == [1]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["env"]["data"]["classes"] == ["5", "6", "7", "8", "9"]
    assert sum(rows[0]["replay_counts"]) == 3 * preset("fashion-mnist").learner.batch_size
    assert 0.0 <= rows[0]["test_accuracy"] <= 1.0


@needs_data
def test_the_env_sees_the_new_classes_only():
    env = ReplaySelectionEnv(tiny())
    assert env.data.class_names == ("Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    obs, info = env.reset(seed=0)
    assert env.action_space.n == 5 and obs.shape == (17,)
    assert len(info["test_class_accuracy"]) == 5
