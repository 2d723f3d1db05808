"""The interface every scenario implements: which classes a course trains, replays and tests, when.

A scenario turns an :class:`~replay_gym.config.EnvConfig` into a schedule of *tasks*: groups of
classes that arrive together. Day ``d`` (1-based) belongs to one task and trains on the real
images of that task's classes; the night after it may replay, and the env tests on, every class
seen so far (the tasks up to and including the day's). The environment asks the scenario and
nothing else, so a new scenario needs no change to
:class:`~replay_gym.envs.ReplaySelectionEnv`:

* :meth:`Scenario.train_classes` -- the classes of a day's real images;
* :meth:`Scenario.seen_classes` -- the classes a night may replay (the valid actions) and the
  validation and test sets cover;
* :meth:`Scenario.night_length` -- the steps of a night;
* :meth:`Scenario.make_sampler` -- the replay generator (a scenario whose days train on some
  classes only keeps the earlier classes' generators, see
  :class:`~replay_gym.scenarios.grouped.ClassGroupSampler`);
* :meth:`Scenario.night_summary` and :meth:`Scenario.course_summary` -- what the scenario adds to
  a night's ``info["night_end"]`` (and so to each line of ``results.jsonl``) and to the last line
  of a course.

A scenario is built from the configuration alone (no data), so it checks its settings when it is
built: :meth:`~replay_gym.config.EnvConfig.validate` builds it, and a bad setting is refused with
the configuration, before any data is loaded.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from replay_gym.config import EnvConfig
    from replay_gym.samplers import Sampler

__all__ = ["Scenario"]


class Scenario(ABC):
    """A schedule of tasks over the days of a course.

    Subclasses set ``name``, check their settings in ``__init__`` (a ``ValueError`` naming the
    setting) and implement :meth:`tasks_of` and :meth:`task_of_day`; every other method has a
    default built on those two.

    Args:
        config: The environment's configuration.
    """

    name: str = "scenario"

    def __init__(self, config: EnvConfig) -> None:
        self.config = config
        self.n_classes = config.data.n_classes
        self.days = config.days

    # -- the schedule -----------------------------------------------------------------------

    @abstractmethod
    def tasks_of(self) -> tuple[tuple[int, ...], ...]:
        """The classes of each task, in the order the tasks arrive (each class in one task)."""

    @abstractmethod
    def task_of_day(self, day: int) -> int:
        """The 0-based task that day ``day`` (1-based) trains on."""

    @cached_property
    def tasks(self) -> tuple[tuple[int, ...], ...]:
        """The classes of each task, in order of arrival (computed once)."""
        return self.tasks_of()

    @property
    def n_tasks(self) -> int:
        """Number of tasks."""
        return len(self.tasks)

    @property
    def class_order(self) -> tuple[int, ...]:
        """Every class in the order it arrives (task by task)."""
        return tuple(c for task in self.tasks for c in task)

    def train_classes(self, day: int) -> tuple[int, ...]:
        """The classes whose real images day ``day`` trains on: its task's."""
        return self.tasks[self.task_of_day(self._check_day(day))]

    def seen_classes(self, day: int) -> tuple[int, ...]:
        """The classes seen by the end of day ``day``, sorted: replayable and tested that night."""
        last = self.task_of_day(self._check_day(day))
        return tuple(sorted(c for task in self.tasks[: last + 1] for c in task))

    def action_mask(self, day: int) -> np.ndarray:
        """Boolean mask over the ``n_classes`` actions: True for the classes seen by ``day``."""
        mask = np.zeros(self.n_classes, dtype=bool)
        mask[list(self.seen_classes(day))] = True
        return mask

    def task_end_days(self) -> tuple[int, ...]:
        """The last day (1-based) of each task: after its night, row t of the accuracy matrix."""
        ends: dict[int, int] = {}
        for day in range(1, self.days + 1):
            ends[self.task_of_day(day)] = day
        return tuple(ends[t] for t in range(self.n_tasks))

    def night_length(self, day: int) -> int:
        """Replay steps in the night after day ``day``.

        ``steps_per_night`` when set; otherwise every generated sample of every class seen so
        far once: ceil(samples_per_class x seen classes / batch_size).
        """
        config = self.config
        if config.steps_per_night is not None:
            return config.steps_per_night
        seen = len(self.seen_classes(day))
        return math.ceil(config.samples_per_class * seen / config.learner.batch_size)

    def night_lengths(self) -> tuple[int, ...]:
        """The steps of every night of the course, day 1 first."""
        return tuple(self.night_length(day) for day in range(1, self.days + 1))

    # -- replay -----------------------------------------------------------------------------

    def make_sampler(self, layer: int) -> Sampler:
        """An unfitted replay generator for ``layer``, refitted after every real day.

        The default is the configured sampler itself (``sampler.kind``), fitted each day to
        every class's activations; a scenario whose days see some classes only returns a
        :class:`~replay_gym.scenarios.grouped.ClassGroupSampler` instead.
        """
        from replay_gym.samplers import make_sampler

        return make_sampler(self.config.sampler, layer)

    # -- what the scenario reports ------------------------------------------------------------

    def night_summary(self, day: int, test_confusion: np.ndarray) -> dict[str, Any]:
        """Entries the scenario adds to the night after day ``day``'s summary (none here)."""
        return {}

    def course_summary(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Entries the scenario adds to the last record of a course, from its records (none)."""
        return {}

    # -- helpers ------------------------------------------------------------------------------

    def _check_day(self, day: int) -> int:
        if isinstance(day, bool) or not isinstance(day, int | np.integer):
            raise ValueError(f"day must be an integer, got {day!r}")
        if not 1 <= day <= self.days:
            raise ValueError(f"day must be in 1..days={self.days}, got {day}")
        return int(day)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tasks={self.tasks})"
