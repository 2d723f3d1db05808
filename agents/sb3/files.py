"""A model's files: the SB3 ``.zip``, its sidecar JSON, atomic writes, checks on loading."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import stable_baselines3
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.save_util import load_from_zip_file

import replay_gym
from replay_gym.agents.sb3.args import _APPLIES_TO, TrainSB3Args
from replay_gym.config import EnvConfig, config_to_dict
from replay_gym.run_logger import flatten

SIDECAR_FORMAT = 1
"""Version of the sidecar JSON layout."""


def sidecar_path(model_path: Path | str) -> Path:
    """The JSON file beside a model that describes it: ``<model_path>.json``."""
    path = Path(model_path)
    return path.with_name(path.name + ".json")


def read_sidecar(model_path: Path | str) -> dict[str, Any] | None:
    """The sidecar JSON of ``model_path`` as a dict, or None when there is none.

    Raises:
        ValueError: the sidecar exists but is not a JSON object.
    """
    path = sidecar_path(model_path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read the model's sidecar {path}: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"the model's sidecar {path} does not hold a JSON object")
    return data


def _atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp)`` with a temporary path beside ``path``, then move it onto ``path``.

    Readers see the old file or the complete new one, never a half-written one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _save(model: BaseAlgorithm, args: TrainSB3Args, complete: bool) -> Path:
    """Save ``model`` to ``args.model_path`` and its sidecar, each atomically."""
    path = args.model_path
    sidecar = sidecar_path(path)
    sidecar.unlink(missing_ok=True)  # never leave an old sidecar beside a new model
    _atomic_write(path, model.save)
    meta = {
        "format": SIDECAR_FORMAT,
        "algo": args.algo,
        "preset": args.preset,
        "env": config_to_dict(args.env),
        "total_timesteps": args.total_timesteps,
        "num_timesteps": int(model.num_timesteps),
        "complete": complete,
        "seed": args.seed,
        "n_envs": args.n_envs,
        "vec_env": args.vec_env,
        "resumed_from": str(args.resume) if args.resume is not None else None,
        "hyperparameters": _model_hyperparameters(model, args.algo),
        "observation_space": _space_text(model.observation_space),
        "action_space": _space_text(model.action_space),
        "sb3_version": stable_baselines3.__version__,
        "replay_gym_version": replay_gym.__version__,
        "torch_version": torch.__version__,
    }
    text = json.dumps(meta, indent=2).encode()
    _atomic_write(sidecar, lambda tmp: tmp.write_bytes(text))
    return path


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


def _space_text(space: spaces.Space) -> str:
    """Short form of a space: ``Box(14,)``, ``Discrete(4)``."""
    if isinstance(space, spaces.Box):
        return f"Box{space.shape}"
    return str(space)


def _check_spaces(
    model_path: Path | str,
    model_obs: spaces.Space,
    model_action: spaces.Space,
    env_obs: spaces.Space,
    env_action: spaces.Space,
) -> None:
    """Raise ``ValueError`` naming both pairs of spaces when they differ."""
    if model_obs == env_obs and model_action == env_action:
        return
    trained = f"{_space_text(model_obs)} / {_space_text(model_action)}"
    present = f"{_space_text(env_obs)} / {_space_text(env_action)}"
    if trained == present:  # same shapes, other bounds or dtype: show everything
        trained, present = f"{model_obs!r} / {model_action!r}", f"{env_obs!r} / {env_action!r}"
    raise ValueError(
        f"model {model_path} was trained for {trained} but the environment has {present} "
        "(observation / action space; a different number of classes?)"
    )


def _warn_config_differences(model_path: Path | str, trained: dict[str, Any], config: Any) -> None:
    """Warn, naming the settings, when the env's configuration differs from the training one."""
    if not isinstance(config, EnvConfig):
        return
    before, now = flatten(trained), flatten(json.loads(json.dumps(config_to_dict(config))))
    changed = [
        f"{key}: {before.get(key)!r} -> {now.get(key)!r}"
        for key in sorted(before.keys() | now.keys())
        if before.get(key) != now.get(key)
    ]
    if changed:
        more = f"; and {len(changed) - 8} more" if len(changed) > 8 else ""
        shown = "; ".join(changed[:8]) + more
        warnings.warn(
            f"model {model_path} was trained with other environment settings: {shown}",
            UserWarning,
            stacklevel=3,
        )


def _guess_algorithm(data: dict[str, Any] | None) -> str | None:
    """The algorithm a saved model's attributes point to, or None when they do not tell.

    PPO and A2C save the same policy class, so the attributes decide: only PPO has
    ``clip_range``, only DQN ``target_update_interval``, and A2C has ``n_steps`` without either.
    """
    keys = set(data or {})
    if "target_update_interval" in keys:
        return "dqn"
    if "clip_range" in keys:
        return "ppo"
    if "n_steps" in keys:
        return "a2c"
    return None


def _guess_algorithms(path: Path) -> list[str]:
    """Algorithms to try for a model without sidecar, the likeliest first."""
    order = ["ppo", "a2c", "dqn"]
    try:
        data, _, _ = load_from_zip_file(path, device="cpu", load_data=True)
    except Exception:  # noqa: BLE001 - not readable: let the loads report why
        return order
    first = _guess_algorithm(data)
    return order if first is None else [first] + [name for name in order if name != first]


