"""Pretrain the scaled VGG-16 bases shipped with replay-gym, on classes the preset never learns.

The paper's VGG-16 arrives knowing ImageNet-1k; the new classes are ones it never saw. The
shipped bases mirror that, and only their conv base is kept:

* ``embedded`` (the ``default`` preset): pretrained on procedural *base* categories (class
  indices from ``first_class=1000`` on), disjoint from the new categories (indices 0..).
* ``embedded-fashion-mnist`` (the ``fashion-mnist`` preset): pretrained on Fashion-MNIST classes
  0-4 (T-shirt/top, Trouser, Pullover, Dress, Coat); the preset learns classes 5-9 as new.

``python -m replay_gym pretrain --base NAME`` runs that base's recipe (:data:`RECIPES`), seeded
and deterministic for a given torch version and thread count, and writes to ``runs/pretrain/``.
Replacing a shipped file needs ``--out`` naming it and ``--overwrite``, and its new SHA-256
(printed, and kept in the ``.json`` beside it) goes into
:data:`replay_gym.learner.weights.SHIPPED_BASES`, which checks it before every load.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import torch
import tyro

from replay_gym.atomic import atomic_write, atomic_write_text
from replay_gym.config import LearnerConfig
from replay_gym.data.fashion_mnist import CLASS_NAMES as FASHION_MNIST_CLASSES
from replay_gym.data.fashion_mnist import DEFAULT_ROOT as FASHION_MNIST_ROOT
from replay_gym.data.fashion_mnist import fashion_mnist_splits
from replay_gym.data.prototypes import prototype_splits
from replay_gym.data.splits import ImageSplits
from replay_gym.learner.cortex import Learner
from replay_gym.learner.weights import EMBEDDED_WEIGHTS, SHIPPED_BASES, file_sha256
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
    """Pretrain a scaled VGG-16 conv base on base categories the preset never learns as new."""

    base: str = "embedded"
    """Which shipped base's recipe gives the defaults of every other flag: ``embedded`` (the
    default preset's, procedural categories) or ``embedded-fashion-mnist`` (the fashion-mnist
    preset's, Fashion-MNIST classes 0-4)."""
    out: Path = DEFAULT_OUT
    """Where to write the conv-base state dict (a .json with how it was made goes beside)."""
    overwrite: Annotated[
        bool,
        tyro.conf.arg(
            help=(
                "Replace an existing --out (and its .json). Needed to regenerate a shipped base "
                f"(in {EMBEDDED_WEIGHTS.parent.relative_to(EMBEDDED_WEIGHTS.parents[2])}/)."
            )
        ),
    ] = False
    source: Literal["prototypes", "fashion-mnist"] = "prototypes"
    """Base images: ``prototypes`` (procedural categories from index 1000 on) or
    ``fashion-mnist`` (the train file's images of ``classes``)."""
    classes: tuple[int, ...] = ()
    """``fashion-mnist``: the base classes' label indices 0-9 (as many as ``n_classes``)."""
    root: str = FASHION_MNIST_ROOT
    """``fashion-mnist``: the folder of its idx files."""
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
    lr: Annotated[
        float,
        tyro.conf.arg(
            help=(
                f"Adam learning rate (with the ordinary epsilon {PRETRAIN_ADAM_EPS:g}: this is "
                "ImageNet-style pretraining, not the paper's new-class learning)."
            )
        ),
    ] = 1e-3
    seed: int = 0
    """Seed of the base data and the initial weights."""
    threads: int | None = None
    """torch threads (recorded in the metadata: the last bits of the weights depend on it);
    ``None`` leaves torch's setting."""

    def __post_init__(self) -> None:
        check_fields(self)  # types (finite floats, integers not rounded); a string out a path

    def validate(self) -> None:
        """Check every field and the output path.

        Raises:
            ValueError: naming the first bad field.
            FileExistsError: ``out`` (or its ``.json``) exists and ``overwrite`` is not set;
                the message says so specially for a shipped base.
        """
        if self.base not in RECIPES:
            raise ValueError(f"base must be one of {sorted(RECIPES)}, got {self.base!r}")
        for name in ("n_classes", "train_per_class", "val_per_class", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        require(self.lr > 0, "lr", "positive", self.lr)
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")
        if self.source == "fashion-mnist":
            bad = [c for c in self.classes if not 0 <= c < len(FASHION_MNIST_CLASSES)]
            if bad or len(set(self.classes)) != len(self.classes):
                raise ValueError(f"classes must be distinct labels 0-9, got {self.classes}")
            if len(self.classes) != self.n_classes:
                raise ValueError(
                    f"classes names {len(self.classes)} Fashion-MNIST labels but n_classes is "
                    f"{self.n_classes}; give one label per base class"
                )
        elif self.classes:
            raise ValueError("classes is for source='fashion-mnist' (prototypes are numbered)")
        LearnerConfig(widths=self.widths, input_size=self.input_size, weights="none").validate()
        if self.out.is_dir():
            raise ValueError(f"out {self.out} is a folder; give the state dict's file name")
        check_writable(self.out, f"out {self.out}")
        if self.overwrite:
            return
        shipped = next(
            (b for b in SHIPPED_BASES.values() if self.out.resolve() == b.path.resolve()), None
        )
        for path in (self.out, self.out.with_suffix(".json")):
            if path.exists() and shipped is not None:
                raise FileExistsError(
                    f"out {self.out} is the shipped base {shipped.about}; pass "
                    "--overwrite to replace it, or choose another --out"
                )
            if path.exists():
                raise FileExistsError(
                    f"out {path} already exists; pass --overwrite to replace it or choose --out"
                )


RECIPES: dict[str, PretrainArgs] = {
    "embedded": PretrainArgs(),
    "embedded-fashion-mnist": PretrainArgs(
        base="embedded-fashion-mnist",
        out=Path("runs") / "pretrain" / SHIPPED_BASES["embedded-fashion-mnist"].file,
        source="fashion-mnist",
        classes=(0, 1, 2, 3, 4),
        n_classes=5,
        train_per_class=1200,
        val_per_class=200,
        epochs=8,
        threads=1,
    ),
}
"""How each shipped base (:data:`~replay_gym.learner.weights.SHIPPED_BASES`) was made:
``python -m replay_gym pretrain --base NAME`` starts from these settings."""


def recipe(name: str) -> PretrainArgs:
    """The settings that made the shipped base ``name``; ``ValueError`` lists the names."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown base {name!r}; choose one of {sorted(RECIPES)}") from None


def base_data(args: PretrainArgs) -> ImageSplits:
    """The base categories' training and validation images ``args`` asks for."""
    if args.source == "fashion-mnist":
        return fashion_mnist_splits(
            args.classes, args.train_per_class, args.val_per_class, 1,
            size=args.input_size, root=args.root, seed=args.seed,
        )  # fmt: skip
    return prototype_splits(
        args.n_classes,
        args.train_per_class,
        args.val_per_class,
        1,
        size=args.input_size,
        seed=args.seed,
        first_class=BASE_FIRST_CLASS,
    )


def save_state(state: dict[str, torch.Tensor], path: Path) -> None:
    """``torch.save`` ``state`` to ``path`` in bytes that depend on the tensors alone.

    Given a path, ``torch.save`` names the archive inside the file after it, and
    :func:`~replay_gym.atomic.atomic_write` hands it a temporary name holding the process id, so
    the same weights would hash differently on every run. Given an open file, it names the
    archive ``archive``.
    """
    with open(path, "wb") as handle:
        torch.save(state, handle)


def pretrain(args: PretrainArgs, *, log: bool = True) -> dict:
    """Train, write ``args.out`` atomically, and return the metadata written beside it."""
    args.validate()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    data = base_data(args)
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
    atomic_write(args.out, lambda tmp: save_state(features, tmp))
    settings = {k: v for k, v in dataclasses.asdict(args).items() if k not in ("overwrite", "root")}
    meta = {
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items()},
        "out": args.out.name,
        "threads": torch.get_num_threads(),
        "class_names": list(data.class_names),
        "base_val_accuracy": accuracy,
        "sha256": file_sha256(args.out),
        "bytes": args.out.stat().st_size,
        "seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
    }
    if args.source == "prototypes":
        meta["first_class"] = BASE_FIRST_CLASS
    text = json.dumps(meta, indent=2)
    atomic_write_text(args.out.with_suffix(".json"), text)
    if log:
        print(f"wrote {args.out} ({meta['bytes']:,} bytes, SHA-256 {meta['sha256']})")
    return meta
