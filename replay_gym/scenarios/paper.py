"""The paper's scenario: every class is new on day 1 and trained, replayed and tested every day."""

from __future__ import annotations

from replay_gym.scenarios.base import Scenario

__all__ = ["PaperScenario"]


class PaperScenario(Scenario):
    """Barry & Love's course (METHOD §2): one task holding every class, for all the days.

    Every day trains on the real images of every class (or, after ``real_days``, on replay), every
    night may replay any class, and validation and test cover every class. This is the behaviour
    the environment had before scenarios existed, unchanged to the last bit; it adds nothing to
    the records (``classes_per_task`` and ``days_per_task`` are ignored).
    """

    name = "paper"

    def tasks_of(self) -> tuple[tuple[int, ...], ...]:
        """One task: every class."""
        return (tuple(range(self.n_classes)),)

    def task_of_day(self, day: int) -> int:
        """Always the single task."""
        self._check_day(day)
        return 0
