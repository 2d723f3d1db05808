from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from replay_gym.config import DataConfig
from replay_gym.data import load_dataset, prototype_splits


def _small(**changes: object) -> DataConfig:
    fields: dict[str, object] = {
        "n_classes": 2, "train_per_class": 4, "val_per_class": 2, "test_per_class": 2,
    }
    fields.update(changes)
    return DataConfig(**fields)  # type: ignore[arg-type]


def test_prototypes_dispatch_and_cache() -> None:
    config = _small(seed=3)
    data = load_dataset(config, 32)
    assert data.class_names == ("proto-000", "proto-001")
    assert load_dataset(_small(seed=3), 32) is data  # equal frozen configs share the result
    assert load_dataset(config, 64).size == 64
    direct = prototype_splits(2, 4, 2, 2, size=32, seed=3)
    assert (direct.train_images == data.train_images).all()


def test_folders_dispatch(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(8):
            Image.fromarray(np.full((6, 6, 3), i, np.uint8)).save(tmp_path / name / f"{i}.png")
    data = load_dataset(_small(source="folders", root=str(tmp_path)), 32)
    assert data.class_names == ("a", "b") and data.size == 32


def test_fashion_mnist_dispatch(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_dataset(_small(source="fashion-mnist", root=str(tmp_path)), 32)


def test_config_is_validated_when_built() -> None:
    with pytest.raises(ValueError, match="data.n_classes must be at least 2"):
        _small(n_classes=1)


def test_classes_given_as_a_list_become_a_hashable_tuple() -> None:
    config = _small(source="folders", root="/x", classes=["a", "b"])
    assert config.classes == ("a", "b") and hash(config) == hash(_small(
        source="folders", root="/x", classes=("a", "b")
    ))
    with pytest.raises(ValueError, match=r"data.classes must be a tuple of strings, got 'ab'"):
        _small(classes="ab")


def test_bad_input_size() -> None:
    with pytest.raises(ValueError, match="input_size must be positive, got 0"):
        load_dataset(_small(), 0)
