"""A toy stand-in for ReplaySelect-v0: a stationary Gaussian bandit with the env's info keys."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from replay_gym.agents.base import Selector


class ToyBanditEnv(gym.Env):
    """Arm ``a`` pays ``means[a] + noise * N(0, 1)``; nights of ``night_length`` steps.

    Info carries ``chi2`` (decreases by the reward), ``class_accuracy`` (fixed, from
    ``accuracy``), ``day`` and ``night_step``; the last step of a night adds ``night_end`` and,
    unless it was the last night, ``day_end`` (then ``night_step`` is 0 again). ``probe(a)``
    returns ``probe_values[a]`` (default: the means) without changing anything and counts calls;
    ``probe_plan(actions)`` their sum.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        means: Sequence[float],
        noise: float = 0.5,
        night_length: int = 50,
        n_nights: int = 4,
        accuracy: Sequence[float] | None = None,
        probe_values: Sequence[float] | None = None,
    ) -> None:
        self.means = np.asarray(means, dtype=np.float64)
        n = self.means.size
        self.noise = noise
        self.night_length = night_length
        self.n_nights = n_nights
        self.accuracy = (
            np.linspace(0.9, 0.5, n) if accuracy is None else np.asarray(accuracy, dtype=float)
        )
        self.probe_values = self.means if probe_values is None else np.asarray(probe_values)
        self.action_space = spaces.Discrete(n)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(n + 1,), dtype=np.float32)
        self.probe_calls: list[int] = []
        self.chi2 = 100.0
        self.day = 1
        self.night_step = 0

    def _obs(self) -> np.ndarray:
        return np.append(self.accuracy, self.chi2).astype(np.float32)

    def _info(self) -> dict[str, Any]:
        return {
            "chi2": float(self.chi2),
            "class_accuracy": self.accuracy.copy(),
            "day": self.day,
            "night_step": self.night_step,
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.chi2, self.day, self.night_step = 100.0, 1, 0
        self.probe_calls = []
        return self._obs(), self._info()

    def probe(self, action: int) -> float:
        self.probe_calls.append(int(action))
        return float(self.probe_values[int(action)])

    def probe_plan(self, actions: Sequence[int]) -> float:
        """The summed probe values of ``actions`` (each counted as a probe call)."""
        return float(sum(self.probe(a) for a in actions))

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = int(action)
        reward = float(self.means[a] + self.noise * self.np_random.standard_normal())
        self.chi2 -= reward
        self.night_step += 1
        terminated = False
        extra: dict[str, Any] = {}
        if self.night_step == self.night_length:
            extra["night_end"] = {"day": self.day, "steps": self.night_step}
            if self.day < self.n_nights:
                self.day += 1
                self.night_step = 0
                extra["day_end"] = {"day": self.day}
            else:
                terminated = True
        info = self._info() | extra
        return self._obs(), reward, terminated, False, info


def run_episode(
    env: gym.Env, agent: Selector, seed: int, max_steps: int | None = None
) -> list[int]:
    """Drive ``agent`` through one episode as the runner does; return its actions."""
    obs, info = env.reset(seed=seed)
    agent.begin_episode(env, obs, info, np.random.default_rng(seed))
    actions: list[int] = []
    done = False
    while not done and (max_steps is None or len(actions) < max_steps):
        action = agent.select(obs, info)
        actions.append(action)
        obs, reward, terminated, truncated, info = env.step(action)
        agent.observe(action, float(reward), obs, info)
        done = terminated or truncated
    return actions


TOY_MEANS = (0.0, 0.4, 1.5, 0.6, 0.2)
"""Five arms; arm 2 is clearly the best."""


@pytest.fixture
def make_toy() -> Callable[..., ToyBanditEnv]:
    """Factory for toy envs; defaults to 5 arms with arm 2 clearly best."""

    def factory(**kwargs: Any) -> ToyBanditEnv:
        kwargs.setdefault("means", TOY_MEANS)
        return ToyBanditEnv(**kwargs)

    return factory


@pytest.fixture
def toy_means() -> tuple[float, ...]:
    """The default toy means (arm 2 best)."""
    return TOY_MEANS


@pytest.fixture
def run() -> Callable[..., list[int]]:
    """The runner loop as a fixture (see :func:`run_episode`)."""
    return run_episode
