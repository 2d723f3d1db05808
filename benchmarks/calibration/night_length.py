"""How much the choice of replay matters as nights get shorter or longer (validation only).

Usage:
    python benchmarks/calibration/night_length.py [--runs DIR] [--metric val_accuracy] [--seeds ...]

Reads the sweep of ``night_length.toml`` (``OUT/<condition>/steps_per_night=<n>/seed_<k>``) and,
per night length, pairs the seeds of ``none``, ``round-robin`` and ``oracle``: the gains after
night 1 and night 5 and in the mean over days, as issue 8 states its criteria, but on the
validation split so that a default chosen from it is never chosen on test data. Writes
``RUNS/night_length.md`` and prints it. ``benchmarks/acceptance/oracle_gap.toml`` lays out its
test-split courses the same way (``--metric test_accuracy``; ``--seeds`` for a subset).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from replay_gym.analysis import load_records
from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.stats import mean_sem_text, paired_t

RUNS = Path(__file__).resolve().parents[1] / "results" / "calibration" / "night_length"
GAPS = (("round-robin", "none"), ("oracle", "round-robin"))
"""The issue's two questions: does replay help, and does its choice matter."""


def course_values(
    runs: Path, metric: str, seeds: tuple[int, ...] = ()
) -> dict[tuple[str, int, int], dict[str, float]]:
    """(condition, steps per night, seed) -> night 1, night 5 and mean-over-days ``metric``.

    Only ``seeds`` when given; unfinished courses are left out rather than read half-written.
    """
    values = {}
    for seed_dir in sorted(runs.glob("*/steps_per_night=*/seed_*")):
        seed = int(seed_dir.name.removeprefix("seed_"))
        if not (seed_dir / "summary.json").exists() or (seeds and seed not in seeds):
            continue
        records = sorted(load_records(seed_dir), key=lambda r: r["day"])
        if not records or metric not in records[0]:
            raise ValueError(f"{seed_dir}: no {metric!r} in its results.jsonl")
        series = [r[metric] for r in records]
        if len(series) < 5:
            raise ValueError(f"{seed_dir}: {len(series)} days, the screen needs at least 5")
        steps = int(seed_dir.parent.name.split("=", 1)[1])
        key = (seed_dir.parent.parent.name, steps, seed)
        values[key] = {"night 1": series[0], "night 5": series[4],
                       "mean over days": float(np.mean(series))}  # fmt: skip
    return values


def gap_rows(values: dict[tuple[str, int, int], dict[str, float]]) -> list[dict]:
    """Per night length and gap: paired differences over the seeds both conditions finished."""
    rows = []
    for steps in sorted({steps for _, steps, _ in values}):
        for better, worse in GAPS:
            seeds = sorted(s for c, n, s in values if c == better and n == steps
                           and (worse, steps, s) in values)  # fmt: skip
            if not seeds:
                continue
            row = {"steps_per_night": steps, "gap": f"{better} − {worse}", "seeds": seeds}
            for what in ("night 1", "night 5", "mean over days"):
                a = [values[(better, steps, s)][what] for s in seeds]
                b = [values[(worse, steps, s)][what] for s in seeds]
                diff = np.subtract(a, b)
                row[what] = mean_sem_text(diff)
                if what == "mean over days" and len(seeds) > 1:
                    row["p (mean over days)"] = f"{paired_t(a, b).p:.3f}"
            rows.append(row)
    return rows


def markdown(rows: list[dict], metric: str) -> str:
    """The table, one row per night length and gap."""
    lines = [f"Paired gaps in {metric} (mean ± s.e.m. over the seeds listed):", "",
             "| steps per night | gap | seeds | night 1 | night 5 | mean over days | p |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        seeds = ", ".join(map(str, r["seeds"]))
        lines.append(f"| {r['steps_per_night']} | {r['gap']} | {seeds} | {r['night 1']} | "
                     f"{r['night 5']} | {r['mean over days']} | {r.get('p (mean over days)', '–')} |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Args:
    """Tabulate the night-length screen."""

    runs: Path = RUNS
    """The sweep's folder."""
    metric: str = "val_accuracy"
    """A per-day accuracy in results.jsonl (validation: the screen chooses settings)."""
    seeds: tuple[int, ...] = ()
    """Only these seeds (default: every finished one)."""
    out: Path | None = None
    """The table's file (default: RUNS/night_length.md)."""


def main(args: Args) -> str:
    """Write and return the table (``RUNS/night_length.md`` unless ``out``)."""
    if not args.runs.is_dir():
        raise SystemExit(f"--runs {args.runs}: no such folder (run the sweep first)")
    rows = gap_rows(course_values(args.runs, args.metric, args.seeds))
    if not rows:
        raise SystemExit(f"--runs {args.runs}: no finished pair of conditions to compare")
    text = markdown(rows, args.metric)
    atomic_write_text(args.out or args.runs / "night_length.md", text)
    return text


if __name__ == "__main__":
    print(main(cli(Args)))
