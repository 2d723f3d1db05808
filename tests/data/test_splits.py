import numpy as np
import pytest
import torch

from replay_gym.data.splits import (
    ImageSplits,
    assemble_splits,
    class_seed,
    split_counts,
    split_indices,
)


def _images(n: int, size: int = 8, fill: int = 0) -> torch.Tensor:
    return torch.full((n, 3, size, size), fill, dtype=torch.uint8)


def _splits(**changes: object) -> ImageSplits:
    fields: dict[str, object] = {
        "class_names": ("a", "b"),
        "train_images": _images(4),
        "train_labels": torch.tensor([0, 0, 1, 1]),
        "val_images": _images(2),
        "val_labels": torch.tensor([0, 1]),
        "test_images": _images(2),
        "test_labels": torch.tensor([1, 0]),
    }
    fields.update(changes)
    return ImageSplits(**fields)  # type: ignore[arg-type]


def test_valid_splits_pass_and_report_size_and_classes() -> None:
    splits = _splits()
    splits.validate()
    assert splits.n_classes == 2
    assert splits.size == 8
    images, labels = splits.split("val")
    assert images is splits.val_images and labels is splits.val_labels


def test_split_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match="'dev'"):
        _splits().split("dev")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"class_names": ()}, "class_names is empty"),
        ({"class_names": ("a", "a")}, "duplicates"),
        ({"val_images": _images(2).float()}, "val_images must be uint8"),
        ({"test_images": _images(2)[:, :1]}, r"test_images must be \[N, 3, S, S\]"),
        ({"val_images": _images(2, size=4)}, "val_images are 4x4 but train_images are 8x8"),
        ({"train_labels": torch.tensor([0, 0, 1, 1], dtype=torch.int32)}, "train_labels must be"),
        ({"val_labels": torch.tensor([0])}, "val has 2 images but 1 labels"),
        ({"test_labels": torch.tensor([0, 2])}, r"test_labels must lie in 0..1"),
        ({"train_labels": torch.tensor([0, 0, 0, 0])}, r"\['b'\] have no training images"),
    ],
)
def test_validate_names_the_bad_part(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _splits(**changes).validate()


def test_assemble_splits_labels_by_class_position() -> None:
    per_class = [
        (_images(3, fill=1), _images(1, fill=1), _images(2, fill=1)),
        (_images(2, fill=2), _images(2, fill=2), _images(1, fill=2)),
    ]
    splits = assemble_splits(["x", "y"], per_class)
    assert splits.train_labels.tolist() == [0, 0, 0, 1, 1]
    assert splits.val_labels.tolist() == [0, 1, 1]
    assert splits.test_labels.tolist() == [0, 0, 1]
    assert (splits.train_images[3:] == 2).all()


def test_assemble_splits_rejects_mismatched_class_count() -> None:
    with pytest.raises(ValueError, match="2 class names but images for 1 classes"):
        assemble_splits(["x", "y"], [(_images(1), _images(1), _images(1))])


def test_split_counts_returns_total_needed() -> None:
    assert split_counts(100, 60, 20, 10, "c") == 90
    assert split_counts(5, 0, 0, 5, "c") == 5


def test_split_counts_names_class_and_counts() -> None:
    message = r"class 'n12360108' has 90 images; train\+val\+test needs 1350"
    with pytest.raises(ValueError, match=message):
        split_counts(90, 1170, 130, 50, "n12360108")


def test_split_counts_names_source_and_only_used_splits() -> None:
    with pytest.raises(ValueError, match=r"class 'Bag' has 3 images in t10k.gz; test needs 5"):
        split_counts(3, 0, 0, 5, "Bag", source="t10k.gz")


def test_split_counts_rejects_negative_and_all_zero() -> None:
    with pytest.raises(ValueError, match="class 'c': val count must be >= 0"):
        split_counts(10, 1, -1, 1, "c")
    with pytest.raises(ValueError, match="class 'c': train, val and test counts are all zero"):
        split_counts(10, 0, 0, 0, "c")


def test_split_indices_are_disjoint_deterministic_and_seeded() -> None:
    train, val, test = split_indices(50, 20, 10, 5, "c", seed=3)
    assert (len(train), len(val), len(test)) == (20, 10, 5)
    assert len(set(np.concatenate([train, val, test]).tolist())) == 35
    again = split_indices(50, 20, 10, 5, "c", seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    other_seed = split_indices(50, 20, 10, 5, "c", seed=4)
    other_class = split_indices(50, 20, 10, 5, "d", seed=3)
    assert not np.array_equal(train, other_seed[0])
    assert not np.array_equal(train, other_class[0])


def test_split_indices_raise_naming_the_class() -> None:
    with pytest.raises(ValueError, match="class 'tiny' has 4 images"):
        split_indices(4, 3, 1, 1, "tiny", seed=0)


def test_class_seed_is_stable_and_rejects_negative_seed() -> None:
    assert class_seed(0, "abc") == [0, 891568578]
    with pytest.raises(ValueError, match="data seed must be >= 0, got -1"):
        class_seed(-1, "abc")
