"""The ``train-sb3`` command line: :class:`TrainSB3Args`, the algorithms and their defaults.

Every number in the help text is computed here, from the presets and from Stable-Baselines3's
own constructor defaults, so that it cannot drift from what the code does.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm

from replay_gym.config import EnvConfig, preset
from replay_gym.rundir import check_writable
from replay_gym.scenarios import make_scenario
from replay_gym.validation import check_fields

try:  # sb3-contrib is optional (the `sb3` extra); without it, maskable-ppo is refused by name
    from sb3_contrib import MaskablePPO
except ImportError:  # pragma: no cover - the dev environment installs it
    MaskablePPO = None

ALGORITHM_NAMES: tuple[str, ...] = ("ppo", "a2c", "dqn", "maskable-ppo")
"""Every ``--algo`` name, whether or not its package is installed."""

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "dqn": DQN}
"""The algorithms available here by their ``--algo`` name (``maskable-ppo``: sb3-contrib's
``MaskablePPO``, when sb3-contrib is installed)."""
if MaskablePPO is not None:
    ALGORITHMS["maskable-ppo"] = MaskablePPO

MASKABLE: frozenset[str] = frozenset({"maskable-ppo"})
"""Algorithms that take the environment's action mask (``env.action_masks()``): the only ones
that can train on a scenario whose courses mask actions (class-incremental)."""

PPO_FAMILY: tuple[str, ...] = ("ppo", "maskable-ppo")
"""PPO and its masked variant: the same hyper-parameters, defaults and checks."""

ENV_ID = "ReplaySelect-v0"

_APPLIES_TO: dict[str, tuple[str, ...]] = {
    "learning_rate": ("ppo", "a2c", "dqn", "maskable-ppo"),
    "gamma": ("ppo", "a2c", "dqn", "maskable-ppo"),
    "n_steps": ("ppo", "a2c", "maskable-ppo"),
    "ent_coef": ("ppo", "a2c", "maskable-ppo"),
    "batch_size": ("ppo", "dqn", "maskable-ppo"),
    "n_epochs": ("ppo", "maskable-ppo"),
    "buffer_size": ("dqn",),
    "learning_starts": ("dqn",),
    "train_freq": ("dqn",),
    "target_update_interval": ("dqn",),
    "exploration_fraction": ("dqn",),
}
"""Each algorithm hyper-parameter field and the algorithms that use it."""

SB3_DEFAULTS: dict[str, dict[str, Any]] = {
    algo: {
        name: parameter.default
        for name, parameter in inspect.signature(cls).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    for algo, cls in ALGORITHMS.items()
}
"""Stable-Baselines3's own constructor defaults, by algorithm (read from its signatures)."""


def algorithm_class(algo: str) -> type[BaseAlgorithm]:
    """The SB3 class of ``--algo algo``.

    Raises:
        ValueError: ``algo`` is no algorithm name, or names one whose package is not installed
            (the message says how to install it).
    """
    if algo in ALGORITHMS:
        return ALGORITHMS[algo]
    if algo in ALGORITHM_NAMES:
        raise ValueError(
            f"algo {algo!r} is sb3-contrib's MaskablePPO, and sb3-contrib is not installed: "
            'pip install -e ".[sb3]" (or pip install sb3-contrib)'
        )
    raise ValueError(f"algo must be one of {list(ALGORITHM_NAMES)}, got {algo!r}")


def masks_actions(config: EnvConfig) -> bool:
    """True when some night of ``config``'s course allows only some classes as actions.

    Asked of the scenario (``Scenario.action_mask`` of every day), so a registered scenario of
    one's own is covered too. The paper's scenario never masks; class-incremental does until
    its last task has arrived.
    """
    scenario = make_scenario(config)
    return any(not scenario.action_mask(day).all() for day in range(1, config.days + 1))


DEFAULT_TOTAL_TIMESTEPS = 10_000
"""Steps a new model trains for when ``--total-timesteps`` is not given."""
ENT_COEF = 0.01
"""ppo/a2c entropy bonus when not given."""
A2C_N_STEPS = 10
"""a2c steps per env between updates when not given."""
PPO_LARGEST_BATCH = 64
"""ppo minibatches are the largest divisor of the rollout up to this size."""
DQN_LEARNING_RATE = 5e-4
"""dqn learning rate when not given."""
DQN_TRAIN_FREQ = 1
"""dqn env steps per gradient step when not given."""
DQN_EXPLORATION_FRACTION = 0.25
"""dqn share of the training over which epsilon falls, when not given."""
BUFFER_COURSES = 3
"""dqn replay buffer capacity in courses when not given."""
DEFAULT_KEEP_CHECKPOINTS = 2
"""Checkpoints kept on disk (the newest ones)."""
CHECKPOINT_PREFIX = "step-"
"""A checkpoint is the folder ``step-<steps>`` (steps zero-padded) in the checkpoint folder."""


def _help_values() -> dict[str, Any]:
    """The numbers the help text quotes, from the presets and SB3's defaults."""
    default, paper = preset("default"), preset("paper")
    night = default.night_length
    course = default.days * night
    return {
        "night": night,
        "course": course,
        "gamma": 1.0 - 1.0 / night,
        "paper_night": paper.night_length,
        "courses": DEFAULT_TOTAL_TIMESTEPS / course,
        "total": DEFAULT_TOTAL_TIMESTEPS,
        "sb3": SB3_DEFAULTS,
        "ent_coef": ENT_COEF,
        "a2c_n_steps": A2C_N_STEPS,
        "largest_batch": PPO_LARGEST_BATCH,
        "dqn_lr": DQN_LEARNING_RATE,
        "dqn_train_freq": DQN_TRAIN_FREQ,
        "dqn_fraction": DQN_EXPLORATION_FRACTION,
        "buffer_courses": BUFFER_COURSES,
        "sb3_target_courses": SB3_DEFAULTS["dqn"]["target_update_interval"] / course,
    }


HELP_VALUES: dict[str, Any] = _help_values()
"""What :func:`_help` fills into the help templates."""


def _help(template: str) -> Any:
    """A tyro argument whose help is ``template`` filled from :data:`HELP_VALUES`."""
    return tyro.conf.arg(help=template.format(**HELP_VALUES))


@dataclass(frozen=True)
class TrainSB3Args:
    """Train a Stable-Baselines3 agent (PPO, A2C, DQN, MaskablePPO) on ReplaySelect-v0; save it.

    Hyper-parameters left at None take a default derived from the environment (a night is
    night_length steps, a course is days nights). With --resume, hyper-parameters left at None
    keep the saved model's values and the ones given replace them.
    """

    algo: Literal["ppo", "a2c", "dqn", "maskable-ppo"] = "ppo"
    """Algorithm: ppo, a2c (on-policy actor-critic), dqn (off-policy Q-learning) or maskable-ppo.
    maskable-ppo is sb3-contrib's MaskablePPO (pip install -e ".[sb3]"): PPO that chooses among
    the valid actions of env.action_masks() only, with ppo's settings and defaults; the one
    algorithm for a scenario that masks actions (--env.scenario class-incremental)."""
    preset: str = "default"
    """Base environment configuration: default (embedded data, CPU), smoke (tiny), fashion-mnist,
    class-incremental, class-incremental-frozen, fashion-mnist-class-incremental,
    fashion-mnist-class-incremental-frozen, paper."""
    env: Annotated[EnvConfig | None, tyro.conf.AvoidSubcommands] = None
    """Environment settings (defaults come from --preset; None, in Python: the preset's own)."""
    total_timesteps: Annotated[int | None, _help(
        "Environment steps to train for, over all envs. None: {total:,} for a new model "
        "({courses:g} courses of the default preset); with --resume, the steps the resumed run "
        "still lacked of its target (so a checkpoint of a killed run finishes it). Given with "
        "--resume: steps to add to the saved model's count."
    )] = None
    n_envs: int = 1
    """Environments stepped side by side (their courses have seeds seed, seed + 1, ...)."""
    vec_env: Literal["dummy", "subproc"] = "dummy"
    """dummy: the envs step one after another in this process; subproc: one process per env,
    each with its own torch threads (see --threads). With n_envs > 1 and a core per env,
    subproc is the fast path."""
    threads: int | None = None
    """Torch intra-op threads of each process that steps environments. dummy: this process
    (None: leave torch's setting, the machine's cores). subproc: each worker (None: 1, so the
    workers share the cores without contention); this process, which only runs the agent's
    small network, then uses one thread. Restored when training ends."""
    seed: int = 0
    """Seed of the algorithm (network initialisation, sampling) and of the envs (env i: seed + i).
    When resuming, pass a new seed to train on new courses."""
    out: Path | None = None
    """Model file (.zip) to write; default runs/sb3-<algo>-<preset>.zip. The sidecar JSON is
    <out>.json and TensorBoard events go to --tensorboard."""
    overwrite: bool = False
    """Replace an existing model file (only once the new one is complete) and clear the
    checkpoints of an earlier run in --checkpoint-dir."""
    resume: Path | None = None
    """Continue training from a saved model (.zip), a checkpoint folder (step-N/) or a folder of
    checkpoints (its latest is used); same algorithm and spaces. Its step count keeps growing.
    Files are read without unpickling anything (see README, "Safe to load"). Replacing --out
    needs no --overwrite when the resumed model is --out itself or one of its checkpoints."""
    checkpoint_every: int = 0
    """Write a checkpoint every this many steps (at the first update boundary after them) and at
    the end: model, optimiser, counters, RNG states and, for dqn, the replay buffer, each
    written atomically into --checkpoint-dir. 0: no checkpoints."""
    checkpoint_dir: Path | None = None
    """Folder of checkpoints (step-<steps>/ each); default <out without .zip>.ckpt/."""
    keep_checkpoints: Annotated[int, _help(
        "Checkpoints kept in --checkpoint-dir, the newest; older ones are deleted once a newer "
        "one is complete."
    )] = DEFAULT_KEEP_CHECKPOINTS
    tensorboard: Path | None = None
    """TensorBoard log folder; default beside the model: <out without .zip>.tb/ (runs named
    <ALGO>_<n>; a resumed model continues its latest run there)."""
    learning_rate: Annotated[float | None, _help(
        "Optimiser step size (ppo, dqn: Adam; a2c: RMSprop). None: ppo {sb3[ppo][learning_rate]:g}"
        " and a2c {sb3[a2c][learning_rate]:g} (SB3's defaults, fine for a small MLP); dqn "
        "{dqn_lr:g} rather than SB3's {sb3[dqn][learning_rate]:g}, which is tuned for millions of "
        "Atari frames: a budget of thousands of costly steps needs larger steps."
    )] = None
    gamma: Annotated[float | None, _help(
        "Discount. None: 1 - 1/night_length, a horizon of one night ({gamma:.3g} for the default "
        "preset's {night}-step nights). A step's reward is its own chi-square drop; what a replay "
        "changes beyond that fades within the night, as the next day retrains the network."
    )] = None
    n_steps: Annotated[int | None, _help(
        "ppo/a2c: steps per env between updates. None: ppo one night (night_length), so each "
        "rollout holds a whole night and is reused for n_epochs passes; a2c {a2c_n_steps} (SB3: "
        "{sb3[a2c][n_steps]}): A2C uses each step once, so short rollouts update often from "
        "expensive data, while longer returns reach further into the night."
    )] = None
    batch_size: Annotated[int | None, _help(
        "ppo: minibatch size, None: the largest divisor of n_steps * n_envs up to "
        "{largest_batch} (no truncated minibatches; several gradient steps per costly rollout). "
        "dqn: transitions per gradient step, None: {sb3[dqn][batch_size]} (SB3's default)."
    )] = None
    n_epochs: Annotated[int | None, _help(
        "ppo: passes over each rollout. None: {sb3[ppo][n_epochs]} (SB3's default): rollouts are "
        "costly to collect and cheap to reuse, and PPO's clipping keeps reuse safe."
    )] = None
    ent_coef: Annotated[float | None, _help(
        "ppo/a2c: entropy bonus. None: {ent_coef:g} (SB3: {sb3[ppo][ent_coef]:g}): with few "
        "costly steps the policy must not collapse onto one class before every class has been "
        "tried in several states."
    )] = None
    buffer_size: Annotated[int | None, _help(
        "dqn: replay buffer capacity in transitions. None: {buffer_courses} courses "
        "({buffer_courses} x days x night_length): every transition of a small budget is kept "
        "and reused, and the oldest policy's data drops out after a few courses. Checkpoints "
        "hold the buffer; a model .zip does not (a DQN resumed from one refills it)."
    )] = None
    learning_starts: Annotated[int | None, _help(
        "dqn: random steps before learning starts. None: one night, so the first updates see "
        "every class replayed at every point of a night (SB3's {sb3[dqn][learning_starts]} is "
        "under one paper night of {paper_night} steps)."
    )] = None
    train_freq: Annotated[int | None, _help(
        "dqn: env steps per gradient step. None: {dqn_train_freq} (SB3: {sb3[dqn][train_freq]}): "
        "a gradient step costs far less than an env step here, so learn often."
    )] = None
    target_update_interval: Annotated[int | None, _help(
        "dqn: env steps between target-network copies. None: one night (SB3's "
        "{sb3[dqn][target_update_interval]:,} would be {sb3_target_courses:g} default courses, "
        "longer than most budgets here)."
    )] = None
    exploration_fraction: Annotated[float | None, _help(
        "dqn: share of the training over which epsilon falls from "
        "{sb3[dqn][exploration_initial_eps]:g} to {sb3[dqn][exploration_final_eps]:g}. None: "
        "{dqn_fraction:g} (SB3: {sb3[dqn][exploration_fraction]:g}): a small budget needs a "
        "larger share to explore classes in many states."
    )] = None
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the policy/value (or Q) MLP; the observation has only
    3 x n_classes + 2 numbers. Ignored with --resume (the saved network is kept)."""
    device: str = "cpu"
    """Torch device of the agent's network. A small MLP runs fastest on the CPU; the learner's own
    device is env.learner.device."""
    verbose: int = 1
    """SB3 verbosity: 0 silent, 1 a table of training statistics after each update."""

    def __post_init__(self) -> None:
        if self.env is None:  # never train on EnvConfig()'s bare defaults under a preset's name
            object.__setattr__(self, "env", preset(self.preset))  # refuses an unknown name
        check_fields(self)  # types (finite floats, integers not rounded); strings become paths

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
        return self._beside_model(".tb")

    @property
    def checkpoints(self) -> Path:
        """The checkpoint folder (``checkpoint_dir`` or ``<model without .zip>.ckpt``)."""
        if self.checkpoint_dir is not None:
            return self.checkpoint_dir
        return self._beside_model(".ckpt")

    def _beside_model(self, suffix: str) -> Path:
        path = self.model_path
        return path.with_name(path.name.removesuffix(".zip") + suffix)

    def given_hyperparameters(self) -> dict[str, Any]:
        """The algorithm hyper-parameters set explicitly (not ``None``)."""
        values = {name: getattr(self, name) for name in _APPLIES_TO}
        return {name: value for name, value in values.items() if value is not None}

    def hyperparameters(self) -> dict[str, Any]:
        """Keyword arguments for the SB3 constructor of ``algo``, ``None`` fields resolved.

        Returns:
            ``learning_rate``, ``gamma`` and the settings ``algo`` uses (see each field's
            help for the default and why).
        """
        night = self.env.night_length
        course = self.env.days * night
        given = self.given_hyperparameters()
        gamma = given.get("gamma", 1.0 - 1.0 / night if night > 1 else 0.0)
        sb3 = SB3_DEFAULTS.get(self.algo) or (
            SB3_DEFAULTS["ppo"] if self.algo in PPO_FAMILY else {}
        )
        if self.algo in PPO_FAMILY:
            n_steps = given.get("n_steps", night)
            defaults: dict[str, Any] = {
                "learning_rate": sb3["learning_rate"],
                "n_steps": n_steps,
                "batch_size": _divisor_batch(n_steps * self.n_envs),
                "n_epochs": sb3["n_epochs"],
                "ent_coef": ENT_COEF,
            }
        elif self.algo == "a2c":
            defaults = {
                "learning_rate": sb3["learning_rate"],
                "n_steps": A2C_N_STEPS,
                "ent_coef": ENT_COEF,
            }
        elif self.algo == "dqn":
            defaults = {
                "learning_rate": DQN_LEARNING_RATE,
                "batch_size": sb3["batch_size"],
                "buffer_size": BUFFER_COURSES * course,
                "learning_starts": night,
                "train_freq": DQN_TRAIN_FREQ,
                "target_update_interval": night,
                "exploration_fraction": DQN_EXPLORATION_FRACTION,
            }
        else:
            raise ValueError(f"algo must be one of {list(ALGORITHM_NAMES)}, got {self.algo!r}")
        resolved = {key: given.get(key, value) for key, value in defaults.items()}
        return {**resolved, "gamma": gamma}

    def validate(self) -> None:
        """Check every argument.

        Raises:
            ValueError: naming the first bad field and why; also an algorithm that ignores action
                masks (ppo, a2c, dqn) on a scenario that masks them (use maskable-ppo).
            FileExistsError: ``out`` exists and neither ``overwrite`` nor ``resume`` (the same
                file) allows replacing it, or the checkpoint folder holds another run's
                checkpoints.
        """
        algorithm_class(self.algo)  # a known name whose package is installed
        if not isinstance(self.preset, str) or not self.preset or "/" in self.preset:
            raise ValueError(f"preset must be a preset name, got {self.preset!r}")
        if self.total_timesteps is not None and self.total_timesteps < 1:
            raise ValueError(f"total_timesteps must be at least 1, got {self.total_timesteps}")
        if self.n_envs < 1:
            raise ValueError(f"n_envs must be at least 1, got {self.n_envs}")
        if self.vec_env not in ("dummy", "subproc"):
            raise ValueError(f"vec_env must be 'dummy' or 'subproc', got {self.vec_env!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")
        if self.checkpoint_every < 0:
            raise ValueError(
                f"checkpoint_every must be 0 (off) or positive, got {self.checkpoint_every}"
            )
        if self.keep_checkpoints < 1:
            raise ValueError(f"keep_checkpoints must be at least 1, got {self.keep_checkpoints}")
        self.env.validate()
        self._validate_action_masks()
        self._validate_hyperparameters()
        self._validate_paths()

    def _validate_action_masks(self) -> None:
        """Refuse an algorithm that ignores action masks on a course that masks actions."""
        if self.algo in MASKABLE or not masks_actions(self.env):
            return
        raise ValueError(
            f"algo {self.algo!r} cannot train on scenario {self.env.scenario!r}: its nights "
            "allow only the classes seen so far (env.action_masks()), the environment refuses "
            f"any other class, and {self.algo} does not read the mask; use --algo maskable-ppo "
            "(sb3-contrib's MaskablePPO, which chooses among the valid classes; pip install -e "
            '".[sb3]")'
        )

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
        if self.algo in PPO_FAMILY and self.resume is None:
            params = self.hyperparameters()
            if params["n_steps"] * self.n_envs < 2:
                raise ValueError(
                    f"n_steps * n_envs must be at least 2 for {self.algo} (advantages are "
                    f"normalised per rollout), got {params['n_steps']} * {self.n_envs}"
                )
            if params["batch_size"] < 2:
                raise ValueError(
                    f"batch_size must be at least 2 for {self.algo}, got {params['batch_size']}"
                )

    def resumes_own_run(self) -> bool:
        """True when ``resume`` is ``out`` itself or lies in this run's checkpoint folder."""
        if self.resume is None or not self.resume.exists():
            return False
        resume = self.resume.resolve()
        own = [self.model_path.resolve(), self.checkpoints.resolve()]
        return resume in own or resume.parent == own[1]

    def _validate_paths(self) -> None:
        path = self.model_path
        if path.suffix != ".zip":
            raise ValueError(f"out must be a .zip file (Stable-Baselines3's format), got {path}")
        if path.is_dir():
            raise ValueError(f"out {path} is a folder; give the model's .zip file name")
        if self.resume is not None and not self.resume.exists():
            raise ValueError(
                f"resume: no saved model or checkpoint folder at {self.resume}"
            )
        if path.exists() and not (self.overwrite or self.resumes_own_run()):
            raise FileExistsError(
                f"out {path} already exists; pass --overwrite to replace it or choose --out"
            )
        check_writable(path, f"out {path}")
        if self.tensorboard_dir.exists() and not self.tensorboard_dir.is_dir():
            raise ValueError(f"tensorboard {self.tensorboard_dir} is a file, not a folder")
        check_writable(self.tensorboard_dir, f"tensorboard {self.tensorboard_dir}")
        folder = self.checkpoints
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"checkpoint_dir {folder} is a file, not a folder")
        if self.checkpoint_every:
            check_writable(folder, f"checkpoint_dir {folder}")
        earlier = sorted(p.name for p in folder.glob(f"{CHECKPOINT_PREFIX}*")) if (
            self.checkpoint_every and folder.is_dir()
        ) else []
        if earlier and not (self.overwrite or self.resumes_own_run()):
            raise FileExistsError(
                f"checkpoint_dir {folder} holds checkpoints of an earlier run "
                f"({', '.join(earlier)}); resume it with --resume {folder}, pass --overwrite to "
                "clear them, or choose --checkpoint-dir"
            )


def _divisor_batch(rollout: int, largest: int = PPO_LARGEST_BATCH, smallest: int = 8) -> int:
    """The largest divisor of ``rollout`` up to ``largest``.

    ``min(largest, rollout)`` when that divisor is under ``smallest`` (then SB3 trains one
    truncated minibatch per epoch).
    """
    best = max(d for d in range(1, min(largest, rollout) + 1) if rollout % d == 0)
    return best if best >= smallest else min(largest, rollout)
