"""replay-gym: Barry & Love's generative replay with a learned selector, as a Gymnasium env.

Importing the package registers ``ReplaySelect-v0``::

    import gymnasium as gym
    import replay_gym

    env = gym.make("ReplaySelect-v0", preset="smoke")
"""

from gymnasium.envs.registration import register

from replay_gym.config import EnvConfig, apply_overrides, preset
from replay_gym.envs import ReplaySelectionEnv

__version__ = "0.1.0"

register(id="ReplaySelect-v0", entry_point="replay_gym.envs:ReplaySelectionEnv")

__all__ = ["EnvConfig", "ReplaySelectionEnv", "__version__", "apply_overrides", "preset"]
