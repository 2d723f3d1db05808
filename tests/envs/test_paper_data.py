"""The real loading paths (paper preset: class folders, VGG-16 weights; Fashion-MNIST) on data
and weights that the tests make, since nothing can be downloaded here."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models import vgg16

from replay_gym.config import LearnerConfig
from replay_gym.data import PAPER_MODELS
from replay_gym.data.fashion_mnist import DEFAULT_ROOT
from replay_gym.envs import ReplaySelectionEnv
from replay_gym.learner import weights
from replay_gym.learner.weights import load_base_state

TINY = {"train_per_class": 6, "val_per_class": 2, "test_per_class": 2}


def vgg16_features_file(path: Path) -> Path:
    torch.manual_seed(0)
    features = {f"features.{k}": v for k, v in vgg16().features.state_dict().items()}
    torch.save(features, path)
    return path


def write_class_folders(root: Path, names, count: int) -> None:
    rng = np.random.default_rng(0)
    for c, name in enumerate(names):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
            pixels[..., c % 3] = 200  # a class colour, so there is something to learn
            Image.fromarray(pixels).save(folder / f"{name}_{i}.JPEG")


@pytest.mark.slow
def test_paper_preset_runs_on_folder_data_and_a_weights_file(tmp_path):
    model = 2
    names = [wnid for wnid, _ in PAPER_MODELS[model]]
    write_class_folders(tmp_path / "imagenet", names, 10)
    weights = vgg16_features_file(tmp_path / "vgg16.pth")
    env = ReplaySelectionEnv(
        preset="paper",
        root=str(tmp_path / "imagenet"),
        paper_model=model,
        weights=str(weights),
        input_size=32,
        hidden=16,
        device="cpu",
        batch_size=6,
        days=1,
        **TINY,
    )
    assert env.data.class_names == tuple(names)
    assert env.config.learner.widths == (64, 128, 256, 512, 512)
    assert env.night_length == 10  # 6 x 10 / 6
    saved = torch.load(weights)
    assert all(torch.equal(env._base_state[k], saved[k]) for k in saved)
    _, info = env.reset(seed=0)
    # day 1 starts from the file and trains every layer (METHOD §1: all parameters trainable)
    start, now = saved["features.0.weight"], env.learner.model.features[0].weight.detach()
    assert 0 < (now - start).abs().max() < 0.1
    _, reward, *_ = env.step(3)
    assert np.isfinite(reward)


def test_paper_preset_names_a_missing_class_folder(tmp_path):
    names = [wnid for wnid, _ in PAPER_MODELS[1]]
    write_class_folders(tmp_path / "imagenet", names[:9], 10)
    with pytest.raises((ValueError, FileNotFoundError), match=names[9]):
        ReplaySelectionEnv(
            preset="paper",
            root=str(tmp_path / "imagenet"),
            weights="none",
            device="cpu",
            input_size=32,
            **TINY,
        )


def test_imagenet_weights_are_read_from_a_filled_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    made = vgg16_features_file(tmp_path / "vgg16.pth")
    # The cached file's name must carry its own hash, as torchvision's do (the real file's
    # cannot be made here), so the URL is the test file's.
    name = f"vgg16-{hashlib.sha256(made.read_bytes()).hexdigest()[:8]}.pth"
    made.rename(cache / name)
    monkeypatch.setattr(weights, "imagenet_url", lambda: f"https://download.pytorch.org/models/{name}")
    config = LearnerConfig(widths=(64, 128, 256, 512, 512), weights="imagenet")
    state = load_base_state(config)
    assert torch.equal(
        state["features.28.weight"], torch.load(cache / name)["features.28.weight"]
    )


@pytest.mark.skipif(
    not Path(DEFAULT_ROOT).is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
)
def test_fashion_mnist_environment_on_the_real_files():
    env = ReplaySelectionEnv(
        preset="smoke",
        source="fashion-mnist",
        n_classes=4,
        classes=("0", "1", "7", "9"),
        days=1,
    )
    assert env.data.class_names == ("T-shirt/top", "Trouser", "Sneaker", "Ankle boot")
    _, info = env.reset(seed=0)
    assert 0.0 <= info["test_accuracy"] <= 1.0
    env.step(0)
