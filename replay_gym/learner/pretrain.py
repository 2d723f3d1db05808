"""Pretrain the scaled VGG-16 base of the embedded default on base categories.

The paper's VGG-16 arrives knowing ImageNet-1k; the new classes are ones it never saw. The
embedded default mirrors that: its conv base is pretrained here on procedural *base* categories
(class indices from ``first_class=1000`` on), disjoint from the new categories (indices 0..),
then only the conv base is kept. ``python -m replay_gym pretrain`` writes a new base to
``runs/pretrain/vgg16_small_base.pt``; the shipped file ``replay_gym/assets/vgg16_small_base.pt``
is what the default settings produced, and replacing it needs ``--out`` naming it and
``--overwrite``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import torch
import tyro

from replay_gym.atomic import atomic_write, atomic_write_text
from replay_gym.config import LearnerConfig
from replay_gym.data.prototypes import prototype_splits
from replay_gym.learner.cortex import Learner
from replay_gym.learner.weights import EMBEDDED_WEIGHTS
from replay_gym.metrics import overall_accuracy
from replay_gym.rundir import check_writable
from replay_gym.validation import check_fields, require

BASE_FIRST_CLASS = 1000
"""Base categories start at this class index; the new categories use 0, 1, ..."""

PRETRAIN_ADAM_EPS = 1e-8
"""Adam epsilon of pretraining: the usual one (the paper's 1.0 is for its new-class learning)."""

DEFAULT_OUT = Path("runs") / "pretrain" / EMBEDDED_WEIGHTS.name
"""Where a new base goes by default: never the shipped asset."""


@dataclass(frozen=True)
class PretrainArgs:
    """Pretrain a scaled VGG-16 conv base on procedural base categories."""

    out: Path = DEFAULT_OUT
    """Where to write the conv-base state dict (a .json with how it was made goes beside)."""
    overwrite: Annotated[bool, tyro.conf.arg(help=(
        "Replace an existing --out (and its .json). Needed to regenerate the shipped base "
        f"({EMBEDDED_WEIGHTS.relative_to(EMBEDDED_WEIGHTS.parents[2])})."
    ))] = False
    widths: tuple[int, int, int, int, int] = LearnerConfig.widths
    """Channels of the five conv blocks."""
    input_size: int = LearnerConfig.input_size
    """Image side in pixels."""
    n_classes: int = 40
    """Base categories."""
    train_per_class: int = 200
    """Training images per base category."""
    val_per_class: int = 25
    """Validation images per base category (accuracy reported in the metadata)."""
    epochs: int = 15
    """Passes over the base training set."""
    lr: Annotated[float, tyro.conf.arg(help=(
        f"Adam learning rate (with the ordinary epsilon {PRETRAIN_ADAM_EPS:g}: this is "
        "ImageNet-style pretraining, not the paper's new-class learning)."
    ))] = 1e-3
    seed: int = 0
    """Seed of the base data and the initial weights."""

    def __post_init__(self) -> None:
        check_fields(self)  # types (finite floats, integers not rounded); a string out a path

    def validate(self) -> None:
        """Check every field and the output path.

        Raises:
            ValueError: naming the first bad field.
            FileExistsError: ``out`` (or its ``.json``) exists and ``overwrite`` is not set;
                the message says so specially for the shipped base.
        """
        for name in ("n_classes", "train_per_class", "val_per_class", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        require(self.lr > 0, "lr", "positive", self.lr)
        LearnerConfig(widths=self.widths, input_size=self.input_size, weights="none").validate()
        if self.out.is_dir():
            raise ValueError(f"out {self.out} is a folder; give the state dict's file name")
        check_writable(self.out, f"out {self.out}")
        if self.overwrite:
            return
        shipped = self.out.resolve() == EMBEDDED_WEIGHTS.resolve()
        for path in (self.out, self.out.with_suffix(".json")):
            if path.exists() and shipped:
                raise FileExistsError(
                    f"out {self.out} is the shipped base of the embedded default; pass "
                    "--overwrite to replace it, or choose another --out"
                )
            if path.exists():
                raise FileExistsError(
                    f"out {path} already exists; pass --overwrite to replace it or choose --out"
                )


def pretrain(args: PretrainArgs, *, log: bool = True) -> dict:
    """Train, write ``args.out`` atomically, and return the metadata written beside it."""
    args.validate()
    start = time.perf_counter()
    data = prototype_splits(
        args.n_classes,
        args.train_per_class,
        args.val_per_class,
        1,
        size=args.input_size,
        seed=args.seed,
        first_class=BASE_FIRST_CLASS,
    )
    config = LearnerConfig(
        widths=args.widths,
        input_size=args.input_size,
        weights="none",
        lr=args.lr,
        adam_eps=PRETRAIN_ADAM_EPS,
    )
    generator = torch.Generator().manual_seed(args.seed)
    learner = Learner(config, args.n_classes, None, generator)
    accuracy = 0.0
    for epoch in range(1, args.epochs + 1):
        loss = learner.train_day(data.train_images, data.train_labels, generator)
        confusion = learner.confusion(data.val_images, data.val_labels, args.n_classes)
        accuracy = overall_accuracy(confusion)
        if log:
            print(f"epoch {epoch}/{args.epochs}: loss {loss:.3f}, base val accuracy {accuracy:.3f}")
    features = {
        k: v.cpu() for k, v in learner.model.state_dict().items() if k.startswith("features.")
    }
    settings = {k: v for k, v in dataclasses.asdict(args).items() if k != "overwrite"}
    meta = {
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items()},
        "out": args.out.name,
        "first_class": BASE_FIRST_CLASS,
        "base_val_accuracy": accuracy,
        "seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
    }
    text = json.dumps(meta, indent=2)
    atomic_write(args.out, lambda tmp: torch.save(features, tmp))
    atomic_write_text(args.out.with_suffix(".json"), text)
    return meta
