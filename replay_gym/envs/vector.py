"""Gymnasium vector environments of ``ReplaySelect-v0`` that set each worker's torch threads.

A step is compute-bound on one core (an optimiser step above the replay layer and a forward
pass over the validation set), and torch runs it on one intra-op thread best when other work
shares the machine. Stepping several environments in one process (``SyncVectorEnv``) is
therefore no faster than one environment; ``AsyncVectorEnv`` steps them in parallel, one
process each, and is fast only when each worker uses one thread (or ``threads``), so that the
workers do not compete for the cores. Gymnasium has no hook that sets a worker's threads:
:func:`make_env` sets them in the worker's process before it builds its environment, and
:func:`make_vector_env` builds either kind with it. ``train-sb3 --n-envs 2 --vec-env subproc``
does the same for Stable-Baselines3 (:mod:`replay_gym.agents.sb3.train`).
"""

from __future__ import annotations

import functools
import multiprocessing
from typing import Literal

import gymnasium as gym
import torch

from replay_gym.config import EnvConfig
from replay_gym.validation import require

__all__ = ["TorchThreads", "make_env", "make_vector_env"]

ENV_ID = "ReplaySelect-v0"
"""The id this package registers (see ``replay_gym/__init__.py``)."""


class TorchThreads(gym.Wrapper):
    """Reports the torch intra-op threads of the process its env lives in (``torch_threads``).

    ``vector_env.get_attr("torch_threads")`` (Gymnasium) or ``venv.get_attr(...)`` (SB3) shows
    what each worker of a vector env uses.
    """

    @property
    def torch_threads(self) -> int:
        """``torch.get_num_threads()`` in this env's process."""
        return torch.get_num_threads()


def make_env(config: EnvConfig, threads: int | None = None) -> gym.Env:
    """One ``ReplaySelect-v0`` in a :class:`TorchThreads` wrapper, after setting torch's threads.

    Module level, so a worker process can unpickle it (``functools.partial(make_env, ...)``).

    Args:
        config: The environment's settings.
        threads: Set torch's intra-op threads of the calling process to this first (in a
            vector env's worker: the worker's own setting); None leaves them.
    """
    if threads is not None:
        require(isinstance(threads, int) and threads >= 1, "threads", "an integer >= 1", threads)
        torch.set_num_threads(threads)
    return TorchThreads(gym.make(ENV_ID, config=config))


def make_vector_env(
    config: EnvConfig,
    n_envs: int = 2,
    mode: Literal["async", "sync"] = "async",
    threads: int | None = None,
    context: str | None = None,
) -> gym.vector.VectorEnv:
    """``n_envs`` copies of ``ReplaySelect-v0`` as a Gymnasium vector env.

    Args:
        config: The environments' settings.
        n_envs: How many environments.
        mode: ``async``: one worker process each (``AsyncVectorEnv``), the fast path with a
            core per env; ``sync``: one after another in this process (``SyncVectorEnv``).
        threads: Torch intra-op threads. ``async``: of each worker (None: 1); this process
            keeps its own. ``sync``: of this process (None: left as it is).
        context: ``async`` only: the multiprocessing start method; None: ``forkserver`` where
            the platform has it (a fresh process that has not used OpenMP), else ``spawn``.

    Returns:
        The vector env (seed it with ``reset(seed=...)``; env ``i`` gets ``seed + i``).

    Raises:
        ValueError: A bad argument, named.
    """
    require(isinstance(n_envs, int) and n_envs >= 1, "n_envs", "an integer >= 1", n_envs)
    require(mode in ("async", "sync"), "mode", "'async' or 'sync'", mode)
    require(
        threads is None or (isinstance(threads, int) and threads >= 1),
        "threads", "None or an integer >= 1", threads,
    )  # fmt: skip
    if mode == "sync":
        factory = functools.partial(make_env, config, threads)
        return gym.vector.SyncVectorEnv([factory] * n_envs)
    factory = functools.partial(make_env, config, 1 if threads is None else threads)
    if context is None:
        methods = multiprocessing.get_all_start_methods()
        context = "forkserver" if "forkserver" in methods else "spawn"
    before = torch.get_num_threads()
    try:  # AsyncVectorEnv builds one env here to read its spaces: keep this process's threads
        return gym.vector.AsyncVectorEnv([factory] * n_envs, context=context)
    finally:
        torch.set_num_threads(before)
