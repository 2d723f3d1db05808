"""The learner ("visual cortex"): a VGG-16 with one Adam optimiser, trained by day and by night.

By day the whole network learns from augmented real images; by night only the part above the
replay layer learns, from replayed activations. One optimiser serves both, so its state carries
over from day to night and back (METHOD §3): parameters below the layer get no gradient at night
and Adam leaves them, and their moments, untouched.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.nn import functional as F

from replay_gym.config import LearnerConfig
from replay_gym.devices import check_device
from replay_gym.learner.augment import AffineParams, affine_params, apply_affine
from replay_gym.learner.compiled import CompiledForward
from replay_gym.learner.vgg import VGG16, init_features, init_head
from replay_gym.learner.weights import check_base_state
from replay_gym.metrics import confusion_matrix
from replay_gym.statefile import load_optimizer_state, optimizer_state

if TYPE_CHECKING:
    from replay_gym.samplers.base import ReplayTargets

EVAL_BATCH = 256
"""Images or activations per forward pass when evaluating (memory, not results)."""


def resolve_device(name: str) -> torch.device:
    """``auto`` means CUDA when present; a missing device is an error (listing those present)."""
    check_device(name, "learner.device")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass(frozen=True)
class DayViews:
    """The augmented views of one day: the image order and each batch's transform.

    Drawn before the day so the same views can be shown to the network again after it: the
    sampler is fitted to the activations of the images the day trained on, augmented as they
    were (what the authors' Keras generator did), not to the clean images.
    """

    order: torch.Tensor
    """Image indices in the order the day visits them."""
    batches: tuple[AffineParams, ...]
    """One transform per batch of ``batch_size`` consecutive entries of ``order``; empty when
    augmentation is off."""

    def __len__(self) -> int:
        return len(self.order)

    def state_dict(self) -> dict[str, Any]:
        """The order and the transforms as a state tree (see :mod:`replay_gym.statefile`)."""
        return {
            "order": self.order,
            "batches": [
                {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
                for params in self.batches
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DayViews:
        """The views :meth:`state_dict` described."""
        return cls(
            order=state["order"],
            batches=tuple(AffineParams(**params) for params in state["batches"]),
        )


@dataclass
class NightSnapshot:
    """Parameters above a layer and their optimiser state, to undo a probe replay."""

    params: list[torch.Tensor]
    optimizer_state: list[dict[str, torch.Tensor]]


class Learner:
    """A VGG-16 and its optimiser.

    With ``config.compile`` the night's predictions above the replay layer run through
    ``torch.compile`` (:mod:`replay_gym.learner.compiled`); ``model`` itself is never wrapped,
    so :meth:`state_dict` is the same either way. With ``config.adam_fused`` Adam runs as
    torch's fused kernel.

    Args:
        config: architecture, optimiser and augmentation settings.
        n_classes: size of the new head.
        base_state: conv-base state dict to start from; None for random conv weights.
        generator: draws the initial weights that are not loaded (head; conv when random).
    """

    def __init__(
        self,
        config: LearnerConfig,
        n_classes: int,
        base_state: dict[str, torch.Tensor] | None,
        generator: torch.Generator,
    ) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        # torch's layers draw a default initialisation from the global RNG; fork it so the
        # user's RNG is untouched (every weight is then set from ``generator`` or a file).
        with torch.random.fork_rng(devices=[]):
            self.model = VGG16(
                widths=config.widths,
                input_size=config.input_size,
                hidden=config.hidden,
                n_classes=n_classes,
                dropout=config.dropout,
            )
        if base_state is None:
            init_features(self.model, generator)
        else:
            check_base_state(base_state, self.model.state_dict())
            self.model.load_state_dict(base_state, strict=False)
        init_head(self.model, generator)
        self.model.to(self.device)
        if config.frozen_blocks:
            for parameter in self.model.below(config.frozen_blocks).parameters():
                parameter.requires_grad_(False)
        self.optimizer = torch.optim.Adam(
            [p for p in self.model.parameters() if p.requires_grad],
            lr=config.lr,
            betas=config.betas,
            eps=config.adam_eps,
            fused=True if config.adam_fused else None,  # None: torch's default, the loop
        )
        self._compiled: dict[int, CompiledForward] = {}
        """Compiled inference above each replay layer used so far (with ``config.compile``)."""

    # -- training -------------------------------------------------------------------------

    def draw_views(self, n_images: int, generator: torch.Generator) -> DayViews:
        """The shuffled order and per-batch augmentation of a day over ``n_images`` images."""
        order = torch.randperm(n_images, generator=generator)
        batches: tuple[AffineParams, ...] = ()
        if self.config.augment:
            batches = tuple(
                affine_params(
                    len(order[start : start + self.config.batch_size]),
                    generator,
                    rotation=self.config.rotation,
                    shift=self.config.shift,
                    zoom=self.config.zoom,
                    hflip=self.config.hflip,
                )
                for start in range(0, n_images, self.config.batch_size)
            )
        return DayViews(order=order, batches=batches)

    def train_day(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        generator: torch.Generator,
        views: DayViews | None = None,
    ) -> float:
        """One epoch over ``images`` (uint8), shuffled and augmented; returns the mean loss.

        ``views`` (from :meth:`draw_views`) fixes the order and augmentation; drawn from
        ``generator`` when not given.
        """
        if views is None:
            views = self.draw_views(len(images), generator)
        if len(views) != len(images):
            raise ValueError(f"views cover {len(views)} images, but {len(images)} were given")
        losses = []
        self.model.train()
        with _seeded_torch(generator, self.device):
            for index, batch in self._view_batches(images, views):
                losses.append(self._step(self.model(batch), labels[index].to(self.device)))
        return float(np.mean(losses))

    def _view_batches(
        self, images: torch.Tensor, views: DayViews
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(indices, float images in 0-1 as the day saw them) batch by batch."""
        for number, start in enumerate(range(0, len(views), self.config.batch_size)):
            index = views.order[start : start + self.config.batch_size]
            batch = images[index].to(self.device, torch.float32) / 255.0
            if views.batches:
                batch = apply_affine(batch, views.batches[number])
            yield index, batch

    def train_above(
        self,
        activations: torch.Tensor,
        labels: torch.Tensor,
        layer: int,
        generator: torch.Generator,
        targets: ReplayTargets | None = None,
    ) -> float:
        """One optimiser step of the truncated network on a batch of replayed activations.

        With ``targets`` (a sampler's :meth:`~replay_gym.samplers.Sampler.replay_targets`), the
        rows it marks soft learn its probabilities (:func:`replay_loss`), the others their label.
        """
        above = self.model.above(layer)
        above.train()
        with _seeded_torch(generator, self.device):
            logits = above(activations.to(self.device))
            return self._step(logits, labels.to(self.device), targets)

    def _step(
        self, logits: torch.Tensor, labels: torch.Tensor, targets: ReplayTargets | None = None
    ) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        loss = replay_loss(logits, labels, targets)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    # -- inference ------------------------------------------------------------------------

    @torch.no_grad()
    def activations(self, images: torch.Tensor, layer: int) -> torch.Tensor:
        """Max-pool ``layer`` outputs of uint8 ``images`` (eval mode, on the learner's device)."""
        self.model.eval()
        below = self.model.below(layer)
        parts = [
            below(self.model.normalize(chunk.to(self.device, torch.float32) / 255.0))
            for chunk in images.split(EVAL_BATCH)
        ]
        return torch.cat(parts)

    @torch.no_grad()
    def view_activations(
        self, images: torch.Tensor, labels: torch.Tensor, views: DayViews, layer: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Max-pool ``layer`` outputs of the day's augmented views, and their labels (eval mode)."""
        self.model.eval()
        below = self.model.below(layer)
        batches = self._view_batches(images, views)
        parts = [below(self.model.normalize(batch)) for _, batch in batches]
        return torch.cat(parts), labels[views.order]

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> np.ndarray:
        """Predicted classes of uint8 ``images`` through the whole network."""
        self.model.eval()
        parts = [
            self.model(chunk.to(self.device, torch.float32) / 255.0).argmax(1).cpu()
            for chunk in images.split(EVAL_BATCH)
        ]
        return torch.cat(parts).numpy()

    @torch.no_grad()
    def predict_from(self, activations: torch.Tensor, layer: int) -> np.ndarray:
        """Predicted classes from activations at ``layer`` (exact while the base is unchanged).

        Compiled with ``config.compile``; the logits then equal the eager ones within float
        rounding, and so do the predictions unless two logits tie within it.
        """
        forward = self.forward_above(layer)
        parts = [forward(chunk).argmax(1).cpu() for chunk in activations.split(EVAL_BATCH)]
        return torch.cat(parts).numpy()

    def forward_above(self, layer: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """The network above ``layer`` for inference: logits from activations, in eval mode.

        With ``config.compile`` a :class:`~replay_gym.learner.compiled.CompiledForward`, kept
        per layer (it compiles on first use of each batch shape); otherwise the eager modules.
        Call it under ``torch.no_grad()``.
        """
        if not self.config.compile:
            above = self.model.above(layer)
            above.eval()
            return above
        if layer not in self._compiled:
            self._compiled[layer] = CompiledForward(self.model.above(layer))
        return self._compiled[layer]

    def confusion(self, images: torch.Tensor, labels: torch.Tensor, n_classes: int) -> np.ndarray:
        """Confusion matrix of the whole network on ``images``."""
        return confusion_matrix(labels.numpy(), self.predict(images), n_classes)

    # -- saving ---------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the compiled forwards (they compile again on first use)."""
        return {**self.__dict__, "_compiled": {}}

    def state_dict(self) -> dict[str, Any]:
        """Weights and optimiser state (Adam's moments and step counts), as a state tree.

        Returns:
            ``{"model": {name: tensor}, "optimizer": {"state": {"<index>": {...}},
            "param_groups": [...]}}``: tensors (copies) and JSON values only, as
            :func:`replay_gym.statefile.save_tree` stores them.
        """
        return {
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "optimizer": optimizer_state(self.optimizer),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (tensors go to the learner's device).

        Raises:
            ValueError: If the weights do not fit this network (names or shapes differ).
        """
        try:
            self.model.load_state_dict(state["model"], strict=True)
        except RuntimeError as error:
            raise ValueError(f"saved learner weights do not fit this network: {error}") from error
        load_optimizer_state(self.optimizer, state["optimizer"])

    # -- probing --------------------------------------------------------------------------

    def snapshot_above(self, layer: int) -> NightSnapshot:
        """Copy what a night step at ``layer`` can change: parameters above it, their Adam state."""
        params = self.model.parameters_above(layer)
        return NightSnapshot(
            params=[p.detach().clone() for p in params],
            optimizer_state=[
                {k: v.clone() for k, v in self.optimizer.state[p].items()} for p in params
            ],
        )

    def restore_above(self, layer: int, snapshot: NightSnapshot) -> None:
        """Undo everything since :meth:`snapshot_above`."""
        params = self.model.parameters_above(layer)
        with torch.no_grad():
            for param, saved, state in zip(
                params, snapshot.params, snapshot.optimizer_state, strict=True
            ):
                param.copy_(saved)
                param.grad = None
                if state:
                    self.optimizer.state[param] = {k: v.clone() for k, v in state.items()}
                else:
                    self.optimizer.state.pop(param, None)


def replay_loss(
    logits: torch.Tensor, labels: torch.Tensor, targets: ReplayTargets | None = None
) -> torch.Tensor:
    """Mean loss of a batch: cross-entropy with ``labels``, or distillation where ``targets`` say.

    A soft row ``i`` costs ``T**2 * sum_c -probs[i, c] * log_softmax(logits[i] / T)[c]``, with
    ``T = targets.temperature`` (Hinton et al. 2015; van de Ven et al.'s ``loss_fn_kd``); the
    ``T**2`` keeps its gradients on the scale of a hard label's. Other rows cost
    ``cross_entropy(logits[i], labels[i])``.

    Raises:
        ValueError: If the targets' shapes do not match the batch.
    """
    if targets is None:
        return F.cross_entropy(logits, labels)
    if targets.probs.shape != logits.shape or targets.soft.shape != labels.shape:
        raise ValueError(
            f"replay targets are {tuple(targets.probs.shape)} with mask "
            f"{tuple(targets.soft.shape)}, but the batch's logits are {tuple(logits.shape)}"
        )
    t = targets.temperature
    probs = targets.probs.to(logits.device, logits.dtype)
    soft = -(probs * F.log_softmax(logits / t, dim=1)).sum(dim=1) * t * t
    hard = F.cross_entropy(logits, labels, reduction="none")
    return torch.where(targets.soft.to(logits.device), soft, hard).mean()


@contextlib.contextmanager
def _seeded_torch(generator: torch.Generator, device: torch.device) -> Iterator[None]:
    """Run with torch's global RNG (used by dropout) seeded from ``generator``, then restore it.

    Dropout cannot take a generator; forking the global state keeps the user's RNG untouched
    and makes every dropout mask a function of the episode seed.
    """
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.manual_seed(seed)
        yield
