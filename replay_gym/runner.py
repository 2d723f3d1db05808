"""One runner for every condition and selector: seeds in, a run directory of comparable results out.

A run directory holds ``config.json`` (resolved settings, package versions, git commit),
``results.jsonl`` (one line per seed and day), ``steps.jsonl`` (one line per replay step),
``summary.json`` and TensorBoard events under ``tb/seed_N``. It is written under ``DIR.partial``
and renamed to ``DIR`` only when every seed has finished, so a crash never leaves a run that
looks complete; checkpoints let ``--resume DIR`` continue it exactly (:mod:`replay_gym.rundir`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import signal
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TextIO

import gymnasium as gym
import numpy as np
import torch
import tyro

from replay_gym.conditions import FIXED_CONDITIONS, make_fixed_env
from replay_gym.config import EnvConfig, config_from_dict, config_to_dict, preset
from replay_gym.data import load_dataset
from replay_gym.metrics import standard_error
from replay_gym.progress import ProgressBar, WorkEstimate, course_work
from replay_gym.provenance import git_commit, machine, package_versions
from replay_gym.run_logger import RunLogger
from replay_gym.rundir import (
    RunDir,
    RunFailed,
    RunInterrupted,
    StopRequested,
    StopSignals,
    read_config,
)
from replay_gym.scenarios import make_scenario
from replay_gym.validation import check_fields
from replay_gym.wrappers import FixedSchedule

SB3_CONDITION = "sb3"


def selector_names() -> list[str]:
    """Names of the registered selectors (the paper's agent, bandits, heuristics, oracle)."""
    from replay_gym.agents import SELECTORS

    return sorted(SELECTORS)


def condition_names() -> list[str]:
    """Every name ``--condition`` accepts."""
    return sorted(FIXED_CONDITIONS) + selector_names() + [SB3_CONDITION]


@dataclass(frozen=True)
class RunArgs:
    """Run a replay condition or selector for several seeds and record comparable results."""

    condition: str = "regression"
    """Fixed schedules: none, generative, round-robin, veridical, continuous. Selectors:
    regression (the paper's side network), exp3s, ucb1, thompson, epsilon-greedy, weakest,
    random, oracle (privileged ceiling), sb3 (needs --model), or any registered selector."""
    preset: str = "default"
    """Base configuration: default (embedded data, CPU), smoke (tiny), fashion-mnist (real
    images, needs the data), class-incremental, class-incremental-frozen,
    fashion-mnist-class-incremental,
    fashion-mnist-class-incremental-frozen, paper."""
    seeds: int = 1
    """Number of courses, with seeds first_seed, first_seed + 1, ..."""
    first_seed: int = 0
    """Seed of the first course."""
    out: Path | None = None
    """Run directory (a path or a string); default runs/<condition>-<preset>."""
    overwrite: bool = False
    """Replace an existing run directory (only once the new run has finished), or discard an
    interrupted one."""
    resume: Path | None = None
    """Continue the interrupted run of this run directory (its --out) from its last checkpoint;
    its settings are the defaults, and any flag that changes them is refused."""
    threads: int | None = None
    """Torch intra-op threads; default: the cores available to this process (when resuming: the
    run's own). Recorded in config.json."""
    model: Path | None = None
    """Saved Stable-Baselines3 model (.zip) for --condition sb3."""
    agent: dict[str, str] = field(default_factory=dict)
    """Selector constructor arguments, e.g. --agent temperature 0.5 (values parsed as JSON)."""
    env: Annotated[EnvConfig | None, tyro.conf.AvoidSubcommands] = None
    """Environment settings (defaults come from --preset). None: the preset's; read the
    resolved settings from ``env_config``."""
    progress: bool = True
    """Show a progress bar and per-day lines."""

    def __post_init__(self) -> None:
        check_fields(self)  # types, and paths given as strings become Paths
        preset(self.preset)  # an unknown preset is refused now, with the names

    @property
    def env_config(self) -> EnvConfig:
        """The environment's settings: ``env`` when given, else the preset's."""
        return self.env if self.env is not None else preset(self.preset)

    @property
    def seed_list(self) -> list[int]:
        """The seeds of the courses: first_seed, first_seed + 1, ..."""
        return [self.first_seed + i for i in range(self.seeds)]

    @property
    def run_dir(self) -> Path:
        """Where results land."""
        if self.out is not None:
            return Path(self.out)
        if self.resume is not None:
            return Path(self.resume)
        return Path("runs") / f"{self.condition}-{self.preset}"

    @classmethod
    def resuming(cls, run_dir: Path | str, **changes: Any) -> RunArgs:
        """The arguments of the interrupted run of ``run_dir``, set to resume it.

        Args:
            run_dir: The run directory (the ``--out`` of the interrupted run).
            **changes: Fields to set on top (``progress=False``, say); a setting of the run
                that differs is refused when the run starts.

        Raises:
            FileNotFoundError: If ``run_dir`` holds no interrupted run.
            ValueError: If its config.json cannot be read.
        """
        run_dir = Path(run_dir)
        config = read_config(run_dir)
        try:
            seeds = [int(s) for s in config["seeds"]]
            args = cls(
                condition=config["condition"],
                preset=config["preset"],
                seeds=len(seeds),
                first_seed=seeds[0],
                out=run_dir,
                model=None if config["model"] is None else Path(config["model"]),
                agent={k: v if isinstance(v, str) else json.dumps(v)
                       for k, v in config["agent"].items()},
                env=config_from_dict(config["env"]),
                resume=run_dir,
            )
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise ValueError(
                f"cannot resume {run_dir}: its config.json is not a run's configuration "
                f"({type(error).__name__}: {error})"
            ) from error
        return dataclasses.replace(args, **changes)

    @property
    def torch_threads(self) -> int:
        """``threads``, or the number of cores this process may run on."""
        return self.threads if self.threads is not None else available_cores()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad argument."""
        names = condition_names()
        if self.condition not in names:
            raise ValueError(f"unknown condition {self.condition!r}; choose one of {names}")
        if self.seeds < 1:
            raise ValueError(f"seeds must be at least 1, got {self.seeds}")
        if self.condition == SB3_CONDITION and self.model is None:
            raise ValueError("--condition sb3 needs --model PATH (a model saved by train-sb3)")
        if self.model is not None and not self.model.is_file():
            raise ValueError(f"--model {self.model}: no such file (save one with train-sb3)")
        if self.condition != SB3_CONDITION and self.model is not None:
            raise ValueError(f"--model is only used with --condition sb3, not {self.condition!r}")
        if self.agent and self.condition in FIXED_CONDITIONS:
            raise ValueError(
                f"--agent arguments do not apply to fixed condition {self.condition!r}"
            )
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise ValueError(f"--threads must be a positive integer, got {self.threads!r}")
        if self.resume is not None:
            if self.overwrite:
                raise ValueError("--resume continues a run and --overwrite discards it: pick one")
            if self.out is not None and Path(self.out) != Path(self.resume):
                raise ValueError(
                    f"--resume {self.resume} continues the run in that directory; --out "
                    f"{self.out} names another (leave --out out)"
                )
        self.env_config.validate()


def available_cores() -> int:
    """The number of CPU cores this process may run on (its affinity mask where known)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def agent_kwargs(raw: dict[str, str]) -> dict[str, Any]:
    """CLI strings to Python values: JSON where it parses (numbers, booleans), else the string."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def selector_rng(seed: int) -> np.random.Generator:
    """The generator a course's selector gets at ``begin_episode``, from the course's seed.

    Apart from the environment's streams; public so that an analysis can redraw what a selector
    drew (``benchmarks/paper/regression_init.py``).
    """
    return np.random.default_rng(np.random.SeedSequence([seed, 0xA6E27]))


def build(args: RunArgs, seed: int) -> tuple[gym.Env, Any]:
    """The environment and selector (None for a fixed schedule) of one course."""
    if args.condition in FIXED_CONDITIONS:
        return make_fixed_env(args.condition, args.env_config), None
    env = gym.make("ReplaySelect-v0", config=args.env_config)
    if args.condition == SB3_CONDITION:
        from replay_gym.agents.sb3 import SB3Selector

        return env, SB3Selector(args.model, env)
    from replay_gym.agents import make_selector

    return env, make_selector(args.condition, **agent_kwargs(args.agent))


def run_config(args: RunArgs) -> dict[str, Any]:
    """The ``config.json`` of ``args``' run: settings, threads, versions, git commit, processor."""
    return {
        "condition": args.condition,
        "preset": args.preset,
        "seeds": args.seed_list,
        "agent": agent_kwargs(args.agent),
        "model": str(args.model) if args.model else None,
        "model_sha256": _sha256(args.model) if args.model else None,
        "env": config_to_dict(args.env_config),
        "threads": args.torch_threads,
        "versions": package_versions(),
        "git": git_commit(),
        "machine": machine(),
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run(args: RunArgs, *, stream: TextIO | None = None) -> list[dict[str, Any]]:
    """Run every seed of ``args`` and return the per-day records (also in results.jsonl).

    With ``args.resume`` the interrupted run in that directory continues from its last
    checkpoint; the finished run equals an uninterrupted one (wall times apart).

    Raises:
        ValueError, FileExistsError, FileNotFoundError: A bad argument or run directory
            (refused before any work).
        RunInterrupted: SIGINT or SIGTERM stopped the run; a checkpoint was written and the
            message says how to resume.
        RunFailed: An operating-system error (a full disk, say) stopped the run after a
            checkpoint; the message says how to resume from it.
    """
    args.validate()
    stream = stream or sys.stdout
    config = run_config(args)
    if args.resume is not None:
        rundir = RunDir.resume(args.run_dir, config)
        # The settings passed describe the same course as the run's (RunDir.resume checked it,
        # up to settings added since and down-sampling of blocks not replayed from); the course
        # goes on with the run's own, which its saved state was made with.
        args = dataclasses.replace(args, env=config_from_dict(rundir.config["env"]))
    else:
        rundir = RunDir.create(args.run_dir, config, args.overwrite)
    threads = torch.get_num_threads()
    if args.threads is not None and args.threads != rundir.config["threads"]:
        warnings.warn(
            f"resuming {args.run_dir} with --threads {args.threads}; it ran with "
            f"{rundir.config['threads']}, and the numbers may differ slightly from an "
            "uninterrupted run",
            stacklevel=2,
        )
    torch.set_num_threads(args.threads or rundir.config["threads"])
    stop = StopSignals()
    try:
        with stop:
            records = _run_all(args, rundir, stream, stop.requested)
        summary = summarise(records, _class_names(args))
        rundir.finish(summary)
    except StopRequested as where:
        rundir.close()
        signum = stop.signum or signal.SIGINT
        raise RunInterrupted.at(signum, str(where), "checkpoint written", rundir.command) from None
    except BaseException as error:
        hint = rundir.abandon()
        if hint is None:  # nothing was checkpointed, and nothing is left behind
            raise
        if isinstance(error, OSError):
            raise RunFailed(f"run failed: {error}; {hint}") from error
        print(hint, file=sys.stderr)
        raise
    finally:
        torch.set_num_threads(threads)
    if args.progress:
        print(replay_table(summary), file=stream)
    print(f"results in {args.run_dir}", file=stream)
    return records


def _class_names(args: RunArgs) -> list[str]:
    return list(load_dataset(args.env_config.data, args.env_config.learner.input_size).class_names)


def _run_all(
    args: RunArgs, rundir: RunDir, stream: TextIO, should_stop: Callable[[], bool]
) -> list[dict[str, Any]]:
    """Every remaining course of the run; all the run's records (earlier attempts' included)."""
    checkpoint = rundir.checkpoint
    first = checkpoint["run"]["seed_index"] if checkpoint else 0
    saved_course = checkpoint["course"] if checkpoint else None
    records = rundir.results.records()
    seeds = args.seed_list
    progress = ProgressBar(
        _work_left(args, len(seeds) - first, saved_course),
        stream,
        f"{args.condition} ({args.preset})",
        disable=not args.progress,
    )
    try:
        for index in range(first, len(seeds)):
            seed = seeds[index]
            saved = saved_course if index == first else None
            log_dir = rundir.staging / "tb" / f"seed_{seed}"
            if saved is None:
                shutil.rmtree(log_dir, ignore_errors=True)  # an earlier attempt's, if any
            resume_step = saved["replay_steps"] + 1 if saved and saved["replay_steps"] else None
            logger = RunLogger(log_dir, rundir.config, resume_step)

            def on_day(rec: dict[str, Any]) -> None:
                rundir.results.append(rec)
                if args.progress:
                    progress.write(_day_line(rec))

            try:
                course = run_course(
                    args,
                    seed,
                    logger,
                    on_step=rundir.steps.append,
                    on_tick=progress.tick,
                    on_day=on_day,
                    saved=saved,
                    checkpoint=lambda state, i=index: rundir.save_checkpoint(
                        {"seed_index": i}, state
                    ),
                    should_stop=should_stop,
                    earlier=[r for r in records if r["seed"] == seed] if saved else [],
                )
            finally:
                logger.close()
            records.extend(course)
            rundir.save_checkpoint({"seed_index": index + 1}, None)
            if should_stop() and index + 1 < len(seeds):
                raise StopRequested(f"the end of seed {seed}")
    finally:
        progress.close()
    return records


def _work_left(args: RunArgs, courses: int, saved: dict[str, Any] | None) -> WorkEstimate:
    """The days and night steps still to run: ``courses`` courses, the first maybe begun."""
    replay = args.condition != "none"
    nights = make_scenario(args.env_config).night_lengths()
    days, steps = course_work(args.env_config.days, nights, replay=replay)
    days_left, steps_left = courses * days, courses * steps
    if saved is not None:  # the first course is under way: day d open, k steps into its night
        done_days = saved["day"]["day"]
        done = nights[: done_days - 1] if replay else [1] * (done_days - 1)
        days_left -= done_days
        steps_left -= sum(done) - (done_days - 1) + saved["info"]["night_step"]
    return WorkEstimate(days_left, steps_left)


def run_course(
    args: RunArgs,
    seed: int,
    logger: RunLogger,
    on_step: Callable[[dict], Any] = lambda rec: None,
    on_day: Callable[[dict], Any] = lambda rec: None,
    on_tick: Callable[[bool, float], Any] = lambda day, seconds: None,
    *,
    saved: dict[str, Any] | None = None,
    checkpoint: Callable[[dict[str, Any]], Any] = lambda state: None,
    should_stop: Callable[[], bool] = lambda: False,
    earlier: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One seeded course; per-day records, each with the night that followed the day.

    ``on_step`` gets every replay step, ``on_day`` every finished day-and-night, ``on_tick``
    every unit of work (``day``: whether it trained a day, and its seconds; a ``none`` step ends
    a night without replay: a tick, no replay step). ``checkpoint`` gets the course's state (a
    state tree) after day 1, before each night's last step, after each night (whose last step
    also trains the next day) and when ``should_stop()`` turns true, after which
    :class:`~replay_gym.rundir.StopRequested` is raised. ``saved``: a state ``checkpoint`` got,
    to continue from instead of starting the course; ``earlier``: the records of its days
    before that checkpoint (the scenario's course summary reads the whole course).
    """
    env, selector = build(args, seed)
    schedule = env if isinstance(env, FixedSchedule) else None
    names = list(env.unwrapped.data.class_names)
    scenario = env.unwrapped.scenario
    try:
        tick = time.perf_counter()
        if saved is None:
            obs, info = env.reset(seed=seed)
            if selector is not None:
                selector.begin_episode(env, obs, info, selector_rng(seed))
            day, replay_steps = _open_day(args.condition, seed, info["day_end"]), 0
            started = time.perf_counter()
            on_tick(True, started - tick)
        else:
            obs, info, day, replay_steps = _restore_course(env, schedule, selector, saved)
            started = time.perf_counter() - saved["day_seconds"]

        def state() -> dict[str, Any]:
            return {
                "obs": obs, "info": info, "day": day, "replay_steps": replay_steps,
                "day_seconds": time.perf_counter() - started,
                "env": env.unwrapped.state_dict(),
                "schedule": None if schedule is None else schedule.schedule_state(),
                "selector": None if selector is None else selector.state_dict(),
            }

        if saved is None:
            checkpoint(state())
        checkpointed = True  # the state now is the last checkpoint's
        records: list[dict[str, Any]] = []
        while True:
            if should_stop():
                if not checkpointed:
                    checkpoint(state())
                raise StopRequested(
                    f"seed {seed}, day {day['day']}, night step {info['night_step']}"
                )
            tick = time.perf_counter()
            action = 0 if selector is None else int(selector.select(obs, info))
            obs, reward, terminated, truncated, info = env.step(action)
            if selector is not None:
                selector.observe(action, reward, obs, info)
            night = info.get("night_end")
            if night is None or night["steps"] > day["night_steps"]:
                replay_steps += 1
                day["night_steps"] += 1
                day["reward_sum"] += reward
                step = {
                    "seed": seed,
                    "day": day["day"],
                    "night_step": day["night_steps"],
                    "action": info.get("action", None if selector is None else action),
                    "reward": reward,
                    "chi2": info["chi2"] if night is None else night["chi2"],
                }
                logger.step(replay_steps, step)
                on_step(step)
            if night is not None:
                day = _close_day(day, night, time.perf_counter() - started)
                if terminated:
                    day.update(scenario.course_summary([*(earlier or []), *records, day]))
                preferences = None if selector is None else selector.preferences()
                logger.day(day, names, preferences)
                on_day(day)
                records.append(day)
                if "day_end" in info:
                    day = _open_day(args.condition, seed, info["day_end"])
                    started = time.perf_counter()
            on_tick("day_end" in info, time.perf_counter() - tick)
            if terminated or truncated:
                return records
            checkpointed = (
                night is not None or info["night_step"] == env.unwrapped.night_length - 1
            )
            if checkpointed:
                checkpoint(state())
    finally:
        env.close()


def _restore_course(
    env: gym.Env, schedule: FixedSchedule | None, selector: Any, saved: dict[str, Any]
) -> tuple[np.ndarray, dict[str, Any], dict[str, Any], int]:
    """Put ``env`` (and its schedule and selector) back into a checkpointed course's state.

    Returns:
        The observation and info of the step before the checkpoint, the open day's record and
        the number of replay steps so far.
    """
    env.reset(options={"state": saved["env"]})
    if schedule is not None:
        schedule.load_schedule_state(saved["schedule"])
    if selector is not None:
        selector.load_state_dict(saved["selector"], env)
    return saved["obs"], saved["info"], saved["day"], int(saved["replay_steps"])


def _open_day(condition: str, seed: int, day_end: dict[str, Any]) -> dict[str, Any]:
    return {
        "condition": condition,
        "seed": seed,
        "day": day_end["day"],
        "real_images": bool(day_end["real_images"]),
        "day_loss": day_end["loss"],
        "chi2_after_day": day_end["chi2"],
        "test_accuracy_after_day": day_end["test_accuracy"],
        "test_class_accuracy_after_day": _floats(day_end["test_class_accuracy"]),
        "night_steps": 0,
        "reward_sum": 0.0,
    }


NIGHT_KEYS = frozenset(
    ("day", "steps", "replay_counts", "chi2", "class_accuracy", "val_accuracy",
     "test_accuracy", "test_class_accuracy")
)
"""The entries every night summary has; any other entry is the scenario's, copied as it is."""


def _close_day(day: dict[str, Any], night: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The day's record once its night is over (test accuracy is after the night).

    The scenario's own entries of the night summary (e.g. class-incremental's ``task`` and
    ``task_test_accuracy``) come last.
    """
    return {
        **day,
        "test_accuracy": night["test_accuracy"],
        "test_class_accuracy": _floats(night["test_class_accuracy"]),
        "val_accuracy": night["val_accuracy"],
        "val_class_accuracy": _floats(night["class_accuracy"]),
        "chi2_after_night": night["chi2"],
        "replay_counts": [int(c) for c in night["replay_counts"]],
        "wall_time": round(seconds, 3),
        **{key: value for key, value in night.items() if key not in NIGHT_KEYS},
    }


def _floats(values: Any) -> list[float]:
    return [float(v) for v in values]


def _day_line(rec: dict[str, Any]) -> str:
    return (
        f"seed {rec['seed']} day {rec['day']:>2}: test accuracy {rec['test_accuracy']:.3f} "
        f"(after day {rec['test_accuracy_after_day']:.3f}), validation "
        f"{rec['val_accuracy']:.3f}, night reward {rec['reward_sum']:+.1f} "
        f"over {rec['night_steps']} steps"
    )


def summarise(records: list[dict[str, Any]], class_names: list[str]) -> dict[str, Any]:
    """Final accuracy per seed; per class, replays beside accuracy on day 1 and at the end.

    Day 1's accuracy is given twice, named by when it was measured: after day 1's training and
    before its night (``..._after_day1_before_night``, the paper's Fig. 3C/D x-axis), and after
    night 1 (``..._after_night1``).
    """
    seeds = sorted({r["seed"] for r in records})
    last = {s: max((r for r in records if r["seed"] == s), key=lambda r: r["day"]) for s in seeds}
    first = {s: min((r for r in records if r["seed"] == s), key=lambda r: r["day"]) for s in seeds}
    counts = np.mean(
        [np.sum([r["replay_counts"] for r in records if r["seed"] == s], axis=0) for s in seeds],
        axis=0,
    )
    before_night1 = np.mean([first[s]["test_class_accuracy_after_day"] for s in seeds], axis=0)
    after_night1 = np.mean([first[s]["test_class_accuracy"] for s in seeds], axis=0)
    final = np.mean([last[s]["test_class_accuracy"] for s in seeds], axis=0)
    finals = [last[s]["test_accuracy"] for s in seeds]
    continual = continual_summary(records)
    return {
        "condition": records[0]["condition"],
        "seeds": seeds,
        "days": int(last[seeds[0]]["day"]),
        "final_test_accuracy": finals,
        "final_test_accuracy_mean": float(np.mean(finals)),
        "final_test_accuracy_sem": standard_error(finals),
        "test_accuracy_after_day1_before_night": [
            first[s]["test_accuracy_after_day"] for s in seeds
        ],
        "test_accuracy_after_night1": [first[s]["test_accuracy"] for s in seeds],
        "classes": [
            {
                "class": class_names[c],
                "replayed_samples_per_course": float(counts[c]),
                "test_accuracy_after_day1_before_night": float(before_night1[c]),
                "test_accuracy_after_night1": float(after_night1[c]),
                "final_test_accuracy": float(final[c]),
            }
            for c in range(len(counts))
        ],
        **({} if continual is None else {"continual": continual}),
    }


def continual_summary(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Class-incremental results over seeds; None when the records have none (paper scenario).

    From the last record of each seed's course (see
    :meth:`~replay_gym.scenarios.ClassIncrementalScenario.course_summary`): each course
    measure (``acc``, ``bwt``, ``forgetting``, ``first_20pct_accuracy``,
    ``first_50pct_accuracy``) per seed with its mean and standard error; the accuracy matrix
    averaged over seeds; and each task's test accuracy after every day's night (mean over
    seeds), whose first row is the first task's accuracy over time.
    """
    seeds = sorted({r["seed"] for r in records})
    rows = {s: sorted((r for r in records if r["seed"] == s), key=lambda r: r["day"])
            for s in seeds}
    if any("accuracy_matrix" not in rows[s][-1] for s in seeds):
        return None
    lasts = [rows[s][-1] for s in seeds]
    measures = [k for k in lasts[0] if k in ("acc", "bwt", "forgetting")
                or (k.startswith("first_") and k.endswith("pct_accuracy"))]
    out: dict[str, Any] = {}
    for key in measures:
        values = [last[key] for last in lasts]
        present = [v for v in values if v is not None]
        out[key] = values
        out[f"{key}_mean"] = float(np.mean(present)) if present else None
        out[f"{key}_sem"] = standard_error(present) if present else None
    out["accuracy_matrix_mean"] = _mean_nested([last["accuracy_matrix"] for last in lasts])
    by_day = _mean_nested([[r["task_test_accuracy"] for r in rows[s]] for s in seeds])
    out["days"] = [int(r["day"]) for r in rows[seeds[0]]]
    out["task_test_accuracy_by_day"] = [list(column) for column in zip(*by_day, strict=True)]
    return out


def _mean_nested(values: list[list[list[float | None]]]) -> list[list[float | None]]:
    """Elementwise mean over the first axis of equally shaped nested lists; None stays None."""
    array = np.array([[[np.nan if v is None else v for v in row] for row in m] for m in values])
    mean = array.mean(axis=0)
    return [[None if np.isnan(v) else float(v) for v in row] for row in mean]


def replay_table(summary: dict[str, Any]) -> str:
    """Each class's replay count beside its accuracy after day 1 (the paper's Fig. 3C)."""
    lines = [
        f"final test accuracy {summary['final_test_accuracy_mean']:.3f} (seeds {summary['seeds']})",
        "test accuracy after day 1, before its night (the paper's Fig. 3C/D x-axis), and after "
        "night 1:",
        f"{'class':>12}  samples replayed/course  after day 1  after night 1  final test acc",
    ]
    for row in summary["classes"]:
        lines.append(
            f"{row['class']:>12}  {row['replayed_samples_per_course']:>23.1f}  "
            f"{row['test_accuracy_after_day1_before_night']:>11.3f}  "
            f"{row['test_accuracy_after_night1']:>13.3f}  {row['final_test_accuracy']:>14.3f}"
        )
    continual = summary.get("continual")
    if continual is not None:
        lines.append("class-incremental: " + ", ".join(
            f"{key} {continual[key + '_mean']:+.3f}" if key == "bwt" else
            f"{key} {continual[key + '_mean']:.3f}"
            for key in ("acc", "bwt", "forgetting", "first_20pct_accuracy",
                        "first_50pct_accuracy")
            if continual.get(key + "_mean") is not None
        ))
    return "\n".join(lines)
