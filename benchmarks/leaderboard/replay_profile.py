"""What each leaderboard row replays: how concentrated, how aimed at weak classes, how stale.

Usage:
    python benchmarks/leaderboard/replay_profile.py --board benchmarks/results/leaderboard/default

Reads a board's finished cells (``BOARD/<row>/base/seed_<k>``: ``results.jsonl`` and
``steps.jsonl``) and writes ``BOARD/replay_profile.md`` and ``.json``. Per row, mean ± s.e.m.
over seeds of each seed's mean over nights:

* **entropy**: the normalised entropy of a night's replay counts over the classes (1 = every
  class equally often, 0 = one class all night);
* **targeting**: Spearman's rho between a night's replays per class and each class's test
  accuracy after that day, before its night (negative = weak classes replayed more, as the
  paper's agent did; nights with equal counts for every class have no rho and are skipped);
* **repeat − first reward**: within a night, the mean reward of a class's second and later
  batches minus the reward of its first batch (negative = a class's reward shrinks once it has
  been replayed, so a selector that trusts earlier rewards overrates it).

These describe policies; they choose nothing, so reading test accuracy here is fine. Where a
screen chooses settings from them (``--metric val_accuracy``), only validation accuracy is read.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro
from scipy import stats as scipy_stats

from replay_gym.analysis import load_records
from replay_gym.atomic import atomic_write_text
from replay_gym.results import find_run_dirs
from replay_gym.stats import mean_sem_text

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
    try:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            nights[int(record["day"])].append(record)
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError) as error:
        raise ValueError(f"cannot read {path} as step records: {error}") from error
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
            raise ValueError(f"{run_dir / 'results.jsonl'} has no {metric!r} on day {record['day']}")
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
    return {
        m: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
        for m in MEASURES
        for v in [np.asarray(per_night[m], dtype=float)]
    }


def board_profile(board: Path, metric: str = "test_accuracy") -> dict[str, dict[str, list[float]]]:
    """Row -> measure -> one value per finished seed (rows without finished cells left out)."""
    rows = {}
    for row in sorted(p for p in board.iterdir() if p.is_dir()):
        try:
            run_dirs = find_run_dirs(row)
        except (FileNotFoundError, ValueError):
            continue  # not a row of cells (the SB3 models), or none finished yet
        profiles = [run_profile(d, metric) for d in run_dirs]
        rows[row.name] = {m: [p[m] for p in profiles] for m in MEASURES}
    return rows


def _cell(values: list[float]) -> str:
    finite = np.asarray([v for v in values if np.isfinite(v)])
    return "–" if finite.size == 0 else mean_sem_text(finite)


def markdown(
    board: Path, rows: dict[str, dict[str, list[float]]], metric: str = "test_accuracy"
) -> str:
    """The table, rows in order of targeting (most aimed at weak classes first)."""
    def key(name: str) -> float:
        finite = [v for v in rows[name]["targeting"] if np.isfinite(v)]
        return float(np.mean(finite)) if finite else np.inf

    lines = [
        f"# What each row of `{board.name}` replays (mean ± s.e.m. over seeds)",
        "",
        f"| row | seeds | mean {metric} over days | entropy of a night's replays (1 = uniform) "
        "| targeting: Spearman rho, replays vs accuracy after the day | repeat − first reward "
        "in a night |",
        "|---|---|---|---|---|---|",
    ]
    for name in sorted(rows, key=key):
        values = rows[name]
        lines.append(
            f"| {name} | {len(values['entropy'])} | {_cell(values['mean_accuracy'])} | "
            f"{_cell(values['entropy'])} | "
            f"{_cell(values['targeting'])} | {_cell(values['repeat_minus_first'])} |"
        )
    return "\n".join(lines) + "\n\n" + across_rows(rows, metric) + "\n"


def across_rows(rows: dict[str, dict[str, list[float]]], metric: str = "test_accuracy") -> str:
    """Does aiming at weak classes go with accuracy? Spearman's rho over the rows' means."""
    pairs = [
        (np.nanmean(v["targeting"]), np.mean(v["mean_accuracy"]))
        for v in rows.values()
        if np.isfinite(v["targeting"]).any()
    ]
    if len(pairs) < 3:
        return "Too few rows with a targeting value to relate it to accuracy."
    targeting, accuracy = np.array(pairs).T
    fit = scipy_stats.spearmanr(targeting, accuracy)
    return (
        f"Across the {len(pairs)} rows with a targeting value, Spearman's rho between a row's "
        f"targeting and its mean {metric} over days: {fit.statistic:.2f} "
        f"(p={fit.pvalue:.3f})."
    )


@dataclass
class Args:
    board: Path
    """A leaderboard board folder (``benchmarks/results/leaderboard/<preset>``), or any folder
    of ``<row>/.../seed_<k>`` run directories (a sweep's)."""
    metric: str = "test_accuracy"
    """The per-day accuracy averaged into a row's mean (``val_accuracy`` when choosing)."""


def main(args: Args) -> str:
    """Write ``BOARD/replay_profile.md`` and ``.json``; return the table."""
    if not args.board.is_dir():
        raise SystemExit(f"--board {args.board}: no such folder (run the leaderboard first)")
    rows = board_profile(args.board, args.metric)
    if not rows:
        raise SystemExit(f"--board {args.board}: no finished cells")
    text = markdown(args.board, rows, args.metric)
    atomic_write_text(args.board / "replay_profile.md", text)
    finite = {
        row: {m: [v if np.isfinite(v) else None for v in vs] for m, vs in values.items()}
        for row, values in rows.items()
    }  # JSON has no NaN: a measure a night did not have is null
    atomic_write_text(args.board / "replay_profile.json", json.dumps(finite, indent=1) + "\n")
    return text


if __name__ == "__main__":
    print(main(tyro.cli(Args)))
