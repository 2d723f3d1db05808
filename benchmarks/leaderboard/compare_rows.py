"""Two leaderboard rows against each other, per board: is a variant better than its base?

Usage:
    python benchmarks/leaderboard/compare_rows.py ucb1-discount0.9 ucb1

Reads ``leaderboard.json`` (written by ``leaderboard.py build``) and, on every board that has
both rows, pairs their seeds: the difference in mean test accuracy over days and in final
accuracy, mean ± s.e.m., with a paired t-test. The board's own table only tests each row
against round-robin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from replay_gym.analysis import read_json
from replay_gym.cli import cli
from replay_gym.stats import mean_sem_text, paired_t, paper_style

BOARD = Path(__file__).resolve().parents[1] / "results" / "leaderboard" / "leaderboard.json"
MEASURES = {"mean_over_days": "mean test acc over days", "final": "final test acc"}


def compare(leaderboard: dict, row: str, base: str) -> list[dict]:
    """Per board with both rows: ``row`` − ``base`` on their common seeds, for each measure.

    Raises:
        ValueError: No board has both rows (the message lists the rows there are).
    """
    out = []
    for board in leaderboard["boards"]:
        rows = board.get("rows", {})
        if row not in rows or base not in rows:
            continue
        seeds = sorted(set(rows[row]["seeds"]) & set(rows[base]["seeds"]))
        entry = {"preset": board["preset"], "seeds": seeds}
        for key in MEASURES:
            mine = dict(zip(rows[row]["seeds"], rows[row][key], strict=True))
            theirs = dict(zip(rows[base]["seeds"], rows[base][key], strict=True))
            x = np.array([mine[s] for s in seeds])
            y = np.array([theirs[s] for s in seeds])
            test = paper_style(paired_t(x, y)) if len(seeds) >= 2 else "–"
            entry[key] = f"{mean_sem_text(x - y)}, {test}"
        out.append(entry)
    if not out:
        names = sorted({r for b in leaderboard["boards"] for r in b.get("rows", {})})
        raise ValueError(f"no board has both {row!r} and {base!r}; rows: {names}")
    return out


def markdown(row: str, base: str, entries: list[dict]) -> str:
    lines = [f"# {row} − {base} (paired by seed)", "",
             "| board | seeds | " + " | ".join(MEASURES.values()) + " |",
             "|---|---|" + "---|" * len(MEASURES)]  # fmt: skip
    for e in entries:
        lines.append(f"| {e['preset']} | {len(e['seeds'])} | "
                     + " | ".join(e[k] for k in MEASURES) + " |")  # fmt: skip
    return "\n".join(lines) + "\n"


@dataclass
class Args:
    row: tyro.conf.Positional[str]
    """The row to test (a variant)."""
    base: tyro.conf.Positional[str]
    """The row it is compared with (its base selector)."""
    board: Path = BOARD
    """``leaderboard.json`` of the leaderboard folder."""


def main(args: Args) -> str:
    """The comparison as a markdown table (printed)."""
    if not args.board.is_file():
        raise SystemExit(f"--board {args.board}: no such file (run leaderboard.py build first)")
    try:
        return markdown(args.row, args.base, compare(read_json(args.board), args.row, args.base))
    except ValueError as error:
        raise SystemExit(str(error)) from None


if __name__ == "__main__":
    print(main(cli(Args)))
