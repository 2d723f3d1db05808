"""Choose a class-incremental preset's settings on calibration seeds, from validation accuracy.

Usage:
    python benchmarks/calibration/class_incremental_screen.py --preset class-incremental \
        --candidates train_per_class=180 train_per_class=540 train_per_class=900
    python benchmarks/calibration/class_incremental_screen.py --preset smoke \
        --candidates "scenario=\"class-incremental\";days=4" --seeds 7 --out /tmp/screen

Issue 11 asks of the class-incremental scenario that, without replay, the first task is
forgotten almost entirely by the end of the course (catastrophic forgetting is present) and that
generative replay raises the average accuracy. Whether that happens depends on how much a day
trains: with the default's 180 images per class a class-incremental day is 10 optimiser steps
(2 classes x 180 / 36), too few either to learn a task or to forget the last one. Each
candidate (``KEY=JSON`` overrides joined by ``;``, cheapest first) runs ``none`` and
``generative`` courses on calibration seeds kept apart from the reported ones (0-4); everything
here is judged on the validation split (the records' ``val_class_accuracy``), never on
test accuracy. Criteria, on the mean over seeds:

- forgetting present: ``none``'s accuracy on the first task after the last one <= 0.10;
- tasks learned: ``none``'s accuracy on each task right after it, averaged over tasks, >= 0.70;
- replay helps: ``generative``'s average accuracy over all tasks at the end (ACC) above ``none``'s.

The first candidate that meets all three is chosen. Each course is a runner run under
``OUT/<candidate>/<condition>/seed_<k>/``, reused when the script runs again (a stopped screen
resumes); ``OUT/screen.json`` and ``OUT/screen.md`` hold the table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch

import replay_gym  # noqa: F401  (registers the env)
from replay_gym.analysis import run_or_reuse
from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.config import apply_overrides, config_to_dict
from replay_gym.config import preset as preset_config
from replay_gym.metrics import standard_error
from replay_gym.runner import RunArgs
from replay_gym.scenarios import make_scenario

RESULTS = Path(__file__).resolve().parents[1] / "results" / "calibration" / "class_incremental"
CONDITIONS = ("none", "generative")
FORGOTTEN = 0.10
LEARNED = 0.70


def parse_candidate(text: str) -> dict[str, object]:
    """``"a=1;b=\\"x\\""`` -> ``{"a": 1, "b": "x"}`` (values parsed as JSON where they parse)."""
    settings: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"candidate {text!r}: {item!r} is not KEY=VALUE")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value
    return settings


def slug(text: str) -> str:
    """A folder name for a candidate."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text) or "preset"


def validation_matrix(records: list[dict], env_config) -> list[list[float | None]]:
    """R[t][j]: validation accuracy on task j after the night of task t's last day.

    A task's accuracy is the mean of its classes' validation accuracies (every class has the
    same number of validation images, so this is its pooled accuracy).
    """
    scenario = make_scenario(env_config)
    by_day = {int(r["day"]): r for r in records}
    matrix = []
    for t, day in enumerate(scenario.task_end_days()):
        accuracy = by_day[day]["val_class_accuracy"]
        matrix.append([
            float(np.mean([accuracy[c] for c in classes])) if j <= t else None
            for j, classes in enumerate(scenario.tasks)
        ])  # fmt: skip
    return matrix


def summarise(matrices: dict[str, list[list[list[float | None]]]]) -> dict:
    """The three criteria (mean ± s.e.m. over seeds, per-seed values) and whether each is met."""
    def stat(values):
        values = [float(v) for v in values]
        return {"mean": float(np.mean(values)), "sem": standard_error(values), "per_seed": values}

    def acc(matrix):
        return float(np.mean(matrix[-1]))

    none = matrices["none"]
    first_task = stat([m[-1][0] for m in none])
    learned = stat([np.mean([m[t][t] for t in range(len(m))]) for m in none])
    gain = stat([acc(g) - acc(n) for g, n in zip(matrices["generative"], none, strict=True)])
    return {
        "first_task_after_last_none": {**first_task, "met": first_task["mean"] <= FORGOTTEN},
        "task_learned_none": {**learned, "met": learned["mean"] >= LEARNED},
        "acc_generative_minus_none": {**gain, "met": gain["mean"] > 0},
        "acc_none": stat([acc(m) for m in none]),
        "acc_generative": stat([acc(m) for m in matrices["generative"]]),
    }


def markdown(rows: list[dict], chosen: str | None, preset: str, seeds: list[int]) -> str:
    """The screen as a Markdown table."""
    lines = [
        f"Preset `{preset}`, calibration seeds {seeds}, validation split. Criteria: first task "
        f"after the last <= {FORGOTTEN} without replay; each task >= {LEARNED} right after it "
        "(mean over tasks); generative ACC above none's.",
        "",
        "| candidate | first task after last (none) | task right after it (none) | "
        "ACC none | ACC generative | generative - none | all met |",
        "|---|---|---|---|---|---|---|",
    ]
    def cell(summary, key, mark=True):
        entry = summary[key]
        text = f"{entry['mean']:.3f}" + (
            f" ± {entry['sem']:.3f}" if entry["sem"] is not None else ""
        )
        return text + (" ✓" if entry.get("met") else " ✗") if mark and "met" in entry else text

    for row in rows:
        s = row["summary"]
        lines.append(
            f"| `{row['candidate'] or '(preset)'}` | {cell(s, 'first_task_after_last_none')} | "
            f"{cell(s, 'task_learned_none')} | {cell(s, 'acc_none')} | "
            f"{cell(s, 'acc_generative')} | {cell(s, 'acc_generative_minus_none')} | "
            f"{'yes' if row['met'] else 'no'} |"
        )
    lines += ["", f"Chosen: `{chosen}`" if chosen is not None else "Chosen: none met all criteria"]
    return "\n".join(lines) + "\n"


def main(
    preset: str = "class-incremental",
    candidates: tuple[str, ...] = ("",),
    seeds: tuple[int, ...] = (100, 101),
    out: Path = RESULTS,
    threads: int = 1,
) -> dict:
    """Run (or reuse) every candidate's courses, then judge and tabulate them.

    Args:
        preset: Base configuration (its scenario must be, or a candidate must make it,
            class-incremental).
        candidates: Overrides per candidate, ``KEY=JSON`` joined by ``;``, cheapest first
            (``""``: the preset as it is).
        seeds: Calibration seeds, kept apart from the reported 0-4; every one is reported.
        out: Where the courses and the table go.
        threads: torch threads.
    """
    torch.set_num_threads(threads)
    base = preset_config(preset)
    configs = {c: apply_overrides(base, **parse_candidate(c)) for c in candidates}
    for text, config in configs.items():
        if config.scenario != "class-incremental":
            raise ValueError(
                f"candidate {text!r} of preset {preset!r} has scenario={config.scenario!r}; "
                "the screen judges class-incremental courses (add scenario=\"class-incremental\")"
            )
        config.validate()
    rows, chosen = [], None
    for text, config in configs.items():
        matrices: dict[str, list] = {c: [] for c in CONDITIONS}
        for condition in CONDITIONS:
            for seed in seeds:
                args = RunArgs(
                    condition=condition, preset=preset, seeds=1, first_seed=seed,
                    out=out / slug(text) / condition / f"seed_{seed}", env=config,
                    progress=False, threads=threads,
                )  # fmt: skip
                matrices[condition].append(validation_matrix(run_or_reuse(args), config))
                print(f"{text or '(preset)'}: {condition} seed {seed} done", flush=True)
        summary = summarise(matrices)
        met = all(entry["met"] for entry in summary.values() if "met" in entry)
        rows.append({
            "candidate": text, "config": config_to_dict(config), "met": met,
            "summary": summary, "validation_matrices": matrices,
        })  # fmt: skip
        if met and chosen is None:
            chosen = text
    result = {"preset": preset, "seeds": list(seeds), "rows": rows, "chosen": chosen}
    atomic_write_text(out / "screen.json", json.dumps(result, indent=1) + "\n")
    atomic_write_text(out / "screen.md", markdown(rows, chosen, preset, list(seeds)))
    print(markdown(rows, chosen, preset, list(seeds)))
    return result


if __name__ == "__main__":
    cli(main)
