"""Simple reference selectors: the weakest class, uniform random, and a probing oracle.

* :class:`WeakestSelector` replays the class the network currently classifies worst (it reads
  ``info["class_accuracy"]``, which every step's info carries);
* :class:`RandomSelector` replays a uniformly random class;
* :class:`OracleSelector` (privileged) probes every class each step and replays the best one;
* :class:`NightOracleSelector` (privileged) simulates a few whole-night plans at the start of each
  night and follows the best, a ceiling that a one-step greedy oracle is not when the best next
  batch does not start the best night (class-incremental learning).

Ties are broken at random with the episode's ``rng``. Each chooses among the valid actions of
``info["action_mask"]`` only (see :meth:`~replay_gym.agents.base.Selector.action_mask`).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from replay_gym.agents.base import Selector, mask_values

__all__ = ["NightOracleSelector", "OracleSelector", "RandomSelector", "WeakestSelector"]


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
        self._env = _probing_env(env, "probe(action)", type(self).__name__)

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


NIGHT_PLANS = ("all", "old", "weaker-half")
"""The whole-night plans :class:`NightOracleSelector` chooses among, in order of preference."""


class NightOracleSelector(Selector):
    """PRIVILEGED: simulate whole-night plans from the night's start and follow the best one.

    At the first step of each night (and whenever the night it planned for is over) it builds
    each plan in ``plans`` as a round-robin over a set of valid classes for the rest of the
    night, scores each with ``env.unwrapped.probe_plan`` (the drop in validation chi-square at
    the end of the simulated night; learner and RNG restored) and then replays the best plan's
    classes step by step, which gives exactly the simulated night. The plans:

    * ``all``: every valid class in turn (the ``round-robin`` schedule's night);
    * ``old``: the valid classes the day did not train on (``env.unwrapped.scenario``'s
      ``train_classes``): in class-incremental learning, the old tasks only; skipped when empty
      (the paper's scenario trains every class every day);
    * ``weaker-half``: the weaker half of the valid classes by validation accuracy (rounded
      up; ties by class index).

    Ties go to the earlier plan, so a night where nothing beats round-robin is a round-robin
    night. Each night costs one simulated night per plan on top of the real one. Unlike
    :class:`OracleSelector` (greedy over single steps, which in class-incremental courses pours
    whole nights into the classes with the largest immediate gain), its nights stay balanced
    over a set of classes; it is a ceiling for night-level selection among these plans, not an
    optimum. ``preferences()`` is each class's share of the chosen night.

    Args:
        plans: Names from :data:`NIGHT_PLANS`, at least one, no repeats.
    """

    name = "oracle-night"
    privileged = True

    def __init__(self, plans: tuple[str, ...] | list[str] = NIGHT_PLANS) -> None:
        super().__init__()
        if isinstance(plans, str):
            plans = (plans,)
        plans = tuple(plans)
        unknown = [p for p in plans if p not in NIGHT_PLANS]
        if not plans or unknown or len(set(plans)) != len(plans):
            raise ValueError(
                f"plans must be distinct names from {list(NIGHT_PLANS)}, at least one; "
                f"got {list(plans)}"
            )
        self.plans = plans
        self._env: gym.Env | None = None
        self._plan: list[int] = []
        self._plan_day: int | None = None
        self._plan_start = 0
        self._chosen: str | None = None
        self.scores: dict[str, float] = {}
        """The last night's plan scores (chi-square drop), by plan name."""

    def begin_episode(
        self, env: gym.Env, obs: np.ndarray, info: dict[str, Any], rng: np.random.Generator
    ) -> None:
        """Keep the environment to simulate nights on.

        Raises:
            TypeError: If the environment has no ``probe_plan`` method.
        """
        super().begin_episode(env, obs, info, rng)
        self._attach(env)
        self._plan, self._plan_day, self._plan_start, self._chosen = [], None, 0, None
        self.scores = {}

    def _attach(self, env: gym.Env) -> None:
        self._env = _probing_env(env, "probe_plan(actions)", type(self).__name__)

    def select(self, obs: np.ndarray, info: dict[str, Any]) -> int:
        """The next class of tonight's best plan (planned at the night's first step)."""
        if self._env is None:
            raise RuntimeError("NightOracleSelector.select called before begin_episode")
        day, step = int(info["day"]), int(info["night_step"])
        position = step - self._plan_start
        if day != self._plan_day or not 0 <= position < len(self._plan):
            self._choose_night(info, day, step)
            position = 0
        return self._plan[position]

    def _choose_night(self, info: dict[str, Any], day: int, step: int) -> None:
        env = self._env.unwrapped  # type: ignore[union-attr]
        length = int(env.night_length) - step
        mask = self.action_mask(info)
        valid = np.arange(self.n_actions) if mask is None else np.flatnonzero(mask)
        best: tuple[float, str, list[int]] | None = None
        self.scores = {}
        for name in self.plans:
            classes = self._plan_classes(name, valid, info, env, day)
            if not classes:
                continue
            plan = [classes[i % len(classes)] for i in range(length)]
            score = float(env.probe_plan(plan))
            self.scores[name] = score
            if best is None or score > best[0]:
                best = (score, name, plan)
        if best is None:  # only "old" was asked for and the day trained every class
            best = (float("nan"), "all", [int(valid[i % len(valid)]) for i in range(length)])
        _, self._chosen, self._plan = best
        self._plan_day, self._plan_start = day, step

    @staticmethod
    def _plan_classes(
        name: str, valid: np.ndarray, info: dict[str, Any], env: Any, day: int
    ) -> list[int]:
        if name == "all":
            return [int(c) for c in valid]
        if name == "old":
            scenario = getattr(env, "scenario", None)
            if scenario is None:
                return []
            trained = set(int(c) for c in scenario.train_classes(day))
            return [int(c) for c in valid if int(c) not in trained]
        accuracy = _accuracy(info, len(info["class_accuracy"]))[valid]
        order = np.argsort(accuracy, kind="stable")
        return sorted(int(valid[i]) for i in order[: (len(valid) + 1) // 2])

    @property
    def chosen_plan(self) -> str | None:
        """The name of the plan followed tonight (None before the first night is planned)."""
        return self._chosen

    def preferences(self) -> np.ndarray | None:
        """Each class's share of the steps of tonight's plan (None before the first plan)."""
        if not self._plan:
            return None
        counts = np.bincount(self._plan, minlength=self.n_actions).astype(np.float64)
        return counts / counts.sum()

    def state_dict(self) -> dict[str, Any]:
        """Tonight's plan and where it started (the environment itself is saved apart)."""
        return {
            **super().state_dict(),
            "plan": list(self._plan),
            "plan_day": self._plan_day,
            "plan_start": self._plan_start,
            "chosen": self._chosen,
            "scores": dict(self.scores),
        }

    def load_state_dict(self, state: dict[str, Any], env: gym.Env) -> None:
        """Continue tonight's plan on ``env``.

        Raises:
            TypeError: If the environment has no ``probe_plan`` method.
        """
        super().load_state_dict(state, env)
        self._attach(env)
        self._plan = [int(a) for a in state["plan"]]
        day = state["plan_day"]
        self._plan_day = None if day is None else int(day)
        self._plan_start = int(state["plan_start"])
        self._chosen = state["chosen"]
        self.scores = {str(k): float(v) for k, v in state["scores"].items()}


def _probing_env(env: gym.Env, method: str, who: str) -> gym.Env:
    """``env``, checked to offer the privileged ``method`` (``"probe(action)"``) an oracle uses.

    Raises:
        TypeError: Naming the selector and the method, if ``env.unwrapped`` lacks it.
    """
    name = method.partition("(")[0]
    if not callable(getattr(env.unwrapped, name, None)):
        raise TypeError(f"{who} needs env.unwrapped.{method}, which this env lacks")
    return env


def _accuracy(info: dict[str, Any], n: int) -> np.ndarray:
    """``info["class_accuracy"]`` as a float array of length ``n``."""
    if "class_accuracy" not in info:
        raise KeyError("WeakestSelector needs info['class_accuracy'] (per-class accuracy)")
    acc = np.asarray(info["class_accuracy"], dtype=np.float64).reshape(-1)
    if acc.size != n:
        raise ValueError(f"info['class_accuracy'] has {acc.size} entries, expected {n}")
    return acc
