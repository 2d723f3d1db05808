"""The interface every night-time replay generator implements (METHOD §3)."""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from replay_gym.learner.cortex import Learner

__all__ = ["LearnerDivergedError", "ReplayTargets", "Sampler", "SamplerDivergedError"]

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


class SamplerDivergedError(ValueError):
    """A learned sampler's own training went to NaN or infinity; it refuses to replay NaN."""


@dataclass(frozen=True)
class ReplayTargets:
    """What the classifier learns from a replay batch instead of its hard labels (distillation).

    For row ``i`` with ``soft[i]`` true the loss is ``temperature**2`` times the cross-entropy
    between ``probs[i]`` and the softmax of the logits divided by ``temperature`` (Hinton et
    al.'s soft targets); a row with ``soft[i]`` false keeps the plain cross-entropy with its
    label. See :meth:`replay_gym.learner.cortex.Learner.train_above`.
    """

    probs: torch.Tensor
    """Target probabilities [n, n_classes], already softened at ``temperature``."""
    soft: torch.Tensor
    """Boolean [n]: which rows learn ``probs`` (the others learn their hard label)."""
    temperature: float
    """Distillation temperature (> 0)."""


class Sampler(ABC):
    """Fitted on one day's activations; draws replay activations per class.

    The public methods check their inputs and keep the bookkeeping (class count, activation
    shape, device, dtype); a subclass implements only :meth:`_fit`, called with inputs already
    checked, and :meth:`_sample`, called with a valid class and count. Override
    :meth:`sample_night` when a night is not simply ``samples_per_class`` draws of each class.
    To be saved in checkpoints (:meth:`state_dict`), a subclass also implements
    :meth:`_state_dict` and :meth:`_load_state_dict`.

    Optional hooks, no-ops here, for samplers that need more than the day's activations (the
    environment calls them; a sampler used alone calls them itself):

    - :meth:`bind` gives the sampler the learner and the replay layer;
    - :meth:`before_day` is called before each day of real images is trained;
    - :meth:`replay_targets` may replace a replay batch's hard labels by soft targets;
    - :meth:`finish_batch` may turn a batch of :meth:`sample_night`'s output into what is
      trained, at the moment it is replayed;
    - a fit that draws random numbers takes them from :attr:`fit_generator`, the generator
      passed to :meth:`fit` (the Gaussian and veridical samplers draw none).
    """

    remembers_classes: bool = False
    """Whether the sampler keeps classes from earlier fits (a generator updated each day). Such
    a sampler may be fitted to a day that holds only some of the classes."""

    def __init__(self) -> None:
        self._n_classes: int | None = None
        self._shape: tuple[int, int, int] | None = None
        self._device: torch.device | None = None
        self._dtype: torch.dtype | None = None
        self._fit_generator: torch.Generator | None = None

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

    # ----------------------------------------------------------------- optional hooks
    def bind(self, learner: Learner, layer: int) -> None:  # noqa: B027 - optional hook
        """Give the sampler the learner whose network it replays into, at max-pool ``layer``.

        Called by the environment whenever it builds or restores its learner. No-op here.
        """

    def before_day(self) -> None:  # noqa: B027 - optional hook
        """Called before each day of real images is trained (e.g. to copy the network). No-op."""

    def replay_targets(
        self, samples: torch.Tensor, labels: torch.Tensor
    ) -> ReplayTargets | None:
        """Soft targets for a replay batch drawn from this sampler, or None for its hard labels.

        None here: the classifier learns the batch's labels.
        """
        return None

    def finish_batch(self, samples: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """A batch of :meth:`sample_night`'s output, made ready to be trained; itself here.

        A sampler whose samples depend on the network at the moment they are replayed
        (automatic recall) returns starting points from :meth:`sample_night` and finishes each
        batch here, when it is replayed (the environment calls this in ``replay_batch``).
        """
        return samples

    @property
    def fit_generator(self) -> torch.Generator:
        """The generator passed to the running :meth:`fit`, for a fit that draws random numbers.

        Raises:
            ValueError: If :meth:`fit` was called without one.
        """
        if self._fit_generator is None:
            raise ValueError(
                f"{type(self).__name__}.fit draws random numbers: pass generator=torch.Generator()"
            )
        return self._fit_generator

    # ----------------------------------------------------------------- public API
    def fit(
        self,
        activations: torch.Tensor,
        labels: torch.Tensor,
        n_classes: int,
        generator: torch.Generator | None = None,
    ) -> None:
        """Fit the per-class generators to one day's activations, replacing any earlier fit.

        Args:
            activations: Float tensor [N, C, H, W] at the replay layer.
            labels: Integer class of each activation, shape [N], values in [0, n_classes).
            n_classes: Number of classes; every class must occur (unless the sampler
                :attr:`remembers_classes`).
            generator: Source of the fit's random numbers, for samplers whose fit draws any
                (see :attr:`fit_generator`); ignored by the others.

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
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        counts = torch.bincount(labels, minlength=n_classes)
        missing = (counts == 0).nonzero().flatten().tolist()
        if missing and not (self.remembers_classes and len(missing) < n_classes):
            raise ValueError(f"class {missing[0]} has no activations (classes without any: "
                             f"{missing})")
        _check_finite(activations, labels)
        self._n_classes = None  # stays unfitted if _fit raises
        self._fit_generator = generator
        try:
            self._fit(activations, labels, n_classes)
        finally:
            self._fit_generator = None
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
