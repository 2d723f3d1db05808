"""Writing a model: the SB3 ``.zip`` and its sidecar JSON, each atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import stable_baselines3
import torch
from stable_baselines3.common.base_class import BaseAlgorithm

import replay_gym
from replay_gym.agents.sb3.args import _APPLIES_TO, TrainSB3Args
from replay_gym.agents.sb3.loading import sidecar_path, space_text
from replay_gym.atomic import atomic_write, atomic_write_text
from replay_gym.config import config_to_dict

__all__ = ["SIDECAR_FORMAT", "TrainingRecord", "model_metadata", "save_model", "write_sidecar"]

SIDECAR_FORMAT = 2
"""Version of the sidecar JSON layout (2: ``target_timesteps``, ``threads``, checkpoints)."""


@dataclass(frozen=True)
class TrainingRecord:
    """What one ``train_sb3`` call is doing, for the sidecar.

    Attributes:
        args: The call's arguments.
        steps: Steps this call trains (``total_timesteps`` resolved).
        target_timesteps: The model's step count when this call is done.
        threads: Torch intra-op threads: ``main`` (this process), ``workers`` (each
            subprocess env; None with the dummy vector env) and ``per_env`` (what each env's
            process reported when training started).
    """

    args: TrainSB3Args
    steps: int
    target_timesteps: int
    threads: dict[str, int | list[int] | None]


def model_metadata(model: BaseAlgorithm, record: TrainingRecord, complete: bool) -> dict[str, Any]:
    """The sidecar of ``model``: how it was trained, with what, and how far it got."""
    args = record.args
    return {
        "format": SIDECAR_FORMAT,
        "algo": args.algo,
        "preset": args.preset,
        "env": config_to_dict(args.env),
        "total_timesteps": record.steps,
        "target_timesteps": record.target_timesteps,
        "num_timesteps": int(model.num_timesteps),
        "complete": complete,
        "seed": args.seed,
        "n_envs": args.n_envs,
        "vec_env": args.vec_env,
        "threads": record.threads,
        "resumed_from": str(args.resume) if args.resume is not None else None,
        "hyperparameters": _model_hyperparameters(model, args.algo),
        "observation_space": space_text(model.observation_space),
        "action_space": space_text(model.action_space),
        "sb3_version": stable_baselines3.__version__,
        "replay_gym_version": replay_gym.__version__,
        "torch_version": torch.__version__,
    }


def save_model(model: BaseAlgorithm, path: Path, meta: dict[str, Any]) -> Path:
    """Save ``model`` to ``path`` and ``meta`` to its sidecar, each atomically.

    The old sidecar is removed first, so a crash between the two writes never leaves an old
    sidecar beside a new model.
    """
    sidecar = sidecar_path(path)
    sidecar.unlink(missing_ok=True)
    atomic_write(path, model.save)
    write_sidecar(path, meta)
    return path


def write_sidecar(model_path: Path, meta: dict[str, Any]) -> None:
    """Write ``meta`` as the sidecar JSON of ``model_path`` (atomically)."""
    atomic_write_text(sidecar_path(model_path), json.dumps(meta, indent=2))


def _model_hyperparameters(model: BaseAlgorithm, algo: str) -> dict[str, Any]:
    """The hyper-parameters the model actually holds (also after a resume)."""
    names = ["learning_rate", "gamma"] + [n for n, users in _APPLIES_TO.items() if algo in users]
    out: dict[str, Any] = {}
    for name in dict.fromkeys(names):
        value = getattr(model, name, None)
        if name == "train_freq" and value is not None and hasattr(value, "frequency"):
            value = value.frequency
        if callable(value):  # a schedule
            value = repr(value)
        out[name] = value.item() if isinstance(value, np.generic) else value
    out["net_arch"] = model.policy_kwargs.get("net_arch")
    return out
