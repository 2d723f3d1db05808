"""What the seed papers' samplers share: the network, its copy from before the day, old classes.

Van de Ven et al.'s brain-inspired replay and Ji et al.'s automatic recall both use the learner's
network and remember classes across days. A :class:`ContinualSampler` is bound to the learner
(:meth:`~ContinualSampler.bind`). Before each day of real images
(:meth:`~ContinualSampler.before_day`) it notes the classes it has been fitted to so far and, when
it needs one, keeps a frozen copy of the network above the replay layer: the "model before the
day". That copy gives the soft targets of replayed samples (distillation) and, for recall, the old
network whose outputs the recalled samples should diverge from.

A class first seen on the current day is unknown to that copy, so its replayed samples keep their
hard label; so do all samples on night 1, whose copy would be the untrained network.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from torch import nn

from replay_gym.samplers.base import ReplayTargets, Sampler, _as_int

if TYPE_CHECKING:
    from replay_gym.learner.cortex import Learner

__all__ = ["ContinualSampler", "frozen_copy", "state_bytes"]


M = TypeVar("M", bound=nn.Module)


def frozen_copy(module: M) -> M:
    """A deep copy of ``module`` that does not learn: no gradients, eval mode."""
    with torch.no_grad():
        frozen = copy.deepcopy(module)
    frozen.requires_grad_(False)
    return frozen.eval()


def state_bytes(state: Any) -> int:
    """Bytes of the tensors in a state tree (nested dicts and lists), each storage counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0

    def walk(value: Any) -> None:
        nonlocal total
        if isinstance(value, torch.Tensor):
            key = (value.untyped_storage().data_ptr(), value.untyped_storage().nbytes())
            if key not in seen:
                seen.add(key)
                total += value.untyped_storage().nbytes()
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(state)
    return total


class ContinualSampler(Sampler):
    """A sampler that keeps classes across fits and may use the network before the day.

    Subclasses implement :meth:`_fit_day` (called by :meth:`fit` with the classes present that
    day) and :meth:`_sample`, and say through :attr:`needs_copy` whether they need the frozen
    copy of the network taken before each day.

    Args:
        layer: The replay layer (max-pool block 1-5) the sampler is made for.
        soft_targets: Whether replayed samples of classes known before the day learn the
            copy's outputs instead of their labels (:meth:`replay_targets`).
        temperature: Distillation temperature of those targets.
    """

    remembers_classes = True

    targets_over_known_classes = False
    """Whether soft targets are the copy's softmax over the classes it knew only, zero for the
    others (brain-inspired replay's rule), instead of over every output (automatic recall's)."""

    def __init__(self, layer: int, *, soft_targets: bool, temperature: float) -> None:
        super().__init__()
        self.layer = _as_int("layer", layer)
        if not 1 <= self.layer <= 5:
            raise ValueError(f"layer must be a max-pool block 1-5, got {layer!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.soft_targets = bool(soft_targets)
        self.temperature = float(temperature)
        self._learner: Learner | None = None
        self._seen: set[int] = set()
        self._present: tuple[int, ...] = ()
        self._known_before: frozenset[int] = frozenset()
        self._before: nn.Module | None = None
        self._n_seen_classes: int | None = None

    # ----------------------------------------------------------------- subclass hooks
    @property
    def needs_copy(self) -> bool:
        """Whether :meth:`before_day` keeps a copy of the network (default: for soft targets)."""
        return self.soft_targets

    @abstractmethod
    def _fit_day(
        self,
        activations: torch.Tensor,
        labels: torch.Tensor,
        n_classes: int,
        present: tuple[int, ...],
    ) -> None:
        """Update the fit with one day's activations; ``present`` are the classes among them."""

    # ----------------------------------------------------------------- hooks of Sampler
    def bind(self, learner: Learner, layer: int) -> None:
        """Use ``learner``'s network above max-pool ``layer``.

        Raises:
            ValueError: If ``layer`` is not the layer this sampler was made for.
        """
        if layer != self.layer:
            raise ValueError(
                f"{type(self).__name__} was made for replay at block {self.layer}, "
                f"not block {layer}"
            )
        self._learner = learner

    def before_day(self) -> None:
        """Note the classes known so far and copy the network above the layer, if needed.

        Before the first fit nothing is known and no copy is kept (the network has not learned
        the classes yet).
        """
        self._known_before = frozenset(self._seen)
        self._before = None  # release the old copy before making the new one
        if self.needs_copy and self._seen:
            self._before = self._frozen_copy()

    def replay_targets(self, samples: torch.Tensor, labels: torch.Tensor) -> ReplayTargets | None:
        """The copy's softened outputs for samples of classes known before the day.

        Over every output, or (:attr:`targets_over_known_classes`) over the classes known before
        the day only, with probability 0 for the rest.

        Returns:
            None when soft targets are off, no copy exists (night 1) or no label in the batch
            was known before the day; otherwise targets whose ``soft`` marks those rows.
        """
        if not self.soft_targets or self._before is None:
            return None
        labels = torch.as_tensor(labels, dtype=torch.int64)
        known = torch.tensor(sorted(self._known_before), dtype=torch.int64)
        soft = torch.isin(labels.cpu(), known)
        if not soft.any():
            return None
        with torch.no_grad():
            logits = self._before(samples.to(self.learner.device))
        if self.targets_over_known_classes:
            # Outputs the copy never learned hold no knowledge; they get probability 0.
            unknown = ~torch.isin(torch.arange(logits.shape[1]), known).to(logits.device)
            logits = logits.masked_fill(unknown, float("-inf"))
        probs = torch.softmax(logits / self.temperature, dim=1)
        return ReplayTargets(probs=probs, soft=soft.to(probs.device), temperature=self.temperature)

    # ----------------------------------------------------------------- fitting and sampling
    def _fit(self, activations: torch.Tensor, labels: torch.Tensor, n_classes: int) -> None:
        if self._n_seen_classes is not None and self._n_seen_classes != n_classes:
            raise ValueError(
                f"{type(self).__name__} was fitted with n_classes={self._n_seen_classes}, "
                f"now {n_classes}"
            )
        present = tuple(torch.unique(labels).tolist())
        self._fit_day(activations, labels, n_classes, present)
        self._seen |= set(present)
        self._present = present
        self._n_seen_classes = n_classes

    def _check_label(self, label: int) -> int:
        label = super()._check_label(label)
        if label not in self._seen:
            raise ValueError(
                f"class {label} has not been seen by this sampler yet (seen: {self.classes})"
            )
        return label

    def sample_night(
        self, samples_per_class: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Every sample of one full night: ``samples_per_class`` of each class seen so far.

        Returns:
            ``(activations [len(classes) * samples_per_class, C, H, W], labels int64)``, in the
            order of :attr:`classes`.
        """
        self._check_fitted()
        samples_per_class = _as_int("samples_per_class", samples_per_class)
        if samples_per_class < 1:
            raise ValueError(f"samples_per_class must be positive, got {samples_per_class}")
        parts = [self.sample(c, samples_per_class, generator) for c in self.classes]
        labels = torch.tensor(self.classes, device=self._device).repeat_interleave(
            samples_per_class
        )
        return torch.cat(parts), labels

    @property
    def classes(self) -> list[int]:
        """Classes fitted on any day so far, in order: those the sampler can replay."""
        return sorted(self._seen)

    @property
    def known_before_day(self) -> list[int]:
        """Classes fitted before the current day (those whose samples get soft targets)."""
        return sorted(self._known_before)

    @property
    def learner(self) -> Learner:
        """The bound learner.

        Raises:
            RuntimeError: If :meth:`bind` has not been called.
        """
        if self._learner is None:
            raise RuntimeError(
                f"{type(self).__name__} needs the learner's network: call "
                "bind(learner, layer) first (the environment does)"
            )
        return self._learner

    def network(self) -> nn.Module:
        """The learner's current network above the replay layer (shared, not a copy)."""
        return self.learner.model.above(self.layer)

    def network_before_day(self) -> nn.Module | None:
        """The frozen copy of the network above the layer from before the day, if one is kept."""
        return self._before

    def memory(self) -> dict[str, int]:
        """Bytes the sampler keeps between days, by part; here the copy of the network."""
        copy_bytes = 0
        if self._before is not None:
            copy_bytes = sum(p.numel() * p.element_size() for p in self._before.parameters())
        return {"model_copy": copy_bytes}

    def _frozen_copy(self) -> nn.Module:
        return frozen_copy(self.network())

    # ----------------------------------------------------------------- saving
    def state_dict(self) -> dict[str, Any]:
        """The fit plus the classes seen and the copy of the network before the day."""
        state = super().state_dict()
        before = None
        if self._before is not None:
            before = {k: v.detach().clone() for k, v in self._before.state_dict().items()}
        state["continual"] = {
            "seen": sorted(self._seen),
            "present": list(self._present),
            "known_before": sorted(self._known_before),
            "n_classes": self._n_seen_classes,
            "before_day": before,
        }
        return state

    def load_state_dict(
        self, state: dict[str, Any], device: torch.device | str | None = None
    ) -> None:
        """Restore :meth:`state_dict`; a copy of the network needs :meth:`bind` first.

        Raises:
            ValueError: If the state is another sampler's, or holds a copy of the network and
                the sampler is not bound to a learner.
        """
        super().load_state_dict(state, device)
        continual = state["continual"]
        self._seen = {int(c) for c in continual["seen"]}
        self._present = tuple(int(c) for c in continual["present"])
        self._known_before = frozenset(int(c) for c in continual["known_before"])
        n_classes = continual["n_classes"]
        self._n_seen_classes = None if n_classes is None else int(n_classes)
        self._before = None
        if continual["before_day"] is not None:
            if self._learner is None:
                raise ValueError(
                    f"the saved {type(self).__name__} holds a copy of the network: "
                    "bind(learner, layer) before load_state_dict"
                )
            frozen = self._frozen_copy()
            frozen.load_state_dict(continual["before_day"])
            self._before = frozen
