"""The one small interface every replay selector implements.

A selector sees what a reinforcement-learning policy sees (observation, info, reward) and may use
the environment's privileged ``probe`` if it says so (the paper's side network uses it once, for
its initial values; the oracle uses it every step). The runner drives any selector the same way::

    agent.begin_episode(env, obs, info, rng)
    while not done:
        action = agent.select(obs, info)
        obs, reward, terminated, truncated, info = env.step(action)
        agent.observe(action, reward, obs, info)

To checkpoint, the runner keeps ``agent.state_dict()`` with the environment's state; a resumed
course calls ``agent.load_state_dict(state, env)`` instead of ``begin_episode``.

The valid actions come with the info: ``info["action_mask"]`` (a class-incremental course masks
the classes not seen yet). A selector chooses among them only; :meth:`Selector.action_mask`
reads the mask, and gives None when every action is valid, so that a selector keeps its
unmasked code path, and its exact draws, in the paper's scenario.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import gymnasium as gym
import numpy as np

from replay_gym.statefile import rng_from_state, rng_state


class Selector(ABC):
    """Chooses which class to replay next.

    Subclasses set ``name`` and implement :meth:`select`; :meth:`observe` and
    :meth:`begin_episode` default to doing nothing. Randomness must come only from the ``rng``
    given to :meth:`begin_episode`, so that a seeded run repeats exactly. A subclass that keeps
    state across steps extends :meth:`state_dict` and :meth:`load_state_dict` with it, so that an
    interrupted run resumes exactly.
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

    def action_mask(self, info: dict[str, Any]) -> np.ndarray | None:
        """The valid actions of ``info["action_mask"]`` as a boolean array; None if all are.

        Raises:
            ValueError: If the mask does not have one entry per class or allows no action.
        """
        return valid_actions(info, self.n_actions)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the episode, as a state tree.

        The base holds the class name, the number of classes and the generator's state; a
        subclass adds its own: ``{**super().state_dict(), "values": self.values.copy()}``.
        Values are tensors, numpy arrays or JSON values (see :mod:`replay_gym.statefile`), copies
        that later steps do not change.
        """
        return {"selector": type(self).__name__, "n_actions": self.n_actions,
                "rng": rng_state(self.rng)}

    def load_state_dict(self, state: dict[str, Any], env: gym.Env) -> None:
        """Continue an episode from :meth:`state_dict`: a resumed course's ``begin_episode``.

        Args:
            state: What :meth:`state_dict` returned (lists may stand for tuples).
            env: The environment the episode continues in.

        Raises:
            ValueError: If ``state`` belongs to another selector or another number of classes.
        """
        if state.get("selector") != type(self).__name__:
            raise ValueError(
                f"saved selector state is a {state.get('selector')!r}, not a {type(self).__name__}"
            )
        n_actions = int(env.action_space.n)
        if int(state["n_actions"]) != n_actions:
            raise ValueError(
                f"saved selector state has {state['n_actions']} classes, the env {n_actions}"
            )
        self.n_actions = n_actions
        self.rng = rng_from_state(state["rng"])


def valid_actions(info: dict[str, Any], n_actions: int) -> np.ndarray | None:
    """``info["action_mask"]`` as a boolean array of ``n_actions``; None when every action is valid.

    None also when the info has no mask (an environment without one allows every action).

    Raises:
        ValueError: If the mask does not have ``n_actions`` entries or allows no action.
    """
    mask = info.get("action_mask")
    if mask is None:
        return None
    mask = np.asarray(mask, dtype=bool).reshape(-1)
    if mask.size != n_actions:
        raise ValueError(f"info['action_mask'] has {mask.size} entries, expected {n_actions}")
    if not mask.any():
        raise ValueError("info['action_mask'] allows no action")
    return None if mask.all() else mask


def mask_values(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``values`` with the invalid actions (``mask`` False) at -inf; as they are without a mask."""
    values = np.asarray(values, dtype=np.float64)
    return values if mask is None else np.where(mask, values, -np.inf)
