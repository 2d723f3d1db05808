"""Training: :func:`train_sb3` (``python -m replay_gym train-sb3``) and its vector envs."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import gymnasium as gym
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from replay_gym.agents.sb3.args import ALGORITHMS, ENV_ID, TrainSB3Args
from replay_gym.agents.sb3.callbacks import PeriodicSave, ReplayLogCallback
from replay_gym.agents.sb3.files import (
    _check_spaces,
    _guess_algorithm,
    _save,
    _warn_config_differences,
    read_sidecar,
    sidecar_path,
)
from replay_gym.config import EnvConfig


def _make_env(config: EnvConfig, torch_threads: int | None) -> gym.Env:
    """One monitored ``ReplaySelect-v0`` (module level, so subprocesses can unpickle it)."""
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    return Monitor(gym.make(ENV_ID, config=config))


def make_vec_env(args: TrainSB3Args) -> VecEnv:
    """``args.n_envs`` monitored environments in the chosen vector env, seeded seed + i.

    Args:
        args: The training arguments (``env``, ``n_envs``, ``vec_env``, ``seed``).

    Returns:
        The vector env; its envs are seeded on their first reset.
    """
    if args.vec_env == "subproc":
        threads = max(1, (os.cpu_count() or 1) // args.n_envs)
        fns = [functools.partial(_make_env, args.env, threads) for _ in range(args.n_envs)]
        venv: VecEnv = SubprocVecEnv(fns)
    else:
        venv = DummyVecEnv([functools.partial(_make_env, args.env, None)] * args.n_envs)
    venv.seed(args.seed)
    return venv


def _new_model(args: TrainSB3Args, venv: VecEnv) -> BaseAlgorithm:
    cls = ALGORITHMS[args.algo]
    return cls(
        "MlpPolicy",
        venv,
        policy_kwargs={"net_arch": list(args.net_arch)},
        tensorboard_log=str(args.tensorboard_dir),
        seed=args.seed,
        device=args.device,
        verbose=args.verbose,
        **args.hyperparameters(),
    )


def _resumed_model(args: TrainSB3Args, venv: VecEnv) -> BaseAlgorithm:
    assert args.resume is not None
    meta = read_sidecar(args.resume)
    if meta is not None and meta.get("algo") not in (None, args.algo):
        raise ValueError(
            f"resume: {args.resume} was trained with algo {meta['algo']!r}, but algo is "
            f"{args.algo!r}; pass --algo {meta['algo']}"
        )
    try:
        data, _, _ = load_from_zip_file(args.resume, device="cpu", load_data=True)
    except Exception as error:  # noqa: BLE001 - zipfile, pickle and JSON errors alike
        raise ValueError(f"resume: cannot read {args.resume} as a model: {error}") from error
    if data is None:
        raise ValueError(f"resume: {args.resume} holds no Stable-Baselines3 model data")
    guess = _guess_algorithm(data)
    if meta is None and guess not in (None, args.algo):
        raise ValueError(
            f"resume: {args.resume} has no sidecar and its saved attributes are those of algo "
            f"{guess!r}, but algo is {args.algo!r}; pass --algo {guess}"
        )
    _check_spaces(
        args.resume, data["observation_space"], data["action_space"],
        venv.observation_space, venv.action_space,
    )
    if meta is not None and "env" in meta:
        _warn_config_differences(args.resume, meta["env"], args.env)
    cls = ALGORITHMS[args.algo]
    try:
        model = cls.load(
            args.resume, env=venv, device=args.device, tensorboard_log=str(args.tensorboard_dir),
            verbose=args.verbose, **args.given_hyperparameters(),
        )
    except (KeyError, TypeError, AttributeError, RuntimeError) as error:
        raise ValueError(
            f"resume: cannot load {args.resume} as a {args.algo} model ({error}); is --algo right?"
        ) from error
    model.set_random_seed(args.seed)
    return model


def train_sb3(args: TrainSB3Args) -> Path:
    """Train (or resume) a model on ``ReplaySelect-v0`` and save it with its sidecar.

    Args:
        args: What to train and where to save it; checked with :meth:`TrainSB3Args.validate`.

    Returns:
        The path of the saved model (``args.model_path``); its sidecar is
        :func:`sidecar_path` of it.

    Raises:
        ValueError: a bad argument, or a resumed model that does not fit (algorithm, spaces).
        FileExistsError: the model file exists and ``overwrite`` is not set.
    """
    args.validate()
    venv = make_vec_env(args)
    try:
        model = _resumed_model(args, venv) if args.resume is not None else _new_model(args, venv)
        callbacks: list[BaseCallback] = [ReplayLogCallback()]
        if args.save_every:
            callbacks.append(PeriodicSave(args))
        try:
            model.learn(
                total_timesteps=args.total_timesteps,
                callback=CallbackList(callbacks),
                reset_num_timesteps=args.resume is None,
                tb_log_name=args.algo.upper(),
            )
        except KeyboardInterrupt:
            _save(model, args, complete=False)
            print(f"interrupted: model after {model.num_timesteps} steps saved to "
                  f"{args.model_path}")
            raise
        finally:
            logger = getattr(model, "_logger", None)  # absent if learn() failed to start
            if logger is not None:
                logger.close()
        path = _save(model, args, complete=True)
    finally:
        venv.close()
    if args.verbose:
        print(f"model saved to {path} (sidecar {sidecar_path(path).name}); "
              f"TensorBoard: {args.tensorboard_dir}")
    return path


