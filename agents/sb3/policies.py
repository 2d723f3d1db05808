"""Saved SB3 policies as replay selectors: :class:`SB3Selector`, :func:`build_policy`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.dqn.policies import DQNPolicy

from replay_gym.agents.base import Selector, mask_values, valid_actions
from replay_gym.agents.sb3.args import MASKABLE, algorithm_class
from replay_gym.agents.sb3.loading import (
    SavedModel,
    check_spaces,
    read_model,
    warn_config_differences,
)

try:  # sb3-contrib is optional (see replay_gym.agents.sb3.args)
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
except ImportError:  # pragma: no cover - the dev environment installs it
    MaskableActorCriticPolicy = None

__all__ = ["SB3Selector", "action_preferences", "build_policy", "is_maskable"]


def is_maskable(policy: BasePolicy) -> bool:
    """True for sb3-contrib's ``MaskableActorCriticPolicy`` (MaskablePPO's), which takes masks."""
    return MaskableActorCriticPolicy is not None and isinstance(policy, MaskableActorCriticPolicy)


def action_preferences(
    policy: BasePolicy, obs: np.ndarray, action_masks: np.ndarray | None = None
) -> np.ndarray | None:
    """Per-action values of an SB3 policy for one observation or a batch of them.

    Args:
        policy: A PPO/A2C/MaskablePPO (actor-critic) or DQN policy (``model.policy``).
        obs: One observation or a batch (leading axis).
        action_masks: The valid actions (True), of the shape of the result; None: all. A
            MaskablePPO policy gets them as it does in ``predict(action_masks=...)``; a PPO/A2C
            policy's probabilities are renormalised over them; DQN's invalid Q-values are -inf.

    Returns:
        PPO/A2C/MaskablePPO: the policy's action probabilities (0 for invalid actions); DQN: the
        Q-values. Shape ``[n_actions]`` for one observation, ``[batch, n_actions]`` for a batch;
        None for other policies.
    """
    obs_tensor, batched = policy.obs_to_tensor(obs)
    with torch.no_grad():
        if is_maskable(policy):
            values = policy.get_distribution(obs_tensor, action_masks).distribution.probs
            action_masks = None  # applied: masked actions have probability 0
        elif isinstance(policy, ActorCriticPolicy):
            values = policy.get_distribution(obs_tensor).distribution.probs
        elif isinstance(policy, DQNPolicy):
            values = policy.q_net(obs_tensor)
        else:
            return None
    out = values.cpu().numpy().astype(np.float64)
    if action_masks is not None:
        mask = np.asarray(action_masks, dtype=bool).reshape(out.shape)
        if isinstance(policy, DQNPolicy):
            out = mask_values(out, mask)
        else:
            out = np.where(mask, out, 0.0)
            out /= out.sum(axis=-1, keepdims=True)
    return out if batched else out[0]


def build_policy(
    saved: SavedModel,
    algo: str,
    observation_space: spaces.Space,
    action_space: spaces.Space,
) -> BasePolicy:
    """The saved policy, rebuilt as the ``MlpPolicy`` of ``algo`` and given its weights.

    The network is built from the plain ``policy_kwargs`` (e.g. ``net_arch``) and loaded with
    ``strict=True``, so weights of another architecture are refused rather than half-used.
    Building does not touch torch's global random state.

    Args:
        saved: The model, read by :func:`~replay_gym.agents.sb3.loading.read_model`.
        algo: Its algorithm (one of :data:`~replay_gym.agents.sb3.args.ALGORITHM_NAMES`).
        observation_space: The observation space the policy takes.
        action_space: The action space it acts in.

    Returns:
        The policy on the CPU, in evaluation mode.

    Raises:
        ValueError: the settings or weights do not make an ``MlpPolicy`` of ``algo``, or
            ``algo``'s package (sb3-contrib for ``maskable-ppo``) is not installed.
    """
    policy_class = algorithm_class(algo).policy_aliases["MlpPolicy"]
    kwargs = saved.policy_kwargs
    try:
        with torch.random.fork_rng(devices=[]):
            policy = policy_class(observation_space, action_space, lambda _: 0.0, **kwargs)
        policy.load_state_dict(saved.policy_state, strict=True)
    except (TypeError, ValueError, RuntimeError, KeyError) as error:
        raise ValueError(
            f"{saved.path}: its policy does not rebuild as a {algo} MlpPolicy with "
            f"policy_kwargs {kwargs} ({type(error).__name__}: {error})"
        ) from error
    policy.set_training_mode(False)
    return policy


class SB3Selector(Selector):
    """Choose the class to replay with a saved SB3 model (PPO, A2C, DQN or MaskablePPO).

    The file is read without unpickling anything (see :mod:`replay_gym.agents.sb3.loading`):
    only the policy's weights, rebuilt as SB3's ``MlpPolicy``. The algorithm comes from the
    model's sidecar JSON (written by ``train-sb3``); without one, from the saved attributes.
    The policy runs on the CPU.

    Only valid actions are chosen (``info["action_mask"]``, e.g. a class-incremental course's
    seen classes). A MaskablePPO policy is given the mask itself, as MaskablePPO acts in
    training: ``policy.predict(obs, action_masks=mask)``, or, sampling, its masked
    distribution. The other policies' values are restricted to the valid actions (probabilities
    renormalised, the best Q-value among them).

    The selector's state is the fixed policy and the latest observation (for
    :meth:`preferences`); it learns nothing during a run, so a run that resumes needs only
    ``model_path`` to rebuild it.

    Attributes:
        algo: ``ppo``, ``a2c``, ``dqn`` or ``maskable-ppo``.
        metadata: The sidecar JSON, or None.
        policy: The rebuilt SB3 policy.
        exploration_rate: DQN's epsilon when saved (used when not ``deterministic``); else 0.

    Args:
        model_path: The saved model (``.zip``).
        env: The environment it will act in; when given, its observation and action spaces must
            equal the model's (Box spaces: shape and dtype), and settings that differ from the
            training ones are warned about.
        deterministic: Take the most likely action (PPO/A2C/MaskablePPO) or the greedy one
            (DQN). Otherwise sample from the policy (PPO/A2C/MaskablePPO) or act
            epsilon-greedily with the exploration rate
            the model had when saved (DQN), using the episode's ``rng`` only.

    Raises:
        FileNotFoundError: ``model_path`` does not exist.
        ValueError: the file is not a model this can load safely, or its spaces differ from
            ``env``'s.
    """

    name = "sb3"

    def __init__(
        self, model_path: Path | str, env: gym.Env | None = None, deterministic: bool = True
    ) -> None:
        super().__init__()
        path = Path(model_path)
        saved = read_model(path)
        self.model_path = path
        self.deterministic = deterministic
        self.metadata = saved.sidecar
        self.algo = saved.algo
        observation_space, action_space = saved.observation_space, saved.action_space
        if env is not None:
            check_spaces(
                path, observation_space, action_space, env.observation_space, env.action_space
            )
            observation_space, action_space = env.observation_space, env.action_space
            if self.metadata is not None and "env" in self.metadata:
                config = getattr(env.unwrapped, "config", None)
                warn_config_differences(path, self.metadata["env"], config)
        self.policy = build_policy(saved, self.algo, observation_space, action_space)
        rate = saved.plain("exploration_rate")
        self.exploration_rate = float(rate) if isinstance(rate, int | float) else 0.0
        self._last_obs: np.ndarray | None = None
        self._last_mask: np.ndarray | None = None

    def select(self, obs: np.ndarray, info: dict[str, Any]) -> int:
        """The model's action for ``obs`` (see ``deterministic``), among the valid actions."""
        self._last_obs = np.asarray(obs)
        mask = valid_actions(info, int(self.policy.action_space.n))
        self._last_mask = mask
        if self.algo in MASKABLE:
            return self._select_masked(mask)
        if mask is not None:
            return self._select_valid(mask)
        if self.deterministic:
            action, _ = self.policy.predict(self._last_obs, deterministic=True)
            return int(action)
        n = int(self.policy.action_space.n)
        if self.algo == "dqn":
            if self.rng.random() < self.exploration_rate:
                return int(self.rng.integers(n))
            action, _ = self.policy.predict(self._last_obs, deterministic=True)
            return int(action)
        probs = action_preferences(self.policy, self._last_obs)
        assert probs is not None
        return int(self.rng.choice(n, p=probs / probs.sum()))

    def _select_masked(self, mask: np.ndarray | None) -> int:
        """:meth:`select` of a MaskablePPO policy: the mask goes to the policy itself."""
        if self.deterministic:
            action, _ = self.policy.predict(self._last_obs, deterministic=True, action_masks=mask)
            return int(action)
        probs = action_preferences(self.policy, self._last_obs, mask)
        assert probs is not None
        n = int(self.policy.action_space.n)
        return int(self.rng.choice(n, p=probs / probs.sum()))

    def _select_valid(self, mask: np.ndarray) -> int:
        """:meth:`select` among the valid actions: the policy's values there, renormalised."""
        values = action_preferences(self.policy, self._last_obs)
        assert values is not None
        valid = np.flatnonzero(mask)
        explore = self.algo == "dqn" and not self.deterministic
        if explore and self.rng.random() < self.exploration_rate:
            return int(self.rng.choice(valid))
        if self.deterministic or self.algo == "dqn":
            return int(valid[np.argmax(values[valid])])
        probs = values[valid]
        return int(self.rng.choice(valid, p=probs / probs.sum()))

    def preferences(self) -> np.ndarray | None:
        """Per-class values for the latest observation.

        Returns:
            Action probabilities (PPO/A2C) or Q-values (DQN) for the observation of the latest
            :meth:`select`; MaskablePPO: its probabilities under that step's action mask (0 for
            invalid classes). None before the first.
        """
        if self._last_obs is None:
            return None
        mask = self._last_mask if self.algo in MASKABLE else None
        return action_preferences(self.policy, self._last_obs, mask)
