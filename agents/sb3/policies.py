"""Saved SB3 policies as replay selectors: :class:`SB3Selector`, :func:`action_preferences`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.dqn.policies import DQNPolicy

from replay_gym.agents.base import Selector
from replay_gym.agents.sb3.args import ALGORITHMS
from replay_gym.agents.sb3.files import (
    _check_spaces,
    _guess_algorithms,
    _warn_config_differences,
    read_sidecar,
    sidecar_path,
)


def action_preferences(model: BaseAlgorithm, obs: np.ndarray) -> np.ndarray | None:
    """Per-action values of ``model`` for one observation or a batch of them.

    Args:
        model: A PPO/A2C (actor-critic) or DQN model.
        obs: One observation or a batch (leading axis).

    Returns:
        PPO/A2C: the policy's action probabilities; DQN: the Q-values. Shape ``[n_actions]`` for
        one observation, ``[batch, n_actions]`` for a batch; None for other policies.
    """
    policy = model.policy
    obs_tensor, batched = policy.obs_to_tensor(obs)
    with torch.no_grad():
        if isinstance(policy, ActorCriticPolicy):
            values = policy.get_distribution(obs_tensor).distribution.probs
        elif isinstance(policy, DQNPolicy):
            values = policy.q_net(obs_tensor)
        else:
            return None
    out = values.cpu().numpy().astype(np.float64)
    return out if batched else out[0]



class SB3Selector(Selector):
    """Choose the class to replay with a saved Stable-Baselines3 model (PPO, A2C or DQN).

    The algorithm comes from the model's sidecar JSON (written by :func:`train_sb3`); without
    one, PPO, A2C and DQN are tried in turn, the one the saved attributes suggest first. The
    model runs on the CPU.

    Args:
        model_path: The saved model (``.zip``).
        env: The environment it will act in; when given, its observation and action spaces must
            equal the model's, and settings that differ from the training ones are warned about.
        deterministic: Take the most likely action (PPO/A2C) or the greedy one (DQN). Otherwise
            sample from the policy (PPO/A2C) or act epsilon-greedily with the exploration rate
            the model had when saved (DQN), using the episode's ``rng`` only.

    Raises:
        FileNotFoundError: ``model_path`` does not exist.
        ValueError: the file is not a model this can load, or its spaces differ from ``env``'s.
    """

    name = "sb3"

    def __init__(
        self, model_path: Path | str, env: gym.Env | None = None, deterministic: bool = True
    ) -> None:
        super().__init__()
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"no saved Stable-Baselines3 model at {path}")
        self.model_path = path
        self.deterministic = deterministic
        self.metadata = read_sidecar(path)
        self.model = self._load(path)
        self.algo = next(k for k, cls in ALGORITHMS.items() if type(self.model) is cls)
        if env is not None:
            _check_spaces(
                path, self.model.observation_space, self.model.action_space,
                env.observation_space, env.action_space,
            )
            if self.metadata is not None and "env" in self.metadata:
                config = getattr(env.unwrapped, "config", None)
                _warn_config_differences(path, self.metadata["env"], config)
        self._last_obs: np.ndarray | None = None

    def _load(self, path: Path) -> BaseAlgorithm:
        algo = None if self.metadata is None else self.metadata.get("algo")
        if algo is not None:
            if algo not in ALGORITHMS:
                raise ValueError(
                    f"sidecar {sidecar_path(path)} names algo {algo!r}; "
                    f"known: {sorted(ALGORITHMS)}"
                )
            try:
                return ALGORITHMS[algo].load(path, device="cpu")
            except Exception as error:  # noqa: BLE001 - zipfile, pickle, torch errors alike
                raise ValueError(
                    f"cannot load {path} as a {algo} model (its sidecar's algo): "
                    f"{type(error).__name__}: {error}"
                ) from error
        errors = []
        for name in _guess_algorithms(path):
            try:
                return ALGORITHMS[name].load(path, device="cpu")
            except Exception as error:  # noqa: BLE001 - any failure means "not this algorithm"
                errors.append(f"{name}: {type(error).__name__}: {error}")
        raise ValueError(
            f"{path} (no sidecar {sidecar_path(path).name}) loads as none of "
            f"{sorted(ALGORITHMS)}: " + " | ".join(errors)
        )

    def select(self, obs: np.ndarray, info: dict[str, Any]) -> int:
        """The model's action for ``obs`` (see ``deterministic``)."""
        self._last_obs = np.asarray(obs)
        if self.deterministic:
            action, _ = self.model.predict(self._last_obs, deterministic=True)
            return int(action)
        n = int(self.model.action_space.n)
        if self.algo == "dqn":
            if self.rng.random() < float(self.model.exploration_rate):
                return int(self.rng.integers(n))
            action, _ = self.model.predict(self._last_obs, deterministic=True)
            return int(action)
        probs = action_preferences(self.model, self._last_obs)
        assert probs is not None
        return int(self.rng.choice(n, p=probs / probs.sum()))

    def preferences(self) -> np.ndarray | None:
        """Per-class values for the latest observation.

        Returns:
            Action probabilities (PPO/A2C) or Q-values (DQN) for the observation of the latest
            :meth:`select`; None before the first.
        """
        if self._last_obs is None:
            return None
        return action_preferences(self.model, self._last_obs)
