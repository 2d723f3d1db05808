"""TensorBoard logging with namespaced tags, the hyper-parameter table first (as CleanRL).

Tags: ``step/reward``, ``step/chi2`` per replay step; ``night/replays/<class>`` and
``night/preference/<class>`` per night; ``day/test_accuracy``, ``day/val_accuracy``,
``day/test_accuracy_after_day``, ``day/reward_sum`` and ``day/test_class_accuracy/<class>``,
``day/val_class_accuracy/<class>`` per day.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.tensorboard import SummaryWriter


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def hyperparameter_table(config: dict[str, Any]) -> str:
    """A Markdown table of every setting, for TensorBoard's text tab."""
    rows = "\n".join(f"|{k}|{json.dumps(v)}|" for k, v in flatten(config).items())
    return "|param|value|\n|-|-|\n" + rows


class RunLogger:
    """Writes one course's TensorBoard events under ``log_dir``.

    Args:
        log_dir: The course's event folder.
        config: The run's settings, logged first as a table.
        resume_step: When continuing an interrupted course, the first replay step still to come:
            TensorBoard hides the events an earlier attempt logged from that step on, and the
            table is not logged again.
    """

    def __init__(
        self, log_dir: Path, config: dict[str, Any], resume_step: int | None = None
    ) -> None:
        self.writer = SummaryWriter(str(log_dir), purge_step=resume_step)
        if resume_step is None:
            self.writer.add_text("hyperparameters", hyperparameter_table(config))

    def step(self, index: int, record: dict[str, Any]) -> None:
        """One replay step."""
        self.writer.add_scalar("step/reward", record["reward"], index)
        self.writer.add_scalar("step/chi2", record["chi2"], index)

    def day(
        self, record: dict[str, Any], class_names: list[str], preferences: np.ndarray | None
    ) -> None:
        """A finished day and its night."""
        day = record["day"]
        for key in ("test_accuracy", "val_accuracy", "test_accuracy_after_day", "reward_sum"):
            self.writer.add_scalar(f"day/{key}", record[key], day)
        for c, name in enumerate(class_names):
            self.writer.add_scalar(
                f"day/test_class_accuracy/{name}", record["test_class_accuracy"][c], day
            )
            self.writer.add_scalar(
                f"day/val_class_accuracy/{name}", record["val_class_accuracy"][c], day
            )
            self.writer.add_scalar(f"night/replays/{name}", record["replay_counts"][c], day)
            if preferences is not None:
                self.writer.add_scalar(f"night/preference/{name}", float(preferences[c]), day)

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()
