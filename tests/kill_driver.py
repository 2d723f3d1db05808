"""Run ``python -m replay_gym`` and send this process a signal at an exact point (resume tests).

Usage: ``python tests/kill_driver.py {replay,day-batch} N SIGNAL replay-gym arguments...``:
``replay`` counts replay steps (the env's ``_replay``), ``day-batch`` counts augmented day
batches (``augment_images``); at the N-th call the signal is sent, before the call runs.
"""

import os
import signal
import sys

import replay_gym.learner.cortex as cortex
from replay_gym.__main__ import main
from replay_gym.envs.replay_select import ReplaySelectionEnv

what, at, signame = sys.argv[1], int(sys.argv[2]), sys.argv[3]
owner, name = (ReplaySelectionEnv, "_replay") if what == "replay" else (cortex, "augment_images")
original = getattr(owner, name)
calls = 0


def counted(*args, **kwargs):
    global calls
    calls += 1
    if calls == at:
        os.kill(os.getpid(), getattr(signal, signame))
    return original(*args, **kwargs)


setattr(owner, name, counted)
main(sys.argv[4:])
