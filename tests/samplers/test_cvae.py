"""Brain-inspired replay's class-conditional VAE and feature exaggeration's repulsion."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import distributions as D

from replay_gym.config import CVAEConfig
from replay_gym.samplers import SamplerDivergedError
from replay_gym.samplers.cvae import ClassConditionalVAE, channel_scale, reconstruction_loss
from replay_gym.samplers.gaussian import downsample

from .seeded import activations, fit_day, make, tiny_learner


def test_vae_kl_is_the_closed_form_to_the_class_gaussian():
    vae = ClassConditionalVAE(6, 3, 2, 8, 2, 0.0, torch.Generator().manual_seed(0))
    x = torch.rand(5, 6, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 2, 0])
    noise = torch.randn(5, 2, generator=torch.Generator().manual_seed(2))
    recon_loss, kl, recon = vae.losses(x, y, noise)
    mean, logvar = vae.encode(x)
    q = D.Normal(mean, (0.5 * logvar).exp())
    p = D.Normal(vae.prior_mean[y], (0.5 * vae.prior_logvar[y]).exp())
    torch.testing.assert_close(kl, D.kl_divergence(q, p).sum(1) / 6)
    z = mean + (0.5 * logvar).exp() * noise
    torch.testing.assert_close(recon, vae.decode(z, y))
    torch.testing.assert_close(recon_loss, 0.5 * ((recon - x) ** 2).mean(1))


def test_gates_switch_off_a_fixed_share_of_units_per_class():
    vae = ClassConditionalVAE(6, 4, 3, 1000, 2, 0.7, torch.Generator().manual_seed(0))
    assert vae.gates.shape == (2, 4, 1000)
    assert abs(1 - vae.gates.mean().item() - 0.7) < 0.02
    assert not torch.equal(vae.gates[:, 0], vae.gates[:, 1]), "each class has its own gates"
    h = torch.relu(vae.decoder[0](torch.ones(1, 3)))
    gated = (h * vae.gates[0][torch.tensor([2])])[0]
    assert (gated[vae.gates[0, 2] == 0] == 0).all()
    open_gates = ClassConditionalVAE(6, 4, 3, 10, 2, 0.0, torch.Generator())
    assert open_gates.gates.min() == 1
    assert make("cvae", gating=False).config.gating is False


def test_samples_are_non_negative_like_relu_maps():
    sampler = make("cvae", 4)
    fit_day(sampler, 4, [0, 1, 2], seed=1)
    assert sampler.sample(0, 50, torch.Generator().manual_seed(0)).min() >= 0


class _Fixed(torch.nn.Module):
    """A 'classifier' that returns the logits it was given, whatever its input."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits[: len(x)]


def test_competing_classes_follow_the_repulsion_factor(monkeypatch):
    """Millichamp & Chen's Fig. 2: a class competes when its probability exceeds top / f."""
    sampler = make("cvae-repulsion", 4, tiny_learner(n_classes=4), repulsion_factor=3.0)
    fit_day(sampler, 4, [0, 1, 2, 3], seed=1, n_classes=4)
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.05, 0.15, 0.3, 0.5]])
    monkeypatch.setattr(sampler, "network", lambda: _Fixed(probs.log()))
    x = torch.zeros(2, sampler.vae.dim)
    labels = torch.tensor([0, 1])
    competing = sampler.competing_classes(x, labels)
    # f = 3: thresholds 0.5 / 3; the label never competes, a more likely class does.
    assert competing.tolist() == [[False, True, False, False], [False, False, True, True]]
    means = torch.zeros(4, sampler.vae.dim)
    means[3] = float("nan")  # never seen: no mean to be repelled from
    assert sampler.competing_classes(x, labels, means)[1].tolist() == [False, False, True, False]
    sampler.config = CVAEConfig(repulsion=True, repulsion_factor=10.0)
    assert sampler.competing_classes(x, labels)[0].tolist() == [False, True, True, False]


def test_repulsion_and_attraction_terms_are_the_reconstruction_loss_to_class_means(monkeypatch):
    sampler = make("cvae-repulsion", 4, tiny_learner(n_classes=4), repulsion_factor=3.0)
    fit_day(sampler, 4, [0, 1, 2, 3], seed=1, n_classes=4)
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.05, 0.15, 0.3, 0.5], [0.9, 0.04, 0.03, 0.03]])
    monkeypatch.setattr(sampler, "network", lambda: _Fixed(probs.log()))
    vae = sampler.vae
    x = torch.rand(3, vae.dim, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 0])
    means = torch.rand(4, vae.dim, generator=torch.Generator().manual_seed(1))

    def loss(repel: float, attract: float) -> torch.Tensor:
        sampler.config = CVAEConfig(
            repulsion=True, repulsion_factor=3.0, repulsion_weight=repel, attraction_weight=attract
        )
        return sampler._replay_loss(vae, x, y, means, torch.Generator().manual_seed(2))

    noise = torch.randn(3, vae.latent, generator=torch.Generator().manual_seed(2))
    _, _, recon = vae.losses(x, y, noise)
    # Competitors: row 0 -> {1}; row 1 -> {2, 3}; row 2 (confident) -> none.
    repel = (
        reconstruction_loss(recon[:1], means[1:2]).sum()
        + reconstruction_loss(recon[1:2].expand(2, -1), means[2:4]).mean()
    ) / 3
    attract = reconstruction_loss(recon, means[y]).mean()
    base = loss(0.0, 0.0)
    torch.testing.assert_close(loss(2.0, 0.0) - base, -2.0 * repel)
    torch.testing.assert_close(loss(0.0, 3.0) - base, 3.0 * attract)


@pytest.mark.parametrize(("repel", "attract"), [(0.3, 0.0), (0.0, 0.3)])
def test_repulsion_pushes_reconstructions_from_competitors_and_attraction_pulls_to_own(
    repel, attract
):
    """Trained on its own replay, the VAE reconstructs replayed samples farther from the mean of
    their competing classes (repulsion), or nearer their own class's mean (attraction)."""

    def distances(repel: float, attract: float) -> tuple[float, float]:
        sampler = make(
            "cvae-repulsion",
            4,
            tiny_learner(),
            epochs=20,
            lr=3e-3,
            gating=False,
            repulsion_weight=repel,
            attraction_weight=attract,
        )
        fit_day(sampler, 4, [0, 1, 2], seed=1)
        old = copy.deepcopy(sampler.vae)
        fit_day(sampler, 4, [0, 1, 2], seed=2)
        acts, labels = activations(4, [0, 1, 2], seed=2)
        x = sampler._normalise(downsample(acts, sampler.factor))
        means = torch.stack([x[labels == c].mean(0) for c in range(3)])
        y = torch.arange(3).repeat_interleave(100)
        with torch.no_grad():
            noise = torch.randn(300, old.latent, generator=torch.Generator().manual_seed(0))
            replayed = old.generate(y, noise).clamp(min=0)
            recon = sampler.vae.decode(sampler.vae.encode(replayed)[0], y)
            rows, classes = sampler.competing_classes(replayed, y, means).nonzero(as_tuple=True)
        assert len(rows), "the untrained classifier leaves classes competing"
        return (
            reconstruction_loss(recon[rows], means[classes]).mean().item(),
            reconstruction_loss(recon, means[y]).mean().item(),
        )

    plain = distances(0.0, 0.0)
    changed = distances(repel, attract)
    if repel:
        assert changed[0] > plain[0] * 1.03
    if attract:
        assert changed[1] < plain[1] * 0.97


def test_memory_counts_the_vae_its_adam_moments_and_the_copy():
    sampler = make("cvae", 4)
    fit_day(sampler, 4, [0, 1, 2], seed=1)
    fit_day(sampler, 4, [0, 1, 2], seed=2)
    parts = sampler.memory()
    weights = sum(p.numel() for p in sampler.vae.parameters()) * 4
    assert parts["vae"] == weights + sampler.vae.gates.numel() * 4
    assert parts["vae_optimizer"] == 2 * weights + 4 * len(list(sampler.vae.parameters()))
    above = sampler.learner.model.above(4)
    assert parts["model_copy"] == sum(p.numel() for p in above.parameters()) * 4
    assert sampler.fits == 2 and math.isfinite(sum(parts.values()))


def _quiet_channel_day(classes: list[int], loud: bool, seed: int):
    """Day activations whose channel 0 is near-silent (1e-6) unless ``loud`` (then about 5)."""
    acts, labels = activations(4, classes, seed=seed)
    acts[:, 0] = 5.0 * acts[:, 0] if loud else 1e-6 * acts[:, 0]
    return acts, labels


def test_a_channel_quiet_on_the_first_day_does_not_blow_up_the_vae_later():
    """Regression: class-incremental runs diverged (NaN samples on the first day of task 2).

    Channels were divided by their first-day deviation, so a channel almost silent for the
    first task's classes reached the VAE hundreds of deviations out when a later class drove
    it, and the VAE's losses overflowed.
    """
    sampler = make("cvae", 4, tiny_learner(4))
    for day, (classes, loud) in enumerate([([0, 1], False), ([2, 3], True)], start=1):
        sampler.before_day()
        acts, labels = _quiet_channel_day(classes, loud, seed=day)
        sampler.fit(acts, labels, 4, torch.Generator().manual_seed(day))
    for label in range(4):
        samples = sampler.sample(label, 64, torch.Generator().manual_seed(label))
        assert torch.isfinite(samples).all(), f"class {label}'s samples hold NaN or infinity"
    assert all(torch.isfinite(p).all() for p in sampler.vae.parameters())


def test_a_vae_whose_loss_is_not_finite_is_refused_by_name():
    """A diverged VAE raises, naming the sampler and fit, instead of replaying NaN."""
    sampler = make("cvae", 4, tiny_learner(3))
    fit_day(sampler, 4, [0, 1], seed=1)
    with torch.no_grad():
        sampler.vae.to_x.bias.fill_(float("nan"))
    with pytest.raises(SamplerDivergedError, match=r"cvae sampler's VAE .* fit 2"):
        fit_day(sampler, 4, [2], seed=2)


def test_channel_scale_floors_quiet_channels_at_a_tenth_of_the_median():
    deviation = torch.tensor([1e-6, 0.0, 2.0, 1.0, 3.0])
    assert channel_scale(deviation).tolist() == pytest.approx([0.1, 0.1, 2.0, 1.0, 3.0])
    mostly_silent = torch.tensor([0.0, 0.0, 0.0, 4.0])
    assert channel_scale(mostly_silent).tolist() == pytest.approx([0.4, 0.4, 0.4, 4.0])
    assert channel_scale(torch.zeros(3)).tolist() == [1.0, 1.0, 1.0]


def test_encoder_log_variances_stay_finite_for_inputs_far_out_of_range():
    vae = ClassConditionalVAE(6, 2, 3, 8, 2, 0.0, torch.Generator().manual_seed(0))
    x = torch.full((4, 6), 1e6)
    recon_loss, kl, _ = vae.losses(x, torch.tensor([0, 1, 0, 1]), torch.zeros(4, 3))
    assert torch.isfinite(kl).all() and torch.isfinite(recon_loss).all()


def test_soft_targets_cover_only_the_classes_known_before_the_day():
    """Regression: the targets were the copy's softmax over every output, so classes the copy
    never learned took about half the mass at T = 2 (measured on class-incremental-frozen, seed
    100: the true class's share fell from 0.54 to 0.16 over three tasks) and each distilled
    night taught the old classes' samples to look like no class; cvae replay kept nothing of the
    first task (validation ACC 0.273, as without replay; hard labels: 0.553). BI-R distils the
    previous model's scores over the classes it had seen and adds zeros for the new ones."""
    learner = tiny_learner(n_classes=4)
    sampler = make("cvae", 4, learner)
    fit_day(sampler, 4, [0, 1], seed=1, n_classes=4)
    fit_day(sampler, 4, [2, 3], seed=2, n_classes=4)
    assert sampler.known_before_day == [0, 1]
    x = sampler.sample(0, 6, torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = sampler.network_before_day()(x)
    targets = sampler.replay_targets(x, torch.tensor([0, 1, 0, 3, 1, 2]))
    assert targets.soft.tolist() == [True, True, True, False, True, False]
    assert torch.equal(targets.probs[:, 2:], torch.zeros(6, 2))
    expected = torch.softmax(logits[:, :2] / sampler.temperature, dim=1)
    torch.testing.assert_close(targets.probs[:, :2], expected)
