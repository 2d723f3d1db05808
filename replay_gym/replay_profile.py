"""What a selector replays: how concentrated its nights are, how aimed at weak classes, how stale.

Measures of one run directory's policy, from its ``results.jsonl`` and ``steps.jsonl``, each a
mean over the nights that have it:

* ``entropy``: the normalised entropy of a night's replay counts over the classes (1 = every
  class equally often, 0 = one class all night);
* ``targeting``: Spearman's rho between a night's replays per class and each class's test
  accuracy after that day, before its night (negative = weak classes replayed more, as the
  paper's agent was meant to; nights with equal counts for every class have none);
* ``repeat_minus_first``: within a night, the mean reward of a class's second and later batches
  minus the reward of its first (negative = a class's reward shrinks once it has been replayed,
  so a selector that trusts earlier rewards overrates it);
* ``mean_accuracy``: the course's accuracy after each night, averaged over days.

Paper-scenario courses only: in a class-incremental course the classes not yet seen would count
as never replayed and never learned.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats

from replay_gym.analysis import load_records, read_json_lines

__all__ = [
    "MEASURES", "night_entropy", "night_targeting", "repeat_minus_first", "run_profile",
]  # fmt: skip

MEASURES = ("entropy", "targeting", "repeat_minus_first", "mean_accuracy")


def night_entropy(counts: np.ndarray) -> float:
    """Entropy of the replay shares over the classes, divided by its maximum, log(n)."""
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 1 or counts.size < 2 or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError(f"replay counts must be >= 2 non-negative numbers, not all 0: {counts}")
    shares = counts[counts > 0] / counts.sum()
    return float(-(shares * np.log(shares)).sum() / np.log(counts.size))


def night_targeting(counts: np.ndarray, accuracy_after_day: np.ndarray) -> float:
    """Spearman's rho of replays against accuracy after the day; NaN if either is constant."""
    counts, accuracy = np.asarray(counts, float), np.asarray(accuracy_after_day, float)
    if counts.shape != accuracy.shape:
        raise ValueError(f"{counts.size} replay counts for {accuracy.size} class accuracies")
    if np.ptp(counts) == 0 or np.ptp(accuracy) == 0:
        return float("nan")
    return float(scipy_stats.spearmanr(counts, accuracy).statistic)


def repeat_minus_first(steps: list[dict]) -> float:
    """Mean over a night's classes replayed twice or more: later rewards' mean − the first's.

    NaN where no class was replayed twice in the night. ``steps`` are one night's step records
    (``action``, ``reward``) in order.
    """
    by_class: dict[int, list[float]] = defaultdict(list)
    for step in steps:
        by_class[int(step["action"])].append(float(step["reward"]))
    drops = [np.mean(r[1:]) - r[0] for r in by_class.values() if len(r) > 1]
    return float(np.mean(drops)) if drops else float("nan")


def _read_steps(run_dir: Path) -> dict[int, list[dict]]:
    path = run_dir / "steps.jsonl"
    if not path.is_file():
        return {}
    nights: dict[int, list[dict]] = defaultdict(list)
    for record in read_json_lines(path):
        if "day" not in record:
            raise ValueError(f"cannot read {path} as step records: a line has no 'day'")
        nights[int(record["day"])].append(record)
    for steps in nights.values():
        steps.sort(key=lambda s: s["night_step"])
    return nights


def run_profile(run_dir: Path, metric: str = "test_accuracy") -> dict[str, float]:
    """One run's measures, each its mean over the nights that have it (NaN if none).

    ``mean_accuracy`` is the course's ``metric`` after each night, averaged over days.
    """
    per_night: dict[str, list[float]] = defaultdict(list)
    steps = _read_steps(run_dir)
    for record in load_records(run_dir):
        if "task" in record:  # unseen classes would count as never replayed and never learned
            raise ValueError(
                f"{run_dir} is a class-incremental course; this profile reads paper-scenario "
                "courses, where every class can be replayed every night"
            )
        if metric not in record:
            raise ValueError(
                f"{run_dir / 'results.jsonl'} has no {metric!r} on day {record['day']}"
            )
        per_night["mean_accuracy"].append(float(record[metric]))
        counts = np.asarray(record.get("replay_counts") or [], dtype=float)
        if counts.size < 2 or counts.sum() <= 0:
            continue  # a night without replay
        per_night["entropy"].append(night_entropy(counts))
        per_night["targeting"].append(
            night_targeting(counts, record["test_class_accuracy_after_day"])
        )
        if record["day"] in steps:
            per_night["repeat_minus_first"].append(repeat_minus_first(steps[record["day"]]))
    return {m: _mean_of_finite(per_night[m]) for m in MEASURES}


def _mean_of_finite(values: list[float]) -> float:
    """The mean of the finite values (nights without a measure are NaN); NaN if none is."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if finite.size else float("nan")
