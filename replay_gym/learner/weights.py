"""Starting weights of the conv base: ImageNet, the shipped small base, a file, or random.

Only the conv base (``features.*``) is ever loaded: the head is new in every course (METHOD §1).
Nothing read here can run code: every file is read with ``torch.load(weights_only=True)``, and
the ImageNet weights are first checked against the hash in their file name (:func:`hub_state`).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse

import torch

from replay_gym.config import VGG16_WIDTHS, LearnerConfig

ASSETS = Path(__file__).resolve().parent.parent / "assets"
"""The package's data folder, where the shipped conv bases live."""


@dataclass(frozen=True)
class ShippedBase:
    """A small conv base shipped in the package, made by ``python -m replay_gym pretrain``."""

    file: str
    """File name in :data:`ASSETS`; a ``.json`` beside it says how it was made."""
    sha256: str
    """The SHA-256 the file must have; it is checked before the file is read."""
    about: str
    """What it is, for messages (``of the embedded default``)."""

    @property
    def path(self) -> Path:
        """Where the file is."""
        return ASSETS / self.file

    @property
    def meta_path(self) -> Path:
        """The ``.json`` beside it: the settings that made it, its accuracy and size."""
        return self.path.with_suffix(".json")


SHIPPED_BASES: dict[str, ShippedBase] = {
    "embedded": ShippedBase(
        "vgg16_small_base.pt",
        "4fbaaa73b1ca2b32d184d9c45a83260cd0ecda9f98ee0385fdd3f39678dd8640",
        "of the embedded default",
    ),
    "embedded-fashion-mnist": ShippedBase(
        "vgg16_fmnist_base.pt",
        "f6e540cfcdc8407b1f24717b66d17a337c4a92fd4423d715cde63c5aab07459d",
        "of the fashion-mnist preset",
    ),
}
"""``learner.weights`` name -> the shipped base it loads. Regenerating one (``python -m
replay_gym pretrain --base NAME --out PATH --overwrite``) prints the new SHA-256, which goes
here."""

EMBEDDED_WEIGHTS = SHIPPED_BASES["embedded"].path
"""The small base pretrained by ``python -m replay_gym pretrain`` on base categories."""

EMBEDDED_META = SHIPPED_BASES["embedded"].meta_path


class WeightsUnavailableError(RuntimeError):
    """The requested starting weights cannot be had on this machine."""


def load_base_state(config: LearnerConfig) -> dict[str, torch.Tensor] | None:
    """The conv base's state dict named by ``config.weights``; None for random weights.

    Raises:
        WeightsUnavailableError: ImageNet weights are neither cached nor downloadable, or the
            embedded file is missing.
        ValueError: a file that does not fit the configured widths, holds more than tensors,
            or (ImageNet) does not match the hash in its name.
    """
    spec = config.weights
    if spec == "none":
        return None
    if spec == "imagenet":
        state = _imagenet_state()
    elif spec in SHIPPED_BASES:
        state = shipped_state(spec, config)
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise WeightsUnavailableError(
                f"learner.weights={spec!r}: no such file (expected a state dict of the VGG-16 "
                "conv base, keys 'features.N.weight'/'features.N.bias', or a full torchvision "
                "vgg16 state dict)"
            )
        state = _read_state_file(path)
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    if not features:
        raise ValueError(
            f"learner.weights={spec!r} holds no 'features.*' entries: not a VGG-16 state dict"
        )
    return features


def check_base_state(state: dict[str, torch.Tensor], model_state: dict[str, torch.Tensor]) -> None:
    """Raise ``ValueError`` listing missing or mis-shaped conv weights."""
    expected = {k: v.shape for k, v in model_state.items() if k.startswith("features.")}
    missing = sorted(set(expected) - set(state))
    wrong = sorted(
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k])}"
        for k in expected.keys() & state.keys()
        if state[k].shape != expected[k]
    )
    if missing or wrong:
        raise ValueError(
            "conv-base weights do not fit learner.widths: "
            + "; ".join([f"missing {missing}"] * bool(missing) + wrong[:5])
        )


def imagenet_url() -> str:
    """Where torchvision serves the ImageNet VGG-16 weights; the file name carries a hash prefix."""
    from torchvision.models import VGG16_Weights

    return VGG16_Weights.IMAGENET1K_V1.url


def _imagenet_state() -> dict[str, torch.Tensor]:
    url = imagenet_url()
    try:
        return hub_state(url)
    except WeightsUnavailableError as error:
        raise WeightsUnavailableError(
            f"ImageNet VGG-16 weights are not available offline ({error.__cause__}). Download "
            f"{url} to {hub_cache_path(url)}, or pass learner.weights=/path/to/vgg16.pth "
            f"(widths must be {VGG16_WIDTHS})."
        ) from error


def hub_cache_path(url: str) -> Path:
    """Where torch hub keeps the file of ``url`` (``<hub dir>/checkpoints/<file name>``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def hub_state(url: str) -> dict[str, torch.Tensor]:
    """The state dict served at ``url``, checked against the hash in its name before it is read.

    As torchvision's ``check_hash``: the file name holds the start of the file's SHA-256
    (``vgg16-397923af.pth``). The file is read from torch hub's cache (downloaded there when
    missing, checked while downloading), its SHA-256 compared with that prefix, and only then
    loaded, with ``torch.load(weights_only=True)``. Unlike torch hub, a file already in the cache
    is checked too, so one planted or damaged there is refused before it is opened.

    Args:
        url: Where the weights are served; its file name must carry a hash prefix.

    Returns:
        The state dict.

    Raises:
        ValueError: the name carries no hash, or the file's hash does not match it.
        WeightsUnavailableError: the file is not cached and cannot be downloaded.
    """
    cached = hub_cache_path(url)
    match = torch.hub.HASH_REGEX.search(cached.name)
    if match is None or not match.group(1):
        raise ValueError(
            f"{url}: the file name carries no hash prefix (name-<sha256 prefix>.ext), so the "
            "file cannot be checked; pass learner.weights=FILE instead"
        )
    prefix = match.group(1)
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, str(cached), hash_prefix=prefix, progress=False)
        except OSError as error:  # URLError is an OSError
            raise WeightsUnavailableError(f"cannot download {url}") from error
        except RuntimeError as error:  # torch hub's hash check failed; it kept nothing
            raise ValueError(f"{url} was downloaded but refused: {error}") from error
    check_sha256(
        cached, prefix, claim="its name says", what=f"the file {url} serves",
        remedy="Delete it to download it again, or pass learner.weights=FILE.",
    )  # fmt: skip
    return _read_state_file(cached)


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file at ``path``, in hex."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def check_sha256(path: Path, expected: str, *, claim: str, what: str, remedy: str) -> None:
    """Refuse ``path`` unless its SHA-256 starts with ``expected`` (a prefix or the whole hash).

    Called before a weights file is opened, so a damaged or replaced file is never read.

    Args:
        path: The file to check.
        expected: Hex digits the SHA-256 must start with.
        claim: Who says ``expected``, for the message (``its name says``).
        what: What the file should be (``the file URL serves``).
        remedy: What to do about a mismatch.

    Raises:
        ValueError: ``refused PATH: its SHA-256 begins ...``, naming both hashes.
    """
    digest = file_sha256(path)
    if not digest.startswith(expected.lower()):
        raise ValueError(
            f"refused {path}: its SHA-256 begins {digest[: len(expected)]}, but {claim} "
            f"{expected}, so it is not {what} (damaged or replaced). It was not read. {remedy}"
        )


def shipped_state(name: str, config: LearnerConfig) -> dict[str, torch.Tensor]:
    """The shipped base ``name`` (a key of :data:`SHIPPED_BASES`), its SHA-256 checked first.

    Raises:
        WeightsUnavailableError: the file is missing.
        ValueError: its SHA-256 is not the recorded one (the file is not read), or it was
            pretrained for other widths than ``config``'s.
    """
    base = SHIPPED_BASES[name]
    if not base.path.is_file():
        raise WeightsUnavailableError(
            f"the shipped base {name!r} {base.path} is missing; regenerate it with "
            f"`python -m replay_gym pretrain --base {name} --out {base.path} --overwrite`"
        )
    check_sha256(
        base.path, base.sha256, claim=f"SHIPPED_BASES[{name!r}] in {__name__} says",
        what=f"the shipped base {base.about}",
        remedy=(
            "Reinstall replay-gym, or regenerate the file with `python -m replay_gym pretrain "
            f"--base {name} --out {base.path} --overwrite` and record the SHA-256 it prints."
        ),
    )  # fmt: skip
    made = tuple(shipped_metadata(name)["widths"])
    if made != tuple(config.widths):
        raise ValueError(
            f"learner.weights={name!r} was pretrained with widths {made}, but learner.widths "
            f"is {tuple(config.widths)}; pretrain a base for these widths with `python -m "
            f"replay_gym pretrain --base {name} --widths ... --out FILE` and pass "
            "learner.weights=FILE, or use learner.weights='none'"
        )
    return _read_state_file(base.path)


def shipped_metadata(name: str) -> dict:
    """How the shipped base ``name`` was made (settings, data, epochs, accuracy)."""
    return json.loads(SHIPPED_BASES[name].meta_path.read_text())


def embedded_metadata() -> dict:
    """How the embedded base was made (widths, input size, data, epochs, accuracy)."""
    return shipped_metadata("embedded")


def _read_state_file(path: Path) -> dict[str, torch.Tensor]:
    state = load_weights_only(path, f"weights file {path}")
    if not isinstance(state, dict):
        raise ValueError(f"weights file {path} does not hold a state dict")
    return state


def load_weights_only(source: Path | BinaryIO, name: str) -> Any:
    """``torch.load(source, weights_only=True)`` on the CPU, with errors that say what happened.

    Only tensors and plain containers are accepted; a pickle that names anything else (the way
    a crafted file runs code) is refused before any of it runs.

    Args:
        source: A path or an open binary file.
        name: What the file is, for messages (``"weights file x.pt"``).

    Raises:
        ValueError: ``refused NAME`` for a file that holds more than tensors; ``cannot read NAME``
            for one that is not a torch file.
    """
    try:
        return torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        text = str(error)
        detail = text.split("WeightsUnpickler error:", 1)[-1].strip().split("\n")[0].strip()
        if "allowed global" in text:
            raise ValueError(
                f"refused {name}: it holds objects other than tensors, which only unpickling "
                f"(running code named in the file) could create; torch.load(weights_only=True) "
                f"stopped before running any ({detail})"
            ) from error
        raise ValueError(f"cannot read {name}: not a torch file ({detail})") from error
    except Exception as error:
        raise ValueError(f"cannot read {name}: {type(error).__name__}: {error}") from error
