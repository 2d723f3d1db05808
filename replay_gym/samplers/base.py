"""The interface every night-time replay generator implements (METHOD §3)."""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from typing import Any

import torch

__all__ = ["LearnerDivergedError", "Sampler"]

_FINITE_CHUNK = 256
"""Activations checked for NaN/infinity at once (bounds the boolean scratch tensor)."""


class LearnerDivergedError(ValueError):
    """Activations to fit hold NaN or infinity: the network that produced them has diverged.

    Attributes:
        classes: Indices of the classes with non-finite activations.
    """

    def __init__(self, message: str, classes: list[int]) -> None:
        super().__init__(message)
        self.classes = classes


class Sampler(ABC):
    """Fitted on one day's activations; draws replay activations per class.

    The public methods check their inputs and keep the bookkeeping (class count, activation
    shape, device, dtype); a subclass implements only :meth:`_fit`, called with inputs already
    checked, and :meth:`_sample`, called with a valid class and count. Override
    :meth:`sample_night` when a night is not simply ``samples_per_class`` draws of each class.
    To be saved in checkpoints (:meth:`state_dict`), a subclass also implements
    :meth:`_state_dict` and :meth:`_load_state_dict`.
    """

    def __init__(self) -> None:
        self._n_classes: int | None = None
        self._shape: tuple[int, int, int] | None = None
        self._device: torch.device | None = None
        self._dtype: torch.dtype | None = None

    # ----------------------------------------------------------------- subclass hooks
    @abstractmethod
    def _fit(self, activations: torch.Tensor, labels: torch.Tensor, n_classes: int) -> None:
        """Fit to inputs already checked by :meth:`fit`.

        ``activations`` is [N, C, H, W] floating point, ``labels`` int64 [N] on the same device,
        and every class 0..n_classes-1 occurs at least once.
        """

    @abstractmethod
    def _sample(self, label: int, n: int, generator: torch.Generator) -> torch.Tensor:
        """Draw ``n >= 1`` activations [n, C, H, W] of valid class ``label``."""

    # ----------------------------------------------------------------- public API
    def fit(self, activations: torch.Tensor, labels: torch.Tensor, n_classes: int) -> None:
        """Fit the per-class generators to one day's activations, replacing any earlier fit.

        Args:
            activations: Float tensor [N, C, H, W] at the replay layer.
            labels: Integer class of each activation, shape [N], values in [0, n_classes).
            n_classes: Number of classes; every class must occur.

        Raises:
            ValueError: If a shape, dtype or label is wrong or a class has no activations.
            LearnerDivergedError: If any activation is NaN or infinite (the message names the
                classes): a Gaussian fitted to them would replay NaN.
        """
        n_classes = _as_int("n_classes", n_classes)
        if n_classes < 1:
            raise ValueError(f"n_classes must be at least 1, got {n_classes}")
        if not isinstance(activations, torch.Tensor) or activations.ndim != 4:
            shape = tuple(activations.shape) if isinstance(activations, torch.Tensor) else None
            raise ValueError(f"activations must be a 4-D tensor [N, C, H, W], got shape {shape}")
        if not activations.is_floating_point():
            raise ValueError(f"activations must be floating point, got dtype {activations.dtype}")
        if not isinstance(labels, torch.Tensor) or labels.ndim != 1:
            raise ValueError("labels must be a 1-D integer tensor [N]")
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
        if labels.shape[0] != activations.shape[0]:
            raise ValueError(
                f"labels has {labels.shape[0]} entries but activations has {activations.shape[0]}"
            )
        labels = labels.to(device=activations.device, dtype=torch.int64)
        if labels.numel() and (labels.min() < 0 or labels.max() >= n_classes):
            bad = labels[(labels < 0) | (labels >= n_classes)][0].item()
            raise ValueError(f"label {bad} is outside [0, n_classes={n_classes})")
        counts = torch.bincount(labels, minlength=n_classes)
        missing = (counts == 0).nonzero().flatten().tolist()
        if missing:
            raise ValueError(f"class {missing[0]} has no activations (classes without any: "
                             f"{missing})")
        _check_finite(activations, labels)
        self._n_classes = None  # stays unfitted if _fit raises
        self._fit(activations, labels, n_classes)
        self._n_classes = n_classes
        channels, height, width = activations.shape[1:]
        self._shape = (channels, height, width)
        self._device = activations.device
        self._dtype = activations.dtype

    def sample(self, label: int, n: int, generator: torch.Generator) -> torch.Tensor:
        """Draw ``n`` replay activations of class ``label``.

        Args:
            label: Class index in [0, n_classes).
            n: Number of activations (>= 0).
            generator: Source of all randomness.

        Returns:
            Tensor [n, C, H, W] on the fitted activations' device and dtype.

        Raises:
            RuntimeError: If the sampler has not been fitted.
            ValueError: If ``label`` or ``n`` is out of range.
        """
        self._check_fitted()
        label = self._check_label(label)
        n = _as_int("n", n)
        if n < 0:
            raise ValueError(f"n (number of samples) must be >= 0, got {n}")
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        if n == 0:
            return torch.empty((0, *self.shape), device=self._device, dtype=self._dtype)
        return self._sample(label, n, generator)

    def sample_night(
        self, samples_per_class: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Every sample of one full night, all classes, in class order (the caller shuffles).

        Args:
            samples_per_class: Activations drawn for each class.
            generator: Source of all randomness.

        Returns:
            ``(activations [n_classes * samples_per_class, C, H, W], labels int64)``, class 0's
            block first, on the fitted device.

        Raises:
            RuntimeError: If the sampler has not been fitted.
            ValueError: If ``samples_per_class`` is not positive.
        """
        self._check_fitted()
        samples_per_class = _as_int("samples_per_class", samples_per_class)
        if samples_per_class < 1:
            raise ValueError(f"samples_per_class must be positive, got {samples_per_class}")
        out = torch.empty(
            (self.n_classes * samples_per_class, *self.shape), device=self._device,
            dtype=self._dtype,
        )
        for c in range(self.n_classes):
            out[c * samples_per_class:(c + 1) * samples_per_class] = self.sample(
                c, samples_per_class, generator
            )
        labels = torch.arange(self.n_classes, device=self._device).repeat_interleave(
            samples_per_class
        )
        return out, labels

    def state_dict(self) -> dict[str, Any]:
        """The fitted generators as a state tree (see :mod:`replay_gym.statefile`).

        Raises:
            NotImplementedError: If the subclass does not implement :meth:`_state_dict`.
        """
        state: dict[str, Any] = {"sampler": type(self).__name__, "fitted": self.fitted}
        if self.fitted:
            state.update(
                n_classes=self._n_classes,
                shape=list(self.shape),
                dtype=str(self._dtype).removeprefix("torch."),
                fit=self._state_dict(),
            )
        return state

    def load_state_dict(
        self, state: dict[str, Any], device: torch.device | str | None = None
    ) -> None:
        """Restore what :meth:`state_dict` returned.

        Args:
            state: A sampler state of the same class.
            device: Where the fitted tensors go (the learner's device); default: the CPU.

        Raises:
            ValueError: If ``state`` belongs to another kind of sampler or is malformed.
        """
        if state.get("sampler") != type(self).__name__:
            raise ValueError(
                f"saved sampler state is a {state.get('sampler')!r}, not a {type(self).__name__}"
            )
        self._n_classes = None
        if not state["fitted"]:
            return
        dtype = getattr(torch, str(state["dtype"]), None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"saved sampler state has an unknown dtype {state['dtype']!r}")
        device = torch.device("cpu" if device is None else device)
        self._load_state_dict(state["fit"], device)
        channels, height, width = (int(v) for v in state["shape"])
        self._shape = (channels, height, width)
        self._device = device
        self._dtype = dtype
        self._n_classes = int(state["n_classes"])

    def _state_dict(self) -> dict[str, Any]:
        """The subclass's fitted state (tensors and JSON values)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved: it has no _state_dict")

    def _load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        """Restore :meth:`_state_dict`'s output, tensors on ``device``."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot be loaded: it has no _load_state_dict"
        )

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` has succeeded."""
        return self._n_classes is not None

    @property
    def n_classes(self) -> int:
        """Number of classes of the last fit."""
        self._check_fitted()
        assert self._n_classes is not None
        return self._n_classes

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one activation, as fitted."""
        self._check_fitted()
        assert self._shape is not None
        return self._shape

    # ----------------------------------------------------------------- helpers
    def _check_fitted(self) -> None:
        if self._n_classes is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() first")

    def _check_label(self, label: int) -> int:
        label = _as_int("label", label)
        if not 0 <= label < self.n_classes:
            raise ValueError(f"label {label} is outside [0, n_classes={self.n_classes})")
        return label


def _check_finite(activations: torch.Tensor, labels: torch.Tensor) -> None:
    """Raise :class:`LearnerDivergedError` naming the classes whose activations are not finite."""
    bad = torch.zeros(len(labels), dtype=torch.bool, device=activations.device)
    for start in range(0, len(labels), _FINITE_CHUNK):
        chunk = activations[start : start + _FINITE_CHUNK]
        bad[start : start + len(chunk)] = ~torch.isfinite(chunk).flatten(1).all(dim=1)
    if bad.any():
        classes = torch.unique(labels[bad]).tolist()
        raise LearnerDivergedError(
            f"{int(bad.sum())} of {len(labels)} activations (classes {classes}) hold NaN or "
            "infinity: the network that produced them has diverged",
            classes,
        )


def _as_int(name: str, value: object) -> int:
    """``value`` as a Python int (numpy and 0-d tensor ints too); ``ValueError`` naming ``name``."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an int, got {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{name} must be an int, got {value!r}") from None
