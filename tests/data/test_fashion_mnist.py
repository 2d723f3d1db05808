import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from replay_gym.config import DataConfig
from replay_gym.data.fashion_mnist import (
    CLASS_NAMES,
    DEFAULT_ROOT,
    fashion_mnist_from_config,
    fashion_mnist_splits,
    find_idx_file,
    parse_labels,
    read_idx,
    read_part,
    to_rgb,
)


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def _write(path: Path, array: np.ndarray, gz: bool) -> None:
    data = _idx_bytes(array)
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


def _write_set(root: Path, per_class_train: int, per_class_test: int, gz: bool) -> None:
    """Tiny Fashion-MNIST: image ``i`` of a part has pixel (0, 0) = i and the rest = label."""
    for stem, per_class in (("train", per_class_train), ("t10k", per_class_test)):
        labels = np.repeat(np.arange(10), per_class)
        images = np.broadcast_to(labels[:, None, None], (len(labels), 28, 28)).copy()
        images[:, 0, 0] = np.arange(len(labels))
        _write(root / f"{stem}-images-idx3-ubyte", images, gz)
        _write(root / f"{stem}-labels-idx1-ubyte", labels, gz)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_read_idx_plain_and_gzip(tmp_path: Path, gz: bool) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write(tmp_path / "x-idx3-ubyte", array, gz)
    path = find_idx_file(tmp_path, "x-idx3-ubyte")
    assert path.name.endswith(".gz") == gz
    np.testing.assert_array_equal(read_idx(path, ndim=3), array)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x00\x08", "is not an idx file"),
        (b"\x01\x02\x08\x01\x00\x00\x00\x01\x05", "is not an idx file"),
        (bytes([0, 0, 0x0D, 1, 0, 0, 0, 1]) + b"\x00" * 4, "data type 0x0d is not unsigned bytes"),
        (bytes([0, 0, 8, 3, 0, 0]), "is truncated: 6 bytes, header alone needs 16"),
        (_idx_bytes(np.zeros((3, 2, 2), np.uint8))[:-1], r"truncated: 27 bytes, dims \(3, 2, 2\)"),
        (_idx_bytes(np.zeros((3, 2, 2), np.uint8)) + b"\x00", "longer than its header says"),
        (_idx_bytes(np.zeros(3, np.uint8)), "expected 3-d idx data, the header says 1-d"),
        (gzip.compress(_idx_bytes(np.zeros((3, 2, 2), np.uint8)))[:20], "cannot read"),
    ],
    ids=["short", "magic", "dtype", "header", "data", "long", "ndim", "gzip"],
)
def test_read_idx_errors_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path, ndim=3)
    assert "bad-idx3-ubyte" in str(info.value)


def test_find_idx_file_missing_names_both(tmp_path: Path) -> None:
    message = r"t10k-labels-idx1-ubyte \(or t10k-labels-idx1-ubyte.gz\) not found"
    with pytest.raises(FileNotFoundError, match=message):
        find_idx_file(tmp_path, "t10k-labels-idx1-ubyte")


def test_read_part_checks_counts_and_labels(tmp_path: Path) -> None:
    _write(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8), gz=False)
    _write(tmp_path / "train-labels-idx1-ubyte", np.zeros(2, np.uint8), gz=False)
    message = "train-images-idx3-ubyte has 3 images but .*train-labels-idx1-ubyte has 2 labels"
    with pytest.raises(ValueError, match=message):
        read_part(tmp_path, "train")
    _write(tmp_path / "train-labels-idx1-ubyte", np.array([0, 1, 12], np.uint8), gz=False)
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte has label 12"):
        read_part(tmp_path, "train")
    with pytest.raises(ValueError, match="unknown Fashion-MNIST part 'dev'"):
        read_part(tmp_path, "dev")


def test_to_rgb_resizes_and_repeats_channels() -> None:
    grey = np.full((5, 28, 28), 77, dtype=np.uint8)
    rgb = to_rgb(grey, 32)
    assert rgb.shape == (5, 3, 32, 32) and rgb.dtype == torch.uint8
    assert (rgb == 77).all()
    assert to_rgb(grey, 28).shape == (5, 3, 28, 28)
    assert to_rgb(grey, 14).shape == (5, 3, 14, 14)
    with pytest.raises(ValueError, match="image size must be positive, got 0"):
        to_rgb(grey, 0)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_splits_from_tiny_files(tmp_path: Path, gz: bool) -> None:
    _write_set(tmp_path, per_class_train=6, per_class_test=3, gz=gz)
    data = fashion_mnist_splits([3, 1], 4, 2, 3, size=28, root=tmp_path, seed=0)
    assert data.class_names == ("Dress", "Trouser")
    assert data.train_images.shape == (8, 3, 28, 28)
    assert data.train_labels.tolist() == [0] * 4 + [1] * 4
    # Pixel (1, 1) holds the original label: class 0 here is label 3.
    assert (data.train_images[:4, :, 1, 1] == 3).all()
    assert (data.test_images[3:, :, 1, 1] == 1).all()
    train_ids = set(data.train_images[:4, 0, 0, 0].tolist())
    val_ids = set(data.val_images[:2, 0, 0, 0].tolist())
    assert len(train_ids) == 4 and not train_ids & val_ids
    assert set(data.test_images[:3, 0, 0, 0].tolist()) == {9, 10, 11}  # label 3 in t10k


def test_splits_are_seeded(tmp_path: Path) -> None:
    _write_set(tmp_path, per_class_train=20, per_class_test=10, gz=True)

    def ids(seed: int) -> list[int]:
        data = fashion_mnist_splits([0], 5, 2, 2, size=28, root=tmp_path, seed=seed)
        return data.train_images[:, 0, 0, 0].tolist()

    assert ids(0) == ids(0)
    assert ids(0) != ids(1)


def test_too_few_images_names_class_and_file(tmp_path: Path) -> None:
    _write_set(tmp_path, per_class_train=6, per_class_test=3, gz=False)
    message = r"class 'Bag' has 6 images in .*train-images-idx3-ubyte; train\+val needs 7"
    with pytest.raises(ValueError, match=message):
        fashion_mnist_splits([8], 5, 2, 1, size=28, root=tmp_path)
    message = r"class 'Bag' has 3 images in .*t10k-images-idx3-ubyte; test needs 4"
    with pytest.raises(ValueError, match=message):
        fashion_mnist_splits([8], 4, 2, 4, size=28, root=tmp_path)


def test_bad_root_and_labels(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Fashion-MNIST root .*absent"):
        fashion_mnist_splits([0], 1, 1, 1, size=28, root=tmp_path / "absent")
    with pytest.raises(ValueError, match=r"labels are 0-9, got \[10\]"):
        fashion_mnist_splits([0, 10], 1, 1, 1, size=28, root=tmp_path)


def test_parse_labels() -> None:
    assert parse_labels((), 3) == (0, 1, 2)
    assert parse_labels(("9", "0"), 2) == (9, 0)
    with pytest.raises(ValueError, match="class 'Bag' is not a label index 0-9"):
        parse_labels(("Bag",), 1)
    with pytest.raises(ValueError, match="class '10' is not a label index"):
        parse_labels(("10",), 1)
    with pytest.raises(ValueError, match="repeat a label"):
        parse_labels(("1", "1"), 2)
    with pytest.raises(ValueError, match="asks for 11"):
        parse_labels((), 11)


def test_from_config(tmp_path: Path) -> None:
    _write_set(tmp_path, per_class_train=6, per_class_test=3, gz=True)
    config = DataConfig(
        source="fashion-mnist", root=str(tmp_path), classes=("7", "5"), n_classes=2,
        train_per_class=3, val_per_class=1, test_per_class=2,
    )
    data = fashion_mnist_from_config(config, 32)
    assert data.class_names == ("Sneaker", "Sandal")
    assert data.test_images.shape == (4, 3, 32, 32)


@pytest.mark.skipif(not Path(DEFAULT_ROOT).is_dir(), reason="Fashion-MNIST not installed")
def test_real_files() -> None:
    images, labels = read_part(DEFAULT_ROOT, "test")
    assert images.shape == (10000, 28, 28)
    assert np.bincount(labels).tolist() == [1000] * 10
    data = fashion_mnist_splits(range(10), 20, 5, 5, size=32, seed=0)
    assert data.class_names == CLASS_NAMES
    assert data.train_images.shape == (200, 3, 32, 32)
    assert data.train_images.float().mean() > 40  # real garments, not blank
