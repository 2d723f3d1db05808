"""Image data for the learner: the embedded procedural classes, class folders, or Fashion-MNIST.

:func:`load_dataset` turns a :class:`~replay_gym.config.DataConfig` into :class:`ImageSplits`.
"""

from __future__ import annotations

from functools import lru_cache

from replay_gym.config import DataConfig
from replay_gym.data.fashion_mnist import CLASS_NAMES as FASHION_MNIST_CLASSES
from replay_gym.data.fashion_mnist import (
    fashion_mnist_from_config,
    fashion_mnist_splits,
    read_idx,
)
from replay_gym.data.folders import (
    PAPER_MODELS,
    folder_splits,
    folder_splits_from_config,
    paper_model_classes,
    resolve_classes,
)
from replay_gym.data.prototypes import (
    ClassSpec,
    Distortion,
    class_specs,
    prototype_splits,
    render_prototype,
)
from replay_gym.data.splits import ImageSplits, assemble_splits, split_counts, split_indices

__all__ = [
    "FASHION_MNIST_CLASSES",
    "PAPER_MODELS",
    "ClassSpec",
    "Distortion",
    "ImageSplits",
    "assemble_splits",
    "class_specs",
    "fashion_mnist_splits",
    "folder_splits",
    "load_dataset",
    "paper_model_classes",
    "prototype_splits",
    "read_idx",
    "render_prototype",
    "resolve_classes",
    "split_counts",
    "split_indices",
]


def load_dataset(config: DataConfig, input_size: int) -> ImageSplits:
    """The images ``config`` describes, at ``input_size`` pixels square.

    Results are cached in-process (environments are built repeatedly on the same data), so the
    returned tensors are shared: treat them as read-only.
    """
    if input_size < 1:
        raise ValueError(f"input_size must be positive, got {input_size}")
    return _load_cached(config, input_size)


@lru_cache(maxsize=4)
def _load_cached(config: DataConfig, input_size: int) -> ImageSplits:
    if config.source == "prototypes":
        return prototype_splits(
            config.n_classes,
            config.train_per_class,
            config.val_per_class,
            config.test_per_class,
            size=input_size,
            seed=config.seed,
        )
    if config.source == "folders":
        return folder_splits_from_config(config, input_size)
    return fashion_mnist_from_config(config, input_size)
