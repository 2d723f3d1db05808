"""One runner for every condition and selector: seeds in, a run directory of comparable results out.

A run directory holds ``config.json`` (resolved settings), ``results.jsonl`` (one line per seed
and day), ``steps.jsonl`` (one line per replay step), ``summary.json`` and TensorBoard events
under ``tb/seed_N``. It is written under ``DIR.partial`` and renamed to ``DIR`` only when every
seed has finished, so a crash never leaves a run that looks complete.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TextIO

import gymnasium as gym
import numpy as np
import tyro
from tqdm import tqdm

from replay_gym.conditions import FIXED_CONDITIONS, make_fixed_env
from replay_gym.config import EnvConfig, config_to_dict, preset
from replay_gym.data import load_dataset
from replay_gym.metrics import standard_error
from replay_gym.run_logger import RunLogger
from replay_gym.validation import check_fields

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
    """Base configuration: default (embedded data, CPU), smoke (tiny), paper."""
    seeds: int = 1
    """Number of courses, with seeds first_seed, first_seed + 1, ..."""
    first_seed: int = 0
    """Seed of the first course."""
    out: Path | None = None
    """Run directory (a path or a string); default runs/<condition>-<preset>."""
    overwrite: bool = False
    """Replace an existing run directory (only once the new run has finished)."""
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
        return (
            self.out if self.out is not None else Path("runs") / f"{self.condition}-{self.preset}"
        )

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
        self.env_config.validate()


def agent_kwargs(raw: dict[str, str]) -> dict[str, Any]:
    """CLI strings to Python values: JSON where it parses (numbers, booleans), else the string."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def prepare_run_dir(run_dir: Path, overwrite: bool) -> Path:
    """Check ``run_dir`` may receive a run and return the staging folder to write into."""
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(f"--out {run_dir} is a file, not a run directory")
    if run_dir.is_dir() and any(run_dir.iterdir()) and not overwrite:
        what = "another run" if (run_dir / "config.json").exists() else "other files"
        raise FileExistsError(
            f"{run_dir} already holds {what}; pass --overwrite to replace it or choose --out"
        )
    staging = run_dir.with_name(run_dir.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)  # left by an earlier run that failed; never a finished result
    staging.mkdir(parents=True)
    return staging


def finish_run_dir(staging: Path, run_dir: Path) -> None:
    """Move a finished run into place (replacing an old one only now, when asked)."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    staging.rename(run_dir)


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


def run(args: RunArgs, *, stream: TextIO | None = None) -> list[dict[str, Any]]:
    """Run every seed of ``args`` and return the per-day records (also in results.jsonl)."""
    args.validate()
    stream = stream or sys.stdout
    staging = prepare_run_dir(args.run_dir, args.overwrite)
    try:
        records = _run_all(args, staging, stream)
    except BaseException:
        print(f"run failed; incomplete output left in {staging}", file=sys.stderr)
        raise
    finish_run_dir(staging, args.run_dir)
    print(f"results in {args.run_dir}", file=stream)
    return records


def _run_all(args: RunArgs, staging: Path, stream: TextIO) -> list[dict[str, Any]]:
    config_json = {
        "condition": args.condition,
        "preset": args.preset,
        "seeds": args.seed_list,
        "agent": agent_kwargs(args.agent),
        "model": str(args.model) if args.model else None,
        "env": config_to_dict(args.env_config),
    }
    (staging / "config.json").write_text(json.dumps(config_json, indent=2))
    env = args.env_config
    steps_per_course = env.days * (1 if args.condition == "none" else env.night_length)
    records: list[dict[str, Any]] = []
    with (
        open(staging / "results.jsonl", "w") as results,
        open(staging / "steps.jsonl", "w") as steps,
        tqdm(
            total=args.seeds * steps_per_course,
            disable=not args.progress,
            file=stream,
            desc=f"{args.condition} ({args.preset})",
            unit="step",
            dynamic_ncols=True,
        ) as bar,
    ):
        for seed in args.seed_list:
            logger = RunLogger(staging / "tb" / f"seed_{seed}", config_json)
            try:
                course = run_course(
                    args,
                    seed,
                    logger,
                    on_step=lambda rec: steps.write(json.dumps(rec) + "\n"),
                    on_tick=lambda: bar.update(1),
                    on_day=lambda rec: (
                        results.write(json.dumps(rec) + "\n"),
                        args.progress and bar.write(_day_line(rec), file=stream),
                    ),
                )
            finally:
                logger.close()
            records.extend(course)
    names = list(load_dataset(env.data, env.learner.input_size).class_names)
    summary = summarise(records, names)
    (staging / "summary.json").write_text(json.dumps(summary, indent=2))
    if args.progress:
        print(replay_table(summary), file=stream)
    return records


def run_course(
    args: RunArgs,
    seed: int,
    logger: RunLogger,
    on_step: Callable[[dict], Any] = lambda rec: None,
    on_day: Callable[[dict], Any] = lambda rec: None,
    on_tick: Callable[[], Any] = lambda: None,
) -> list[dict[str, Any]]:
    """One seeded course; per-day records, each with the night that followed the day.

    ``on_step`` gets every replay step, ``on_day`` every finished day-and-night, ``on_tick``
    every env step (a ``none`` step ends a night without replay: a tick, no replay step).
    """
    env, selector = build(args, seed)
    names = list(env.unwrapped.data.class_names)
    try:
        obs, info = env.reset(seed=seed)
        if selector is not None:
            rng = np.random.default_rng(np.random.SeedSequence([seed, 0xA6E27]))
            selector.begin_episode(env, obs, info, rng)
        day = _open_day(args.condition, seed, info["day_end"])
        started = time.perf_counter()
        records: list[dict[str, Any]] = []
        replay_steps = 0
        while True:
            action = 0 if selector is None else int(selector.select(obs, info))
            obs, reward, terminated, truncated, info = env.step(action)
            if selector is not None:
                selector.observe(action, reward, obs, info)
            on_tick()
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
                preferences = None if selector is None else selector.preferences()
                logger.day(day, names, preferences)
                on_day(day)
                records.append(day)
                if "day_end" in info:
                    day = _open_day(args.condition, seed, info["day_end"])
                    started = time.perf_counter()
            if terminated or truncated:
                return records
    finally:
        env.close()


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


def _close_day(day: dict[str, Any], night: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The day's record once its night is over (test accuracy is after the night)."""
    return {
        **day,
        "test_accuracy": night["test_accuracy"],
        "test_class_accuracy": _floats(night["test_class_accuracy"]),
        "val_accuracy": night["val_accuracy"],
        "val_class_accuracy": _floats(night["class_accuracy"]),
        "chi2_after_night": night["chi2"],
        "replay_counts": [int(c) for c in night["replay_counts"]],
        "wall_time": round(seconds, 3),
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
    }


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
    return "\n".join(lines)
