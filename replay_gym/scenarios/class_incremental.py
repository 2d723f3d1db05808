"""Class-incremental learning: classes arrive in tasks; one head, no task labels at test time.

The setting the seed papers on replay against forgetting were made for (van de Ven et al.'s
"class-IL", Millichamp & Chen's CIFAR-100 splits): the ``n_classes`` classes are split, in label
order, into tasks of ``classes_per_task``; the course spends ``days_per_task`` days on each task.
Day ``d`` trains on the real images of its task's classes only. The night after it may replay
any class seen so far (replay is the only way earlier classes come back), and validation, the
chi-square reward, the observation and the test cover every class seen so far, with the one
``n_classes``-way head (no task label: an image of an earlier class must be told apart from all
classes seen). Classes not seen yet are not valid actions (``info["action_mask"]``).

Each task's classes get their generator from that task's last day (see
:class:`~replay_gym.scenarios.grouped.ClassGroupSampler`), except with a sampler that remembers
classes itself (``Sampler.remembers_classes``: the seed papers' ``cvae``, ``cvae-repulsion`` and
``recall``), which is updated every day with the day's classes and keeps the earlier ones by its
own means (the VAE's replay of itself; recall's copy of the network).

The records gain ``task`` (1-based) and ``task_test_accuracy`` (test accuracy on each task's
images after the night; ``None`` for tasks not seen yet); the last record of a course also
holds the accuracy matrix and its summaries (:func:`replay_gym.metrics.continual_metrics`,
:func:`replay_gym.metrics.early_class_accuracy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from replay_gym.metrics import continual_metrics, early_class_accuracy
from replay_gym.scenarios.base import Scenario

if TYPE_CHECKING:
    from replay_gym.config import EnvConfig
    from replay_gym.samplers import Sampler

__all__ = ["EARLY_FRACTIONS", "ClassIncrementalScenario", "early_key"]

EARLY_FRACTIONS = (0.2, 0.5)
"""The shares of the classes, by order of arrival, whose final accuracy is reported on its own
(Millichamp & Chen's "first 20 %" and "first 50 %" of classes seen)."""


_NETWORK_HOOKS = ("bind", "before_day", "replay_targets", "finish_batch")
"""Sampler hooks through which a sampler uses the network; ClassGroupSampler does not forward
them, so samplers that override one are refused in this scenario."""


class ClassIncrementalScenario(Scenario):
    """Tasks of ``classes_per_task`` classes, ``days_per_task`` days each, in label order.

    Args:
        config: The environment's configuration. ``data.n_classes`` must be a multiple of
            ``classes_per_task`` giving at least two tasks; ``days`` must be tasks x
            ``days_per_task`` (or a multiple of the tasks when ``days_per_task`` is None);
            ``real_days`` must be unset (every day trains the current task's images).

    Raises:
        ValueError: A setting does not fit the scenario (the message names it).
    """

    name = "class-incremental"

    def __init__(self, config: EnvConfig) -> None:
        super().__init__(config)
        k, n = config.classes_per_task, self.n_classes
        if n % k:
            raise ValueError(
                f"class-incremental: classes_per_task={k} must divide data.n_classes={n}"
            )
        tasks = n // k
        if tasks < 2:
            raise ValueError(
                f"class-incremental needs at least 2 tasks; data.n_classes={n} with "
                f"classes_per_task={k} gives {tasks} (lower classes_per_task)"
            )
        if config.days_per_task is None:
            if config.days % tasks:
                raise ValueError(
                    f"class-incremental: days={config.days} must be a multiple of the {tasks} "
                    f"tasks (data.n_classes={n} / classes_per_task={k}); set days or "
                    "days_per_task"
                )
            self.days_per_task = config.days // tasks
        else:
            self.days_per_task = config.days_per_task
            if config.days != tasks * self.days_per_task:
                raise ValueError(
                    f"class-incremental: days={config.days} must equal {tasks} tasks x "
                    f"days_per_task={self.days_per_task} = {tasks * self.days_per_task}"
                )
        if config.real_days is not None and config.real_days != config.days:
            raise ValueError(
                f"class-incremental trains every day on its task's real images; real_days="
                f"{config.real_days} (the continuous condition) does not apply"
            )
        self.classes_per_task = k

    def tasks_of(self) -> tuple[tuple[int, ...], ...]:
        """Consecutive labels, ``classes_per_task`` at a time."""
        k = self.classes_per_task
        return tuple(tuple(range(t * k, (t + 1) * k)) for t in range(self.n_classes // k))

    def task_of_day(self, day: int) -> int:
        """``(day - 1) // days_per_task``."""
        return (self._check_day(day) - 1) // self.days_per_task

    def make_sampler(self, layer: int) -> Sampler:
        """A :class:`~replay_gym.scenarios.grouped.ClassGroupSampler` of ``sampler.kind``.

        A sampler that remembers classes across fits itself is returned as it is.
        """
        from replay_gym.samplers import Sampler, make_sampler
        from replay_gym.scenarios.grouped import ClassGroupSampler

        probe = make_sampler(self.config.sampler, layer)  # an unknown kind is refused now
        if probe.remembers_classes:
            return probe
        hooks = [name for name in _NETWORK_HOOKS
                 if getattr(type(probe), name) is not getattr(Sampler, name)]  # fmt: skip
        if hooks:
            raise ValueError(
                f"sampler.kind={self.config.sampler.kind!r} works with the network "
                f"({', '.join(hooks)}), which the class-incremental scenario's per-task "
                "generators do not pass on yet; use it in the paper scenario, or a sampler "
                "fitted to activations alone (gaussian, veridical)"
            )
        return ClassGroupSampler(lambda: make_sampler(self.config.sampler, layer))

    def night_summary(self, day: int, test_confusion: np.ndarray) -> dict[str, Any]:
        """``task`` (1-based) and ``task_test_accuracy``: per task, accuracy on its test images.

        Tasks not seen by ``day`` are ``None``; predictions range over every class (one head).
        """
        task = self.task_of_day(day)
        confusion = np.asarray(test_confusion)
        accuracy: list[float | None] = []
        for t, classes in enumerate(self.tasks):
            rows = confusion[list(classes)]
            total = rows.sum()
            seen = t <= task and total > 0
            accuracy.append(
                float(rows[:, list(classes)].diagonal().sum() / total) if seen else None
            )
        return {"task": task + 1, "task_test_accuracy": accuracy}

    def course_summary(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The course's accuracy matrix and its summaries, from its day records.

        Row ``t`` of ``accuracy_matrix`` is ``task_test_accuracy`` after the night of task t's
        last day (entries above the diagonal, tasks not seen yet, are ``None``). ``acc``,
        ``bwt`` and ``forgetting`` are :func:`~replay_gym.metrics.continual_metrics` of it;
        ``first_20pct_accuracy`` and ``first_50pct_accuracy`` (:func:`early_key` of each share in
        :data:`EARLY_FRACTIONS`) the mean final test accuracy of the first classes to arrive
        (:func:`~replay_gym.metrics.early_class_accuracy`).

        Raises:
            ValueError: If a task's last day is missing from ``records``.
        """
        by_day = {int(r["day"]): r for r in records}
        rows = []
        for t, day in enumerate(self.task_end_days()):
            if day not in by_day:
                raise ValueError(f"the records lack day {day}, the last day of task {t + 1}")
            rows.append(by_day[day]["task_test_accuracy"])
        matrix = np.array([[np.nan if v is None else v for v in row] for row in rows])
        final = np.asarray(by_day[max(by_day)]["test_class_accuracy"], dtype=np.float64)
        order = list(self.class_order)
        return {
            "accuracy_matrix": rows,
            **continual_metrics(matrix),
            **{
                early_key(fraction): early_class_accuracy(final, order, fraction)
                for fraction in EARLY_FRACTIONS
            },
        }


def early_key(fraction: float) -> str:
    """The record key of the accuracy on the first ``fraction`` of classes (``first_20pct_...``)."""
    return f"first_{round(fraction * 100)}pct_accuracy"
