"""Named conditions: the paper's fixed schedules, and how each is built from an env config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from replay_gym.config import EnvConfig, apply_overrides
from replay_gym.wrappers import (
    ContinuousReplay,
    FixedSchedule,
    NoReplay,
    RoundRobin,
    ShuffledReplay,
    VeridicalReplay,
)


@dataclass(frozen=True)
class FixedCondition:
    """A schedule wrapper and the settings it needs the environment built with."""

    wrapper: type[FixedSchedule]
    description: str
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def config(self, base: EnvConfig) -> EnvConfig:
        """``base`` with this condition's required settings."""
        return apply_overrides(base, **self.overrides) if self.overrides else base


FIXED_CONDITIONS: dict[str, FixedCondition] = {
    "none": FixedCondition(NoReplay, "no replay: days of real training only"),
    "generative": FixedCondition(
        ShuffledReplay, "every generated sample once per night, mixed-class batches (paper)"
    ),
    "round-robin": FixedCondition(RoundRobin, "one class per step in turn (uniform baseline)"),
    "veridical": FixedCondition(
        VeridicalReplay,
        "the day's stored activations, shuffled, once per night",
        {"sampler": {"kind": "veridical"}},
    ),
    "continuous": FixedCondition(
        ContinuousReplay,
        "real images on day 1 only; later days and nights replay the day-1 samples",
        {"real_days": 1},
    ),
}


def make_fixed_env(name: str, config: EnvConfig) -> gym.Env:
    """The registered environment built for fixed condition ``name`` and wrapped in its schedule."""
    try:
        condition = FIXED_CONDITIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown fixed condition {name!r}; choose one of {sorted(FIXED_CONDITIONS)}"
        ) from None
    return condition.wrapper(gym.make("ReplaySelect-v0", config=condition.config(config)))
