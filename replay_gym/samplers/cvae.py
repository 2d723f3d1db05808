"""Brain-inspired replay: a class-conditional VAE on the replay layer's activations.

After van de Ven, Siegelmann & Tolias (2020, "Brain-inspired replay for continual learning with
artificial neural networks"; the seed poster ``002_...``) and their published code:

- *internal replay*: the VAE models the activations at the replay layer, not images;
- *conditional replay*: the latent prior is a mixture with one Gaussian per class (learned means
  and log-variances), so a class is replayed by decoding a draw from its own Gaussian;
- *gating based on internal context*: in every decoder hidden layer each class switches off its
  own fixed random subset of units (``gating_prop`` of them);
- the VAE is updated every day on the day's activations and on its own replay of the classes it
  knew before the day (from a frozen copy of itself), weighted 1/t and 1 - 1/t on its t-th fit;
- *soft targets*: replayed samples of classes known before the day teach the classifier the
  outputs, at temperature 2, of the network as it was before the day (distillation), softmaxed
  over the classes that network knew, with zeros for the classes learned since (BI-R's
  class-incremental rule: outputs never trained carry no knowledge, and at T = 2 they took about
  half the mass).

The VAE is separate from the classifier (BI-R merges them, "replay through feedback"; here the
classifier is the learner's VGG). Like the Gaussian sampler it works on the layer's activations
down-sampled by ``sampler.downsample`` and up-samples its samples by repetition, so the two are
compared like for like at every layer. Activations are divided per channel by their deviation on
the first day, floored at a tenth of the median channel's (:func:`channel_scale`); the
reconstruction loss is BI-R's for internal replay, a unit-variance Gaussian (half the squared
error) averaged over features, and the KL term is divided by the number of features too. The KL
to the class's Gaussian is computed in closed form (BI-R estimates it from one latent draw; same
expectation). Samples are clamped at 0, as the ReLU max-pool outputs they
stand for are.

*Feature exaggeration* (Millichamp & Chen, ``004_...``, ``repulsion=True``): on replayed batches
only, the classifier's softmax of each replayed sample picks its competing classes, those with a
probability above the top probability divided by the repulsion factor f; the reconstruction is
pushed away from the competing classes' mean activation (reconstruction repulsion, the
reconstruction loss with that mean as target, maximised) and pulled towards its own class's mean
(reconstruction attraction). The paper used binary cross-entropy on pixels; at a feature layer
the reconstruction loss is the Gaussian one above, so both terms use it. Class means are those of
the day's activations, or, for a class not in the day's data, of 256 of the old VAE's samples.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from replay_gym.config import CVAEConfig
from replay_gym.samplers.base import SamplerDivergedError
from replay_gym.samplers.continual import ContinualSampler, frozen_copy
from replay_gym.samplers.gaussian import _check_factor, downsample, upsample
from replay_gym.statefile import load_optimizer_state, optimizer_state

__all__ = ["CVAESampler", "ClassConditionalVAE"]

_MEAN_SAMPLES = 256
"""Samples of the old VAE averaged into the mean of a class absent from the day's data."""

_CHUNK = 256
"""Activations down-sampled or decoded at once outside training (bounds scratch memory)."""

_SCALE_FLOOR = 0.1
"""Smallest per-channel scale, as a share of the median channel's first-day deviation.

Without a floor, a channel almost silent for the first day's classes (deviation 1e-4 at block 4
of the class-incremental default) reached the VAE hundreds of units out once a later class drove
it, and the VAE's losses overflowed to NaN on the first day of the second task."""


_LOGVAR_LIMIT = 30.0
"""The encoder's log-variances are clamped to +-30: a numerical guard (exp(89) overflows float32)
that an input far out of range cannot push into NaN; BI-R has none, and in-range fits never reach
it."""


def _init_linear(layer: nn.Linear, generator: torch.Generator) -> None:
    """Torch's default ``nn.Linear`` initialisation, drawn from ``generator``.

    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, from ``generator`` instead of the
    global RNG.
    """
    bound = 1.0 / math.sqrt(layer.in_features)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=generator)
        layer.bias.uniform_(-bound, bound, generator=generator)


class ClassConditionalVAE(nn.Module):
    """A fully connected VAE whose prior has one diagonal Gaussian per class, with gated decoder.

    Args:
        dim: Features of one (flattened) input.
        n_classes: Classes, one prior Gaussian and one gate mask per layer each.
        latent: Latent dimensions.
        hidden: Units of each hidden layer.
        layers: Hidden layers in the encoder and in the decoder.
        gating_prop: Share of each decoder hidden layer's units a class gates off (0: none).
        generator: Draws every initial value (weights, prior, gate masks) on the CPU.
    """

    def __init__(
        self,
        dim: int,
        n_classes: int,
        latent: int,
        hidden: int,
        layers: int,
        gating_prop: float,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.dim, self.n_classes, self.latent = dim, n_classes, latent
        # Layers draw a default initialisation from the global RNG; fork it (then redraw every
        # value from ``generator``) so the caller's RNG is untouched.
        with torch.random.fork_rng(devices=[]):
            up = [dim] + [hidden] * layers
            self.encoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(up, up[1:], strict=False))
            self.to_z = nn.Linear(hidden, 2 * latent)
            down = [latent] + [hidden] * layers
            self.decoder = nn.ModuleList(
                nn.Linear(a, b) for a, b in zip(down, down[1:], strict=False)
            )
            self.to_x = nn.Linear(hidden, dim)
        for layer in [*self.encoder, self.to_z, *self.decoder, self.to_x]:
            _init_linear(layer, generator)
        # BI-R initialises the class means and log-variances from a standard normal.
        self.prior_mean = nn.Parameter(torch.randn(n_classes, latent, generator=generator))
        self.prior_logvar = nn.Parameter(torch.randn(n_classes, latent, generator=generator))
        keep = torch.rand(layers, n_classes, hidden, generator=generator) >= gating_prop
        self.register_buffer("gates", keep.float())

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance [n, latent] of q(z | x) for inputs [n, dim]."""
        h = x
        for layer in self.encoder:
            h = F.relu(layer(h))
        mean, logvar = self.to_z(h).chunk(2, dim=1)
        return mean, logvar.clamp(-_LOGVAR_LIMIT, _LOGVAR_LIMIT)

    def decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Reconstructions [n, dim] of latents [n, latent], gated by each row's class."""
        h = z
        for index, layer in enumerate(self.decoder):
            h = F.relu(layer(h)) * self.gates[index][labels]
        return self.to_x(h)

    def losses(
        self, x: torch.Tensor, labels: torch.Tensor, noise: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-row reconstruction loss and KL to the class's Gaussian (both per feature), and x'.

        ``noise`` [n, latent] holds the reparameterisation's standard normals.
        """
        mean, logvar = self.encode(x)
        z = mean + torch.exp(0.5 * logvar) * noise
        recon = self.decode(z, labels)
        prior_mean, prior_logvar = self.prior_mean[labels], self.prior_logvar[labels]
        kl = 0.5 * (
            prior_logvar
            - logvar
            + (logvar.exp() + (mean - prior_mean) ** 2) / prior_logvar.exp()
            - 1.0
        ).sum(dim=1)
        return reconstruction_loss(recon, x), kl / self.dim, recon

    def generate(self, labels: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Decoded draws [n, dim] from the classes' Gaussians, ``noise`` [n, latent] standard."""
        z = self.prior_mean[labels] + torch.exp(0.5 * self.prior_logvar[labels]) * noise
        return self.decode(z, labels)


def channel_scale(deviation: torch.Tensor) -> torch.Tensor:
    """Per-channel divisors [C] from the channels' deviations: floored at a tenth of the median.

    A channel whose deviation is below ``_SCALE_FLOOR`` times the median channel's (a silent
    one included) is divided by that floor instead; all silent: 1.
    """
    live = deviation[deviation > 0]
    if not len(live):
        return torch.ones_like(deviation)
    median = deviation.median()
    if median <= 0:
        median = live.median()
    return deviation.clamp(min=float(median) * _SCALE_FLOOR)


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-row unit-variance Gaussian reconstruction loss, half the squared error, feature mean."""
    return 0.5 * ((recon - target) ** 2).mean(dim=1)


class CVAESampler(ContinualSampler):
    """Brain-inspired replay's class-conditional VAE, optionally with feature exaggeration.

    Args:
        config: The VAE's settings (``sampler.cvae``).
        layer: Replay layer (max-pool block 1-5).
        downsample: Average-pooling factor applied to each channel's map before the VAE
            (``sampler.downsample`` at the layer, as for the Gaussian sampler).
        repulsion: Override ``config.repulsion`` (the ``cvae-repulsion`` kind passes True).

    :meth:`fit` needs a ``generator``; with ``soft_targets`` or ``repulsion`` the sampler needs
    the learner (:meth:`bind`), which the environment gives it. Soft targets cover the classes
    known before the day only, zero for newer ones, as BI-R's class-incremental distillation.
    """

    targets_over_known_classes = True

    def __init__(
        self, config: CVAEConfig, layer: int, downsample: int, *, repulsion: bool | None = None
    ) -> None:
        if not isinstance(config, CVAEConfig):
            raise ValueError(f"config must be a CVAEConfig, got {type(config).__name__}")
        if repulsion is not None:
            config = dataclasses.replace(config, repulsion=bool(repulsion))
        super().__init__(layer, soft_targets=config.soft_targets, temperature=config.temperature)
        self.config = config
        self.factor = _check_factor(downsample)
        self._vae: ClassConditionalVAE | None = None
        self._optimizer: torch.optim.Adam | None = None
        self._scale: torch.Tensor | None = None
        self._low_shape: tuple[int, int, int] = (0, 0, 0)
        self._fits = 0

    # ----------------------------------------------------------------- fitting
    def _fit_day(
        self,
        activations: torch.Tensor,
        labels: torch.Tensor,
        n_classes: int,
        present: tuple[int, ...],
    ) -> None:
        generator = self.fit_generator
        channels, height, width = activations.shape[1:]
        if height % self.factor or width % self.factor:
            raise ValueError(
                f"down-sampling factor {self.factor} does not divide the {height}x{width} map"
            )
        low_shape = (channels, height // self.factor, width // self.factor)
        if self.config.repulsion:
            self.learner  # noqa: B018 - refuse before training when the classifier is missing
        if self._vae is None:
            self._build(activations, low_shape, n_classes, generator)
        elif low_shape != self._low_shape:
            raise ValueError(
                f"activations down-sample to {low_shape}, the VAE was built for {self._low_shape}"
            )
        assert self._vae is not None and self._optimizer is not None
        vae, config = self._vae, self.config
        self._fits += 1
        old_classes = sorted(self._seen) if config.replay else []
        old = frozen_copy(vae) if old_classes else None
        new_weight = 1.0 / self._fits if old is not None else 1.0
        means = self._class_means(activations, labels, present, old, old_classes, generator)
        device = activations.device
        old_index = torch.tensor(old_classes, dtype=torch.int64)
        vae.train()
        for _ in range(config.epochs):
            order = torch.randperm(len(labels), generator=generator)
            for start in range(0, len(order), config.batch_size):
                rows = order[start : start + config.batch_size].to(device)
                x = self._normalise(downsample(activations[rows], self.factor))
                y = labels[rows]
                recon, kl, _ = vae.losses(x, y, self._noise(len(y), generator))
                loss = (recon + kl).mean()
                if old is not None:
                    pick = torch.randint(len(old_classes), (len(y),), generator=generator)
                    y_old = old_index[pick].to(device)
                    with torch.no_grad():
                        x_old = old.generate(y_old, self._noise(len(y), generator))
                        x_old = self._clamp(x_old)
                    loss = new_weight * loss + (1.0 - new_weight) * self._replay_loss(
                        vae, x_old, y_old, means, generator
                    )
                if not torch.isfinite(loss):
                    raise SamplerDivergedError(
                        f"the cvae sampler's VAE diverged on fit {self._fits} (its loss is "
                        f"{float(loss.detach())}); lower sampler.cvae.lr"
                    )
                self._optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self._optimizer.step()
        vae.eval()

    def _build(
        self,
        activations: torch.Tensor,
        low_shape: tuple[int, int, int],
        n_classes: int,
        generator: torch.Generator,
    ) -> None:
        """The VAE, its optimiser and the per-channel scale of the first day's activations."""
        config = self.config
        dim = math.prod(low_shape)
        self._low_shape = low_shape
        self._vae = ClassConditionalVAE(
            dim,
            n_classes,
            config.latent,
            config.hidden,
            config.layers,
            config.gating_prop if config.gating else 0.0,
            generator,
        ).to(activations.device)
        self._optimizer = torch.optim.Adam(self._vae.parameters(), lr=config.lr)
        sums = torch.zeros(low_shape[0], dtype=torch.float64, device=activations.device)
        squares = torch.zeros_like(sums)
        for chunk in activations.split(_CHUNK):
            low = downsample(chunk, self.factor).double()
            sums += low.sum(dim=(0, 2, 3))
            squares += (low**2).sum(dim=(0, 2, 3))
        count = len(activations) * low_shape[1] * low_shape[2]
        variance = (squares / count - (sums / count) ** 2).clamp(min=0.0)
        self._scale = channel_scale(variance.sqrt()).float()

    def _class_means(
        self,
        activations: torch.Tensor,
        labels: torch.Tensor,
        present: tuple[int, ...],
        old: ClassConditionalVAE | None,
        old_classes: list[int],
        generator: torch.Generator,
    ) -> torch.Tensor | None:
        """Normalised mean activation [n_classes, dim] of each class, for repulsion.

        NaN rows for classes without a mean; None without repulsion.
        """
        if not self.config.repulsion:
            return None
        assert self._vae is not None
        means = torch.full(
            (self._vae.n_classes, self._vae.dim), float("nan"), device=activations.device
        )
        for c in present:
            rows = (labels == c).nonzero().flatten()
            total = torch.zeros(self._vae.dim, device=activations.device)
            for chunk in rows.split(_CHUNK):
                total += self._normalise(downsample(activations[chunk], self.factor)).sum(0)
            means[c] = total / len(rows)
        for c in old_classes:
            if c in present or old is None:
                continue
            y = torch.full((_MEAN_SAMPLES,), c, dtype=torch.int64, device=activations.device)
            with torch.no_grad():
                drawn = old.generate(y, self._noise(_MEAN_SAMPLES, generator))
            means[c] = self._clamp(drawn).mean(0)
        return means

    def _replay_loss(
        self,
        vae: ClassConditionalVAE,
        x: torch.Tensor,
        y: torch.Tensor,
        means: torch.Tensor | None,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """VAE loss on a replayed batch, with feature exaggeration's terms when switched on."""
        recon_loss, kl, recon = vae.losses(x, y, self._noise(len(y), generator))
        loss = (recon_loss + kl).mean()
        if means is None:
            return loss
        competing = self.competing_classes(x, y, means)
        # Repulsion: the reconstruction loss against each competing class's mean, maximised;
        # averaged over a sample's competitors, zero for a sample without any.
        repel = torch.zeros(len(y), device=x.device)
        rows, classes = competing.nonzero(as_tuple=True)
        if len(rows):
            distance = reconstruction_loss(recon[rows], means[classes])
            repel.index_add_(0, rows, distance)
            repel = repel / competing.sum(dim=1).clamp(min=1)
        attract = reconstruction_loss(recon, means[y])
        config = self.config
        return (
            loss
            - config.repulsion_weight * repel.mean()
            + config.attraction_weight * (attract.mean())
        )

    def competing_classes(
        self, x: torch.Tensor, labels: torch.Tensor, means: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Boolean [n, n_classes]: the classes competing with each sample's label.

        The classifier (the learner's network above the layer, in eval mode) gives each sample
        a softmax; a class other than the label competes when its probability exceeds the top
        probability divided by the repulsion factor f (Millichamp & Chen, Fig. 2). With
        ``means``, classes without a mean (never seen) are left out.

        Args:
            x: Normalised, flattened, down-sampled samples [n, dim] (the VAE's space).
            labels: Each sample's class.
            means: Class means from the fit, NaN rows for classes without one.
        """
        network = self.network()
        training = network.training
        network.eval()
        with torch.no_grad():
            probs = torch.softmax(network(self._to_activations(x).float()), dim=1)
        network.train(training)
        threshold = probs.max(dim=1, keepdim=True).values / self.config.repulsion_factor
        competing = probs > threshold
        competing[torch.arange(len(labels)), labels] = False
        if means is not None:
            competing &= ~torch.isnan(means[:, 0])[None, :]
        return competing

    # ----------------------------------------------------------------- sampling
    def _sample(self, label: int, n: int, generator: torch.Generator) -> torch.Tensor:
        assert self._vae is not None
        out = torch.empty((n, *self.shape), device=self._device, dtype=self._dtype)
        labels = torch.full((min(n, _CHUNK),), label, dtype=torch.int64, device=self._device)
        with torch.no_grad():
            for start in range(0, n, _CHUNK):
                rows = min(_CHUNK, n - start)
                x = self._vae.generate(labels[:rows], self._noise(rows, generator))
                out[start : start + rows] = self._to_activations(self._clamp(x))
        return out

    # ----------------------------------------------------------------- units
    def _noise(self, n: int, generator: torch.Generator) -> torch.Tensor:
        assert self._vae is not None
        z = torch.randn(n, self._vae.latent, generator=generator, device=generator.device)
        return z.to(self._vae.prior_mean.device)

    def _normalise(self, low: torch.Tensor) -> torch.Tensor:
        """Down-sampled maps [n, C, h, w] to the VAE's flattened, per-channel scaled space."""
        assert self._scale is not None
        return (low.float() / self._scale[None, :, None, None]).flatten(1)

    def _to_activations(self, x: torch.Tensor) -> torch.Tensor:
        """The VAE's space back to full-resolution activations [n, C, H, W]."""
        assert self._scale is not None
        low = x.view(len(x), *self._low_shape) * self._scale[None, :, None, None]
        return upsample(low, self.factor).to(self._dtype or low.dtype)

    @staticmethod
    def _clamp(x: torch.Tensor) -> torch.Tensor:
        return x.clamp(min=0.0)

    # ----------------------------------------------------------------- inspection and saving
    @property
    def vae(self) -> ClassConditionalVAE:
        """The fitted VAE."""
        self._check_fitted()
        assert self._vae is not None
        return self._vae

    @property
    def fits(self) -> int:
        """Days the VAE has been fitted on."""
        return self._fits

    def memory(self) -> dict[str, int]:
        """Bytes kept between days: the VAE (weights, Adam moments) and the network's copy."""
        parts = super().memory()
        if self._vae is not None and self._optimizer is not None:
            weights = sum(t.numel() * t.element_size() for t in self._vae.state_dict().values())
            adam = sum(
                v.numel() * v.element_size()
                for state in self._optimizer.state.values()
                for v in state.values()
                if isinstance(v, torch.Tensor)
            )
            parts.update(vae=weights, vae_optimizer=adam)
        return parts

    def _state_dict(self) -> dict[str, Any]:
        assert self._vae is not None and self._optimizer is not None and self._scale is not None
        return {
            "factor": self.factor,
            "low_shape": list(self._low_shape),
            "n_classes": self._vae.n_classes,
            "fits": self._fits,
            "scale": self._scale.clone(),
            "vae": {k: v.detach().clone() for k, v in self._vae.state_dict().items()},
            "optimizer": optimizer_state(self._optimizer),
        }

    def _load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        if int(state["factor"]) != self.factor:
            raise ValueError(
                f"saved cvae sampler down-samples by {state['factor']}, this one by {self.factor}"
            )
        channels, height, width = (int(v) for v in state["low_shape"])
        self._low_shape = (channels, height, width)
        config = self.config
        self._vae = ClassConditionalVAE(
            math.prod(self._low_shape),
            int(state["n_classes"]),
            config.latent,
            config.hidden,
            config.layers,
            config.gating_prop if config.gating else 0.0,
            torch.Generator(),
        )
        try:
            self._vae.load_state_dict(state["vae"])
        except RuntimeError as error:
            raise ValueError(f"saved VAE does not fit this sampler's settings: {error}") from error
        self._vae.to(device).eval()
        self._optimizer = torch.optim.Adam(self._vae.parameters(), lr=config.lr)
        load_optimizer_state(self._optimizer, state["optimizer"])
        self._scale = state["scale"].to(device)
        self._fits = int(state["fits"])
