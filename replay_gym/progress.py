"""The runner's progress bar: time left estimated from work done, days and night steps apart.

A day (an epoch over the training images, then refitting the sampler) costs far more than a night
step (one batch through the upper network and a validation pass): on the default preset about
9 s against 0.05 s. Counting steps alone, an ETA taken just after a day jumps by hours and then
collapses. :class:`WorkEstimate` keeps the two kinds of work apart, each at its own measured mean
cost, and :class:`ProgressBar` shows the share of the estimated work done and the time left.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TextIO

from tqdm import tqdm

__all__ = ["ProgressBar", "WorkEstimate", "course_work"]


def course_work(days: int, night_length: int | Sequence[int], replay: bool) -> tuple[int, int]:
    """Days and night steps of one course, as the runner counts them.

    Every day is one unit of day work (``reset`` trains day 1; the step that ends night ``d``
    trains day ``d + 1``); the other steps are night steps, including the step that ends the
    last night. Without replay (``replay=False``) each night is a single step.
    ``night_length`` is the steps of every night, or of each night in turn (a scenario whose
    nights grow).

    Returns:
        ``(days, night_steps)``.
    """
    if not replay:
        return days, 1
    nights = [night_length] * days if isinstance(night_length, int) else list(night_length)
    if len(nights) != days:
        raise ValueError(f"night_length gives {len(nights)} nights for a course of {days} days")
    return days, sum(nights) - (days - 1)


class WorkEstimate:
    """Work done and left, in days and night steps, and the time left at their measured costs.

    Args:
        days: Days still to run.
        steps: Night steps still to run.
    """

    def __init__(self, days: int, steps: int) -> None:
        self.days_total, self.steps_total = days, steps
        self.days_done = self.steps_done = 0
        self._day_seconds = self._step_seconds = 0.0

    def add(self, day: bool, seconds: float) -> None:
        """One finished unit of work: a day (``day=True``) or a night step, and its duration."""
        if day:
            self.days_done += 1
            self._day_seconds += seconds
        else:
            self.steps_done += 1
            self._step_seconds += seconds

    def _costs(self) -> tuple[float, float]:
        """Mean seconds per day and per step (0 for a kind not measured yet)."""
        day = self._day_seconds / self.days_done if self.days_done else 0.0
        step = self._step_seconds / self.steps_done if self.steps_done else 0.0
        return day, step

    def seconds_left(self) -> float | None:
        """Estimated seconds of the work left; None until a day has been measured."""
        if not self.days_done:
            return None
        day, step = self._costs()
        return (
            max(self.days_total - self.days_done, 0) * day
            + max(self.steps_total - self.steps_done, 0) * step
        )

    def fraction_done(self) -> float:
        """Share of the estimated work done, in [0, 1] (by counts until costs are measured)."""
        day, step = self._costs()
        if day == 0.0 and step == 0.0:
            total = self.days_total + self.steps_total
            done = self.days_done + self.steps_done
        else:
            total = self.days_total * day + self.steps_total * step
            done = self.days_done * day + self.steps_done * step
        return min(done / total, 1.0) if total else 1.0


class ProgressBar:
    """A tqdm bar over a :class:`WorkEstimate`: share of the work done, elapsed and left.

    Args:
        estimate: The work of the run (what is left of it, when resuming).
        stream: Where the bar is drawn.
        description: Text before the bar.
        disable: Draw nothing.
    """

    RESOLUTION = 1000

    def __init__(
        self, estimate: WorkEstimate, stream: TextIO, description: str, disable: bool = False
    ) -> None:
        self.estimate = estimate
        self._bar = tqdm(
            total=self.RESOLUTION,
            disable=disable,
            file=stream,
            desc=description,
            dynamic_ncols=True,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} elapsed{postfix}",
        )

    def tick(self, day: bool, seconds: float) -> None:
        """Record one unit of work and redraw (tqdm limits the redraw rate)."""
        self.estimate.add(day, seconds)
        left = self.estimate.seconds_left()
        text = "estimating" if left is None else _clock(left)
        self._bar.set_postfix_str(f"{text} left", refresh=False)
        self._bar.update(round(self.estimate.fraction_done() * self.RESOLUTION) - self._bar.n)

    def write(self, line: str) -> None:
        """Print ``line`` above the bar."""
        self._bar.write(line, file=self._bar.fp)

    def close(self) -> None:
        """Finish the bar."""
        self._bar.close()


def _clock(seconds: float) -> str:
    """``3725.2`` -> ``1:02:05``."""
    return str(datetime.timedelta(seconds=round(seconds)))
