"""Does the default let the choice of replay matter? The calibration acceptance of issue 8.

Usage:
    python benchmarks/calibration/acceptance.py                       # default preset, seeds 0-4
    python benchmarks/calibration/acceptance.py --split validation --seeds 100 101 \
        --out benchmarks/results/calibration/validation --override adam_eps=3e-3
    python benchmarks/calibration/acceptance.py --preset smoke --days 2 --seeds 0 --out /tmp/acc
    python benchmarks/calibration/acceptance.py --preset fashion-mnist --split validation \
        --seeds 100 101 --out benchmarks/results/calibration_fmnist/validation --courses none generative

Settings are chosen with ``--split validation`` (on seeds kept apart from the reported ones,
``--override`` trying a candidate); the default ``--split test`` only reports. Seeds are fixed up front (default 0-4) and every seed is reported. Each cell is written
as soon as it is done and reused when the script runs again, so a stopped run resumes:

- ``OUT/runs/<condition>/seed_<k>/``: one runner course (none runs ``2 x days`` so that the
  room left after ``days`` can be measured; generative, round-robin, oracle, regression);
- ``OUT/branches/seed_<k>.json``: from the same state after day 1 and after day 5 (reached with
  round-robin nights), one night of none / round-robin / weakest / oracle each, test accuracy
  after it;
- ``OUT/fidelity/seed_<k>.json``: on every day of a round-robin course, the sample fidelity at
  all five layers with the preset's down-sampling
  (:func:`replay_gym.fidelity.fidelity_along_course`).

Then ``OUT/acceptance.json`` and ``OUT/acceptance.md`` hold every criterion with mean ± s.e.m.
over seeds, per-seed values, and whether it is met. ``--courses`` runs only some courses (a
cheaper screen); a criterion that needs a course not run is listed as not run.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from scipy import stats

import replay_gym  # noqa: F401  (registers the env)
from replay_gym.agents import make_selector
from replay_gym.analysis import load_records, run_or_reuse
from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.config import N_BLOCKS, apply_overrides, config_to_dict
from replay_gym.config import preset as preset_config
from replay_gym.envs.replay_select import ReplaySelectionEnv
from replay_gym.fidelity import fidelity_along_course, round_robin_night
from replay_gym.metrics import standard_error
from replay_gym.runner import RunArgs

RESULTS = Path(__file__).resolve().parents[1] / "results" / "calibration"
COURSES = ("none", "generative", "round-robin", "oracle", "regression")
BRANCH_POLICIES = ("none", "round-robin", "weakest", "oracle")


def branch_night(env: ReplaySelectionEnv, policy: str, seed: int, key: str) -> float:
    """``key`` accuracy after one night of ``policy`` on a copy of ``env`` (which is unchanged)."""
    return float(branch_night_end(env, policy, seed)[key])


def branch_night_end(env: ReplaySelectionEnv, policy: str, seed: int) -> dict:
    """``info["night_end"]`` after one night of ``policy`` on a copy of ``env`` (unchanged)."""
    env = copy.deepcopy(env)
    if policy == "none":
        _, _, _, _, info = env.end_night()
        return info["night_end"]
    obs, info = env._observation(), env._info()
    selector = None
    if policy != "round-robin":
        selector = make_selector(policy)
        selector.begin_episode(env, obs, info, np.random.default_rng([seed, 5]))
    for step in range(env.night_length):
        action = step % env.n_classes if selector is None else int(selector.select(obs, info))
        obs, reward, _, _, info = env.step(action)
        if selector is not None:
            selector.observe(action, reward, obs, info)
        if "night_end" in info:
            return info["night_end"]
    raise RuntimeError("the night did not end")


def branches(env_config, seed: int, branch_days: tuple[int, ...], key: str) -> dict:
    """One night of each policy from the same state on some days of a round-robin course."""
    env = ReplaySelectionEnv(env_config)
    env.reset(seed=seed)
    out: dict = {"seed": seed, "branches": {}}
    turn = 0
    while True:
        if env.day in branch_days:
            out["branches"][str(env.day)] = {
                policy: branch_night(env, policy, seed, key) for policy in BRANCH_POLICIES
            }
        if env.day >= max(branch_days):
            return out
        turn, terminated = round_robin_night(env, turn)
        if terminated:
            return out


def fidelity(env_config, seed: int) -> dict:
    """Sample fidelity at every block whose map the preset's factor divides, every day."""
    records = fidelity_along_course(
        env_config, seed, env_config.days,
        lambda layer: (env_config.sampler.downsample[layer - 1],)
        if _layer_fits(env_config, layer) else (),
    )
    return {"seed": seed, "records": records}


def _layer_fits(env_config, layer: int) -> bool:
    try:
        env_config.sampler.validate(env_config.learner, layer)
    except ValueError:
        return False
    return True


def course(out: Path, condition: str, seed: int, env_config, preset: str) -> list[dict]:
    args = RunArgs(
        condition=condition, preset=preset, seeds=1, first_seed=seed,
        out=out / "runs" / condition / f"seed_{seed}", env=env_config, progress=False,
        threads=torch.get_num_threads(),  # as main() set them; run() sets its own otherwise
    )
    return run_or_reuse(args)


def mean_sem(values) -> dict:
    values = [float(v) for v in values]
    return {"mean": float(np.mean(values)), "sem": standard_error(values), "per_seed": values}


def evaluate(
    out: Path,
    seeds: list[int],
    days: int,
    branch_days: tuple[int, ...],
    key: str,
    courses: tuple[str, ...] = COURSES,
) -> dict:
    """Every acceptance criterion from the cells on disk, on the ``key`` accuracy.

    A criterion that needs a course outside ``courses`` is recorded as not run
    (``passed: None``).
    """
    def curve(condition: str, seed: int) -> np.ndarray:
        records = load_records(out / "runs" / condition / f"seed_{seed}")
        return np.array([r[key] for r in sorted(records, key=lambda r: r["day"])])

    def after_day1(seed: int) -> float:
        return float(curve("none", seed)[0])  # a night without replay changes nothing

    branch = {s: json.loads((out / "branches" / f"seed_{s}.json").read_text()) for s in seeds}
    result: dict = {"seeds": seeds, "days": days, "courses": list(courses), "criteria": []}

    def criterion(name: str, values: dict, passed: bool, target: str, extra=None) -> None:
        result["criteria"].append(
            {"criterion": name, "target": target, "passed": bool(passed), **values,
             **(extra or {})}
        )

    def not_run(name: str, target: str, needs: set[str]) -> None:
        result["criteria"].append(
            {"criterion": name, "target": target, "passed": None,
             "not_run": f"needs the course(s) {', '.join(sorted(needs - set(courses)))}"}
        )

    word = "test" if key == "test_accuracy" else "validation"
    first = f"none: {word} accuracy after day 1"
    if "none" in courses:
        none = {s: curve("none", s) for s in seeds}
        d1 = mean_sem(after_day1(s) for s in seeds)
        criterion(first, d1, 0.25 <= d1["mean"] <= 0.45, "0.25-0.45")
        d10 = mean_sem(none[s][days - 1] for s in seeds)
        criterion(f"none: {word} accuracy on day {days}", d10, d10["mean"] <= 0.88, "<= 0.88")
        room = mean_sem(none[s][2 * days - 1] - none[s][days - 1] for s in seeds)
        criterion(f"none: day {2 * days} minus day {days}", room, room["mean"] >= 0.07,
                  ">= 0.07")
    else:
        for name, target in ((first, "0.25-0.45"),
                             (f"none: {word} accuracy on day {days}", "<= 0.88"),
                             (f"none: day {2 * days} minus day {days}", ">= 0.07")):
            not_run(name, target, {"none"})
    fid = {s: json.loads((out / "fidelity" / f"seed_{s}.json").read_text()) for s in seeds}
    ratios = [(r["layer"], r["ratio"]) for s in seeds for r in fid[s]["records"]]
    worst = min(ratio for _, ratio in ratios)
    per_layer = {}
    for layer in range(1, N_BLOCKS + 1):
        values = [ratio for k, ratio in ratios if k == layer]
        if values:
            per_layer[f"block{layer}"] = {"min": float(np.min(values)),
                                          "mean": float(np.mean(values))}
    criterion("sample/real accuracy ratio, every day and layer (min)", {"min": worst,
              "per_layer": per_layer}, worst >= 0.9, ">= 0.9")
    for day, target in zip(branch_days, (0.05, 0.03), strict=False):
        b = {s: branch[s]["branches"][str(day)] for s in seeds}
        if day == 1:
            gain = mean_sem(b[s]["round-robin"] - b[s]["none"] for s in seeds)
            criterion("night 1: round-robin minus none", gain, gain["mean"] >= 0.03, ">= 0.03")
        gap = mean_sem(b[s]["oracle"] - b[s]["round-robin"] for s in seeds)
        criterion(f"night {day}: oracle minus round-robin", gap, gap["mean"] >= target,
                  f">= {target}")
        weak = mean_sem(b[s]["weakest"] - b[s]["round-robin"] for s in seeds)
        criterion(f"night {day}: weakest minus round-robin (reported)", weak, True, "-")
    mean_over = {c: {s: curve(c, s)[:days].mean() for s in seeds} for c in courses}
    name = f"{days}-day mean accuracy: oracle minus round-robin"
    if {"oracle", "round-robin"} <= set(courses):
        gap = mean_sem(mean_over["oracle"][s] - mean_over["round-robin"][s] for s in seeds)
        criterion(name, gap, gap["sem"] is not None and gap["mean"] > 2 * gap["sem"],
                  "> 2 s.e.m.")
    else:
        not_run(name, "> 2 s.e.m.", {"oracle", "round-robin"})
    if {"generative", "none"} <= set(courses):
        gen10 = [curve("generative", s)[days - 1] for s in seeds]
        none10 = [curve("none", s)[days - 1] for s in seeds]
        t = stats.ttest_rel(gen10, none10) if len(seeds) > 1 else None
        diff10 = mean_sem(np.subtract(gen10, none10))
        p = None if t is None else float(t.pvalue)
        criterion(f"day {days}: generative minus none (paired t)", diff10,
                  p is not None and p < 0.05 and diff10["mean"] > 0, "p < .05",
                  {"t": None if t is None else float(t.statistic), "df": len(seeds) - 1,
                   "p": p})
        gm = mean_sem(mean_over["generative"][s] - mean_over["none"][s] for s in seeds)
        criterion(f"{days}-day mean accuracy: generative minus none", gm, gm["mean"] >= 0.05,
                  ">= 0.05")
    else:
        not_run(f"day {days}: generative minus none (paired t)", "p < .05",
                {"generative", "none"})
        not_run(f"{days}-day mean accuracy: generative minus none", ">= 0.05",
                {"generative", "none"})
    name = f"{days}-day regression course, seconds (nights + days after day 1)"
    if "regression" in courses:
        seconds = [
            sum(r["wall_time"] for r in load_records(out / "runs" / "regression" / f"seed_{s}"))
            for s in seeds
        ]
        sec = mean_sem(seconds)
        criterion(name, sec, sec["mean"] <= 300, "<= 300")
    else:
        not_run(name, "<= 300", {"regression"})
    result["curves"] = {
        c: mean_sem(np.mean([curve(c, s)[:days] for s in seeds], axis=0)) for c in courses
    }
    return result


def markdown(result: dict, header: str) -> str:
    lines = [header, "", "| criterion | target | ours (mean ± s.e.m.) | met |", "|---|---|---|---|"]
    for c in result["criteria"]:
        if c["passed"] is None:
            lines.append(f"| {c['criterion']} | {c['target']} | not run ({c['not_run']}) | – |")
            continue
        if "mean" in c:
            ours = f"{c['mean']:+.3f} ± {c['sem']:.3f}" if c["sem"] is not None else f"{c['mean']:.3f}"
            if "p" in c and c["p"] is not None:
                ours += f" (t({c['df']})={c['t']:.2f}, p={c['p']:.3g})"
        else:
            ours = f"{c['min']:.3f}; " + ", ".join(
                f"b{k[-1]} {v['min']:.2f}" for k, v in c["per_layer"].items()
            )
        met = "yes" if c["passed"] else "**no**"
        lines.append(f"| {c['criterion']} | {c['target']} | {ours} | {met} |")
    return "\n".join(lines) + "\n"


def main(
    preset: str = "default",
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4),
    days: int | None = None,
    branch_days: tuple[int, ...] = (1, 5),
    out: Path = RESULTS,
    split: Literal["test", "validation"] = "test",
    override: tuple[str, ...] = (),
    threads: int = 1,
    courses: tuple[str, ...] = COURSES,
) -> dict:
    """Run (or reuse) every cell, then evaluate and write the acceptance table.

    Args:
        preset: Base configuration.
        seeds: Course seeds, fixed before running; every one is reported.
        days: Course length (default: the preset's); ``none`` runs twice as long.
        branch_days: Days after which one night of each policy is compared from the same state.
        out: Where the cells and tables go.
        split: ``validation`` while choosing settings; ``test`` to report them.
        override: Candidate overrides ``KEY=JSON`` (e.g. ``adam_eps=3e-3``), as ``gym.make`` takes.
        threads: torch threads.
        courses: Which runner courses to run (all by default; fewer for a cheaper screen).
    """
    unknown = sorted(set(courses) - set(COURSES))
    if unknown:
        raise ValueError(f"--courses: unknown {unknown}; choose from {list(COURSES)}")
    courses = tuple(c for c in COURSES if c in courses)
    torch.set_num_threads(threads)
    env_config = preset_config(preset)
    if override:
        env_config = apply_overrides(env_config, **dict(_parse_setting(item) for item in override))
    if days is not None:
        env_config = dataclasses.replace(env_config, days=days)
    key = "test_accuracy" if split == "test" else "val_accuracy"
    days = env_config.days
    branch_days = tuple(d for d in branch_days if d <= days)
    for seed in seeds:  # the cheap, decisive cells first, for every seed
        path = out / "branches" / f"seed_{seed}.json"
        if not path.exists():
            started = time.perf_counter()
            data = branches(env_config, seed, branch_days, key)
            data["seconds"] = time.perf_counter() - started
            atomic_write_text(path, json.dumps(data, indent=1))
            print(f"branches seed {seed}: {data['branches']}", flush=True)
    for seed in seeds:
        path = out / "fidelity" / f"seed_{seed}.json"
        if not path.exists():
            atomic_write_text(path, json.dumps(fidelity(env_config, seed), indent=1))
            print(f"fidelity seed {seed} done", flush=True)
    for condition in courses:
        for seed in seeds:
            long = condition == "none"
            cfg = dataclasses.replace(env_config, days=2 * days) if long else env_config
            course(out, condition, seed, cfg, preset)
            print(f"course {condition} seed {seed} done", flush=True)
    result = evaluate(out, list(seeds), days, branch_days, key, courses)
    result["split"] = split
    result["config"] = config_to_dict(env_config)
    header = (
        f"Preset `{preset}`, seeds {list(seeds)}, {days} days, replay at block "
        f"{env_config.replay_layer}, {env_config.night_length} steps per night; {split} split."
    )
    atomic_write_text(out / "acceptance.json", json.dumps(result, indent=1))
    atomic_write_text(out / "acceptance.md", markdown(result, header))
    print(markdown(result, header))
    return result


def _parse_setting(item: str) -> tuple[str, object]:
    key, sep, value = item.partition("=")
    if not sep:
        raise ValueError(f"--override takes KEY=VALUE, got {item!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


if __name__ == "__main__":
    cli(main)
