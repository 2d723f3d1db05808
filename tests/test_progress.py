"""Time left from work done: days and night steps, each at its own measured cost."""

from __future__ import annotations

import io

import pytest

from replay_gym.progress import ProgressBar, WorkEstimate, course_work


def test_course_work_counts_days_and_night_steps():
    # 3 days, 20-step nights: day 1 by reset, days 2-3 by the steps ending nights 1-2.
    assert course_work(3, 20, replay=True) == (3, 58)
    assert course_work(3, 20, replay=False) == (3, 1)  # only the last night's end is a step
    assert course_work(1, 5, replay=True) == (1, 5)


def test_estimate_by_hand():
    work = WorkEstimate(days=3, steps=58)
    assert work.seconds_left() is None and work.fraction_done() == 0.0
    work.add(day=True, seconds=9.0)
    assert work.seconds_left() == pytest.approx(2 * 9.0)  # steps not measured yet: 0 each
    for _ in range(10):
        work.add(day=False, seconds=0.05)
    # left: 2 days x 9 s + 48 steps x 0.05 s
    assert work.seconds_left() == pytest.approx(18.0 + 2.4)
    # done: 9 + 0.5 of 27 + 2.9
    assert work.fraction_done() == pytest.approx(9.5 / 29.9)


def test_an_eta_after_a_day_does_not_jump():
    """Counting steps alone, the first day looks like 9 s per step; weighted, it does not."""
    work = WorkEstimate(days=10, steps=491)
    work.add(True, 9.0)
    work.add(False, 0.05)
    assert work.seconds_left() == pytest.approx(9 * 9.0 + 490 * 0.05)


def test_progress_bar_draws_the_estimate():
    stream = io.StringIO()
    bar = ProgressBar(WorkEstimate(1, 2), stream, "demo")
    bar.tick(True, 2.0)
    bar.tick(False, 1.0)
    bar.write("a day line")
    bar.tick(False, 1.0)
    bar.close()
    text = stream.getvalue()
    assert "demo" in text and "a day line" in text and "100%" in text and "0:00:00 left" in text
