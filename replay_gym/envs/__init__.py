"""Environments."""

from replay_gym.envs.replay_select import ReplaySelectionEnv

__all__ = ["ReplaySelectionEnv"]
