"""How much the choice of replay matters as nights get shorter or longer (validation only).

Usage:
    python benchmarks/calibration/night_length.py [--runs DIR] [--metric val_accuracy] [--seeds ...]
    python benchmarks/calibration/night_length.py --runs DIR --knob sampler.samples_per_class \
        --gaps generative:none oracle-night:round-robin

Reads the sweep of ``night_length.toml`` (``OUT/<condition>/steps_per_night=<n>/seed_<k>``) and,
per night length, pairs the seeds of ``none``, ``round-robin`` and ``oracle``: the gains after
night 1 and night 5 and in the mean over days, as issue 8 states its criteria, but on the
validation split so that a default chosen from it is never chosen on test data. Writes
``RUNS/night_length.md`` and prints it. ``benchmarks/acceptance/oracle_gap.toml`` lays out its
test-split courses the same way (``--metric test_accuracy``; ``--seeds`` for a subset).
Another night-length setting (``--knob``, e.g. ``sampler.samples_per_class`` for the
class-incremental presets) and other pairs of conditions (``--gaps``) read the same way; the
``last day`` column is the course's end (in a class-incremental course, accuracy over all classes).
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
GAPS = ("round-robin:none", "oracle:round-robin")
"""The issue's two questions, ``BETTER:WORSE``: does replay help, and does its choice matter."""
MEASURES = ("night 1", "night 5", "last day", "mean over days")


def course_values(
    runs: Path, metric: str, seeds: tuple[int, ...] = (), knob: str = "steps_per_night"
) -> dict[tuple[str, float, int], dict[str, float]]:
    """(condition, ``knob``'s value, seed) -> each of :data:`MEASURES` of ``metric``.

    Only ``seeds`` when given; unfinished courses are left out rather than read half-written.
    """
    values = {}
    for seed_dir in sorted(runs.glob(f"*/{knob}=*/seed_*")):
        seed = int(seed_dir.name.removeprefix("seed_"))
        if not (seed_dir / "summary.json").exists() or (seeds and seed not in seeds):
            continue
        records = sorted(load_records(seed_dir), key=lambda r: r["day"])
        if not records or metric not in records[0]:
            raise ValueError(f"{seed_dir}: no {metric!r} in its results.jsonl")
        series = [r[metric] for r in records]
        if len(series) < 5:
            raise ValueError(f"{seed_dir}: {len(series)} days, the screen needs at least 5")
        setting = _number(seed_dir.parent.name.split("=", 1)[1], seed_dir)
        key = (seed_dir.parent.parent.name, setting, seed)
        values[key] = {"night 1": series[0], "night 5": series[4], "last day": series[-1],
                       "mean over days": float(np.mean(series))}  # fmt: skip
    return values


def _number(text: str, where: Path) -> float:
    """A folder's setting as a number (``50``, ``1e-2``), so that settings sort by value."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: the setting {text!r} is not a number") from None
    return int(value) if value.is_integer() else value


def _pairs(gaps: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for gap in gaps:
        better, colon, worse = gap.partition(":")
        if not colon or not better or not worse:
            raise ValueError(f"--gaps {gap!r}: write each gap as BETTER:WORSE, e.g. oracle:round-robin")
        pairs.append((better, worse))
    return pairs


def gap_rows(
    values: dict[tuple[str, float, int], dict[str, float]], gaps: tuple[str, ...] = GAPS
) -> list[dict]:
    """Per setting (night length) and gap: paired differences over the seeds both conditions finished."""
    rows = []
    pairs = _pairs(gaps)
    for setting in sorted({setting for _, setting, _ in values}):
        for better, worse in pairs:
            seeds = sorted(s for c, n, s in values if c == better and n == setting
                           and (worse, setting, s) in values)  # fmt: skip
            if not seeds:
                continue
            row = {"setting": setting, "gap": f"{better} − {worse}", "seeds": seeds}
            for what in MEASURES:
                a = [values[(better, setting, s)][what] for s in seeds]
                b = [values[(worse, setting, s)][what] for s in seeds]
                diff = np.subtract(a, b)
                row[what] = mean_sem_text(diff)
                if what == "mean over days" and len(seeds) > 1:
                    row["p (mean over days)"] = f"{paired_t(a, b).p:.3f}"
            rows.append(row)
    return rows


def markdown(rows: list[dict], metric: str, knob: str = "steps_per_night") -> str:
    """The table, one row per night length and gap."""
    lines = [f"Paired gaps in {metric} (mean ± s.e.m. over the seeds listed):", "",
             f"| {knob} | gap | seeds | {' | '.join(MEASURES)} | p (mean over days) |",
             "|---" * (len(MEASURES) + 4) + "|"]  # fmt: skip
    for r in rows:
        seeds = ", ".join(map(str, r["seeds"]))
        cells = " | ".join(r[what] for what in MEASURES)
        lines.append(f"| {r['setting']} | {r['gap']} | {seeds} | {cells} | "
                     f"{r.get('p (mean over days)', '–')} |")
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
    knob: str = "steps_per_night"
    """The setting the sweep's grid varied (its folders are ``<condition>/<knob>=<value>``)."""
    gaps: tuple[str, ...] = GAPS
    """Pairs of conditions to compare, ``BETTER:WORSE``."""


def main(args: Args) -> str:
    """Write and return the table (``RUNS/night_length.md`` unless ``out``)."""
    if not args.runs.is_dir():
        raise SystemExit(f"--runs {args.runs}: no such folder (run the sweep first)")
    try:
        rows = gap_rows(course_values(args.runs, args.metric, args.seeds, args.knob), args.gaps)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    if not rows:
        raise SystemExit(f"--runs {args.runs}: no finished pair of conditions to compare")
    text = markdown(rows, args.metric, args.knob)
    atomic_write_text(args.out or args.runs / "night_length.md", text)
    return text


if __name__ == "__main__":
    print(main(cli(Args)))
