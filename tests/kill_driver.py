"""Run ``python -m replay_gym`` and send this process a signal at an exact point (resume tests).

Any command works (``run``, ``train-sb3``): both step ``ReplaySelect-v0``.

Usage: ``python tests/kill_driver.py {replay,day-batch} N SIGNAL replay-gym arguments...``:
``replay`` counts replay steps (the env's ``_replay``), ``day-batch`` counts optimiser steps on
real images (``Learner._step`` inside ``Learner.train_day``); at the N-th one the signal is sent,
before it runs.
"""

import os
import signal
import sys

from replay_gym.__main__ import main
from replay_gym.envs.replay_select import ReplaySelectionEnv
from replay_gym.learner.cortex import Learner

what, at, signame = sys.argv[1], int(sys.argv[2]), sys.argv[3]
calls = 0
in_day = False


def count() -> None:
    global calls
    calls += 1
    if calls == at:
        os.kill(os.getpid(), getattr(signal, signame))


replay, train_day, step = ReplaySelectionEnv._replay, Learner.train_day, Learner._step


def counted_replay(self, *args, **kwargs):
    count()
    return replay(self, *args, **kwargs)


def flagged_train_day(self, *args, **kwargs):
    global in_day
    in_day = True
    try:
        return train_day(self, *args, **kwargs)
    finally:
        in_day = False


def counted_step(self, *args, **kwargs):
    if in_day:
        count()
    return step(self, *args, **kwargs)


if what == "replay":
    ReplaySelectionEnv._replay = counted_replay
else:
    Learner.train_day, Learner._step = flagged_train_day, counted_step
main(sys.argv[4:])
