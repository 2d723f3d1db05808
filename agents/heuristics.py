"""Simple reference selectors: the weakest class, uniform random, and a probing oracle.

* :class:`WeakestSelector` replays the class the network currently classifies worst (it reads
  ``info["class_accuracy"]``, which every step's info carries);
* :class:`RandomSelector` replays a uniformly random class;
* :class:`OracleSelector` (privileged) probes every class each step and replays the best one.

Ties are broken at random with the episode's ``rng``. Each chooses among the valid actions of
``info["action_mask"]`` only (see :meth:`~replay_gym.agents.base.Selector.action_mask`).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from replay_gym.agents.base import Selector, mask_values

__all__ = ["OracleSelector", "RandomSelector", "WeakestSelector"]


class WeakestSelector(Selector):
    """Replay the class with the lowest validation accuracy (``info["class_accuracy"]``).

    Ties between equally weak classes are broken uniformly at random with the episode's ``rng``
    (accuracies are counts over a small validation set, so ties are common). ``preferences()`` is
    the per-class error ``1 - accuracy`` from the latest info.
    """

    name = "weakest"

    def __init__(self) -> None:
        super().__init__()
        self._accuracy: np.ndarray | None = None

    def begin_episode(
        self, env: gym.Env, obs: np.ndarray, info: dict[str, Any], rng: np.random.Generator
    ) -> None:
        """Remember the starting accuracies (if the reset info has them)."""
        super().begin_episode(env, obs, info, rng)
        self._accuracy = _accuracy(info, self.n_actions) if "class_accuracy" in info else None

    def select(self, obs: np.ndarray, info: dict[str, Any]) -> int:
        """The valid class with the lowest accuracy in ``info``, ties at random."""
        acc = _accuracy(info, self.n_actions)
        self._accuracy = acc
        mask = self.action_mask(info)
        if mask is not None:  # an unseen class scores 0 but cannot be replayed
            acc = -mask_values(-acc, mask)
        weakest = np.flatnonzero(acc == acc.min())
        return int(weakest[0]) if weakest.size == 1 else int(self.rng.choice(weakest))

    def observe(
        self, action: int, reward: float, obs: np.ndarray, info: dict[str, Any]
    ) -> None:
        """Remember the latest accuracies (for :meth:`preferences`)."""
        self._accuracy = _accuracy(info, self.n_actions)

    def preferences(self) -> np.ndarray | None:
        """Per-class error ``1 - accuracy`` (higher = more likely replayed), or None before any."""
        return None if self._accuracy is None else 1.0 - self._accuracy

    def state_dict(self) -> dict[str, Any]:
        """The latest accuracies (for :meth:`preferences`)."""
        accuracy = None if self._accuracy is None else self._accuracy.copy()
        return {**super().state_dict(), "accuracy": accuracy}

    def load_state_dict(self, state: dict[str, Any], env: gym.Env) -> None:
        """Continue with the saved accuracies."""
        super().load_state_dict(state, env)
        accuracy = state["accuracy"]
        self._accuracy = None if accuracy is None else np.array(accuracy, dtype=np.float64)


class RandomSelector(Selector):
    """Replay a uniformly random valid class each step (``preferences()``: its probabilities)."""

    name = "random"

    def __init__(self) -> None:
        super().__init__()
        self._mask: np.ndarray | None = None

    def select(self, obs: np.ndarray, info: dict[str, Any]) -> int:
        """A valid class drawn uniformly with the episode's ``rng``."""
        self._mask = self.action_mask(info)
        if self._mask is None:
            return int(self.rng.integers(self.n_actions))
        return int(self.rng.choice(np.flatnonzero(self._mask)))

    def preferences(self) -> np.ndarray:
        """The uniform distribution over the classes valid at the last choice."""
        if not self.n_actions:
            return np.ones(0)
        if self._mask is None:
            return np.full(self.n_actions, 1.0 / self.n_actions)
        return self._mask / self._mask.sum()


class OracleSelector(Selector):
    """PRIVILEGED: probe every class each step and replay the one with the largest reward.

    Each step calls ``env.unwrapped.probe(c)`` for every valid class ``c`` (``n_classes`` probes
    per step in the paper's scenario, each costing one replay step and its validation pass
    without changing state) and replays the class whose probed reward is largest; ties are
    broken uniformly at random with the episode's ``rng``. It reads the environment's state, so
    ``privileged = True``: its results are a ceiling for *greedy one-step* selection, not a
    comparable agent (and not an optimum over whole nights: the best next batch need not start
    the best sequence).
    ``preferences()`` are the last probed rewards.
    """

    name = "oracle"
    privileged = True

    def __init__(self) -> None:
        super().__init__()
        self._env: gym.Env | None = None
        self._probed: np.ndarray | None = None

    def begin_episode(
        self, env: gym.Env, obs: np.ndarray, info: dict[str, Any], rng: np.random.Generator
    ) -> None:
        """Keep the environment to probe.

        Raises:
            TypeError: If the environment has no ``probe`` method.
        """
        super().begin_episode(env, obs, info, rng)
        self._attach(env)
        self._probed = None

    def _attach(self, env: gym.Env) -> None:
        if not callable(getattr(env.unwrapped, "probe", None)):
            raise TypeError(
                "OracleSelector needs env.unwrapped.probe(action), which this env lacks"
            )
        self._env = env

    def select(self, obs: np.ndarray, info: dict[str, Any]) -> int:
        """Probe every valid class and return the best (ties at random)."""
        if self._env is None:
            raise RuntimeError("OracleSelector.select called before begin_episode")
        probe = self._env.unwrapped.probe  # type: ignore[attr-defined]
        mask = self.action_mask(info)
        valid = np.arange(self.n_actions) if mask is None else np.flatnonzero(mask)
        probed = np.array([float(probe(c)) for c in valid])
        self._probed = np.full(self.n_actions, np.nan)
        self._probed[valid] = probed
        best = valid[np.flatnonzero(probed == probed.max())]
        return int(best[0]) if best.size == 1 else int(self.rng.choice(best))

    def preferences(self) -> np.ndarray | None:
        """The rewards probed at the last :meth:`select` (NaN for invalid classes; None before)."""
        return None if self._probed is None else self._probed.copy()

    def state_dict(self) -> dict[str, Any]:
        """The rewards probed last (the environment itself is saved apart)."""
        return {**super().state_dict(), "probed": self.preferences()}

    def load_state_dict(self, state: dict[str, Any], env: gym.Env) -> None:
        """Continue probing ``env``.

        Raises:
            TypeError: If the environment has no ``probe`` method.
        """
        super().load_state_dict(state, env)
        self._attach(env)
        probed = state["probed"]
        self._probed = None if probed is None else np.array(probed, dtype=np.float64)


def _accuracy(info: dict[str, Any], n: int) -> np.ndarray:
    """``info["class_accuracy"]`` as a float array of length ``n``."""
    if "class_accuracy" not in info:
        raise KeyError("WeakestSelector needs info['class_accuracy'] (per-class accuracy)")
    acc = np.asarray(info["class_accuracy"], dtype=np.float64).reshape(-1)
    if acc.size != n:
        raise ValueError(f"info['class_accuracy'] has {acc.size} entries, expected {n}")
    return acc
