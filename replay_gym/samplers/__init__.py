"""Night-time replay generators, fitted per class on one max-pool layer's activations (METHOD §3).

``make_sampler(config, layer)`` builds the sampler named by ``SamplerConfig.kind``: the paper's
``gaussian`` and ``veridical``, ``gaussian-rectified`` (the Gaussian clipped at zero, as real
activations are), and the seed papers' ``cvae`` (brain-inspired replay), ``cvae-repulsion``
(with feature exaggeration) and ``recall`` (automatic recall). Plug in your
own with ``register_sampler("name", factory)``, where ``factory(config, layer)`` returns a
:class:`Sampler`; then ``SamplerConfig(kind="name")`` selects it.
"""

from __future__ import annotations

from collections.abc import Callable

from replay_gym.config import N_BLOCKS, SamplerConfig
from replay_gym.registry import Messages, Registry
from replay_gym.samplers.base import (
    LearnerDivergedError,
    ReplayTargets,
    Sampler,
    SamplerDivergedError,
)
from replay_gym.samplers.continual import ContinualSampler, frozen_copy, state_bytes
from replay_gym.samplers.cvae import ClassConditionalVAE, CVAESampler
from replay_gym.samplers.gaussian import GaussianSampler, downsample, upsample
from replay_gym.samplers.recall import RecallSampler
from replay_gym.samplers.veridical import VeridicalSampler

__all__ = [
    "CVAESampler",
    "ClassConditionalVAE",
    "ContinualSampler",
    "GaussianSampler",
    "LearnerDivergedError",
    "RecallSampler",
    "ReplayTargets",
    "Sampler",
    "SamplerDivergedError",
    "SamplerFactory",
    "VeridicalSampler",
    "downsample",
    "frozen_copy",
    "make_sampler",
    "register_sampler",
    "state_bytes",
    "upsample",
]

SamplerFactory = Callable[[SamplerConfig, int], Sampler]
"""Builds a sampler from the sampler settings and the replay layer (1-5)."""

_SAMPLERS: Registry[Sampler] = Registry(
    kind="sampler",
    base=Sampler,
    field="sampler.kind",
    messages=Messages(unknown="unknown {kind} kind {name!r}{where}; registered: {names}"),
)
_REGISTRY = _SAMPLERS.factories
"""The registered factories by name (the registry's own mapping)."""


def register_sampler(name: str, factory: SamplerFactory, *, overwrite: bool = False) -> None:
    """Make ``SamplerConfig(kind=name)`` build its sampler with ``factory(config, layer)``.

    Args:
        name: The ``kind`` string.
        factory: Called with the :class:`SamplerConfig` and the replay layer (1-5). Every
            :class:`~replay_gym.config.EnvConfig` of this kind calls it once when built, to check
            the kind and the layer (a ``ValueError`` there refuses the configuration), so keep it
            cheap and allocate in ``fit``.
        overwrite: Replace an existing registration instead of refusing.

    Raises:
        ValueError: If ``name`` is empty or already registered (and ``overwrite`` is False).
        TypeError: If ``factory`` is not callable.
    """
    _SAMPLERS.register(name, factory, overwrite=overwrite)


def make_sampler(config: SamplerConfig, layer: int) -> Sampler:
    """An unfitted sampler of kind ``config.kind`` for replay at max-pool ``layer`` (1-5).

    Raises:
        ValueError: If ``layer`` is not 1-5 or ``config.kind`` is not registered (the message
            lists the registered names).
        TypeError: If the registered factory does not return a :class:`Sampler`.
    """
    if isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer <= N_BLOCKS:
        raise ValueError(f"layer must be a max-pool block 1-{N_BLOCKS}, got {layer!r}")
    return _SAMPLERS.make(config.kind, config, layer)


register_sampler("gaussian", lambda config, layer: GaussianSampler(config.downsample[layer - 1]))
register_sampler(
    "gaussian-rectified",
    lambda config, layer: GaussianSampler(config.downsample[layer - 1], rectify=True),
)
register_sampler("veridical", lambda config, layer: VeridicalSampler())
register_sampler(
    "cvae", lambda config, layer: CVAESampler(config.cvae, layer, config.downsample[layer - 1])
)
register_sampler(
    "cvae-repulsion",
    lambda config, layer: CVAESampler(
        config.cvae, layer, config.downsample[layer - 1], repulsion=True
    ),
)
register_sampler("recall", lambda config, layer: RecallSampler(config.recall, layer))
