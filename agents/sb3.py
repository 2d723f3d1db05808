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

from __future__ import annotations

import functools
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import stable_baselines3
import torch
from gymnasium import spaces
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import TensorBoardOutputFormat
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv
from stable_baselines3.dqn.policies import DQNPolicy

import replay_gym
from replay_gym.agents.base import Selector
from replay_gym.config import EnvConfig, config_to_dict
from replay_gym.run_logger import flatten

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

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "dqn": DQN}
"""The supported algorithms by their ``--algo`` name."""

ENV_ID = "ReplaySelect-v0"

SIDECAR_FORMAT = 1
"""Version of the sidecar JSON layout."""

_APPLIES_TO: dict[str, tuple[str, ...]] = {
    "learning_rate": ("ppo", "a2c", "dqn"),
    "gamma": ("ppo", "a2c", "dqn"),
    "n_steps": ("ppo", "a2c"),
    "ent_coef": ("ppo", "a2c"),
    "batch_size": ("ppo", "dqn"),
    "n_epochs": ("ppo",),
    "buffer_size": ("dqn",),
    "learning_starts": ("dqn",),
    "train_freq": ("dqn",),
    "target_update_interval": ("dqn",),
    "exploration_fraction": ("dqn",),
}
"""Each algorithm hyper-parameter field and the algorithms that use it."""


@dataclass(frozen=True)
class TrainSB3Args:
    """Train a Stable-Baselines3 agent (PPO, A2C or DQN) on ReplaySelect-v0 and save it.

    Hyper-parameters left at ``None`` take a default derived from the environment (a night is
    ``env.night_length`` steps, a course ``env.days`` nights); :meth:`hyperparameters` resolves
    them. With ``--resume``, hyper-parameters left at ``None`` keep the saved model's values and
    the ones given replace them.
    """

    algo: Literal["ppo", "a2c", "dqn"] = "ppo"
    """Algorithm: ppo, a2c (on-policy actor-critic) or dqn (off-policy Q-learning)."""
    preset: str = "default"
    """Base environment configuration: default (embedded data, CPU), smoke (tiny), paper."""
    env: EnvConfig = field(default_factory=EnvConfig)
    """Environment settings (defaults come from --preset)."""
    total_timesteps: int = 10_000
    """Environment steps to train for, over all envs (a course is days x night_length steps).
    With --resume: steps to add to the saved model's count."""
    n_envs: int = 1
    """Environments stepped side by side (their courses have seeds seed, seed + 1, ...)."""
    vec_env: Literal["dummy", "subproc"] = "dummy"
    """dummy: the envs step one after another in this process; subproc: one process per env
    (worth it when n_envs > 1 and there are cores to spare; torch threads are split among them)."""
    seed: int = 0
    """Seed of the algorithm (network initialisation, sampling) and of the envs (env i: seed + i).
    When resuming, pass a new seed to train on new courses."""
    out: Path | None = None
    """Model file (.zip) to write; default runs/sb3-<algo>-<preset>.zip. The sidecar JSON is
    <out>.json and TensorBoard events go to --tensorboard."""
    overwrite: bool = False
    """Replace an existing model file (only once the new one is complete)."""
    resume: Path | None = None
    """Continue training this saved model (same algorithm and spaces) instead of a new one; its
    step count keeps growing. May equal --out (then it is replaced without --overwrite)."""
    tensorboard: Path | None = None
    """TensorBoard log folder; default beside the model: <out without .zip>.tb/ (runs named
    <ALGO>_<n>; a resumed model continues its latest run there)."""
    learning_rate: float | None = None
    """Optimiser step size (ppo, dqn: Adam; a2c: RMSprop). None: ppo 3e-4 and a2c 7e-4 (SB3's
    defaults, fine for a small MLP); dqn 5e-4 rather than SB3's 1e-4, which is tuned for millions
    of Atari frames: a budget of thousands of costly steps needs larger steps."""
    gamma: float | None = None
    """Discount. None: 1 - 1/night_length, a horizon of one night. A step's reward is its own
    chi-square drop; what a replay changes beyond that fades within the night, as the next day
    retrains the network."""
    n_steps: int | None = None
    """ppo/a2c: steps per env between updates. None: ppo one night (night_length), so each
    rollout holds a whole night and is reused for n_epochs passes; a2c 10 (SB3: 5; 5-20 is
    usual): A2C uses each step once, so short rollouts update often from expensive data, while
    10-step returns reach further into the night than 5-step ones."""
    batch_size: int | None = None
    """ppo: minibatch size, None: the largest divisor of n_steps * n_envs up to 64 (no truncated
    minibatches; several gradient steps per costly rollout). dqn: transitions per gradient step,
    None: 32 (SB3's default)."""
    n_epochs: int | None = None
    """ppo: passes over each rollout. None: 10 (SB3's default): rollouts are costly to collect
    and cheap to reuse, and PPO's clipping keeps reuse safe."""
    ent_coef: float | None = None
    """ppo/a2c: entropy bonus. None: 0.01 (SB3: 0): with few costly steps the policy must not
    collapse onto one class before every class has been tried in several states."""
    buffer_size: int | None = None
    """dqn: replay buffer capacity in transitions. None: three courses (3 x days x night_length):
    every transition of a small budget is kept and reused, and the oldest policy's data drops
    out after a few courses. (The buffer is not saved: a resumed DQN refills it.)"""
    learning_starts: int | None = None
    """dqn: random steps before learning starts. None: one night, so the first updates see every
    class replayed at every point of a night (SB3's 100 is under one paper night)."""
    train_freq: int | None = None
    """dqn: env steps per gradient step. None: 1 (SB3: 4): a gradient step costs far less than an
    env step here, so learn after every one."""
    target_update_interval: int | None = None
    """dqn: env steps between target-network copies. None: one night (SB3's 10,000 would be ten
    default courses, longer than most budgets here)."""
    exploration_fraction: float | None = None
    """dqn: share of total_timesteps over which epsilon falls from 1 to 0.05. None: 0.25 (SB3:
    0.1): a small budget needs a larger share to explore classes in many states."""
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the policy/value (or Q) MLP; the observation has only
    3 x n_classes + 2 numbers. Ignored with --resume (the saved network is kept)."""
    device: str = "cpu"
    """Torch device of the agent's network. A small MLP runs fastest on the CPU; the learner's own
    device is env.learner.device."""
    save_every: int = 0
    """Also save the model (atomically, to --out) every this many steps, so a long run that dies
    loses little; 0: only at the end. An interrupted run (Ctrl-C) saves what it has."""
    verbose: int = 1
    """SB3 verbosity: 0 silent, 1 a table of training statistics after each update."""

    @property
    def model_path(self) -> Path:
        """Where the model is saved (``out`` or ``runs/sb3-<algo>-<preset>.zip``)."""
        if self.out is not None:
            return self.out
        return Path("runs") / f"sb3-{self.algo}-{self.preset}.zip"

    @property
    def tensorboard_dir(self) -> Path:
        """The TensorBoard log folder (``tensorboard`` or ``<model without .zip>.tb``)."""
        if self.tensorboard is not None:
            return self.tensorboard
        path = self.model_path
        return path.with_name(path.name.removesuffix(".zip") + ".tb")

    def given_hyperparameters(self) -> dict[str, Any]:
        """The algorithm hyper-parameters set explicitly (not ``None``)."""
        values = {name: getattr(self, name) for name in _APPLIES_TO}
        return {name: value for name, value in values.items() if value is not None}

    def hyperparameters(self) -> dict[str, Any]:
        """Keyword arguments for the SB3 constructor of ``algo``, ``None`` fields resolved.

        Returns:
            ``learning_rate``, ``gamma`` and the settings ``algo`` uses (see each field's
            docstring for the default and why).
        """
        night = self.env.night_length
        course = self.env.days * night
        given = self.given_hyperparameters()
        gamma = given.get("gamma", 1.0 - 1.0 / night if night > 1 else 0.0)
        if self.algo == "ppo":
            n_steps = given.get("n_steps", night)
            defaults: dict[str, Any] = {
                "learning_rate": 3e-4,
                "n_steps": n_steps,
                "batch_size": _divisor_batch(n_steps * self.n_envs),
                "n_epochs": 10,
                "ent_coef": 0.01,
            }
        elif self.algo == "a2c":
            defaults = {"learning_rate": 7e-4, "n_steps": 10, "ent_coef": 0.01}
        elif self.algo == "dqn":
            defaults = {
                "learning_rate": 5e-4,
                "batch_size": 32,
                "buffer_size": 3 * course,
                "learning_starts": night,
                "train_freq": 1,
                "target_update_interval": night,
                "exploration_fraction": 0.25,
            }
        else:
            raise ValueError(f"algo must be one of {sorted(ALGORITHMS)}, got {self.algo!r}")
        resolved = {key: given.get(key, value) for key, value in defaults.items()}
        return {**resolved, "gamma": gamma}

    def validate(self) -> None:
        """Check every argument.

        Raises:
            ValueError: naming the first bad field and why.
            FileExistsError: ``out`` exists and neither ``overwrite`` nor ``resume`` (the same
                file) allows replacing it.
        """
        if self.algo not in ALGORITHMS:
            raise ValueError(f"algo must be one of {sorted(ALGORITHMS)}, got {self.algo!r}")
        if not isinstance(self.preset, str) or not self.preset or "/" in self.preset:
            raise ValueError(f"preset must be a preset name, got {self.preset!r}")
        if self.total_timesteps < 1:
            raise ValueError(f"total_timesteps must be at least 1, got {self.total_timesteps}")
        if self.n_envs < 1:
            raise ValueError(f"n_envs must be at least 1, got {self.n_envs}")
        if self.vec_env not in ("dummy", "subproc"):
            raise ValueError(f"vec_env must be 'dummy' or 'subproc', got {self.vec_env!r}")
        if self.save_every < 0:
            raise ValueError(f"save_every must be 0 (off) or positive, got {self.save_every}")
        self.env.validate()
        self._validate_hyperparameters()
        self._validate_paths()

    def _validate_hyperparameters(self) -> None:
        for name in self.given_hyperparameters():
            users = _APPLIES_TO[name]
            if self.algo not in users:
                raise ValueError(
                    f"{name} is a setting of {'/'.join(users)}, not of algo {self.algo!r}; "
                    "leave it unset"
                )
        for name in ("n_steps", "batch_size", "n_epochs", "buffer_size", "train_freq",
                     "target_update_interval"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.learning_starts is not None and self.learning_starts < 0:
            raise ValueError(f"learning_starts must be 0 or more, got {self.learning_starts}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.gamma is not None and not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        if self.ent_coef is not None and self.ent_coef < 0:
            raise ValueError(f"ent_coef must be 0 or more, got {self.ent_coef}")
        if self.exploration_fraction is not None and not 0.0 <= self.exploration_fraction <= 1.0:
            raise ValueError(
                f"exploration_fraction must be in [0, 1], got {self.exploration_fraction}"
            )
        if not self.net_arch or any(width < 1 for width in self.net_arch):
            raise ValueError(f"net_arch must be positive layer widths, got {self.net_arch}")
        if self.algo == "ppo" and self.resume is None:
            params = self.hyperparameters()
            if params["n_steps"] * self.n_envs < 2:
                raise ValueError(
                    f"n_steps * n_envs must be at least 2 for ppo (advantages are normalised "
                    f"per rollout), got {params['n_steps']} * {self.n_envs}"
                )
            if params["batch_size"] < 2:
                raise ValueError(
                    f"batch_size must be at least 2 for ppo, got {params['batch_size']}"
                )

    def _validate_paths(self) -> None:
        path = self.model_path
        if path.suffix != ".zip":
            raise ValueError(f"out must be a .zip file (Stable-Baselines3's format), got {path}")
        if path.is_dir():
            raise ValueError(f"out {path} is a folder; give the model's .zip file name")
        if self.resume is not None and not self.resume.is_file():
            raise ValueError(f"resume: no saved model at {self.resume}")
        same_as_resume = self.resume is not None and path.exists() and path.samefile(self.resume)
        if path.exists() and not (self.overwrite or same_as_resume):
            raise FileExistsError(
                f"out {path} already exists; pass --overwrite to replace it or choose --out"
            )
        if self.tensorboard_dir.exists() and not self.tensorboard_dir.is_dir():
            raise ValueError(f"tensorboard {self.tensorboard_dir} is a file, not a folder")


def _divisor_batch(rollout: int, largest: int = 64, smallest: int = 8) -> int:
    """The largest divisor of ``rollout`` up to ``largest``.

    ``min(largest, rollout)`` when that divisor is under ``smallest`` (then SB3 trains one
    truncated minibatch per epoch).
    """
    best = max(d for d in range(1, min(largest, rollout) + 1) if rollout % d == 0)
    return best if best >= smallest else min(largest, rollout)


# -- files ----------------------------------------------------------------------------------


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


# -- training -------------------------------------------------------------------------------


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
            callbacks.append(_PeriodicSave(args))
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


class _PeriodicSave(BaseCallback):
    """Save the model (atomically, with its sidecar) every ``args.save_every`` steps."""

    def __init__(self, args: TrainSB3Args) -> None:
        super().__init__()
        self.args = args
        self._last = 0

    def _on_training_start(self) -> None:
        self._last = self.num_timesteps

    def _on_step(self) -> bool:
        if self.num_timesteps - self._last >= self.args.save_every:
            self._last = self.num_timesteps
            _save(self.model, self.args, complete=False)
        return True


# -- logging --------------------------------------------------------------------------------


class ReplayLogCallback(BaseCallback):
    """Log the replay experiment's scalars into the model's TensorBoard run.

    Tags (x axis: the model's step count, all envs together):

    * every step: ``replay/reward`` and ``replay/chi2`` (means over the envs);
    * when a night ends (an info with ``night_end``; means over the envs whose night ended):
      ``night/test_accuracy``, ``night/val_accuracy``, ``night/replays/class_<c>`` (the night's
      replay count of class ``c``) and, from the observation that follows the night (or the
      course's terminal observation), ``night/preference/class_<c>`` (PPO/A2C: the policy's
      probability of choosing ``c``) or ``night/q_value/class_<c>`` (DQN).

    SB3 vector envs reset themselves at the end of a course and keep the last observation in
    ``infos[i]["terminal_observation"]``; that is the observation used for a course's last night.

    With a TensorBoard output in the model's logger, every value is written there exactly when it
    happens, and the step means and nightly accuracies also go, averaged over the logging
    interval, to the other outputs (e.g. SB3's stdout table). Without TensorBoard they go to the
    logger only (``record_mean``/``record``).
    """

    def __init__(self, verbose: int = 0) -> None:
        super().__init__(verbose)
        self._writer: Any | None = None

    def _on_training_start(self) -> None:
        formats = self.logger.output_formats
        self._writer = next(
            (f.writer for f in formats if isinstance(f, TensorBoardOutputFormat)), None
        )

    def _scalar(self, key: str, value: float, *, summary: bool = False) -> None:
        """Write ``key`` at the current step; ``summary``: also to the logger's other outputs."""
        if self._writer is not None:
            self._writer.add_scalar(key, value, self.num_timesteps)
            if summary:
                self.logger.record_mean(key, value, exclude="tensorboard")
        else:
            self.logger.record_mean(key, value)

    def _on_step(self) -> bool:
        infos: list[dict[str, Any]] = self.locals["infos"]
        rewards = np.asarray(self.locals["rewards"], dtype=np.float64)
        self._scalar("replay/reward", float(rewards.mean()), summary=True)
        chi2 = [float(info["chi2"]) for info in infos if "chi2" in info]
        if chi2:
            self._scalar("replay/chi2", float(np.mean(chi2)), summary=True)
        ended = [i for i, info in enumerate(infos) if "night_end" in info]
        if ended:
            self._log_nights(ended, infos)
        return True

    def _log_nights(self, ended: list[int], infos: list[dict[str, Any]]) -> None:
        nights = [infos[i]["night_end"] for i in ended]
        for key in ("test_accuracy", "val_accuracy"):
            self._scalar(f"night/{key}", float(np.mean([n[key] for n in nights])), summary=True)
        counts = np.mean([np.asarray(n["replay_counts"], dtype=np.float64) for n in nights], axis=0)
        for c, count in enumerate(counts):
            self._scalar(f"night/replays/class_{c}", float(count))
        new_obs = self.locals.get("new_obs")
        if new_obs is None:
            return
        obs = np.stack([infos[i].get("terminal_observation", new_obs[i]) for i in ended])
        values = action_preferences(self.model, obs)
        if values is None:
            return
        name = "q_value" if isinstance(self.model.policy, DQNPolicy) else "preference"
        for c, value in enumerate(values.mean(axis=0)):
            self._scalar(f"night/{name}/class_{c}", float(value))

    def _on_training_end(self) -> None:
        if self._writer is not None:
            self._writer.flush()


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


# -- evaluation -----------------------------------------------------------------------------


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
