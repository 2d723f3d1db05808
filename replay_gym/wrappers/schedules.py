"""Fixed replay schedules: the paper's conditions without a learned selector (METHOD §4).

Each wrapper ignores the action it is given and performs the next unit of its schedule through
the same :class:`~replay_gym.envs.ReplaySelectionEnv`, so rewards, chi-square and accuracies are
measured exactly as for a selector. One wrapper step is one night step (one batch), except for
:class:`NoReplay`, whose every step is a whole night without replay.

A schedule's own position (whose turn it is, which batch of the night comes next) is saved with
:meth:`FixedSchedule.schedule_state` beside the environment's state; to continue, reset with
``options={"state": ...}`` (the environment's state) and then call
:meth:`FixedSchedule.load_schedule_state`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from replay_gym.envs.replay_select import ReplaySelectionEnv


class FixedSchedule(gym.Wrapper):
    """Base class: the action is ignored; ``step`` performs the schedule's next unit."""

    condition = "fixed"

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        if not isinstance(env.unwrapped, ReplaySelectionEnv):
            raise TypeError(
                f"{type(self).__name__} wraps a ReplaySelectionEnv, "
                f"got {type(env.unwrapped).__name__}"
            )

    @property
    def replay_env(self) -> ReplaySelectionEnv:
        """The environment under all wrappers."""
        return self.env.unwrapped

    def schedule_state(self) -> dict[str, Any]:
        """The schedule's position as a state tree (the environment's state is saved apart)."""
        return {"schedule": type(self).__name__}

    def load_schedule_state(self, state: dict[str, Any]) -> None:
        """Continue at a position :meth:`schedule_state` returned; after the environment's state.

        Raises:
            ValueError: If ``state`` belongs to another schedule.
        """
        if state.get("schedule") != type(self).__name__:
            raise ValueError(
                f"saved schedule state is a {state.get('schedule')!r}, not a {type(self).__name__}"
            )


class NoReplay(FixedSchedule):
    """``none``: days only. Each step ends the current night at once, without replay."""

    condition = "none"

    def step(self, action: Any = None) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Skip the night; the next day is trained."""
        return self.replay_env.end_night()


class RoundRobin(FixedSchedule):
    """``round-robin``: one class per step in turn, the like-for-like uniform baseline.

    The turn continues across nights, so over a course no class is favoured even when the
    night length is not a multiple of the number of classes. Classes not valid yet
    (``env.action_masks()``, a class-incremental course) are skipped.
    """

    condition = "round-robin"

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        """Start the turn at class 0."""
        self._turn = 0
        return self.env.reset(**kwargs)

    def step(self, action: Any = None) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Replay the valid class whose turn it is (reported as ``info["action"]``)."""
        valid = self.replay_env.action_masks()
        n = self.replay_env.n_classes
        choice = next(c % n for c in range(self._turn, self._turn + n) if valid[c % n])
        self._turn = (choice + 1) % n
        obs, reward, terminated, truncated, info = self.env.step(choice)
        info["action"] = choice
        return obs, reward, terminated, truncated, info

    def schedule_state(self) -> dict[str, Any]:
        """The class whose turn is next."""
        return {**super().schedule_state(), "turn": self._turn}

    def load_schedule_state(self, state: dict[str, Any]) -> None:
        """Continue the turn where it was."""
        super().load_schedule_state(state)
        self._turn = int(state["turn"])


class ShuffledReplay(FixedSchedule):
    """``generative`` / ``veridical``: every sample of the night once, in mixed-class batches.

    At the start of each night all classes' samples (``samples_per_class`` generated ones per
    class, or each stored activation with a veridical sampler) are shuffled together and split
    into batches of ``learner.batch_size``; each step replays the next batch with
    :meth:`ReplaySelectionEnv.replay_batch`. The night's step budget must equal the number of
    batches, so that every sample is replayed exactly once.
    """

    condition = "generative"

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        """Reset and draw the first night's samples (not when continuing from a saved state)."""
        obs, info = self.env.reset(**kwargs)
        if (kwargs.get("options") or {}).get("state") is None:
            self._draw_night()
        return obs, info

    def step(self, action: Any = None) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Replay the next mixed batch."""
        batch = self.replay_env.config.learner.batch_size
        start = self._next * batch
        self._next += 1
        result = self.replay_env.replay_batch(
            self._samples[start : start + batch], self._labels[start : start + batch]
        )
        if "day_end" in result[4]:
            self._draw_night()
        return result

    def schedule_state(self) -> dict[str, Any]:
        """The night generator's state before tonight's draw, and the next batch's index.

        The night's samples themselves are not saved (at the paper's scale they are gigabytes):
        :meth:`load_schedule_state` draws them again from the same generator state.
        """
        return {**super().schedule_state(), "draw_state": self._draw_state, "next": self._next}

    def load_schedule_state(self, state: dict[str, Any]) -> None:
        """Redraw tonight's samples exactly; the environment's generator is left as loaded."""
        super().load_schedule_state(state)
        generator = self.replay_env.night_generator
        loaded = generator.get_state()
        generator.set_state(state["draw_state"])
        self._draw_night()
        generator.set_state(loaded)
        self._next = int(state["next"])

    def _draw_night(self) -> None:
        env = self.replay_env
        self._draw_state: torch.Tensor = env.night_generator.get_state()
        self._samples, self._labels = env.night_samples()
        batches = -(-len(self._labels) // env.config.learner.batch_size)
        if batches != env.night_length:
            raise ValueError(
                f"{self.condition} replay plays each of the night's {len(self._labels)} samples "
                f"once: that is {batches} batches of {env.config.learner.batch_size}, but "
                f"steps_per_night is {env.night_length}; leave steps_per_night unset (None)"
            )
        self._next = 0


class VeridicalReplay(ShuffledReplay):
    """``veridical``: the day's stored activations, shuffled (needs sampler.kind='veridical')."""

    condition = "veridical"

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        kind = self.replay_env.config.sampler.kind
        if kind != "veridical":
            raise ValueError(f"veridical replay needs sampler.kind='veridical', got {kind!r}")


class ContinuousReplay(ShuffledReplay):
    """``continuous``: real images on day 1 only; then only replay (METHOD §4).

    Needs the env built with ``real_days=1``. Every later *day* is one full night's worth of
    generative replay (``samples_per_class`` fresh samples per class, shuffled, batches of
    ``batch_size``) from the sampler fitted after day 1, trained through the truncated
    network; every *night* is the same again, step by step. So each later day-and-night pair
    replays two nights' worth of samples, and the sampler is never refitted.
    """

    condition = "continuous"

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        real_days = self.replay_env.config.real_days
        if real_days != 1:
            raise ValueError(f"continuous replay needs real_days=1, got {real_days}")
