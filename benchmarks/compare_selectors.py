"""Compare selector agents and fixed conditions against the paper's side network.

Usage:
    python benchmarks/compare_selectors.py                              # default preset, 3 seeds
    python benchmarks/compare_selectors.py --seeds 5 --conditions none regression exp3s
    python benchmarks/compare_selectors.py --preset smoke --days 1 --seeds 1 --out /tmp/cmp

Every condition runs through the same runner (``OUT/runs/<condition>``), then one table is
written to ``OUT/selectors.md`` and ``OUT/selectors.json``:
- final test accuracy (mean ± s.e.m. over seeds) and the mean over days (area under the curve);
- the paper's Fig. 3C analysis, pooled over seeds and classes: how replays relate to a class's
  test accuracy after day 1 (Pearson r and R^2; the paper found R^2 = 0.24, weak classes replayed
  more, i.e. r < 0), and how the final-minus-day-1 accuracy change relates to it (paper
  R^2 = 0.18, weak classes improved more).
Existing runs are reused (pass --rerun to redo them), so an interrupted comparison resumes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import tyro

from replay_gym.config import EnvConfig, config_to_dict
from replay_gym.config import preset as preset_config
from replay_gym.runner import RunArgs, run

DEFAULT_CONDITIONS = (
    "none",
    "generative",
    "round-robin",
    "regression",
    "exp3s",
    "ucb1",
    "thompson",
    "epsilon-greedy",
    "weakest",
    "random",
    "oracle",
)


def reusable(run_dir: Path, seeds: int, env: EnvConfig) -> bool:
    """A finished run made with these seeds and exactly these settings."""
    try:
        config = json.loads((run_dir / "config.json").read_text())
    except FileNotFoundError:
        return False
    same_env = config["env"] == json.loads(json.dumps(config_to_dict(env)))
    return same_env and config["seeds"] == list(range(seeds))


def load_records(run_dir: Path) -> list[dict]:
    """The per-day records of a finished run."""
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]


def fig3c(records: list[dict]) -> dict:
    """Replays and accuracy change against day-1 test accuracy, pooled over seeds and classes."""
    day1, replays, change = [], [], []
    for seed in sorted({r["seed"] for r in records}):
        rows = sorted((r for r in records if r["seed"] == seed), key=lambda r: r["day"])
        first = np.array(rows[0]["test_class_accuracy_after_day"])
        day1.append(first)
        replays.append(np.sum([r["replay_counts"] for r in rows], axis=0))
        change.append(np.array(rows[-1]["test_class_accuracy"]) - first)
    day1, replays, change = (np.concatenate(x) for x in (day1, replays, change))

    def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
        if x.std() == 0 or y.std() == 0:
            return None
        return float(np.corrcoef(x, y)[0, 1])

    r_replay, r_change = pearson(day1, replays), pearson(day1, change)
    return {
        "r_replays_vs_day1": r_replay,
        "r2_replays_vs_day1": None if r_replay is None else r_replay**2,
        "r_change_vs_day1": r_change,
        "r2_change_vs_day1": None if r_change is None else r_change**2,
        "n_points": int(len(day1)),
    }


def summarise(condition: str, records: list[dict]) -> dict:
    """One table row."""
    days = max(r["day"] for r in records)
    finals = np.array([r["test_accuracy"] for r in records if r["day"] == days])
    curve = [
        np.mean([r["test_accuracy"] for r in records if r["day"] == d]) for d in range(1, days + 1)
    ]
    return {
        "condition": condition,
        "seeds": int(len(finals)),
        "final_test_accuracy": float(finals.mean()),
        "final_sem": float(finals.std(ddof=1) / np.sqrt(len(finals))) if len(finals) > 1 else None,
        "mean_test_accuracy_over_days": float(np.mean(curve)),
        "day1_test_accuracy_after_night": float(curve[0]),
        "curve": [float(c) for c in curve],
        "seconds_per_course": float(np.sum([r["wall_time"] for r in records]) / len(finals)),
        **fig3c(records),
    }


def markdown(rows: list[dict], header: str) -> str:
    """The comparison as a Markdown table."""

    def fmt(x: float | None, spec: str = ".3f") -> str:
        return "–" if x is None else format(x, spec)

    lines = [
        header,
        "",
        "| condition | final test acc (± s.e.m.) | mean acc over days | day-1 acc | r(replays, day-1 acc) | R² | r(change, day-1 acc) | R² | s/course |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['condition']} | {fmt(row['final_test_accuracy'])} ± {fmt(row['final_sem'])} "
            f"| {fmt(row['mean_test_accuracy_over_days'])} | {fmt(row['day1_test_accuracy_after_night'])} "
            f"| {fmt(row['r_replays_vs_day1'], '+.2f')} | {fmt(row['r2_replays_vs_day1'], '.2f')} "
            f"| {fmt(row['r_change_vs_day1'], '+.2f')} | {fmt(row['r2_change_vs_day1'], '.2f')} "
            f"| {row['seconds_per_course']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def main(
    conditions: tuple[str, ...] = DEFAULT_CONDITIONS,
    preset: str = "default",
    seeds: int = 3,
    days: int | None = None,
    out: Path = Path(__file__).resolve().parent / "results" / "selectors",
    rerun: bool = False,
) -> list[dict]:
    """Run (or reuse) every condition and write the comparison table."""
    env = preset_config(preset)
    if days is not None:
        env = dataclasses.replace(env, days=days)
    rows = []
    for condition in conditions:
        run_dir = out / "runs" / condition
        if rerun or not reusable(run_dir, seeds, env):
            run(
                RunArgs(
                    condition=condition,
                    preset=preset,
                    seeds=seeds,
                    out=run_dir,
                    env=env,
                    overwrite=True,
                    progress=False,
                )
            )
        rows.append(summarise(condition, load_records(run_dir)))
        print(markdown(rows[-1:], "").splitlines()[-1], flush=True)
    header = (
        f"Preset `{preset}`, {env.days} days, {seeds} seeds, replay at block {env.replay_layer}, "
        f"{env.night_length} steps per night. `oracle` is privileged (probes every class each step)."
    )
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "selectors.md", markdown(rows, header))
    _write(out / "selectors.json", json.dumps(rows, indent=2))
    print(markdown(rows, header))
    return rows


if __name__ == "__main__":
    tyro.cli(main)
