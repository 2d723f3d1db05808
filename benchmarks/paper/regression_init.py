"""What steers the paper's regression agent: its random initial weights or the classes' accuracy?

Usage:
    python benchmarks/paper/regression_init.py \
        --runs benchmarks/results/paper/default/regression benchmarks/results/leaderboard/default/regression \
        --out benchmarks/results/paper/regression_init

F5 did not reproduce: the agent's replays barely follow how weakly a class was learned on day 1
(RESULTS §3). Adam moves each of its weights by about the learning rate per epoch whatever the
reward's size (50 epochs × 1e-3 ≈ 0.05 a step), while Keras's Glorot initialisation spreads the
weights over ±sqrt(6 / (n + 1)) (±0.74 for 10 classes, ±2.5 in the softmax at temperature 0.3).
A 50-step night cannot move them that far, so the choice should follow the random start.

For each folder of regression courses this recovers each course's initial weights (the runner's
:func:`~replay_gym.runner.selector_rng` redrawn through
:func:`~replay_gym.agents.regression.glorot_uniform`) and pools over courses and classes Spearman's
rho of the replays of a class against its initial weight and against its test accuracy after
day 1 (before its night): for night 1 alone and for the whole course. It describes the policies
the courses ran; it chooses nothing, so reading test accuracy is fine. Courses that started from
zero weights (``initial_weights="zeros"``) have no initial-weight rho. Writes
``OUT/regression_init.md`` and ``.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats

from replay_gym.agents.regression import glorot_uniform
from replay_gym.analysis import load_records, read_json
from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.results import find_run_dirs
from replay_gym.runner import selector_rng


def course_classes(run_dir: Path) -> list[dict]:
    """One row per course and class of a regression run directory.

    Each row: ``seed``, ``initial_weight`` (NaN for zero-initialised courses), ``accuracy_day1``
    (test accuracy after day 1, before its night), ``replays_night1`` and ``replays_total``
    (batches, summed over the course's nights).

    Raises:
        ValueError: The run is not a ``regression`` course, or a day lacks its replay counts.
    """
    config = read_json(run_dir / "config.json")
    if config.get("condition") != "regression":
        raise ValueError(
            f"{run_dir}: condition {config.get('condition')!r}, not 'regression'; this analysis "
            "recovers the regression agent's initial weights"
        )
    glorot = config.get("agent", {}).get("initial_weights", "glorot") == "glorot"
    by_seed: dict[int, list[dict]] = {}
    for record in load_records(run_dir):
        by_seed.setdefault(int(record["seed"]), []).append(record)
    rows = []
    for seed, records in sorted(by_seed.items()):
        records.sort(key=lambda r: r["day"])
        try:
            counts = np.array([r["replay_counts"] for r in records], dtype=float)
        except KeyError:
            raise ValueError(f"{run_dir}: seed {seed} has a day without replay_counts") from None
        n = counts.shape[1]
        weights = glorot_uniform(n, selector_rng(seed)) if glorot else np.full(n, math.nan)
        accuracy = records[0]["test_class_accuracy_after_day"]
        for c in range(n):
            rows.append({
                "seed": seed, "initial_weight": float(weights[c]),
                "accuracy_day1": float(accuracy[c]),
                "replays_night1": float(counts[0, c]), "replays_total": float(counts[:, c].sum()),
            })  # fmt: skip
    return rows


def steering(rows: list[dict]) -> dict[str, float]:
    """Pooled Spearman rho (and p) of replays against initial weight and day-1 accuracy.

    Keys: ``{night1,total}_vs_{initial_weight,accuracy_day1}`` and the same with ``_p``, plus
    ``courses`` and ``classes``. A rho that cannot be computed (zero-initialised courses, or
    replays that never vary) is NaN.
    """
    out: dict[str, float] = {
        "courses": float(len({r["seed"] for r in rows})), "classes": float(len(rows)),
    }  # fmt: skip
    for replays in ("night1", "total"):
        y = np.array([r[f"replays_{replays}"] for r in rows])
        for predictor in ("initial_weight", "accuracy_day1"):
            x = np.array([r[predictor] for r in rows])
            key = f"{replays}_vs_{predictor}"
            if np.isnan(x).any() or np.ptp(x) == 0 or np.ptp(y) == 0:
                out[key], out[key + "_p"] = math.nan, math.nan
            else:
                rho, p = scipy_stats.spearmanr(x, y)
                out[key], out[key + "_p"] = float(rho), float(p)
    return out


def _rho(value: float, p: float) -> str:
    return "–" if math.isnan(value) else f"{value:+.2f} (p={p:.2g})"


def markdown(results: dict[str, dict[str, float]]) -> str:
    """A table, one line per folder of courses."""
    lines = [
        "| courses | n | night 1: vs initial weight | night 1: vs day-1 accuracy "
        "| whole course: vs initial weight | whole course: vs day-1 accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in results.items():
        cells = [
            _rho(s[f"{r}_vs_{p}"], s[f"{r}_vs_{p}_p"])
            for r in ("night1", "total") for p in ("initial_weight", "accuracy_day1")
        ]
        lines.append(f"| {name} | {int(s['courses'])} × {int(s['classes'] / s['courses'])} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@dataclass
class Args:
    """Spearman's rho of a regression agent's replays against its initial weights and accuracy."""

    runs: list[Path]
    """Folders of regression courses (each a run directory or holding run directories)."""
    out: Path = Path("benchmarks/results/paper/regression_init")
    """Where regression_init.md and .json go."""


def main(args: Args) -> str:
    results = {}
    for folder in args.runs:
        try:
            run_dirs = find_run_dirs(folder)
        except (FileNotFoundError, ValueError) as err:
            raise SystemExit(str(err)) from None
        try:
            rows = [row for d in run_dirs for row in course_classes(d)]
        except ValueError as err:
            raise SystemExit(str(err)) from None
        results[str(folder)] = steering(rows)
    text = (
        "Spearman's rho of a class's replays (batches) against its regression weight before the "
        "initial fit and against its test accuracy after day 1, pooled over courses and classes "
        "(`benchmarks/paper/regression_init.py`).\n\n" + markdown(results)
    )
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "regression_init.md", text)
    atomic_write_text(args.out / "regression_init.json", json.dumps(results, indent=2) + "\n")
    print(text)
    return text


if __name__ == "__main__":
    main(cli(Args))
