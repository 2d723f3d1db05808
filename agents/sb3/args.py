"""The ``train-sb3`` command line: :class:`TrainSB3Args` and the algorithms it trains."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm

from replay_gym.config import EnvConfig

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "dqn": DQN}
"""The supported algorithms by their ``--algo`` name."""

ENV_ID = "ReplaySelect-v0"

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
    """Environment steps to train for, over all envs (10,000: ten courses of the default
    preset). With --resume: steps to add to the saved model's count."""
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
    """Discount. None: 1 - 1/night_length, a horizon of one night (0.99 for the default preset's
    100-step nights). A step's reward is its own chi-square drop; what a replay changes beyond
    that fades within the night, as the next day retrains the network."""
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


