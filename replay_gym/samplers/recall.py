"""Automatic recall: replay activations optimised from the network itself, no generator, no data.

After Ji, Henriques, Tuytelaars & Vedaldi, "Automatic Recall Machines" (the seed ``003_...``) and
their published code. Before each day the sampler keeps a frozen copy of the network above the
replay layer (the paper's old parameters theta, with the lag T of one day). For each replay batch
it starts from activations and takes ``steps`` gradient steps on them that maximise (eq. 8-9)

- the Jensen-Shannon divergence between the old copy's and the current network's outputs (the
  samples whose behaviour the day changed most, eq. 7),
- the cross-entropy with the day's other classes, for both networks (the "non-local" constraint:
  recalled samples should not be of the classes just trained; lambda_1, lambda_2),
- the entropy of the batch's mean old output (diversity, lambda_3) and minus each sample's cross-
  entropy with its own top class (sharpening, lambda_4),
- minus the L2 norm and the total variation of the samples (lambda_5, lambda_6),

and, because the environment's selector asks for a class, minus the old network's cross-entropy
with that class (class targeting). The recalled samples then teach the classifier the old copy's
outputs (distillation targets; :meth:`~RecallSampler.replay_targets`).

What changes at a feature layer: the samples are activations, not pixels, so they start from one
batch of the day's activations (ARM: the current real batch) or from per-channel noise; a step
moves each sample by its gradient rescaled to ``lr`` times the RMS of the day's activations (ARM
takes plain steps of 10 on pixels in [0, 1], a scale no feature layer shares); they may be kept
non-negative (``nonnegative``, off by default as ARM does not clip); and smoothness applies only to
maps of at least 2x2. The divergence is the paper's Jensen-Shannon; the authors' code maximised
KL(m || p_old) + KL(m || p_new) with m the mean distribution instead. L2 and total variation are
the code's definitions. A class new on the day is unknown to the old copy: its batches are
optimised against the current network alone (targeting, non-local, diversity, sharpening,
regularisers) and keep their hard label; so are all batches on night 1.

Memory, as the paper reports it: the bytes of the network copy (4 per parameter) against a buffer
of stored samples; here the kept batch of the day's activations adds to the copy
(:meth:`RecallSampler.memory`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch.nn import functional as F

from replay_gym.config import RecallConfig
from replay_gym.samplers.base import _as_int
from replay_gym.samplers.continual import ContinualSampler

if TYPE_CHECKING:
    from replay_gym.learner.cortex import Learner

__all__ = ["RecallSampler", "js_divergence", "total_variation"]


def js_divergence(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """Per-row Jensen-Shannon divergence (nats) between the softmaxes of two logit batches."""
    log_p, log_q = F.log_softmax(logits_p, dim=1), F.log_softmax(logits_q, dim=1)
    log_m = torch.logsumexp(torch.stack([log_p, log_q]), dim=0) - torch.log(
        torch.tensor(2.0, dtype=log_p.dtype, device=log_p.device)
    )
    kl_p = (log_p.exp() * (log_p - log_m)).sum(dim=1)
    kl_q = (log_q.exp() * (log_q - log_m)).sum(dim=1)
    return 0.5 * (kl_p + kl_q)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """ARM's total variation of maps [n, C, H, W]: mean squared neighbour differences, per map.

    Raises:
        ValueError: If a map is smaller than 2x2.
    """
    if x.shape[-1] < 2 or x.shape[-2] < 2:
        raise ValueError(f"total variation needs maps of at least 2x2, got {tuple(x.shape[-2:])}")
    _, channels, height, width = x.shape
    h_tv = (x[:, :, 1:, :] - x[:, :, :-1, :]).pow(2).sum()
    w_tv = (x[:, :, :, 1:] - x[:, :, :, :-1]).pow(2).sum()
    count_h, count_w = channels * (height - 1) * width, channels * height * (width - 1)
    return 2 * (h_tv / count_h + w_tv / count_w) / len(x)


def _l2(x: torch.Tensor) -> torch.Tensor:
    """ARM's L2 term: the samples' L2 norms summed, divided by batch size and features."""
    flat = x.flatten(1)
    return flat.norm(dim=1).sum() / (flat.shape[0] * flat.shape[1])


def _rms(x: torch.Tensor) -> torch.Tensor:
    """Root mean square of each sample [n, 1, 1, 1] (never 0)."""
    rms = x.flatten(1).pow(2).mean(dim=1).sqrt()
    return rms.clamp(min=torch.finfo(x.dtype).tiny)[:, None, None, None]


def _notlocal(logits: torch.Tensor, classes: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """ARM's non-local term, minimised to push rows away from the day's other classes.

    Minus each row's mean cross-entropy with its masked ``classes``, averaged over rows (a row
    without any counts 0).

    Args:
        logits: [n, n_classes].
        classes: The day's classes [k].
        mask: Boolean [n, k]: which of ``classes`` each row is pushed away from.
    """
    if not len(classes):
        return logits.new_zeros(())
    log_probs = F.log_softmax(logits, dim=1)[:, classes]
    per_row = (log_probs * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
    return per_row.mean()


def _negative_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Negative entropy of the batch's mean softmax (minimised: a diverse batch)."""
    mean = torch.softmax(logits, dim=1).mean(dim=0).clamp(min=torch.finfo(logits.dtype).eps)
    return (mean * mean.log()).sum()


class RecallSampler(ContinualSampler):
    """Ji et al.'s automatic recall at the replay layer (``sampler.kind="recall"``).

    Args:
        config: The recall settings (``sampler.recall``).
        layer: Replay layer (max-pool block 1-5).

    Needs the learner (:meth:`bind`, which the environment calls) and a ``generator`` for
    :meth:`fit` (it draws the kept batch of the day's activations).
    """

    def __init__(self, config: RecallConfig, layer: int) -> None:
        if not isinstance(config, RecallConfig):
            raise ValueError(f"config must be a RecallConfig, got {type(config).__name__}")
        super().__init__(layer, soft_targets=config.soft_targets, temperature=config.temperature)
        self.config = config
        self._pool: torch.Tensor | None = None
        self._channel_mean: torch.Tensor | None = None
        self._channel_std: torch.Tensor | None = None
        self._scale: float = 1.0

    @property
    def needs_copy(self) -> bool:
        """Always: the old network is what recall diverges from."""
        return True

    def bind(self, learner: Learner, layer: int) -> None:
        """Use ``learner``'s network; refuses smoothness on a 1x1 map (see ``tv_weight``)."""
        super().bind(learner, layer)
        self.config.validate(map_side=learner.config.pool_shape(layer)[1])

    # ----------------------------------------------------------------- fitting
    def _fit_day(
        self,
        activations: torch.Tensor,
        labels: torch.Tensor,
        n_classes: int,
        present: tuple[int, ...],
    ) -> None:
        self.config.validate(map_side=activations.shape[-1])
        generator = self.fit_generator
        self._scale = float(activations.double().pow(2).mean().sqrt()) or 1.0
        if self.config.init == "batch":
            keep = torch.randperm(len(activations), generator=generator)[: self.config.init_pool]
            self._pool = activations[keep.to(activations.device)].detach().clone()
            self._channel_mean = self._channel_std = None
        else:
            flat = activations.transpose(0, 1).flatten(1).double()
            self._channel_mean = flat.mean(dim=1).to(activations.dtype)
            self._channel_std = flat.std(dim=1).to(activations.dtype)
            self._pool = None

    # ----------------------------------------------------------------- recall
    def _sample(self, label: int, n: int, generator: torch.Generator) -> torch.Tensor:
        labels = torch.full((n,), label, dtype=torch.int64)
        return self.recall(self._start(n, generator), labels).to(self._dtype)

    def sample_night(
        self, samples_per_class: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The starting points of one night's samples, ``samples_per_class`` per class seen.

        Each batch of them is recalled against the network as it is when the batch is replayed
        (:meth:`finish_batch`, which the environment's ``replay_batch`` calls): ARM recalls for
        each replay batch, not once a night.
        """
        self._check_fitted()
        samples_per_class = _as_int("samples_per_class", samples_per_class)
        if samples_per_class < 1:
            raise ValueError(f"samples_per_class must be positive, got {samples_per_class}")
        starts = [self._start(samples_per_class, generator) for _ in self.classes]
        labels = torch.tensor(self.classes, device=self._device).repeat_interleave(
            samples_per_class
        )
        return torch.cat(starts).to(self._dtype), labels

    def finish_batch(self, samples: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Recall a batch from its starting points (:meth:`sample_night`), each for its label."""
        self._check_fitted()
        labels = torch.as_tensor(labels, dtype=torch.int64).cpu()
        for label in torch.unique(labels).tolist():
            self._check_label(label)
        return self.recall(samples, labels).to(self._dtype)

    def _start(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Where ``n`` recalled samples start: draws from the kept batch, or channel noise."""
        if self._pool is not None:
            count = len(self._pool)
            pick = torch.randint(count, (n,), generator=generator, device=generator.device)
            return self._pool[pick.to(self._pool.device)].clone()
        assert self._channel_mean is not None and self._channel_std is not None
        noise = torch.randn(n, *self.shape, generator=generator, device=generator.device)
        noise = noise.to(self._channel_mean.device, self._channel_mean.dtype)
        start = self._channel_mean[None, :, None, None] + self._channel_std[None, :, None, None] * (
            noise
        )
        return start.clamp(min=0.0) if self.config.nonnegative else start

    def recall(self, start: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``config.steps`` gradient steps from ``start`` [n, C, H, W] on the recall objective.

        Rows whose label the network before the day knew use that copy (divergence, old outputs
        for the other terms); the others use the current network alone.

        Args:
            start: Initial activations at the replay layer.
            labels: The class each row is recalled for (targeting; left out of its non-local
                classes), int64 [n].

        Returns:
            The recalled activations, detached, on the learner's device (float32).
        """
        config = self.config
        current = self.network()
        device = self.learner.device
        labels = labels.to(device)
        old = self._before
        known = torch.isin(labels, torch.tensor(sorted(self._known_before), device=device))
        if old is None or not known.any():
            old, known = None, torch.zeros_like(known)
        present = torch.tensor(self._present, dtype=torch.int64, device=device)
        others = present[None, :] != labels[:, None]  # [n, classes of the day]: non-local
        smoothness = config.smoothness(start.shape[-1])
        networks = [current] if old is None else [current, old]
        modes = [net.training for net in networks]
        for net in networks:
            net.eval()
        x = start.detach().to(device, torch.float32)
        try:
            for _ in range(config.steps):
                x.requires_grad_(True)
                new_logits = current(x)
                old_logits = None if old is None else old(x)
                ref = new_logits
                if old_logits is not None:
                    ref = torch.where(known[:, None], old_logits, new_logits)
                loss = config.class_weight * F.cross_entropy(ref, labels)
                loss = loss + config.diversity_weight * _negative_entropy(ref)
                loss = loss + config.sharpen_weight * F.cross_entropy(ref, ref.argmax(1).detach())
                loss = loss + config.notlocal_weight * _notlocal(ref, present, others)
                if old_logits is not None:
                    divergence = (js_divergence(old_logits, new_logits) * known).mean()
                    loss = loss - config.divergence_weight * divergence
                    loss = loss + config.notlocal_new_weight * _notlocal(
                        new_logits, present, others & known[:, None]
                    )
                loss = loss + config.l2_weight * _l2(x)
                if smoothness:
                    loss = loss + smoothness * total_variation(x)
                (grad,) = torch.autograd.grad(loss, x)
                x = (x - self.step_size * grad / _rms(grad)).detach()
                if config.nonnegative:
                    x = x.clamp(min=0.0)
        finally:
            for net, mode in zip(networks, modes, strict=True):
                net.train(mode)
        return x

    @property
    def step_size(self) -> float:
        """Length (RMS) of one gradient step: ``lr`` times the RMS of the day's activations."""
        return self.config.lr * self._scale

    # ----------------------------------------------------------------- inspection and saving
    def memory(self) -> dict[str, int]:
        """Bytes kept between days, by part.

        The network's copy (ARM's cost) and the kept batch or the channel statistics recall
        starts from.
        """
        parts = super().memory()
        kept = [t for t in (self._pool, self._channel_mean, self._channel_std) if t is not None]
        parts["start"] = sum(t.numel() * t.element_size() for t in kept)
        return parts

    def _state_dict(self) -> dict[str, Any]:
        return {
            "init": self.config.init,
            "scale": self._scale,
            "pool": self._pool,
            "channel_mean": self._channel_mean,
            "channel_std": self._channel_std,
        }

    def _load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        if state["init"] != self.config.init:
            raise ValueError(
                f"saved recall sampler starts from {state['init']!r}, this one from "
                f"{self.config.init!r}"
            )

        def to(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        self._scale = float(state["scale"])
        self._pool = to(state["pool"])
        self._channel_mean = to(state["channel_mean"])
        self._channel_std = to(state["channel_std"])
