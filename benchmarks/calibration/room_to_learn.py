"""Room left to learn: issue 8's three criteria on courses without replay, per setting.

Issue 8 asks of the default's ``none`` course: accuracy after day 1 within 0.25-0.45, on day
``N`` (10) at most 0.88, and day ``2N`` at least 0.07 above day ``N``. This reads a sweep of
``2N``-day ``none`` courses (``<condition>/<setting>/seed_<k>``) and tabulates the three per
setting, mean ± s.e.m. over seeds with every seed listed:

    python benchmarks/calibration/room_to_learn.py \
        --runs benchmarks/results/calibration/eps_candidate_room

writes ``room_to_learn.md`` into ``--runs``. Use ``--metric val_accuracy`` (the default) while
choosing settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from replay_gym.analysis import load_records
from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.metrics import standard_error


@dataclass(frozen=True)
class Args:
    runs: Path
    """A sweep folder: ``<condition>/<setting>/seed_<k>/`` courses."""
    condition: str = "none"
    metric: str = "val_accuracy"
    day: int = 10
    """Day ``N``; the courses must run at least ``2N`` days."""


def room_rows(args: Args) -> list[dict]:
    """One row per setting: day 1, day N, day 2N − day N, each as mean, s.e.m. and per seed.

    Raises:
        ValueError: If there is no finished course, or one is shorter than ``2N`` days or lacks
            the metric.
    """
    per_setting: dict[str, dict[int, list[float]]] = {}
    for run in sorted((args.runs / args.condition).glob("*/seed_*")):
        if not (run / "summary.json").exists():
            continue  # unfinished: left out, not read half-written
        records = sorted(load_records(run), key=lambda r: r["day"])
        if not records or args.metric not in records[0]:
            raise ValueError(f"{run}: no {args.metric!r} in its results.jsonl")
        if len(records) < 2 * args.day:
            raise ValueError(f"{run}: {len(records)} days, needs {2 * args.day}")
        series = [r[args.metric] for r in records]
        seed = int(run.name.removeprefix("seed_"))
        per_setting.setdefault(run.parent.name, {})[seed] = series
    if not per_setting:
        raise ValueError(f"no finished {args.condition!r} course under {args.runs}")
    rows = []
    for setting, courses in per_setting.items():
        seeds = sorted(courses)
        n = args.day
        measures = {
            "day 1": [courses[s][0] for s in seeds],
            f"day {n}": [courses[s][n - 1] for s in seeds],
            f"day {2 * n} − day {n}": [courses[s][2 * n - 1] - courses[s][n - 1] for s in seeds],
        }
        rows.append({"setting": setting, "seeds": seeds, **{
            name: {"mean": float(np.mean(v)), "sem": standard_error(v), "per_seed": v}
            for name, v in measures.items()
        }})  # fmt: skip
    return rows


def markdown(rows: list[dict], args: Args) -> str:
    names = [k for k in rows[0] if k not in ("setting", "seeds")]
    lines = [
        f"`{args.condition}` courses, {args.metric} (issue 8: day 1 0.25-0.45, day {args.day} "
        f"≤ 0.88, day {2 * args.day} − day {args.day} ≥ 0.07); mean ± s.e.m. (per seed).",
        "",
        "| setting | seeds | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for row in rows:
        cells = []
        for name in names:
            v = row[name]
            sem = "" if v["sem"] is None else f" ± {v['sem']:.3f}"
            cells.append(f"{v['mean']:.3f}{sem} ({', '.join(f'{x:.3f}' for x in v['per_seed'])})")
        seeds = ", ".join(map(str, row["seeds"]))
        lines.append(f"| {row['setting']} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(args: Args) -> str:
    text = markdown(room_rows(args), args)
    atomic_write_text(args.runs / "room_to_learn.md", text)
    return text


if __name__ == "__main__":
    print(main(cli(Args)))
