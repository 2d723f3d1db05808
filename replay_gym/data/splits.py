"""The train/validation/test container every data source returns, and the seeded split helpers.

Splits are drawn per class from a permutation seeded by ``(seed, class name)``, so a class gets
the same images whichever other classes are loaded with it.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

SPLITS = ("train", "val", "test")
"""Names of the three splits, in the order their counts are given everywhere."""


@dataclass(frozen=True)
class ImageSplits:
    """Train/validation/test images of the new classes: uint8 tensors at the learner's input size.

    Treat the tensors as read-only: :func:`replay_gym.data.load_dataset` caches and shares them.
    Call :meth:`validate` after building one by hand; the package's loaders already do.
    """

    class_names: tuple[str, ...]
    """Name of each class; label ``c`` is ``class_names[c]``."""
    train_images: torch.Tensor
    """uint8 ``[N, 3, S, S]``."""
    train_labels: torch.Tensor
    """int64 ``[N]``, values ``0 .. n_classes - 1``."""
    val_images: torch.Tensor
    """uint8 ``[N_val, 3, S, S]``."""
    val_labels: torch.Tensor
    """int64 ``[N_val]``."""
    test_images: torch.Tensor
    """uint8 ``[N_test, 3, S, S]``."""
    test_labels: torch.Tensor
    """int64 ``[N_test]``."""

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def size(self) -> int:
        """Side of the square images in pixels."""
        return int(self.train_images.shape[-1])

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, labels)`` of split ``name`` (``train``, ``val`` or ``test``)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose one of {SPLITS}")
        return getattr(self, f"{name}_images"), getattr(self, f"{name}_labels")

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first split whose images or labels are malformed."""
        if not self.class_names:
            raise ValueError("ImageSplits.class_names is empty")
        if len(set(self.class_names)) != len(self.class_names):
            raise ValueError(f"ImageSplits.class_names has duplicates: {self.class_names}")
        for name in SPLITS:
            images, labels = self.split(name)
            _check_images(name, images, self.size)
            _check_labels(name, labels, len(images), self.n_classes)
        missing = set(range(self.n_classes)) - set(self.train_labels.tolist())
        if missing:
            names = [self.class_names[c] for c in sorted(missing)]
            raise ValueError(f"ImageSplits: classes {names} have no training images")


def _check_images(split: str, images: torch.Tensor, size: int) -> None:
    if images.dtype != torch.uint8:
        raise ValueError(f"{split}_images must be uint8, got {images.dtype}")
    if images.dim() != 4 or images.shape[1] != 3 or images.shape[2] != images.shape[3]:
        raise ValueError(f"{split}_images must be [N, 3, S, S], got {list(images.shape)}")
    if images.shape[-1] != size:
        raise ValueError(
            f"{split}_images are {images.shape[-1]}x{images.shape[-1]} but train_images are "
            f"{size}x{size}"
        )


def _check_labels(split: str, labels: torch.Tensor, n_images: int, n_classes: int) -> None:
    if labels.dtype != torch.int64 or labels.dim() != 1:
        got = f"{labels.dtype} {list(labels.shape)}"
        raise ValueError(f"{split}_labels must be 1-d int64, got {got}")
    if len(labels) != n_images:
        raise ValueError(f"{split} has {n_images} images but {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{split}_labels must lie in 0..{n_classes - 1}, got {labels.min()}..{labels.max()}"
        )


def assemble_splits(
    class_names: Sequence[str],
    per_class: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
) -> ImageSplits:
    """Concatenate per-class ``(train, val, test)`` uint8 image tensors into checked splits.

    Labels are the class's position in ``class_names``; images stay in class order (the learner
    shuffles).
    """
    if len(class_names) != len(per_class):
        raise ValueError(f"{len(class_names)} class names but images for {len(per_class)} classes")
    parts: dict[str, torch.Tensor] = {}
    for i, name in enumerate(SPLITS):
        images = [triple[i] for triple in per_class]
        labels = [torch.full((len(x),), c, dtype=torch.int64) for c, x in enumerate(images)]
        parts[f"{name}_images"] = torch.cat(images)
        parts[f"{name}_labels"] = torch.cat(labels)
    splits = ImageSplits(class_names=tuple(class_names), **parts)
    splits.validate()
    return splits


def split_counts(
    n_available: int,
    train: int,
    val: int,
    test: int,
    class_name: str,
    *,
    source: str | None = None,
) -> int:
    """Check that one class has images enough for its splits; return how many it needs.

    Counts may be zero (a split drawn from another file), but not negative. ``source`` names
    the file or folder the images come from, for the error message.
    """
    counts = dict(zip(SPLITS, (train, val, test), strict=True))
    for name, count in counts.items():
        if count < 0:
            raise ValueError(f"class {class_name!r}: {name} count must be >= 0, got {count}")
    needed = sum(counts.values())
    if needed == 0:
        raise ValueError(f"class {class_name!r}: train, val and test counts are all zero")
    if n_available < needed:
        where = f" in {source}" if source else ""
        parts = "+".join(name for name, count in counts.items() if count)
        raise ValueError(
            f"class {class_name!r} has {n_available} images{where}; {parts} needs {needed}"
        )
    return needed


def split_indices(
    n_available: int,
    train: int,
    val: int,
    test: int,
    class_name: str,
    *,
    seed: int,
    source: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint train/val/test indices into one class's ``n_available`` images.

    A permutation seeded by ``(seed, class_name)``: deterministic, and independent of the
    other classes loaded alongside.
    """
    needed = split_counts(n_available, train, val, test, class_name, source=source)
    rng = np.random.default_rng(class_seed(seed, class_name))
    chosen = rng.permutation(n_available)[:needed]
    return chosen[:train], chosen[train : train + val], chosen[train + val :]


def class_seed(seed: int, class_name: str) -> list[int]:
    """Seed entropy for one class: the data seed and a stable (non-salted) hash of its name."""
    if seed < 0:
        raise ValueError(f"data seed must be >= 0, got {seed}")
    return [seed, zlib.crc32(class_name.encode("utf-8"))]
