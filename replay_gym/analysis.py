"""Analysis of run directories: per-condition summaries and the paper's Fig. 3C relations.

Pure functions over the records of ``results.jsonl`` (one dict per seed and day), so the
benchmarks and users' notebooks compute the same numbers.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from replay_gym.config import EnvConfig, comparable_env, config_to_dict
from replay_gym.metrics import standard_error
from replay_gym.runner import RunArgs, run


def read_json(path: Path) -> object:
    """The JSON value in ``path``.

    Raises:
        ValueError: the file is not UTF-8 JSON (a pickle, say: it is never unpickled); the
            message names the file.
    """
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read {path} as JSON: {error}") from error


def read_json_lines(path: Path) -> list:
    """The JSON value on each line of ``path`` (a run's ``results.jsonl`` or ``steps.jsonl``).

    Raises:
        ValueError: the file is not UTF-8 JSON lines; the message names it.
    """
    try:
        return [json.loads(line) for line in path.read_text().splitlines()]
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read {path} as JSON lines: {error}") from error


def load_records(run_dir: Path) -> list[dict]:
    """The per-day records of a finished run.

    Raises:
        ValueError: ``results.jsonl`` is not UTF-8 JSON lines; the message names it.
    """
    return read_json_lines(run_dir / "results.jsonl")


def fig3c(records: list[dict]) -> dict:
    """Replays and accuracy change against test accuracy after day 1, before its night.

    Per class, pooled over seeds and classes (the paper's Fig. 3C): replays summed over the
    course, and the change from after day 1 (before night 1) to the end of the course.
    """
    day1, replays, change = [], [], []
    for seed in sorted({r["seed"] for r in records}):
        rows = sorted((r for r in records if r["seed"] == seed), key=lambda r: r["day"])
        first = np.array(rows[0]["test_class_accuracy_after_day"])
        day1.append(first)
        replays.append(np.sum([r["replay_counts"] for r in rows], axis=0))
        change.append(np.array(rows[-1]["test_class_accuracy"]) - first)
    day1, replays, change = (np.concatenate(x) for x in (day1, replays, change))

    def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
        if x.std() == 0 or y.std() == 0:
            return None
        return float(np.corrcoef(x, y)[0, 1])

    r_replay, r_change = pearson(day1, replays), pearson(day1, change)
    return {
        "r_replays_vs_day1": r_replay,
        "r2_replays_vs_day1": None if r_replay is None else r_replay**2,
        "r_change_vs_day1": r_change,
        "r2_change_vs_day1": None if r_change is None else r_change**2,
        "n_points": int(len(day1)),
    }


def summarise(condition: str, records: list[dict]) -> dict:
    """One row of a comparison: accuracies over seeds and the Fig. 3C relations."""
    days = max(r["day"] for r in records)
    finals = np.array([r["test_accuracy"] for r in records if r["day"] == days])
    curve = [
        np.mean([r["test_accuracy"] for r in records if r["day"] == d]) for d in range(1, days + 1)
    ]
    before_night1 = np.mean([r["test_accuracy_after_day"] for r in records if r["day"] == 1])
    return {
        "condition": condition,
        "seeds": int(len(finals)),
        "final_test_accuracy": float(finals.mean()),
        "final_sem": standard_error(finals),
        "mean_test_accuracy_over_days": float(np.mean(curve)),
        "test_accuracy_after_day1_before_night": float(before_night1),
        "test_accuracy_after_night1": float(curve[0]),
        "curve": [float(c) for c in curve],
        "seconds_per_course": float(np.sum([r["wall_time"] for r in records]) / len(finals)),
        **fig3c(records),
    }


COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("final test acc", "final_test_accuracy", ".3f"),
    ("± s.e.m.", "final_sem", ".3f"),
    ("mean acc over days", "mean_test_accuracy_over_days", ".3f"),
    ("acc after day 1 (before night)", "test_accuracy_after_day1_before_night", ".3f"),
    ("acc after night 1", "test_accuracy_after_night1", ".3f"),
    ("r(replays, acc after day 1)", "r_replays_vs_day1", "+.2f"),
    ("R²", "r2_replays_vs_day1", ".2f"),
    ("r(change, acc after day 1)", "r_change_vs_day1", "+.2f"),
    ("R² ", "r2_change_vs_day1", ".2f"),
    ("s/course", "seconds_per_course", ".0f"),
)
"""Table columns: header, row key, format. "acc after day 1" is before day 1's night, as the
x-axis of the paper's Fig. 3C/D; the correlations use the per-class accuracies of that moment."""


def markdown(rows: list[dict], header: str, first: str = "condition") -> str:
    """Rows of :func:`summarise` as a Markdown table under ``header``."""
    lines = [
        header,
        "",
        "| " + " | ".join([first, *(title for title, _, _ in COLUMNS)]) + " |",
        "|" + "---|" * (len(COLUMNS) + 1),
    ]
    for row in rows:
        cells = ["–" if row[key] is None else format(row[key], spec) for _, key, spec in COLUMNS]
        lines.append("| " + " | ".join([str(row[first]), *cells]) + " |")
    return "\n".join(lines) + "\n"


def reusable(run_dir: Path, seeds: list[int], env: EnvConfig) -> bool:
    """``run_dir`` holds a finished run made with these seeds and the same settings.

    "The same" ignores what cannot change a run: the down-sampling factors of the blocks it
    does not replay from (the sampler is fitted at ``replay_layer`` only).
    """
    try:
        config = read_json(run_dir / "config.json")
    except FileNotFoundError:
        return False
    wanted = json.loads(json.dumps(config_to_dict(env)))
    same_env = comparable_env(config["env"]) == comparable_env(wanted)
    return same_env and config["seeds"] == list(seeds) and (run_dir / "results.jsonl").exists()


def run_or_reuse(args: RunArgs, rerun: bool = False) -> list[dict]:
    """The records of ``args``' run, running it only when no identical finished run exists."""
    if rerun or not reusable(args.run_dir, args.seed_list, args.env_config):
        run(dataclasses.replace(args, overwrite=True))
    return load_records(args.run_dir)
