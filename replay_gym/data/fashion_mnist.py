"""Fashion-MNIST from its original idx files (plain or gzipped), as 3-channel images.

Train and validation images come from the ``train`` file, test images from the ``t10k`` file.
The 28x28 grey images are resized bilinearly to the learner's input size and repeated over three
channels: resizing (rather than padding 28 to 32) keeps the garment filling the frame at any
input size, and works below 28 pixels and at 224 alike.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from replay_gym.config import DataConfig
from replay_gym.data.splits import ImageSplits, assemble_splits, split_indices

DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"
"""Where Debian's ``dataset-fashion-mnist`` package installs the (gzipped) idx files."""

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
"""Name of each label 0-9."""

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""Stems of the image and label files of each part; ``.gz`` is optional."""

_UBYTE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1024


def read_idx(path: str | os.PathLike[str], ndim: int | None = None) -> np.ndarray:
    """Parse one idx file of unsigned bytes (gzipped or plain) into a uint8 array.

    Raises:
        ValueError: the file is truncated, not idx, not unsigned bytes, or (when ``ndim`` is
            given) has another number of dimensions; the message names the file.
    """
    data = _read_bytes(Path(path))
    if len(data) < 4 or data[:2] != b"\x00\x00":
        raise ValueError(f"{path} is not an idx file (bad magic number {data[:4].hex()})")
    if data[2] != _UBYTE:
        raise ValueError(f"{path}: idx data type 0x{data[2]:02x} is not unsigned bytes (0x08)")
    dims_n = data[3]
    if ndim is not None and dims_n != ndim:
        raise ValueError(f"{path}: expected {ndim}-d idx data, the header says {dims_n}-d")
    header = 4 + 4 * dims_n
    if len(data) < header:
        raise ValueError(f"{path} is truncated: {len(data)} bytes, header alone needs {header}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=dims_n, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise ValueError(f"{path} is {what}: {len(data)} bytes, dims {dims} need {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _read_bytes(path: Path) -> bytes:
    """The file's contents, gunzipped when it starts with the gzip magic number."""
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == _GZIP_MAGIC else raw
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"cannot read {path}: {err}") from err


def find_idx_file(root: str | os.PathLike[str], stem: str) -> Path:
    """``root/stem`` or ``root/stem.gz`` (plain first); ``FileNotFoundError`` names both."""
    root = Path(root)
    for candidate in (root / stem, root / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"Fashion-MNIST file {stem} (or {stem}.gz) not found in {root}")


def read_part(root: str | os.PathLike[str], part: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, H, W]`` and labels ``[N]`` of ``part`` (``train`` or ``test``), checked."""
    if part not in FILES:
        raise ValueError(f"unknown Fashion-MNIST part {part!r}; choose one of {sorted(FILES)}")
    image_path, label_path = (find_idx_file(root, stem) for stem in FILES[part])
    images, labels = read_idx(image_path, ndim=3), read_idx(label_path, ndim=1)
    if len(images) != len(labels):
        raise ValueError(
            f"{image_path} has {len(images)} images but {label_path} has {len(labels)} labels"
        )
    if len(labels) and labels.max() >= len(CLASS_NAMES):
        raise ValueError(f"{label_path} has label {labels.max()}; Fashion-MNIST labels are 0-9")
    return images, labels


def to_rgb(images: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """Grey uint8 ``[N, H, W]`` -> uint8 ``[N, 3, size, size]`` (bilinear, antialiased)."""
    if size < 1:
        raise ValueError(f"image size must be positive, got {size}")
    grey = torch.as_tensor(np.asarray(images), dtype=torch.uint8).unsqueeze(1)
    out = torch.empty((len(grey), 1, size, size), dtype=torch.uint8)
    for start in range(0, len(grey), _CHUNK):
        chunk = grey[start : start + _CHUNK].float()
        if chunk.shape[-2:] != (size, size):
            chunk = F.interpolate(
                chunk, size=(size, size), mode="bilinear", align_corners=False, antialias=True
            )
        out[start : start + _CHUNK] = chunk.round().clamp(0, 255).to(torch.uint8)
    return out.expand(-1, 3, -1, -1).contiguous()


def parse_labels(classes: Sequence[str], n_classes: int) -> tuple[int, ...]:
    """Label indices from ``DataConfig.classes`` strings; empty: ``0 .. n_classes - 1``."""
    if not classes:
        if n_classes > len(CLASS_NAMES):
            raise ValueError(f"Fashion-MNIST has 10 classes, data.n_classes asks for {n_classes}")
        return tuple(range(n_classes))
    labels = []
    for text in classes:
        if not text.strip().isdigit() or int(text) >= len(CLASS_NAMES):
            raise ValueError(
                f"Fashion-MNIST class {text!r} is not a label index 0-9 "
                f"({', '.join(f'{i}={n}' for i, n in enumerate(CLASS_NAMES))})"
            )
        labels.append(int(text))
    if len(set(labels)) != len(labels):
        raise ValueError(f"Fashion-MNIST classes repeat a label: {list(classes)}")
    return tuple(labels)


def fashion_mnist_splits(
    labels: Sequence[int],
    train: int,
    val: int,
    test: int,
    *,
    size: int,
    root: str | os.PathLike[str] = DEFAULT_ROOT,
    seed: int = 0,
) -> ImageSplits:
    """Train/val images of ``labels`` from the train file, test images from the t10k file.

    Per class, a permutation seeded by ``(seed, class name)`` picks the images.
    """
    if not labels:
        raise ValueError("fashion_mnist_splits needs at least one label")
    bad = [label for label in labels if not 0 <= label < len(CLASS_NAMES)]
    if bad:
        raise ValueError(f"Fashion-MNIST labels are 0-9, got {bad}")
    if not Path(root).is_dir():
        raise FileNotFoundError(f"Fashion-MNIST root {root} does not exist or is not a folder")
    train_x, train_y = read_part(root, "train")
    test_x, test_y = read_part(root, "test")
    source_train = str(find_idx_file(root, FILES["train"][0]))
    source_test = str(find_idx_file(root, FILES["test"][0]))
    per_class = []
    for label in labels:
        name = CLASS_NAMES[label]
        pool = np.flatnonzero(train_y == label)
        tr, va, _ = split_indices(len(pool), train, val, 0, name, seed=seed, source=source_train)
        test_pool = np.flatnonzero(test_y == label)
        _, _, te = split_indices(len(test_pool), 0, 0, test, name, seed=seed, source=source_test)
        per_class.append(
            (to_rgb(train_x[pool[tr]], size), to_rgb(train_x[pool[va]], size),
             to_rgb(test_x[test_pool[te]], size))
        )  # fmt: skip
    return assemble_splits([CLASS_NAMES[label] for label in labels], per_class)


def fashion_mnist_from_config(config: DataConfig, size: int) -> ImageSplits:
    """:func:`fashion_mnist_splits` with the root, classes, counts and seed of ``config``."""
    return fashion_mnist_splits(
        parse_labels(config.classes, config.n_classes),
        config.train_per_class,
        config.val_per_class,
        config.test_per_class,
        size=size,
        root=config.root or DEFAULT_ROOT,
        seed=config.seed,
    )
