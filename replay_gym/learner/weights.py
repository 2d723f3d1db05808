"""Starting weights of the conv base: ImageNet, the shipped small base, a file, or random.

Only the conv base (``features.*``) is ever loaded: the head is new in every course (METHOD §1).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from replay_gym.config import VGG16_WIDTHS, LearnerConfig

EMBEDDED_WEIGHTS = Path(__file__).resolve().parent.parent / "assets" / "vgg16_small_base.pt"
"""The small base pretrained by ``python -m replay_gym pretrain`` on base categories."""

EMBEDDED_META = EMBEDDED_WEIGHTS.with_suffix(".json")


class WeightsUnavailableError(RuntimeError):
    """The requested starting weights cannot be had on this machine."""


def load_base_state(config: LearnerConfig) -> dict[str, torch.Tensor] | None:
    """The conv base's state dict named by ``config.weights``; None for random weights.

    Raises:
        WeightsUnavailableError: ImageNet weights are neither cached nor downloadable, or the
            embedded file is missing.
        ValueError: a file that does not fit the configured widths.
    """
    spec = config.weights
    if spec == "none":
        return None
    if spec == "imagenet":
        state = _imagenet_state()
    elif spec == "embedded":
        state = _embedded_state(config)
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


def _imagenet_state() -> dict[str, torch.Tensor]:
    from torchvision.models import VGG16_Weights

    weights = VGG16_Weights.IMAGENET1K_V1
    try:
        # Reads torch hub's cache when the file is there; downloads otherwise.
        return weights.get_state_dict(progress=False)
    except OSError as error:  # URLError is an OSError
        cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        raise WeightsUnavailableError(
            f"ImageNet VGG-16 weights are not available offline ({error}). Download "
            f"{weights.url} to {cache}, or pass learner.weights=/path/to/vgg16.pth "
            f"(widths must be {VGG16_WIDTHS})."
        ) from error


def _embedded_state(config: LearnerConfig) -> dict[str, torch.Tensor]:
    if not EMBEDDED_WEIGHTS.is_file():
        raise WeightsUnavailableError(
            f"the embedded small base {EMBEDDED_WEIGHTS} is missing; regenerate it with "
            "`python -m replay_gym pretrain`"
        )
    meta = embedded_metadata()
    if tuple(meta["widths"]) != tuple(config.widths):
        raise ValueError(
            f"learner.weights='embedded' was pretrained with widths {tuple(meta['widths'])}, "
            f"but learner.widths is {tuple(config.widths)}; pretrain a base for these widths "
            "with `python -m replay_gym pretrain --widths ... --out FILE` and pass "
            "learner.weights=FILE, or use learner.weights='none'"
        )
    return _read_state_file(EMBEDDED_WEIGHTS)


def embedded_metadata() -> dict:
    """How the embedded base was made (widths, input size, data, epochs, accuracy)."""
    return json.loads(EMBEDDED_META.read_text())


def _read_state_file(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"cannot read weights file {path}: {error}") from error
    if not isinstance(state, dict):
        raise ValueError(f"weights file {path} does not hold a state dict")
    return state
