"""How on-distribution generated replay is: the network above a layer on samples vs real data.

If the part of the network above the replay layer classifies generated activations much worse
than the real activations they were fitted to, replay trains it on something it never sees by
day, and the choice of what to replay cannot matter much. The ratio of the two accuracies is the
check the calibrated default must pass (at least 0.9 at every layer, every day).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from replay_gym.config import N_BLOCKS, EnvConfig, SamplerConfig
from replay_gym.envs import ReplaySelectionEnv
from replay_gym.samplers import make_sampler

__all__ = ["SampleFidelity", "fidelity_along_course", "round_robin_night", "sample_fidelity"]


@dataclass(frozen=True)
class SampleFidelity:
    """Accuracy of the network above ``layer`` on real activations and on generated ones."""

    layer: int
    real_accuracy: float
    sample_accuracy: float
    sample_below_zero: float = float("nan")
    """Fraction of the generated values below zero (real maps, ReLU then max-pool, have none)."""
    real_at_zero: float = float("nan")
    """Fraction of the real activation values exactly zero."""

    @property
    def ratio(self) -> float:
        """``sample_accuracy / real_accuracy`` (NaN when the real accuracy is 0)."""
        if self.real_accuracy == 0:
            return float("nan")
        return self.sample_accuracy / self.real_accuracy

    def to_dict(self) -> dict[str, float]:
        """The fields and the ratio, JSON-ready."""
        return {**asdict(self), "ratio": self.ratio}


def sample_fidelity(
    env: object,
    layer: int,
    *,
    seed: int = 0,
    samples_per_class: int | None = None,
    sampler: SamplerConfig | None = None,
) -> SampleFidelity:
    """Fit the env's kind of sampler at ``layer`` to the last real day's activations and compare.

    Nothing in ``env`` changes: a fresh sampler is fitted (for the Gaussian and veridical
    samplers, at the env's own layer, it equals the env's sampler's fit; a sampler that learns
    over days starts from scratch) and its fit and samples draw from generators seeded by
    ``seed``.

    Args:
        env: A reset ``ReplaySelectionEnv`` (or a wrapper around one).
        layer: Max-pool block 1-5.
        seed: Seed of the generator the samples are drawn with.
        samples_per_class: Samples per class; default the env's night (``samples_per_class``).
        sampler: Sampler settings to judge instead of the env's (e.g. another down-sampling
            factor while calibrating); the env's own sampler is never touched.

    Raises:
        ValueError: If ``layer`` is not 1-5 or the sampler settings do not fit that layer.
        TypeError: If ``sampler`` is not a :class:`SamplerConfig`.
    """
    base = getattr(env, "unwrapped", env)
    if isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer <= N_BLOCKS:
        raise ValueError(f"layer must be a max-pool block 1-{N_BLOCKS}, got {layer!r}")
    config = base.config
    if sampler is None:
        sampler = config.sampler
    elif not isinstance(sampler, SamplerConfig):
        raise TypeError(f"sampler must be a SamplerConfig, got {type(sampler).__name__}")
    sampler.validate(config.learner, layer)
    activations, labels = base.day_activations(layer)
    fitted = make_sampler(sampler, layer)
    fitted.bind(base.learner, layer)
    fitted.fit(activations, labels, base.n_classes, torch.Generator().manual_seed(seed))
    generator = torch.Generator().manual_seed(seed)
    samples, sample_labels = fitted.sample_night(
        samples_per_class or config.samples_per_class, generator
    )
    samples = fitted.finish_batch(samples, sample_labels)
    real = _accuracy(base.learner.predict_from(activations, layer), labels)
    fake = _accuracy(base.learner.predict_from(samples, layer), sample_labels)
    return SampleFidelity(
        layer=layer, real_accuracy=real, sample_accuracy=fake,
        sample_below_zero=float((samples < 0).float().mean()),
        real_at_zero=float((activations == 0).float().mean()),
    )  # fmt: skip


def _accuracy(predictions: np.ndarray, labels: torch.Tensor) -> float:
    return float(np.mean(predictions == labels.cpu().numpy()))


def fidelity_along_course(
    config: EnvConfig,
    seed: int,
    days: int,
    factors: Callable[[int], Sequence[int]] | None = None,
    kinds: Sequence[str] | None = None,
    layers: Sequence[int] | None = None,
    samples_per_class: int | None = None,
) -> list[dict]:
    """Sample fidelity at every block on each day of a round-robin course.

    The course is the calibration's reference: real days as configured, nights that replay
    the classes in turn with the configured sampler. After each real day (up to ``days``), every
    block is judged with each of its down-sampling ``factors(layer)`` (default: the configured
    one) and each sampler kind in ``kinds`` (default: the configured one) by
    :func:`sample_fidelity`, drawn with ``seed``; the course itself is the same whatever is judged.
    ``layers`` judges only those blocks; ``samples_per_class`` draws more (or fewer) samples than
    a night holds, which narrows the sample side's binomial noise without changing the course.

    Returns:
        One record per day, block, kind and factor: ``{"day", "kind", "factor", "layer",
        "real_accuracy", "sample_accuracy", "sample_below_zero", "real_at_zero", "ratio"}``.

    Raises:
        ValueError: If ``days`` or ``samples_per_class`` is not positive, a layer is not a
            block 1-5, a kind is not registered, or a factor does not divide its block's map.
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a positive integer, got {days!r}")
    if samples_per_class is not None and (
        isinstance(samples_per_class, bool) or not isinstance(samples_per_class, int)
        or samples_per_class < 1
    ):  # fmt: skip
        raise ValueError(f"samples_per_class must be a positive integer, got {samples_per_class!r}")
    layers = list(range(1, N_BLOCKS + 1)) if layers is None else list(layers)
    bad = [k for k in layers if isinstance(k, bool) or k not in range(1, N_BLOCKS + 1)]
    if not layers or bad:
        raise ValueError(f"layers must be max-pool blocks 1-{N_BLOCKS}, got {layers!r}")
    if factors is None:
        factors = lambda layer: (config.sampler.downsample[layer - 1],)  # noqa: E731
    kinds = [config.sampler.kind] if kinds is None else list(kinds)
    if not kinds:
        raise ValueError("kinds must name at least one sampler kind")
    for kind in kinds:  # refuse an unregistered kind before the course, not after a day
        make_sampler(dataclasses.replace(config.sampler, kind=kind), N_BLOCKS)
    env = ReplaySelectionEnv(config)
    env.reset(seed=seed)
    records: list[dict] = []
    turn = 0
    while True:
        for layer in layers:
            for kind in kinds:
                for factor in factors(layer):
                    downsample = list(config.sampler.downsample)
                    downsample[layer - 1] = factor
                    sampler = dataclasses.replace(
                        config.sampler, kind=kind, downsample=tuple(downsample)
                    )
                    result = sample_fidelity(env, layer, seed=seed, sampler=sampler,
                                             samples_per_class=samples_per_class)
                    records.append(
                        {"day": env.day, "kind": kind, "factor": factor, **result.to_dict()}
                    )
        if env.day >= days:
            return records
        turn, terminated = round_robin_night(env, turn)
        if terminated:
            return records


def round_robin_night(env: ReplaySelectionEnv, turn: int = 0) -> tuple[int, bool]:
    """Replay the classes in turn (class ``turn % n_classes`` first) until the night ends.

    The calibration's reference night. Returns the turn to continue from and whether the
    episode ended.
    """
    while True:
        _, _, terminated, _, info = env.step(turn % env.n_classes)
        turn += 1
        if "night_end" in info:
            return turn, terminated
