"""Training: :func:`train_sb3` (``python -m replay_gym train-sb3``) and its vector envs.

``maskable-ppo`` (sb3-contrib's ``MaskablePPO``) reads the valid actions before every step with
``venv.env_method("action_masks")``; SB3's vector envs (in this process or in subprocess
workers) resolve that through the wrapper chain (``Monitor`` > ``TorchThreads`` > gymnasium's
checkers > ``ReplaySelectionEnv.action_masks``) with ``get_wrapper_attr``, so the masks reach
it from every env without a wrapper of its own.
"""

from __future__ import annotations

import functools
import inspect
import json
import signal
import warnings
from pathlib import Path

import gymnasium as gym
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from replay_gym.agents.sb3.args import (
    DEFAULT_TOTAL_TIMESTEPS,
    TrainSB3Args,
    algorithm_class,
)
from replay_gym.agents.sb3.callbacks import PeriodicCheckpoint, ReplayLogCallback, StopOnRequest
from replay_gym.agents.sb3.checkpoints import (
    ResumePoint,
    clear_checkpoints,
    list_checkpoints,
    remove_incomplete,
    restore_training_state,
    resume_point,
    write_checkpoint,
)
from replay_gym.agents.sb3.loading import (
    SavedModel,
    check_spaces,
    read_model,
    sidecar_path,
    warn_config_differences,
)
from replay_gym.agents.sb3.saving import TrainingRecord, model_metadata, save_model
from replay_gym.config import EnvConfig, config_to_dict
from replay_gym.envs.vector import TorchThreads, make_env
from replay_gym.provenance import replay_gym_version
from replay_gym.rundir import RunInterrupted, StopSignals
from replay_gym.statefile import differences

__all__ = ["TorchThreads", "make_vec_env", "saved_hyperparameters", "train_sb3", "worker_threads"]

_NOT_HYPERPARAMETERS = frozenset(
    {
        "policy",
        "env",
        "policy_kwargs",
        "tensorboard_log",
        "verbose",
        "seed",
        "device",
        "_init_setup_model",
        "stats_window_size",
    }
)
"""Constructor parameters of an algorithm that are not taken from a resumed model."""

_RESTORED: dict[str, type] = {
    "num_timesteps": int,
    "_episode_num": int,
    "_n_updates": int,
    "_n_calls": int,
    "exploration_rate": float,
    "_current_progress_remaining": float,
}
"""Counters and state a resumed model takes from the file (what SB3's own load restores)."""


def _make_env(config: EnvConfig, torch_threads: int | None) -> gym.Env:
    """One monitored ``ReplaySelect-v0`` (module level, so subprocesses can unpickle it).

    Args:
        config: The environment's settings.
        torch_threads: Set torch's intra-op threads to this before building the env (in a
            subprocess worker: the worker's own setting); None leaves them.
    """
    return Monitor(make_env(config, torch_threads))


def _make_worker_env(config: EnvConfig, torch_threads: int | None) -> gym.Env:
    """:func:`_make_env` in a subprocess worker, which leaves SIGINT and SIGTERM to its parent.

    Ctrl-C in a terminal and Slurm's SIGTERM reach every process of the job; the parent stops
    training at a consistent point and then closes the workers, so a worker must not die first.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return _make_env(config, torch_threads)


def worker_threads(args: TrainSB3Args) -> int | None:
    """Torch threads of each subprocess env (``threads`` or 1); None with the dummy vector env."""
    if args.vec_env != "subproc":
        return None
    return args.threads if args.threads is not None else 1


def make_vec_env(args: TrainSB3Args) -> VecEnv:
    """``args.n_envs`` monitored environments in the chosen vector env, seeded seed + i.

    With ``vec_env="subproc"`` each worker sets its torch threads (:func:`worker_threads`)
    before it builds its environment, and ignores SIGINT and SIGTERM (its parent handles them).

    Args:
        args: The training arguments (``env``, ``n_envs``, ``vec_env``, ``threads``, ``seed``).

    Returns:
        The vector env; its envs are seeded on their first reset.
    """
    if args.vec_env == "subproc":
        worker = functools.partial(_make_worker_env, args.env, worker_threads(args))
        venv: VecEnv = SubprocVecEnv([worker] * args.n_envs)
    else:
        venv = DummyVecEnv([functools.partial(_make_env, args.env, None)] * args.n_envs)
    venv.seed(args.seed)
    return venv


def train_sb3(args: TrainSB3Args) -> Path:
    """Train (or resume) a model on ``ReplaySelect-v0`` and save it with its sidecar.

    With ``checkpoint_every``, checkpoints are written while training and at the end (see
    :mod:`replay_gym.agents.sb3.checkpoints`). Torch's thread setting in this process is
    restored when training ends.

    SIGINT (Ctrl-C) and SIGTERM (Slurm's notice before pre-emption) stop training after the
    environment step in progress, at a consistent point (:class:`StopOnRequest`): the model is
    saved and, with ``checkpoint_every``, a checkpoint written, then :class:`RunInterrupted`
    says how to resume. A second Ctrl-C stops at once (``KeyboardInterrupt``).

    Args:
        args: What to train and where to save it; checked with :meth:`TrainSB3Args.validate`.

    Returns:
        The path of the saved model (``args.model_path``); its sidecar is
        :func:`~replay_gym.agents.sb3.loading.sidecar_path` of it.

    Raises:
        ValueError: a bad argument, or a resumed model that does not fit (algorithm, spaces) or
            cannot be read safely.
        FileExistsError: the model file (or another run's checkpoints) exists and ``overwrite``
            is not set.
        RunInterrupted: SIGINT or SIGTERM stopped training; the model (and a checkpoint) was
            saved, and the message says how to resume.
        KeyboardInterrupt: a second Ctrl-C, after saving what it has to ``args.model_path``.
    """
    args.validate()
    point = resume_point(args.resume) if args.resume is not None else None
    saved = read_model(point.model) if point is not None else None
    if point is not None and saved is not None:
        _check_resumed_checkpoint(args, point, saved)
    steps = _steps_to_train(args, saved)
    previous_threads = torch.get_num_threads()
    main_threads = 1 if args.vec_env == "subproc" else (args.threads or previous_threads)
    torch.set_num_threads(main_threads)
    try:
        with StopSignals() as signals:
            venv = make_vec_env(args)
            try:
                if saved is None or point is None:
                    model = _new_model(args, venv)
                else:
                    model = _resumed_model(args, venv, saved, point)
                threads = {
                    "main": main_threads,
                    "workers": worker_threads(args),
                    "per_env": [int(n) for n in venv.get_attr("torch_threads")],  # as measured
                }
                record = TrainingRecord(args, steps, int(model.num_timesteps) + steps, threads)
                path = _learn(model, args, record, saved is not None, signals)
            except KeyboardInterrupt:
                _stop_workers(venv)  # they ignore SIGINT; a second Ctrl-C means now
                raise
            finally:
                venv.close()
    finally:
        torch.set_num_threads(previous_threads)
    if args.verbose:
        print(
            f"model saved to {path} (sidecar {sidecar_path(path).name}); "
            f"TensorBoard: {args.tensorboard_dir}"
        )
    return path


def _stop_workers(venv: VecEnv) -> None:
    """Kill the worker processes of a subprocess vector env at once (nothing in them is kept)."""
    if isinstance(venv, SubprocVecEnv) and not venv.closed:
        for process in venv.processes:
            process.kill()
            process.join()
        for remote in venv.remotes:
            remote.close()
        venv.closed = True


def _learn(
    model: BaseAlgorithm,
    args: TrainSB3Args,
    record: TrainingRecord,
    resumed: bool,
    signals: StopSignals,
) -> Path:
    """Run ``model.learn`` with the logging, checkpoint and stop callbacks; save the model.

    Raises:
        RunInterrupted: ``signals`` asked to stop; the model and a checkpoint were saved.
    """
    stop = StopOnRequest(signals.requested)
    callbacks: list[BaseCallback] = [ReplayLogCallback(), stop]
    checkpoints: PeriodicCheckpoint | None = None
    if args.checkpoint_every:
        if args.resumes_own_run():
            remove_incomplete(args.checkpoints)
        else:
            clear_checkpoints(args.checkpoints)  # validate() allowed it: empty, or --overwrite

        def save(m: BaseAlgorithm) -> None:
            meta = model_metadata(m, record, complete=False)
            write_checkpoint(m, args.checkpoints, meta, args.keep_checkpoints)

        checkpoints = PeriodicCheckpoint(args.checkpoint_every, save)
        callbacks.append(checkpoints)
    try:
        model.learn(
            total_timesteps=record.steps,
            callback=CallbackList(callbacks),
            reset_num_timesteps=not resumed,
            tb_log_name=args.algo.upper(),
        )
    except KeyboardInterrupt:
        save_model(model, args.model_path, model_metadata(model, record, complete=False))
        # The latest checkpoint is consistent (between updates); without one, the model file.
        written = checkpoints is not None and list_checkpoints(args.checkpoints)
        where = args.checkpoints if written else args.model_path
        print(
            f"interrupted: model after {model.num_timesteps} steps saved to "
            f"{args.model_path}; continue with --resume {where} (without --total-timesteps "
            f"it trains up to the {record.target_timesteps} steps planned)"
        )
        raise
    finally:
        logger = getattr(model, "_logger", None)  # absent if learn() failed to start
        if logger is not None:
            logger.close()
    if stop.stopped_at is not None:
        raise _save_stopped(model, args, record, signals.signum or signal.SIGINT)
    meta = model_metadata(model, record, complete=True)
    if checkpoints is not None and checkpoints.last_step != model.num_timesteps:
        write_checkpoint(model, args.checkpoints, meta, args.keep_checkpoints)
    return save_model(model, args.model_path, meta)


def _save_stopped(
    model: BaseAlgorithm, args: TrainSB3Args, record: TrainingRecord, signum: int
) -> RunInterrupted:
    """Save a model that a signal stopped; the exception that says where and how to resume.

    With ``checkpoint_every`` a checkpoint of this step is written too (unless one exists), and
    resuming goes through the checkpoint folder; otherwise through the model file.
    """
    meta = model_metadata(model, record, complete=False)
    saved = f"model saved to {args.model_path}"
    where = args.model_path
    if args.checkpoint_every:
        steps = int(model.num_timesteps)
        written = dict(list_checkpoints(args.checkpoints))
        if steps not in written:
            written[steps] = write_checkpoint(model, args.checkpoints, meta, args.keep_checkpoints)
        saved += f", checkpoint {written[steps]}"
        where = args.checkpoints
    save_model(model, args.model_path, meta)
    return RunInterrupted.at(
        signum,
        f"step {model.num_timesteps} of {record.target_timesteps}",
        saved,
        f"the same command with --resume {where} (without --total-timesteps it trains up to "
        f"the {record.target_timesteps} steps planned)",
    )


def _steps_to_train(args: TrainSB3Args, saved: SavedModel | None) -> int:
    """``total_timesteps`` resolved (see its help)."""
    if args.total_timesteps is not None:
        return args.total_timesteps
    if saved is None:
        return DEFAULT_TOTAL_TIMESTEPS
    target = (saved.sidecar or {}).get("target_timesteps")
    done = saved.plain("num_timesteps")
    if isinstance(target, int) and isinstance(done, int) and target > done:
        return target - done
    goal = (
        f"has reached its target of {target} steps"
        if isinstance(target, int)
        else ("records no target step count")
    )
    raise ValueError(f"resume: {saved.path} {goal}; pass --total-timesteps to train it further")


def _check_resumed_checkpoint(args: TrainSB3Args, point: ResumePoint, saved: SavedModel) -> None:
    """Refuse a checkpoint that this run cannot continue, naming why.

    A checkpoint continues the run that wrote it: another replay-gym version or other
    environment settings are refused (a bare model file may be trained further on other
    settings, with a warning), and so is an older checkpoint resumed into a folder that holds
    newer ones.
    """
    if point.checkpoint is None:
        return
    meta = saved.sidecar or {}
    version = meta.get("replay_gym_version")
    if version != replay_gym_version():
        raise ValueError(
            f"resume: {point.checkpoint} was written by replay-gym {version}, this is "
            f"{replay_gym_version()}; continue it with that version, or train its model "
            f"further: --resume {point.model}"
        )
    changed = differences(meta.get("env"), json.loads(json.dumps(config_to_dict(args.env))))
    if changed:
        raise ValueError(
            f"resume: {point.checkpoint} was trained with other environment settings: "
            f"{'; '.join(changed)}. Continue it with its own settings, or train its model "
            f"further on these: --resume {point.model}"
        )
    if not args.checkpoint_every:
        return
    if point.checkpoint.parent.resolve() != args.checkpoints.resolve():
        return
    newer = [p.name for step, p in list_checkpoints(args.checkpoints) if step > (point.step or 0)]
    if newer:
        raise ValueError(
            f"resume: {point.checkpoint} is older than {', '.join(newer)} in the same folder; "
            f"resume the latest (--resume {args.checkpoints}) or write to another "
            "--checkpoint-dir"
        )


def _new_model(args: TrainSB3Args, venv: VecEnv) -> BaseAlgorithm:
    cls = algorithm_class(args.algo)
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


def saved_hyperparameters(saved: SavedModel, algo: str) -> dict[str, object]:
    """The constructor settings of ``algo`` that ``saved`` holds as plain values.

    Settings SB3 stores only as pickles (``train_freq``, schedules) come from the sidecar's
    record where it has them; the rest take the constructor's defaults.
    """
    names = set(inspect.signature(algorithm_class(algo)).parameters) - _NOT_HYPERPARAMETERS
    pickled = set(saved.pickled())
    out = {name: saved.data[name] for name in names if name in saved.data and name not in pickled}
    recorded = (saved.sidecar or {}).get("hyperparameters") or {}
    for name, value in recorded.items():
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if name in names and name not in out and numeric:
            out[name] = value
    return out


def _resumed_model(
    args: TrainSB3Args, venv: VecEnv, saved: SavedModel, point: ResumePoint
) -> BaseAlgorithm:
    """A new model of ``args.algo`` given the saved one's settings, weights and counters."""
    path = point.model
    algo = saved.algo
    if algo != args.algo:
        if saved.sidecar is not None and "algo" in saved.sidecar:
            raise ValueError(
                f"resume: {path} was trained with algo {algo!r}, but algo is {args.algo!r}; "
                f"pass --algo {algo}"
            )
        raise ValueError(
            f"resume: {path} has no sidecar and its saved attributes are those of algo "
            f"{algo!r}, but algo is {args.algo!r}; pass --algo {algo}"
        )
    check_spaces(
        path,
        saved.observation_space,
        saved.action_space,
        venv.observation_space,
        venv.action_space,
    )
    if saved.sidecar is not None and "env" in saved.sidecar:
        warn_config_differences(path, saved.sidecar["env"], args.env)
    settings = {**saved_hyperparameters(saved, algo), **args.given_hyperparameters()}
    try:
        model = algorithm_class(algo)(
            "MlpPolicy",
            venv,
            policy_kwargs=saved.policy_kwargs,
            tensorboard_log=str(args.tensorboard_dir),
            seed=args.seed,
            device=args.device,
            verbose=args.verbose,
            **settings,
        )
    except (TypeError, ValueError, AssertionError) as error:
        raise ValueError(
            f"resume: cannot rebuild {path} as a {algo} model from its settings ({error})"
        ) from error
    params = {"policy": saved.policy_state}
    if saved.optimizer_state is not None:
        params["policy.optimizer"] = saved.optimizer_state
    else:
        warnings.warn(
            f"resume: {path} holds no optimiser state; the optimiser starts afresh",
            UserWarning,
            stacklevel=3,
        )
    try:
        model.set_parameters(
            params, exact_match=saved.optimizer_state is not None, device=args.device
        )
    except (RuntimeError, ValueError, KeyError) as error:
        raise ValueError(
            f"resume: the weights in {path} do not fit a {algo} MlpPolicy with policy_kwargs "
            f"{saved.policy_kwargs} ({type(error).__name__}: {error})"
        ) from error
    for name, kind in _RESTORED.items():
        value = saved.plain(name)
        if hasattr(model, name) and isinstance(value, int | float) and not isinstance(value, bool):
            setattr(model, name, kind(value))
    restored = restore_training_state(model, point, (saved.sidecar or {}).get("rng"))
    if args.verbose:
        extra = "".join(f", {what}" for what in restored)
        print(f"resumed {path} at step {model.num_timesteps} (weights, optimiser, counters{extra})")
    return model
