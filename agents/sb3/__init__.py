"""Stable-Baselines3 agents on ``ReplaySelect-v0``: training, checkpoints, a selector for runs.

The package is split by concern, as SB3 splits its algorithms:

* :mod:`~replay_gym.agents.sb3.args`: :class:`TrainSB3Args`, the ``train-sb3`` command line, the
  algorithms and their defaults (every number in its help comes from the presets and SB3);
* :mod:`~replay_gym.agents.sb3.train`: :func:`train_sb3` trains PPO, A2C, DQN or sb3-contrib's
  MaskablePPO (``maskable-ppo``, the one for a scenario that masks actions) on ``n_envs``
  copies of the environment (``--vec-env subproc``: one process and one torch thread each) and
  saves the model atomically with a sidecar JSON (:func:`sidecar_path`);
* :mod:`~replay_gym.agents.sb3.callbacks`: :class:`ReplayLogCallback` writes the replay scalars
  (``replay/…`` per step, ``night/…`` per night) into the model's TensorBoard run;
  :class:`PeriodicCheckpoint` checkpoints between updates; :class:`StopOnRequest` stops
  training at a consistent point on SIGINT or SIGTERM;
* :mod:`~replay_gym.agents.sb3.checkpoints`: checkpoint folders (model, RNG states, replay
  buffer), written atomically; ``--resume`` continues from the latest;
* :mod:`~replay_gym.agents.sb3.loading`: reads SB3 ``.zip`` files without unpickling anything
  (JSON and ``torch.load(weights_only=True)`` only);
* :mod:`~replay_gym.agents.sb3.saving`: writes the model and its sidecar;
* :mod:`~replay_gym.agents.sb3.policies`: :class:`SB3Selector` plays a saved model as a
  :class:`~replay_gym.agents.base.Selector` (``python -m replay_gym run --condition sb3 --model
  FILE``), its policy rebuilt from the weights alone.

Usage::

    python -m replay_gym train-sb3 --algo ppo --preset smoke --total-timesteps 2000
    python -m replay_gym train-sb3 --algo ppo --checkpoint-every 500 --n-envs 2 --vec-env subproc
    python -m replay_gym train-sb3 --checkpoint-every 500 --resume runs/sb3-ppo-default.ckpt
    python -m replay_gym run --condition sb3 --preset smoke --model runs/sb3-ppo-smoke.zip
    python -m replay_gym train-sb3 --algo maskable-ppo --env.scenario class-incremental

Environment steps are costly here (each trains a VGG-16 on a batch and re-evaluates the
validation set, and every ``night_length``-th step trains a whole epoch), so the default
hyper-parameters favour learning much from few steps; each field's help says why.

Importing this package imports Stable-Baselines3 (slow); the selector is therefore not in the
name registry of :mod:`replay_gym.agents`: the runner builds it for ``--condition sb3``.
"""

from replay_gym.agents.sb3.args import ALGORITHM_NAMES, ALGORITHMS, TrainSB3Args, algorithm_class
from replay_gym.agents.sb3.callbacks import PeriodicCheckpoint, ReplayLogCallback, StopOnRequest
from replay_gym.agents.sb3.checkpoints import list_checkpoints, resume_point
from replay_gym.agents.sb3.loading import SavedModel, read_model, read_sidecar, sidecar_path
from replay_gym.agents.sb3.policies import SB3Selector, action_preferences, build_policy
from replay_gym.agents.sb3.train import make_vec_env, train_sb3

__all__ = [
    "ALGORITHMS",
    "ALGORITHM_NAMES",
    "PeriodicCheckpoint",
    "ReplayLogCallback",
    "SB3Selector",
    "SavedModel",
    "StopOnRequest",
    "TrainSB3Args",
    "action_preferences",
    "algorithm_class",
    "build_policy",
    "list_checkpoints",
    "make_vec_env",
    "read_model",
    "read_sidecar",
    "resume_point",
    "sidecar_path",
    "train_sb3",
]
