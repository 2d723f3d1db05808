"""What each leaderboard row replays: how concentrated, how aimed at weak classes, how stale.

Usage:
    python benchmarks/leaderboard/replay_profile.py --board benchmarks/results/leaderboard/default

Reads a board's finished cells (``BOARD/<row>/base/seed_<k>``: ``results.jsonl`` and
``steps.jsonl``) and writes ``BOARD/replay_profile.md`` and ``.json``: per row, mean ± s.e.m.
over seeds of each measure of :mod:`replay_gym.replay_profile` (night entropy, targeting of weak
classes, reward drop after a class's first batch in a night, mean accuracy), and across rows
how targeting goes with accuracy.

These describe policies; they choose nothing, so reading test accuracy here is fine. Where a
screen chooses settings from them (``--metric val_accuracy``), only validation accuracy is read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats

from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.replay_profile import MEASURES, run_profile
from replay_gym.results import find_run_dirs
from replay_gym.stats import mean_sem_text


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
    print(main(cli(Args)))
