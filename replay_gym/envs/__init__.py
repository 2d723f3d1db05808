"""Environments: ``ReplaySelect-v0`` and vector envs of it with each worker's torch threads set."""

from replay_gym.envs.replay_select import ReplaySelectionEnv
from replay_gym.envs.vector import TorchThreads, make_env, make_vector_env

__all__ = ["ReplaySelectionEnv", "TorchThreads", "make_env", "make_vector_env"]
