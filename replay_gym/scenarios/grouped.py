"""A replay generator for days that see some classes only: one inner sampler per group of classes.

In the paper's scenario every day trains on every class, and the sampler is refitted to all of
them after each day. When a day sees only some classes (a task of a class-incremental course),
the classes it did not see have no activations to refit to, so their generator must be the one
fitted when they were last trained. :class:`ClassGroupSampler` does that with any registered
sampler kind and no change to it: each :meth:`~ClassGroupSampler.fit` fits a fresh inner sampler
(``factory()``) to the classes present, with their labels renumbered 0..k-1, and those classes
are sampled from it until a later fit covers them again.

The layers below the replay layer keep learning by day, so an earlier group's samples follow the
representation of the day it was fitted on, not today's: the drift that generative replay at a
hidden layer must live with in a class-incremental course.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from replay_gym.samplers.base import LearnerDivergedError, Sampler, _as_int

__all__ = ["ClassGroupSampler"]


class ClassGroupSampler(Sampler):
    """Per-class generators fitted in groups; a fit replaces only the classes it covers.

    Args:
        factory: Builds one unfitted inner sampler (e.g. ``lambda: make_sampler(config, 4)``);
            called once per fit and once per group when a state is loaded.

    Unlike :meth:`Sampler.fit`, :meth:`fit` needs only the classes of this fit to occur; the
    others keep their earlier generator. Sampling a class that no fit has covered yet is refused.
    """

    def __init__(self, factory: Callable[[], Sampler]) -> None:
        super().__init__()
        if not callable(factory):
            raise TypeError(
                f"factory must be callable (it builds the inner sampler), got {factory!r}"
            )
        self._factory = factory
        self._groups: list[tuple[tuple[int, ...], Sampler]] = []
        self._owner: dict[int, int] = {}
        """Class -> index in ``_groups`` of the group whose generator it uses."""

    @property
    def fitted_classes(self) -> tuple[int, ...]:
        """The classes that have a generator, sorted."""
        return tuple(sorted(self._owner))

    # -- fitting --------------------------------------------------------------------------

    def fit(
        self,
        activations: torch.Tensor,
        labels: torch.Tensor,
        n_classes: int,
        generator: torch.Generator | None = None,
    ) -> None:
        """Fit a new group on the classes present in ``labels``; other classes keep theirs.

        Args:
            activations: Float tensor [N, C, H, W] at the replay layer.
            labels: Integer class of each activation, shape [N], values in [0, n_classes).
            n_classes: Number of classes of the whole course (the action space).
            generator: Passed on to the inner sampler's fit (see :meth:`Sampler.fit`).

        Raises:
            ValueError: If ``n_classes`` or a label is out of range, ``labels`` is empty, the
                activations' shape differs from the earlier fits', or the inner sampler refuses
                the inputs (its message).
            LearnerDivergedError: If activations hold NaN or infinity (naming the classes by
                their course-wide index).
        """
        n_classes = _as_int("n_classes", n_classes)
        if n_classes < 1:
            raise ValueError(f"n_classes must be at least 1, got {n_classes}")
        if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.numel() == 0:
            raise ValueError("labels must be a non-empty 1-D integer tensor [N]")
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
        if self.fitted and n_classes != self.n_classes:
            raise ValueError(f"n_classes is {n_classes}, but earlier fits had {self.n_classes}")
        present = torch.unique(labels.cpu()).tolist()
        if present[0] < 0 or present[-1] >= n_classes:
            bad = present[0] if present[0] < 0 else present[-1]
            raise ValueError(f"label {bad} is outside [0, n_classes={n_classes})")
        if (
            self.fitted
            and isinstance(activations, torch.Tensor)
            and tuple(activations.shape[1:]) != self.shape
        ):
            raise ValueError(
                f"activations are {tuple(activations.shape[1:])} per item, earlier fits "
                f"{self.shape}"
            )
        local = torch.full((present[-1] + 1,), -1, dtype=torch.int64)
        local[present] = torch.arange(len(present))
        inner = self._factory()
        try:
            inner.fit(
                activations, local[labels.cpu().long()].to(labels.device), len(present), generator
            )
        except LearnerDivergedError as err:
            classes = [present[c] for c in err.classes]
            raise LearnerDivergedError(
                f"activations of class(es) {classes} hold NaN or infinity: the network that "
                "produced them has diverged",
                classes,
            ) from err
        self._groups.append((tuple(present), inner))
        for c in present:
            self._owner[c] = len(self._groups) - 1
        self._drop_unused_groups()
        self._n_classes = n_classes
        self._shape = inner.shape
        self._device = activations.device
        self._dtype = activations.dtype

    def _drop_unused_groups(self) -> None:
        used = sorted(set(self._owner.values()))
        renumber = {old: new for new, old in enumerate(used)}
        self._groups = [self._groups[i] for i in used]
        self._owner = {c: renumber[g] for c, g in self._owner.items()}

    def _fit(self, activations: torch.Tensor, labels: torch.Tensor, n_classes: int) -> None:
        raise NotImplementedError("ClassGroupSampler fits in fit() itself")  # pragma: no cover

    # -- sampling -------------------------------------------------------------------------

    def _sample(self, label: int, n: int, generator: torch.Generator) -> torch.Tensor:
        classes, inner = self._group_of(label)
        return inner.sample(classes.index(label), n, generator)

    def _group_of(self, label: int) -> tuple[tuple[int, ...], Sampler]:
        if label not in self._owner:
            raise ValueError(
                f"class {label} has no generator yet: no day has trained on it (fitted classes: "
                f"{list(self.fitted_classes)})"
            )
        return self._groups[self._owner[label]]

    def sample_night(
        self, samples_per_class: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Every sample of one full night of every fitted class, group by group.

        Each group's own :meth:`Sampler.sample_night` draws its part (so a veridical inner
        sampler replays each stored activation once); classes a later fit took over are left
        out of the older group's part. The caller shuffles.

        Raises:
            RuntimeError: If nothing has been fitted.
            ValueError: If ``samples_per_class`` is not positive.
        """
        self._check_fitted()
        parts, labels = [], []
        for index, (classes, inner) in enumerate(self._groups):
            samples, local = inner.sample_night(samples_per_class, generator)
            glob = torch.tensor(classes, device=local.device)[local]
            keep = torch.tensor(
                [self._owner.get(c) == index for c in classes], device=local.device
            )[local]
            parts.append(samples[keep.to(samples.device)])
            labels.append(glob[keep])
        return torch.cat(parts), torch.cat(labels)

    # -- saving ---------------------------------------------------------------------------

    def _state_dict(self) -> dict[str, Any]:
        return {
            "groups": [
                {
                    "classes": list(classes),
                    "owned": [c for c in classes if self._owner[c] == index],
                    "sampler": inner.state_dict(),
                }
                for index, (classes, inner) in enumerate(self._groups)
            ]
        }

    def _load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        groups: list[tuple[tuple[int, ...], Sampler]] = []
        owner: dict[int, int] = {}
        for index, group in enumerate(state["groups"]):
            inner = self._factory()
            inner.load_state_dict(group["sampler"], device)
            groups.append((tuple(int(c) for c in group["classes"]), inner))
            owner.update({int(c): index for c in group["owned"]})
        self._groups, self._owner = groups, owner
