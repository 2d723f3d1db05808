"""Which committed runs computed on the same kind of processor: a day-1 fingerprint per run.

Usage:
    python benchmarks/audit_machines.py                       # every folder under benchmarks/results
    python benchmarks/audit_machines.py --roots benchmarks/results/leaderboard --out /tmp/audit.md

The same seed, settings and code give bit-identical courses on one kind of processor, and other
courses on another (the math libraries pick other kernels). Runs written before config.json
recorded the processor (``machine``) can still be told apart: day 1 is trained before any night,
so every run with the same day-1 settings (learner, data, scenario) and seed must report the
same test accuracy after day 1 when it ran on the same kind of processor. Runs whose day-1
accuracies differ from their siblings' computed elsewhere; a comparison paired by seed between
them is paired by name only (still unbiased, but as noisy as unpaired).

Per results folder and day-1 settings, the runs are grouped by their day-1 accuracies over seeds
(processor A, B, ...); the report lists each group's rows (condition/variant) and the recorded
processors, and says which folders mix groups.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from replay_gym.analysis import load_records, read_json
from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.config import comparable_env
from replay_gym.results import find_run_dirs

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Run:
    """What the audit needs of one run directory."""

    folder: str
    """The results folder it belongs to (its first two levels below the root)."""
    row: str
    """Condition and variant: the path between the folder and ``seed_<k>``."""
    day1_settings: str
    """JSON of the settings that shape day 1 (preset, learner, data, scenario)."""
    seed: int
    day1: float
    machine: str | None


def day1_settings(config: dict) -> str:
    """The part of a run's config that decides its day 1 (nights and samplers come later).

    Settings an older config lacks take their defaults, as for reuse and resume
    (:func:`replay_gym.config.comparable_env`).
    """
    env = comparable_env(config.get("env", {}))
    keep = {k: env.get(k) for k in ("learner", "data", "scenario", "classes_per_task")}
    return json.dumps({"preset": config.get("preset"), **keep}, sort_keys=True)


def read_runs(root: Path, base: Path) -> list[Run]:
    """Every finished run under ``root`` with its day-1 fingerprint (runs without day 1 skipped)."""
    runs = []
    for run_dir in find_run_dirs(root):
        config = read_json(run_dir / "config.json")
        first = next(iter(load_records(run_dir)), None)
        if not first or first.get("day") != 1 or "test_accuracy_after_day" not in first:
            continue
        parts = run_dir.relative_to(base).parts
        folder = "/".join(parts[:2])
        row = "/".join(parts[2:-1]) or parts[-1]
        machine = config.get("machine")
        runs.append(Run(folder, row, day1_settings(config), int(first["seed"]),
                        round(float(first["test_accuracy_after_day"]), 6),
                        machine.get("cpu") if machine else None))  # fmt: skip
    return runs


def audit(runs: list[Run]) -> list[dict]:
    """Per (folder, day-1 settings): the processor groups, their rows, and whether they mix.

    Two rows are on the same processor kind when they agree on every seed both ran; rows are
    put into the first group they agree with, in order of how many seeds they ran. A row whose
    runs recorded different processors (seeds added later elsewhere) is split by processor.
    """
    recorded_by_row: dict[tuple[str, str, str], set] = defaultdict(set)
    for run in runs:
        recorded_by_row[(run.folder, run.day1_settings, run.row)].add(run.machine)
    by_block: dict[tuple[str, str], dict[str, dict[int, float]]] = defaultdict(dict)
    machines: dict[tuple[str, str, str], set] = defaultdict(set)
    for run in runs:
        row = run.row
        if len(recorded_by_row[(run.folder, run.day1_settings, run.row)]) > 1:
            # seeds added later on another processor: each processor's seeds are a row
            row = f"{run.row} [{run.machine or 'processor not recorded'}]"
        by_block[(run.folder, run.day1_settings)].setdefault(row, {})[run.seed] = run.day1
        machines[(run.folder, run.day1_settings, row)].add(run.machine)
    report = []
    for (folder, settings), rows in sorted(by_block.items()):
        groups: list[dict] = []
        for row, fingerprint in sorted(rows.items(), key=lambda item: (-len(item[1]), item[0])):
            for group in groups:
                shared = set(fingerprint) & set(group["fingerprint"])
                if shared and all(fingerprint[s] == group["fingerprint"][s] for s in shared):
                    group["rows"].append(row)
                    group["fingerprint"].update(fingerprint)
                    break
            else:
                groups.append({"rows": [row], "fingerprint": dict(fingerprint)})
        for group in groups:
            recorded = set().union(*(machines[(folder, settings, r)] for r in group["rows"]))
            group["machines"] = sorted(m for m in recorded if m)
        report.append({"folder": folder, "preset": json.loads(settings)["preset"],
                       "settings": settings, "groups": groups, "mixed": len(groups) > 1})  # fmt: skip
    return report


def table(report: list[dict]) -> str:
    """Markdown: one line per folder and day-1 settings; mixed ones list their groups' rows."""
    lines = ["# Processor audit: day-1 fingerprints of the committed runs", "",
             "| folder | preset | runs' groups | mixed |", "|---|---|---|---|"]  # fmt: skip
    details = []
    for entry in report:
        sizes = ", ".join(f"{chr(65 + i)}: {len(g['rows'])} rows"
                          for i, g in enumerate(entry["groups"]))  # fmt: skip
        lines.append(f"| {entry['folder']} | {entry['preset']} | {sizes} | "
                     f"{'**yes**' if entry['mixed'] else 'no'} |")  # fmt: skip
        if entry["mixed"]:
            details += ["", f"## {entry['folder']} ({entry['preset']})", ""]
            for i, group in enumerate(entry["groups"]):
                seed0 = group["fingerprint"].get(min(group["fingerprint"]))
                recorded = ", ".join(group["machines"]) or "not recorded"
                details.append(f"- {chr(65 + i)} (seed {min(group['fingerprint'])} day 1: "
                               f"{seed0:.4f}; processor {recorded}): "
                               + ", ".join(group["rows"]))  # fmt: skip
    return "\n".join(lines + details) + "\n"


def main(roots: tuple[Path, ...] = (RESULTS,), out: Path = RESULTS / "machine_audit.md") -> str:
    """Audit every run directory under ``roots`` and write the report.

    Args:
        roots: Folders to search for run directories (folders are named relative to their
            parent's parent, e.g. ``paper/default``).
        out: Markdown report (a JSON twin is written beside it).
    """
    runs = []
    for root in roots:
        runs += read_runs(root, root if root == RESULTS else root.parent)
    report = audit(runs)
    text = table(report)
    atomic_write_text(out, text)
    atomic_write_text(out.with_suffix(".json"), json.dumps(report, indent=1))
    print(text)
    return text


if __name__ == "__main__":
    cli(main)
