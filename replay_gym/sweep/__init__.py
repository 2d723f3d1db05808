"""Sweeps: a grid of cells (conditions x seeds x overrides), each one run directory.

``python -m replay_gym sweep`` expands the grid (:mod:`replay_gym.sweep.grid`), skips the
cells whose done marker exists, and runs the rest on a backend
(:mod:`replay_gym.sweep.backends`: ``local``, ``submitit`` or ``ray``). A failing cell is
reported with its error and does not stop the others; the sweep then exits non-zero.
"""

from replay_gym.sweep.backends import BACKENDS, CellOutcome, default_threads, run_cell
from replay_gym.sweep.command import SweepArgs, sweep
from replay_gym.sweep.grid import Cell, SweepSpec, load_spec, parse_assignment

__all__ = [
    "BACKENDS",
    "Cell",
    "CellOutcome",
    "SweepArgs",
    "SweepSpec",
    "default_threads",
    "load_spec",
    "parse_assignment",
    "run_cell",
    "sweep",
]
