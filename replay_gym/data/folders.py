"""The paper's data: ImageNet-style class folders (``root/<class_name>/*.JPEG``).

Barry & Love used 100 ImageNet-fall-2011 classes that are not in ImageNet-1k, ten per "model"
(:data:`PAPER_MODELS`); anyone who has those folders can pick ``paper_model=k``.

Images are resized so that their shorter side is ``size`` and then centre-cropped to
``size x size``. The paper does not say how it resized; a crop keeps every object's aspect
ratio (the torchvision / VGG evaluation convention) where squashing would distort it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from replay_gym.config import DataConfig
from replay_gym.data.splits import ImageSplits, assemble_splits, split_indices

IMAGE_SUFFIXES = frozenset(
    {".jpeg", ".jpg", ".png", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}
)
"""File suffixes (any case) counted as images; other files in a class folder are ignored."""

PAPER_MODELS: dict[int, tuple[tuple[str, str], ...]] = {
    1: (
        ("n12360108", "begonia"),
        ("n02822579", "bedstead bedframe"),
        ("n02427724", "waterbuck"),
        ("n03098688", "control room"),
        ("n02944075", "camisole"),
        ("n01603600", "waxwing"),
        ("n03196598", "digital display alphanumeric display"),
        ("n02848216", "blade"),
        ("n07712856", "tortilla chip"),
        ("n03592669", "jalousie"),
    ),
    2: (
        ("n11853356", "Christmas cactus Schlumbergera buckleyi Schlumbergera baridgesii"),
        ("n04177820", "settle settee"),
        ("n03904183", "pedestrian crossing zebra crossing"),
        ("n04355511", "sundress"),
        ("n03487444", "hand lotion"),
        ("n12899752", "angel's trumpet Brugmansia suaveolens Datura suaveolens"),
        ("n12655869", "raspberry raspberry bush"),
        ("n12948053", "common European dogwood red dogwood blood-twigg pedwood Cornus sanguinea"),
        ("n02869737", "bongo bongo drum"),
        ("n02415253", "Dall sheep Dall's sheep white sheep Ovis montana dalli"),
    ),
    3: (
        ("n03375575", "foil"),
        ("n03082807", "compressor"),
        ("n03262932", "easy chair lounge chair overstuffed chair"),
        ("n02047614", "puffin"),
        ("n03317788", "faience"),
        ("n09475044", "wasp's nest wasps' nest hornet's nest hornets' nest"),
        (
            "n11784497",
            "jack-in-the-pulpit Indian turnip wake-robin Arisaema triphyllum "
            "Arisaema atropurpureum",
        ),
        ("n03941231", "pinata"),
        ("n02813399", "bay window bow window"),
        ("n04544325", "wainscoting wainscotting"),
    ),
    4: (
        ("n03993053", "potty seat potty chair"),
        ("n04082886", "reticle reticule graticule"),
        ("n03421324", "garter belt suspender belt"),
        ("n03766044", "miller milling machine"),
        ("n03505504", "headscarf"),
        ("n12384839", "love-in-a-mist running pop wild water lemon Passiflora foetida"),
        ("n03619793", "kitbag kit bag"),
        ("n07600696", "candied apple candy apple taffy apple caramel apple toffee apple"),
        ("n02068974", "dolphin"),
        ("n03237992", "dressing gown robe-de-chambre lounging robe"),
    ),
    5: (
        ("n02918964", "bumper car Dodgem"),
        ("n02392824", "white rhinoceros Ceratotherium simum Diceros simus"),
        ("n01806364", "blue peafowl Pavo cristatus"),
        ("n02956699", "capitol"),
        ("n04290079", "spun yarn"),
        ("n08596076", "littoral litoral littoral zone sands"),
        ("n02887970", "bracelet bangle"),
        ("n10635788", "sphinx"),
        ("n07901457", "muscat muscatel muscadel muscadelle"),
        ("n07870167", "lasagna lasagne"),
    ),
    6: (
        ("n04324387", "stockroom stock room"),
        ("n04591517", "wind turbine"),
        ("n02988486", "CD-R compact disc recordable CD-WO compact disc write-once"),
        ("n04568069", "weathervane weather vane vane wind vane"),
        ("n04514241", "uplift"),
        ("n03207835", "dishtowel dish towel tea towel"),
        ("n13206817", "maidenhair maidenhair fern"),
        ("n03307792", "external drive"),
        ("n12666965", "cape jasmine cape jessamine Gardenia jasminoides Gardenia augusta"),
        ("n12950126", "valerian"),
    ),
    7: (
        ("n03986355", "portfolio"),
        ("n11848479", "night-blooming cereus"),
        ("n04439712", "tinfoil tin foil"),
        ("n03160740", "damask"),
        ("n01612122", "sparrow hawk American kestrel kestrel Falco sparverius"),
        ("n09206896", "arroyo"),
        ("n12392549", "stinging nettle Urtica dioica"),
        ("n02343772", "gerbil gerbille"),
        ("n07875436", "risotto Italian rice"),
        ("n02060133", "fulmar fulmar petrel Fulmarus glacialis"),
    ),
    8: (
        ("n03655072", "legging leging leg covering"),
        ("n10738111", "unicyclist"),
        ("n09270735", "dune sand dune"),
        ("n03409393", "gable gable end gable wall"),
        ("n02331046", "rat"),
        ("n03452267", "gramophone acoustic gramophone"),
        ("n10105733", "forward"),
        ("n07911677", "cocktail"),
        ("n03797182", "muffler"),
        ("n01563128", "warbler"),
    ),
    9: (
        ("n04197110", "shipwreck"),
        ("n10470779", "priest"),
        ("n02769290", "backhoe"),
        ("n03478756", "hall"),
        ("n04519153", "valve"),
        ("n04289027", "sprinkler"),
        ("n02782778", "ballpark park"),
        ("n03558404", "ice skate"),
        ("n04138261", "satin"),
        ("n02700064", "alternator"),
    ),
    10: (
        ("n03524150", "hockey stick"),
        ("n03716966", "mandolin"),
        ("n02962200", "carburetor carburettor"),
        ("n03237340", "dresser"),
        ("n04004210", "printed circuit"),
        ("n02917377", "bullhorn loud hailer loud-hailer"),
        ("n07879953", "tempura"),
        ("n04087826", "ribbing"),
        ("n02404432", "longhorn Texas longhorn"),
        ("n07830593", "hot sauce"),
    ),
}
"""The paper's Supplementary Table S1: model k (1-10) -> its ten (WordNet id, name) classes.

Names are transcribed as printed (synonyms run together, spelling kept)."""


def paper_model_classes(model: int) -> tuple[str, ...]:
    """WordNet ids (class folder names) of the paper's model ``model`` (1-10)."""
    if model not in PAPER_MODELS:
        raise ValueError(f"paper model must be 1-10, got {model}")
    return tuple(wnid for wnid, _ in PAPER_MODELS[model])


def resolve_classes(config: DataConfig) -> tuple[str, ...]:
    """Class folder names that ``config`` asks for.

    ``paper_model`` gives its WordNet ids; ``classes`` is used as given; otherwise the first
    ``n_classes`` sub-folders of ``root``, sorted by name.
    """
    if config.paper_model is not None:
        return paper_model_classes(config.paper_model)
    if config.classes:
        return tuple(config.classes)
    root = _check_root(config.root)
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(names) < config.n_classes:
        raise ValueError(
            f"data root {root} has {len(names)} class folders, data.n_classes asks for "
            f"{config.n_classes}: {names}"
        )
    return tuple(names[: config.n_classes])


def folder_splits_from_config(config: DataConfig, size: int) -> ImageSplits:
    """:func:`folder_splits` with the root, classes, counts and seed of ``config``."""
    return folder_splits(
        _check_root(config.root),
        resolve_classes(config),
        config.train_per_class,
        config.val_per_class,
        config.test_per_class,
        size=size,
        seed=config.seed,
    )


def folder_splits(
    root: str | os.PathLike[str],
    class_names: Sequence[str],
    train: int,
    val: int,
    test: int,
    *,
    size: int,
    seed: int = 0,
    workers: int | None = None,
) -> ImageSplits:
    """Load train/val/test images of ``class_names`` from ``root/<class_name>/``.

    Each folder's image files are sorted, then a permutation seeded by ``(seed, class name)``
    picks ``train + val + test`` of them (only those are read). Loading runs on ``workers``
    threads (default: up to 8, one per CPU).

    Raises:
        FileNotFoundError: ``root`` or a class folder is missing (named).
        ValueError: a class has too few images, or an image cannot be read (file named).
    """
    root = _check_root(root)
    if size < 1:
        raise ValueError(f"image size must be positive, got {size}")
    if not class_names:
        raise ValueError("folder_splits needs at least one class name")
    picked = [_pick_files(root, name, train, val, test, seed) for name in class_names]
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        per_class = [_load_class(pool, triple, size) for triple in picked]
    return assemble_splits(list(class_names), per_class)


def _check_root(root: str | os.PathLike[str] | None) -> Path:
    if root is None:
        raise ValueError("data.root must name the folder of class folders for source='folders'")
    path = Path(root)
    if not path.is_dir():
        raise FileNotFoundError(f"data root {path} does not exist or is not a folder")
    return path


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly in ``folder`` (by suffix, any case), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"class folder {folder} does not exist")
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def _pick_files(
    root: Path, name: str, train: int, val: int, test: int, seed: int
) -> tuple[list[Path], list[Path], list[Path]]:
    """The files of one class's three splits."""
    folder = root / name
    if not folder.is_dir():
        raise FileNotFoundError(f"class {name!r}: folder {folder} does not exist")
    files = list_images(folder)
    parts = split_indices(len(files), train, val, test, name, seed=seed, source=str(folder))
    train_files, val_files, test_files = ([files[i] for i in idx.tolist()] for idx in parts)
    return train_files, val_files, test_files


def _load_class(
    pool: ThreadPoolExecutor, files: tuple[list[Path], list[Path], list[Path]], size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train, val and test images of one class."""
    train, val, test = (_load_stack(pool, split, size) for split in files)
    return train, val, test


def _load_stack(pool: ThreadPoolExecutor, files: list[Path], size: int) -> torch.Tensor:
    """Load ``files`` in parallel into uint8 ``[len(files), 3, size, size]``."""
    if not files:
        return torch.empty((0, 3, size, size), dtype=torch.uint8)
    arrays = list(pool.map(lambda path: load_image(path, size), files))
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def load_image(path: str | os.PathLike[str], size: int) -> np.ndarray:
    """One image as RGB uint8 ``[size, size, 3]``: shorter side resized to ``size``, centre crop.

    Raises:
        ValueError: the file is not a readable image (the message names it).
    """
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at reduced scale when it can
            rgb = image.convert("RGB")
        return np.asarray(_resize_crop(rgb, size), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ValueError(f"cannot read image {path}: {err}") from err


def _resize_crop(image: Image.Image, size: int) -> Image.Image:
    """Resize the shorter side to ``size`` (bilinear, antialiased), then crop the centre."""
    width, height = image.size
    scale = size / min(width, height)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    image = image.resize(new, Image.Resampling.BILINEAR)
    left, top = (new[0] - size) // 2, (new[1] - size) // 2
    return image.crop((left, top, left + size, top + size))
