"""Stable-Baselines3 agents on ``ReplaySelect-v0``: training, logging, a selector for the runner.

Three pieces:

* :func:`train_sb3` (``python -m replay_gym train-sb3``) trains PPO, A2C or DQN on ``n_envs``
  copies of the environment, logs to TensorBoard through :class:`ReplayLogCallback`, and saves
  the model atomically together with a sidecar JSON (:func:`sidecar_path`) that records the
  algorithm, the resolved environment configuration and the hyper-parameters;
* :class:`ReplayLogCallback` writes the replay-specific scalars (``replay/…`` per step,
  ``night/…`` per night) into the model's own TensorBoard run;
* :class:`SB3Selector` plays a saved model as a :class:`~replay_gym.agents.base.Selector`
  (``python -m replay_gym run --condition sb3 --model FILE``).

Usage::

    python -m replay_gym train-sb3 --algo ppo --preset smoke --total-timesteps 2000
    python -m replay_gym run --condition sb3 --preset smoke --model runs/sb3-ppo-smoke.zip

Environment steps are costly here (each trains a VGG-16 on a batch and re-evaluates the
validation set, and every ``night_length``-th step trains a whole epoch), so the default
hyper-parameters favour learning much from few steps; each field's docstring says why.

Importing this module imports Stable-Baselines3 (slow); the selector is therefore not in the
name registry of :mod:`replay_gym.agents`: the runner builds it for ``--condition sb3``.
"""

from replay_gym.agents.sb3.args import ALGORITHMS, TrainSB3Args
from replay_gym.agents.sb3.callbacks import ReplayLogCallback
from replay_gym.agents.sb3.files import read_sidecar, sidecar_path
from replay_gym.agents.sb3.policies import SB3Selector, action_preferences
from replay_gym.agents.sb3.train import make_vec_env, train_sb3

__all__ = [
    "ALGORITHMS",
    "ReplayLogCallback",
    "SB3Selector",
    "TrainSB3Args",
    "action_preferences",
    "make_vec_env",
    "read_sidecar",
    "sidecar_path",
    "train_sb3",
]
