import numpy as np
import pytest
import torch

from replay_gym.data.prototypes import (
    ClassSpec,
    Distortion,
    class_name,
    class_specs,
    prototype,
    prototype_splits,
    render_exemplars,
    render_prototype,
)
from replay_gym.data.splits import ImageSplits


@pytest.fixture(scope="module")
def data() -> ImageSplits:
    return prototype_splits(10, 100, 30, 60, seed=0)


def _class_images(images: torch.Tensor, labels: torch.Tensor, c: int) -> torch.Tensor:
    return images[labels == c]


def _nearest_mean_accuracy(data: ImageSplits, split: str) -> np.ndarray:
    """Per-class accuracy of a nearest class-mean classifier on raw pixels."""
    x = data.train_images.float().flatten(1)
    means = torch.stack([x[data.train_labels == c].mean(0) for c in range(data.n_classes)])
    images, labels = data.split(split)
    pred = torch.cdist(images.float().flatten(1), means).argmin(1)
    return np.array([(pred[labels == c] == c).float().mean().item() for c in range(10)])


def test_shapes_dtypes_labels_and_names(data: ImageSplits) -> None:
    assert data.class_names == tuple(f"proto-{i:03d}" for i in range(10))
    assert data.train_images.shape == (1000, 3, 32, 32)
    assert data.val_images.shape == (300, 3, 32, 32)
    assert data.test_images.shape == (600, 3, 32, 32)
    assert data.train_images.dtype == torch.uint8
    assert torch.bincount(data.test_labels).tolist() == [60] * 10
    assert data.train_images.float().std() > 30  # not blank


def test_other_sizes_render() -> None:
    small = prototype_splits(2, 2, 1, 1, size=16)
    large = prototype_splits(1, 10, 1, 1, size=256)  # rendered in two chunks of 8
    assert small.size == 16 and large.size == 256
    assert large.train_images.shape == (10, 3, 256, 256)
    assert large.train_images[8:].float().std() > 20  # the second chunk is drawn too


def test_same_seed_same_images_other_seed_other_images() -> None:
    a = prototype_splits(3, 8, 2, 2, seed=5)
    b = prototype_splits(3, 8, 2, 2, seed=5)
    c = prototype_splits(3, 8, 2, 2, seed=6)
    for split in ("train", "val", "test"):
        assert torch.equal(a.split(split)[0], b.split(split)[0])
    assert not torch.equal(a.train_images, c.train_images)


def test_class_depends_only_on_seed_and_global_index() -> None:
    wide = prototype_splits(5, 6, 2, 2, seed=1)
    shifted = prototype_splits(3, 6, 2, 2, seed=1, first_class=2)
    assert shifted.class_names == ("proto-002", "proto-003", "proto-004")
    for c in range(3):
        for split in ("train", "val", "test"):
            images, labels = shifted.split(split)
            wide_images, wide_labels = wide.split(split)
            assert torch.equal(
                _class_images(images, labels, c), _class_images(wide_images, wide_labels, c + 2)
            )


def test_split_count_changes_leave_other_splits_alone() -> None:
    a = prototype_splits(2, 8, 2, 2)
    b = prototype_splits(2, 8, 5, 7)
    assert torch.equal(a.train_images, b.train_images)


def test_base_categories_are_disjoint_from_new_ones() -> None:
    new = class_specs(10)
    base = class_specs(50, first_class=1000)
    assert base[0].name == "proto-1000"
    assert not {s.name for s in new} & {s.name for s in base}
    new_protos = torch.stack([render_prototype(s, 0).float() for s in new])
    base_protos = torch.stack([render_prototype(s, 0).float() for s in base])
    assert torch.cdist(new_protos.flatten(1), base_protos.flatten(1)).min() > 0


def test_train_val_test_are_different_images(data: ImageSplits) -> None:
    flat = {
        split: {bytes(x.numpy().tobytes()) for x in data.split(split)[0]}
        for split in ("train", "val", "test")
    }
    assert len(flat["train"]) == 1000 and len(flat["val"]) == 300 and len(flat["test"]) == 600
    assert not flat["train"] & flat["val"] and not flat["train"] & flat["test"]
    assert not flat["val"] & flat["test"]


def test_splits_come_from_the_same_distribution(data: ImageSplits) -> None:
    # Class means of val/test sit much nearer their own class's training mean than any other.
    def means(split: str) -> torch.Tensor:
        images, labels = data.split(split)
        return torch.stack([images[labels == c].float().mean(0).flatten() for c in range(10)])

    train = means("train")
    for split in ("val", "test"):
        dist = torch.cdist(means(split), train)
        assert torch.equal(dist.argmin(1), torch.arange(10))
    val, test = _nearest_mean_accuracy(data, "val"), _nearest_mean_accuracy(data, "test")
    assert abs(val.mean() - test.mean()) < 0.08


def test_easy_classes_are_learned_better_than_hard_ones(data: ImageSplits) -> None:
    acc = _nearest_mean_accuracy(data, "test")
    levels = np.array([s.level for s in class_specs(10)])
    order = np.argsort(levels)
    easy, hard = acc[order[:3]].mean(), acc[order[-3:]].mean()
    assert easy > 0.95
    assert hard < 0.7
    assert easy - hard > 0.3
    assert acc.mean() > 0.5  # well above chance (0.1)


def test_class_specs_spread_levels_and_pair_partners_in_blocks() -> None:
    specs = class_specs(30, seed=2)
    for block in range(3):
        chunk = specs[10 * block : 10 * block + 10]
        levels = np.sort([s.level for s in chunk])
        assert levels[0] < 0.15 and levels[-1] > 0.85
        assert np.diff(levels).max() < 0.15
        blended = [s for s in chunk if s.partner is not None]
        assert len(blended) == 3
        for s in blended:
            assert s.partner // 10 == block and s.partner != s.index
            assert s.similarity == 0.6 and s.partner_name == class_name(s.partner)
            assert specs[s.partner].partner is None  # partners are not blended themselves
    assert all(s.similarity == 0.0 for s in specs if s.partner is None)


def test_class_specs_knobs() -> None:
    specs = class_specs(10, difficulty=(0.2, 0.4), similar_per_block=0)
    assert all(0.2 <= s.level <= 0.4 for s in specs)
    assert all(s.partner is None for s in specs)
    assert len([s for s in class_specs(10, similar_per_block=5) if s.partner is not None]) == 5


def test_blended_classes_look_like_their_partner() -> None:
    specs = class_specs(10)
    protos = torch.stack([render_prototype(s, 0).float().flatten() for s in specs])
    dist = torch.cdist(protos, protos)
    for s in specs:
        if s.partner is not None:
            others = [dist[s.index, j] for j in range(10) if j not in (s.index, s.partner)]
            assert dist[s.index, s.partner] < torch.stack(others).median()


def test_prototype_blend_copies_partner_shapes() -> None:
    spec = ClassSpec(index=0, name="proto-000", level=0.0, partner=1, similarity=0.6)
    blended, partner = prototype(spec, 0), prototype(class_specs(2)[1], 0)
    assert np.array_equal(blended.shapes[:3], partner.shapes[:3])
    assert not np.array_equal(blended.shapes[3:], partner.shapes[3:])


def test_distortion_grows_with_level_and_none_is_zero() -> None:
    low, high = Distortion.at_level(0.0), Distortion.at_level(1.0)
    assert all(h > lo for h, lo in zip(vars(high).values(), vars(low).values(), strict=True) if h)
    assert all(v == 0 for v in vars(Distortion.none()).values())
    with pytest.raises(ValueError, match="distortion level must be >= 0, got -0.1"):
        Distortion.at_level(-0.1)


def test_render_exemplars_without_distortion_repeat_the_prototype() -> None:
    spec = class_specs(1)[0]
    gen = torch.Generator().manual_seed(3)
    images = render_exemplars(prototype(spec, 0), Distortion.none(), 4, 32, gen)
    assert images.shape == (4, 3, 32, 32)
    assert all(torch.equal(x, render_prototype(spec, 0)) for x in images)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_classes": 0}, "n_classes must be >= 1, got 0"),
        ({"seed": -1}, "seed must be >= 0, got -1"),
        ({"first_class": -3}, "first_class must be >= 0, got -3"),
        ({"difficulty": (0.8, 0.2)}, r"difficulty must be \(low, high\)"),
        ({"similar_per_block": 6}, "similar_per_block must be 0-5, got 6"),
        ({"similarity": 1.5}, r"similarity must be in \[0, 1\], got 1.5"),
        ({"size": 4}, "size must be >= 8 pixels, got 4"),
        ({"val_per_class": 0}, "val_per_class must be >= 1, got 0"),
    ],
)
def test_bad_knobs_raise_naming_them(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "n_classes": 2, "train_per_class": 2, "val_per_class": 1, "test_per_class": 1
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        prototype_splits(**args)  # type: ignore[arg-type]
