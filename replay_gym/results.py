"""Run directories as one tidy table, and the tables the paper's analyses start from.

:func:`load_runs` reads run directories (or sweep folders holding them, nested at any depth)
into a pandas DataFrame with one row per run, seed and day: every field of ``results.jsonl``
(per-class values stay lists) plus

- ``label``: what the row is compared as. The condition, unless runs of one condition differ in
  their settings (e.g. generative replay at five layers); then ``condition (folder)``.
- ``run``: the run directory.

The other functions turn that table into what the statistics in :mod:`replay_gym.stats` and
the figures in :mod:`replay_gym.plots` take: learning curves, per-seed final values, per-class
values, and the normalised score between round-robin and the oracle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from replay_gym.analysis import load_records, read_json
from replay_gym.config import comparable_env
from replay_gym.stats import NormalisedScore, mean_sem, normalised_score

RESULTS_FILE = "results.jsonl"
CONFIG_FILE = "config.json"
PARTIAL_SUFFIX = ".partial"


def is_run_dir(path: Path) -> bool:
    """``path`` is a finished run directory (written by ``python -m replay_gym run``)."""
    return (
        (path / RESULTS_FILE).is_file()
        and (path / CONFIG_FILE).is_file()
        and not path.name.endswith(PARTIAL_SUFFIX)
    )


def find_run_dirs(path: Path) -> list[Path]:
    """``path`` if it is a run directory, else every run directory below it (sorted).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is a file, an unfinished run, or a folder without run directories.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such run directory")
    if not path.is_dir():
        raise ValueError(f"{path} is a file, not a run directory (a folder with {RESULTS_FILE})")
    if path.name.endswith(PARTIAL_SUFFIX):
        raise ValueError(f"{path} is an unfinished run (its runner has not finished)")
    if is_run_dir(path):
        return [path]
    found = sorted(
        results.parent
        for results in path.rglob(RESULTS_FILE)
        if is_run_dir(results.parent)
        and not any(part.endswith(PARTIAL_SUFFIX) for part in results.relative_to(path).parts)
    )
    if not found:
        raise ValueError(
            f"{path} is not a run directory ({RESULTS_FILE} and {CONFIG_FILE}) and holds none "
            "below it; make one with `python -m replay_gym run --out DIR`"
        )
    return found


NOT_SETTINGS = ("seeds", "git", "threads", "machine")
"""``config.json`` keys that do not make runs different: which seeds ran, the commit they ran at
(a sweep resumed in a later session records another), torch's thread count and the processor
(runs written before it was recorded have none)."""


def _labels(runs: list[tuple[Path, dict]]) -> list[str]:
    """A label per run: runs of one condition and the same settings (seeds aside) share one.

    The label is the condition, unless the condition's runs differ in settings (any key but
    :data:`NOT_SETTINGS`; the environment's as it bears on a course, so that a run recorded
    before a setting existed matches one at that setting's default); then each group of runs
    with equal settings is ``condition (folder)``, the folder holding that group's runs
    relative to the folder holding them all, less a leading folder named as the condition (so a
    sweep's ``OUT/generative/replay_layer=4/seed_k`` runs are ``generative (replay_layer=4)``).
    """
    groups: dict[tuple[str, str], list[Path]] = {}
    keys = []
    for path, config in runs:
        settings = {k: v for k, v in config.items() if k not in NOT_SETTINGS}
        if isinstance(settings.get("env"), dict):  # settings added since take their defaults
            settings["env"] = comparable_env(settings["env"])
        settings = json.dumps(settings, sort_keys=True)
        keys.append((config["condition"], settings))
        groups.setdefault(keys[-1], []).append(path.resolve())
    every = [p for paths in groups.values() for p in paths]
    root = Path(os.path.commonpath(every)) if len(every) > 1 else every[0].parent
    if root in every:  # one run directory inside another: name them from the level above
        root = root.parent
    names: dict[tuple[str, str], str] = {}
    for condition, settings in groups:
        if sum(c == condition for c, _ in groups) == 1:
            names[condition, settings] = condition
            continue
        folder = Path(os.path.commonpath(groups[condition, settings])).relative_to(root)
        if len(folder.parts) > 1 and folder.parts[0] == condition:  # a sweep's OUT/<condition>/
            folder = Path(*folder.parts[1:])
        name = f"{condition} ({folder})"
        while name in names.values():  # two groups share their folder: number them
            name += "'"
        names[condition, settings] = name
    return [names[key] for key in keys]


def load_runs(paths: Sequence[Path | str]) -> pd.DataFrame:
    """Every record of the run directories under ``paths`` as one table (see the module doc).

    Raises:
        FileNotFoundError, ValueError: A path is not a run directory nor holds any; one seed of
            one label appears in two run directories.
    """
    if not paths:
        raise ValueError("no run directory given")
    run_dirs = list(dict.fromkeys(d for path in paths for d in find_run_dirs(Path(path))))
    runs = [(d, read_json(d / CONFIG_FILE)) for d in run_dirs]
    frames = []
    for (run_dir, config), label in zip(runs, _labels(runs), strict=True):
        records = load_records(run_dir)
        if not records:
            raise ValueError(f"{run_dir / RESULTS_FILE} holds no records")
        frame = pd.DataFrame.from_records(records)
        frame.insert(0, "label", label)
        frame["preset"] = config.get("preset")
        frame["processor"] = processor_name(config)
        frame["run"] = str(run_dir)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    owners = table.groupby(["label", "seed"])["run"].unique()
    clashes = owners[owners.map(len) > 1]
    if len(clashes):
        (label, seed), dirs = next(iter(clashes.items()))
        raise ValueError(
            f"seed {seed} of {label!r} is in several run directories: {list(dirs)}; compare "
            "them separately or give their runs different seeds"
        )
    order = {label: i for i, label in enumerate(dict.fromkeys(table["label"]))}
    table["_order"] = table["label"].map(order)
    table = table.sort_values(["_order", "seed", "day"], kind="stable").drop(columns="_order")
    return table.reset_index(drop=True)


def processor_name(config: dict) -> str | None:
    """``"CPU model (kernel level)"`` from a run's recorded ``machine``; None when not recorded."""
    machine = config.get("machine")
    if not machine:
        return None
    return f"{machine.get('cpu') or 'unknown CPU'} ({machine.get('cpu_capability') or '?'})"


def processors(table: pd.DataFrame) -> list[str]:
    """The distinct recorded processors of a :func:`load_runs` table (unrecorded ones left out).

    Courses of one seed are only paired when they share one.
    """
    if "processor" not in table:
        return []
    return sorted(p for p in table["processor"].dropna().unique())


def numeric_metrics(table: pd.DataFrame) -> list[str]:
    """Columns that can be a per-day metric (numbers, one per seed and day)."""
    return [
        c
        for c in table.columns
        if c not in ("seed", "day")
        and pd.api.types.is_numeric_dtype(table[c])
        and not pd.api.types.is_bool_dtype(table[c])
    ]


def check_metric(table: pd.DataFrame, metric: str) -> None:
    """Raise ``ValueError`` unless ``metric`` is a numeric per-day column of ``table``."""
    if metric not in numeric_metrics(table):
        raise ValueError(f"unknown metric {metric!r}; choose one of {numeric_metrics(table)}")


def labels_in_order(table: pd.DataFrame) -> list[str]:
    """Labels in the order their runs were given (:func:`load_runs` keeps it)."""
    return list(dict.fromkeys(table["label"]))


def curve_table(table: pd.DataFrame, metric: str = "test_accuracy") -> pd.DataFrame:
    """Mean, s.e.m. (None for one seed) and number of seeds of ``metric`` per label and day."""
    check_metric(table, metric)
    rows = []
    for label in labels_in_order(table):
        part = table[table["label"] == label]
        for day, values in part.groupby("day")[metric]:
            mean, sem = mean_sem(values.to_numpy())
            rows.append(
                {"label": label, "day": int(day), "mean": mean, "sem": sem, "seeds": len(values)}
            )
    return pd.DataFrame(rows)


def per_seed(table: pd.DataFrame, metric: str = "test_accuracy") -> pd.DataFrame:
    """One row per label and seed: ``final`` (last day's value) and ``mean_over_days``."""
    check_metric(table, metric)
    ordered = table.sort_values("day", kind="stable")  # groups keep the labels' order
    grouped = ordered.groupby(["label", "seed"], sort=False)[metric]
    return pd.DataFrame({"final": grouped.last(), "mean_over_days": grouped.mean()}).reset_index()


def class_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per label, seed and class: the values of the paper's Fig. 3C/D.

    Columns: ``acc_after_day1_before_night`` (test accuracy after day 1's training, before its
    night), ``acc_after_night1``, ``final_acc`` (after the last night), ``gain`` (final minus
    after day 1 before its night) and ``replays`` (samples replayed over the course).
    """
    rows = []
    for (label, seed), part in table.groupby(["label", "seed"], sort=False):
        part = part.sort_values("day")
        first, last = part.iloc[0], part.iloc[-1]
        if first["day"] != 1:
            raise ValueError(f"{label!r} seed {seed} has no day 1 in {first['run']}")
        before = np.asarray(first["test_class_accuracy_after_day"], dtype=np.float64)
        replays = np.sum(np.stack(part["replay_counts"].map(np.asarray).to_list()), axis=0)
        for c in range(len(before)):
            rows.append(
                {
                    "label": label,
                    "seed": int(seed),
                    "class": c,
                    "acc_after_day1_before_night": float(before[c]),
                    "acc_after_night1": float(first["test_class_accuracy"][c]),
                    "final_acc": float(last["test_class_accuracy"][c]),
                    "gain": float(last["test_class_accuracy"][c] - before[c]),
                    "replays": float(replays[c]),
                }
            )
    return pd.DataFrame(rows)


def normalised_scores(
    table: pd.DataFrame,
    selector: str,
    baseline: str = "round-robin",
    ceiling: str = "oracle",
    metric: str = "test_accuracy",
) -> NormalisedScore:
    """:func:`replay_gym.stats.normalised_score` of label ``selector``, paired by seed and night.

    Raises:
        ValueError: A label is missing, or the three do not share the same seeds and days.
    """
    check_metric(table, metric)
    grids = {}
    for label in (selector, baseline, ceiling):
        part = table[table["label"] == label]
        if part.empty:
            raise ValueError(f"no runs labelled {label!r}; labels: {labels_in_order(table)}")
        grids[label] = part.pivot(index="seed", columns="day", values=metric)
    reference = grids[selector]
    for label, grid in grids.items():
        if not (grid.index.equals(reference.index) and grid.columns.equals(reference.columns)):
            raise ValueError(
                f"{label!r} has seeds {list(grid.index)} and days {list(grid.columns)}, but "
                f"{selector!r} has seeds {list(reference.index)} and days "
                f"{list(reference.columns)}; the normalised score pairs them night by night"
            )
    return normalised_score(
        grids[selector].to_numpy(), grids[baseline].to_numpy(), grids[ceiling].to_numpy()
    )


def format_curve_table(curves: pd.DataFrame, metric: str) -> str:
    """:func:`curve_table` as text: a row per day, a column per label, ``mean ± s.e.m.``."""
    labels = list(dict.fromkeys(curves["label"]))
    cells = {
        (row.label, row.day): f"{row.mean:.3f}"
        + ("" if row.sem is None or pd.isna(row.sem) else f" ± {row.sem:.3f}")
        for row in curves.itertuples()
    }
    seeds = curves.groupby("label", sort=False)["seeds"].max()
    headers = [f"{label} (n={seeds[label]})" for label in labels]
    widths = [max(len(h), 13) for h in headers]
    lines = [
        f"{metric}: mean ± s.e.m. over seeds",
        "  day  " + "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)),
    ]
    for day in sorted(curves["day"].unique()):
        lines.append(
            f"{day:>5}  "
            + "  ".join(
                cells.get((label, day), "–").rjust(w)
                for label, w in zip(labels, widths, strict=True)
            )
        )
    return "\n".join(lines)
