"""The one small interface every replay selector implements.

A selector sees what a reinforcement-learning policy sees (observation, info, reward) and may use
the environment's privileged ``probe`` if it says so (the paper's side network uses it once, for
its initial values; the oracle uses it every step). The runner drives any selector the same way::

    agent.begin_episode(env, obs, info, rng)
    while not done:
        action = agent.select(obs, info)
        obs, reward, terminated, truncated, info = env.step(action)
        agent.observe(action, reward, obs, info)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import gymnasium as gym
import numpy as np


class Selector(ABC):
    """Chooses which class to replay next.

    Subclasses set ``name`` and implement :meth:`select`; :meth:`observe` and
    :meth:`begin_episode` default to doing nothing. Randomness must come only from the ``rng``
    given to :meth:`begin_episode`, so that a seeded run repeats exactly.
    """

    name: str = "selector"
    privileged: bool = False
    """True when the selector reads the environment's state beyond observations and rewards
    (e.g. ``probe``); such results are ceilings, not comparable agents."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)
        self.n_actions = 0

    def begin_episode(
        self, env: gym.Env, obs: np.ndarray, info: dict[str, Any], rng: np.random.Generator
    ) -> None:
        """Start a course: keep the generator and the number of classes."""
        self.rng = rng
        self.n_actions = int(env.action_space.n)

    @abstractmethod
    def select(self, obs: np.ndarray, info: dict[str, Any]) -> int:
        """The class to replay next."""

    def observe(  # noqa: B027 - an optional hook, deliberately empty
        self, action: int, reward: float, obs: np.ndarray, info: dict[str, Any]
    ) -> None:
        """Learn from the reward of the last replay."""

    def preferences(self) -> np.ndarray | None:
        """Current per-class preference (for logging), or None when the selector has none."""
        return None
