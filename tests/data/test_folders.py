from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from replay_gym.config import DataConfig
from replay_gym.data.folders import (
    PAPER_MODELS,
    folder_splits,
    folder_splits_from_config,
    list_images,
    load_image,
    paper_model_classes,
    resolve_classes,
)


def _write_class(root: Path, name: str, n: int, value: int, suffix: str = ".png") -> None:
    """``n`` images of one class; pixel (0, 0) red channel holds the file's index."""
    folder = root / name
    folder.mkdir(parents=True)
    for i in range(n):
        pixels = np.full((12, 16, 3), value, dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i:02d}{suffix}")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    _write_class(tmp_path, "n001", 7, 40)
    _write_class(tmp_path, "n002", 6, 200, suffix=".JPEG")
    _write_class(tmp_path, "n003", 2, 120)
    (tmp_path / "n001" / "notes.txt").write_text("not an image")
    return tmp_path


def test_paper_models_transcribe_table_s1() -> None:
    assert sorted(PAPER_MODELS) == list(range(1, 11))
    assert all(len(classes) == 10 for classes in PAPER_MODELS.values())
    wnids = [wnid for classes in PAPER_MODELS.values() for wnid, _ in classes]
    assert len(set(wnids)) == 100
    assert all(w.startswith("n") and len(w) == 9 and w[1:].isdigit() for w in wnids)
    assert PAPER_MODELS[1][0] == ("n12360108", "begonia")
    assert [name for _, name in PAPER_MODELS[9]] == [
        "shipwreck", "priest", "backhoe", "hall", "valve", "sprinkler", "ballpark park",
        "ice skate", "satin", "alternator",
    ]
    assert PAPER_MODELS[10][-1] == ("n07830593", "hot sauce")


def test_paper_model_classes() -> None:
    assert paper_model_classes(3)[:2] == ("n03375575", "n03082807")
    with pytest.raises(ValueError, match="paper model must be 1-10, got 11"):
        paper_model_classes(11)


def test_list_images_sorted_by_suffix_any_case(root: Path) -> None:
    names = [p.name for p in list_images(root / "n001")]
    assert names == [f"img{i:02d}.png" for i in range(7)]
    assert len(list_images(root / "n002")) == 6
    with pytest.raises(FileNotFoundError, match="nope"):
        list_images(root / "nope")


def test_folder_splits_shapes_labels_and_values(root: Path) -> None:
    data = folder_splits(root, ["n002", "n001"], 3, 1, 2, size=8, seed=0)
    assert data.class_names == ("n002", "n001")
    assert data.train_images.shape == (6, 3, 8, 8) and data.train_images.dtype == torch.uint8
    assert data.train_labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.test_images.shape == (4, 3, 8, 8)
    # Uniform images keep their value through resize and crop (JPEG within a few levels).
    assert (data.train_images[3:] == 40).all()
    assert (data.train_images[:3].int() - 200).abs().max() <= 3


def test_folder_splits_are_deterministic_disjoint_and_seeded(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    for i in range(20):
        Image.fromarray(np.full((4, 4, 3), i * 10, dtype=np.uint8)).save(folder / f"{i:02d}.png")

    def values(seed: int) -> list[list[int]]:
        data = folder_splits(tmp_path, ["c"], 5, 3, 2, size=4, seed=seed)
        return [data.split(s)[0][:, 0, 0, 0].tolist() for s in ("train", "val", "test")]

    first = values(0)
    assert first == values(0)
    assert first != values(1)
    flat = [v for part in first for v in part]
    assert len(set(flat)) == 10


def test_load_image_resizes_shorter_side_then_crops_centre(tmp_path: Path) -> None:
    pixels = np.zeros((20, 60, 3), dtype=np.uint8)
    pixels[:, 20:40] = 255  # white middle third
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    Image.fromarray(pixels[:, :, 0]).save(tmp_path / "grey.png")
    image = load_image(tmp_path / "wide.png", 10)
    assert image.shape == (10, 10, 3)
    assert image[:, 2:8].min() == 255  # the crop is the white centre
    assert load_image(tmp_path / "grey.png", 10).shape == (10, 10, 3)


def _truncated_jpeg(path: Path) -> None:
    Image.fromarray(np.full((32, 32, 3), 90, dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:200])


@pytest.mark.parametrize(
    "spoil",
    [
        lambda p: p.write_bytes(b"\x89PNG garbage"),
        lambda p: p.write_bytes(b""),
        _truncated_jpeg,
    ],
    ids=["garbage", "empty", "truncated-jpeg"],
)
def test_corrupt_image_is_named(root: Path, spoil: object) -> None:
    bad = root / "n002" / "img03.JPEG"
    spoil(bad)  # type: ignore[operator]
    with pytest.raises(ValueError, match=r"cannot read image .*n002.*img03\.JPEG"):
        folder_splits(root, ["n002"], 4, 1, 1, size=8)


def test_missing_root_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="data root .*absent"):
        folder_splits(tmp_path / "absent", ["n001"], 1, 1, 1, size=8)


def test_missing_class_folder_is_named(root: Path) -> None:
    with pytest.raises(FileNotFoundError, match="class 'n999': folder .*n999 does not exist"):
        folder_splits(root, ["n001", "n999"], 1, 1, 1, size=8)


def test_too_few_images_names_class_and_counts(root: Path) -> None:
    message = r"class 'n003' has 2 images in .*n003; train\+val\+test needs 3"
    with pytest.raises(ValueError, match=message):
        folder_splits(root, ["n001", "n003"], 1, 1, 1, size=8)


def test_resolve_classes_paper_model_explicit_and_default(root: Path) -> None:
    assert resolve_classes(DataConfig(source="folders", paper_model=2))[0] == "n11853356"
    named = DataConfig(source="folders", classes=("n003", "n001"), n_classes=2)
    assert resolve_classes(named) == ("n003", "n001")
    default = DataConfig(source="folders", root=str(root), n_classes=2)
    assert resolve_classes(default) == ("n001", "n002")


def test_resolve_classes_errors(root: Path) -> None:
    with pytest.raises(ValueError, match="data.root must name the folder"):
        resolve_classes(DataConfig(source="folders"))
    with pytest.raises(ValueError, match="has 3 class folders, data.n_classes asks for 4"):
        resolve_classes(DataConfig(source="folders", root=str(root), n_classes=4))


def test_folder_splits_from_config(root: Path) -> None:
    config = DataConfig(
        source="folders", root=str(root), n_classes=2, train_per_class=3, val_per_class=1,
        test_per_class=1, seed=4,
    )
    data = folder_splits_from_config(config, 8)
    assert data.class_names == ("n001", "n002")
    assert data.size == 8 and len(data.train_labels) == 6
