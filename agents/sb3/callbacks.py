"""Callbacks for SB3's ``learn``: replay scalars, periodic checkpoints, stopping on a signal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import TensorBoardOutputFormat
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.dqn.policies import DQNPolicy

from replay_gym.agents.sb3.policies import action_preferences, is_maskable

__all__ = ["PeriodicCheckpoint", "ReplayLogCallback", "StopOnRequest"]


class PeriodicCheckpoint(BaseCallback):
    """Call ``save(model)`` every ``every`` steps, at the first point between updates after them.

    A checkpoint taken in the middle of a rollout would count steps the model has not learned
    from, so the callback waits for the next rollout to start: PPO/A2C save after an update,
    DQN (rollouts of ``train_freq`` steps) after its gradient steps.

    Args:
        every: Steps between checkpoints (at least).
        save: Writes the checkpoint of the model it is given.
    """

    def __init__(self, every: int, save: Callable[[BaseAlgorithm], object]) -> None:
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.every = every
        self.save = save
        self.last_step = 0
        """The step count of the latest checkpoint (or of the start of training)."""

    def _on_training_start(self) -> None:
        self.last_step = int(self.model.num_timesteps)

    def _on_rollout_start(self) -> None:
        if self.model.num_timesteps - self.last_step >= self.every:
            self.save(self.model)
            self.last_step = int(self.model.num_timesteps)

    def _on_step(self) -> bool:
        return True


class StopOnRequest(BaseCallback):
    """Stop training after the environment step in progress once ``requested()`` is true.

    The model is left at the last point it is consistent with, so that a checkpoint written
    next is one a periodic checkpoint could have been: SB3 drops the half-collected rollout of
    PPO/A2C (its steps were never learned from), so the step count goes back to the start of
    that rollout, when the weights and the optimiser were last changed; DQN does not store the
    transition of the step on which training stops, so that step is taken off the count.

    Args:
        requested: Whether a stop was asked for (e.g.
            :meth:`~replay_gym.rundir.StopSignals.requested`).
    """

    def __init__(self, requested: Callable[[], bool]) -> None:
        super().__init__()
        self.requested = requested
        self.stopped_at: int | None = None
        """The model's step count after it stopped (None while it has not)."""
        self._rollout_start = 0

    def _on_rollout_start(self) -> None:
        self._rollout_start = int(self.model.num_timesteps)

    def _on_step(self) -> bool:
        if not self.requested():
            return True
        if isinstance(self.model, OnPolicyAlgorithm):
            self.model.num_timesteps = self._rollout_start
        else:
            self.model.num_timesteps -= self.training_env.num_envs
        self.stopped_at = int(self.model.num_timesteps)
        return False


class ReplayLogCallback(BaseCallback):
    """Log the replay experiment's scalars into the model's TensorBoard run.

    Tags (x axis: the model's step count, all envs together):

    * every step: ``replay/reward`` and ``replay/chi2`` (means over the envs);
    * when a night ends (an info with ``night_end``; means over the envs whose night ended):
      ``night/test_accuracy``, ``night/val_accuracy``, ``night/replays/class_<c>`` (the night's
      replay count of class ``c``) and, from the observation that follows the night (or the
      course's terminal observation), ``night/preference/class_<c>`` (PPO/A2C: the policy's
      probability of choosing ``c``; MaskablePPO: the same under that observation's action mask,
      0 for classes not valid there) or ``night/q_value/class_<c>`` (DQN).

    SB3 vector envs reset themselves at the end of a course and keep the last observation in
    ``infos[i]["terminal_observation"]``; that is the observation used for a course's last night.

    With a TensorBoard output in the model's logger, every value is written there exactly when it
    happens, and the step means and nightly accuracies also go, averaged over the logging
    interval, to the other outputs (e.g. SB3's stdout table). Without TensorBoard they go to the
    logger only (``record_mean``/``record``).
    """

    def __init__(self, verbose: int = 0) -> None:
        super().__init__(verbose)
        self._writer: Any | None = None

    def _on_training_start(self) -> None:
        formats = self.logger.output_formats
        self._writer = next(
            (f.writer for f in formats if isinstance(f, TensorBoardOutputFormat)), None
        )

    def _scalar(self, key: str, value: float, *, summary: bool = False) -> None:
        """Write ``key`` at the current step; ``summary``: also to the logger's other outputs."""
        if self._writer is not None:
            self._writer.add_scalar(key, value, self.num_timesteps)
            if summary:
                self.logger.record_mean(key, value, exclude="tensorboard")
        else:
            self.logger.record_mean(key, value)

    def _on_step(self) -> bool:
        infos: list[dict[str, Any]] = self.locals["infos"]
        rewards = np.asarray(self.locals["rewards"], dtype=np.float64)
        self._scalar("replay/reward", float(rewards.mean()), summary=True)
        chi2 = [float(info["chi2"]) for info in infos if "chi2" in info]
        if chi2:
            self._scalar("replay/chi2", float(np.mean(chi2)), summary=True)
        ended = [i for i, info in enumerate(infos) if "night_end" in info]
        if ended:
            self._log_nights(ended, infos)
        return True

    def _log_nights(self, ended: list[int], infos: list[dict[str, Any]]) -> None:
        nights = [infos[i]["night_end"] for i in ended]
        for key in ("test_accuracy", "val_accuracy"):
            self._scalar(f"night/{key}", float(np.mean([n[key] for n in nights])), summary=True)
        counts = np.mean([np.asarray(n["replay_counts"], dtype=np.float64) for n in nights], axis=0)
        for c, count in enumerate(counts):
            self._scalar(f"night/replays/class_{c}", float(count))
        new_obs = self.locals.get("new_obs")
        if new_obs is None:
            return
        obs = np.stack([infos[i].get("terminal_observation", new_obs[i]) for i in ended])
        masks = self._masks(ended, infos) if is_maskable(self.model.policy) else None
        values = action_preferences(self.model.policy, obs, masks)
        if values is None:
            return
        name = "q_value" if isinstance(self.model.policy, DQNPolicy) else "preference"
        for c, value in enumerate(values.mean(axis=0)):
            self._scalar(f"night/{name}/class_{c}", float(value))

    def _masks(self, ended: list[int], infos: list[dict[str, Any]]) -> np.ndarray | None:
        """The action masks of the observations :meth:`_log_nights` reads, as MaskablePPO sees them.

        An env whose night ended and whose course goes on: its mask now (``action_masks()``, the
        next night's). A course's terminal observation: the mask of its last step (MaskablePPO's
        ``action_masks`` of this step; the env has already reset). None when MaskablePPO trains
        without masks.
        """
        stepped = self.locals.get("action_masks")
        if stepped is None:
            return None
        going_on = [i for i in ended if "terminal_observation" not in infos[i]]
        current = self.training_env.env_method("action_masks", indices=going_on) if going_on else []
        now = dict(zip(going_on, current, strict=True))
        return np.stack([np.asarray(now.get(i, stepped[i]), dtype=bool) for i in ended])

    def _on_training_end(self) -> None:
        if self._writer is not None:
            self._writer.flush()
