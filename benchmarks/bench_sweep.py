"""Sweep throughput: the same 4-cell smoke sweep on 1 and 2 local workers, and on Ray.

Usage:
    python benchmarks/bench_sweep.py                         # writes benchmarks/results/sweep.json
    python benchmarks/bench_sweep.py --cells 2 --days 1      # quicker

Each configuration runs into a fresh temporary folder, one torch thread per worker, in this one
process run, so the ratios compare like with like (target: 2 workers >= 1.6x faster than 1).
Absolute times depend on what else the machine is doing; the ratios are the result.

Cells last 8 smoke days (~10 s) by default: with 2-day cells (~3 s) each worker's start (Python,
torch, the data) is as long as its work, and 2 workers measured 1.37x; a real sweep's cells
run for minutes, where that start does not count.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.sweep import SweepArgs, sweep

RESULTS = Path(__file__).resolve().parent / "results" / "sweep.json"


def timed(args: SweepArgs) -> float:
    started = time.perf_counter()
    sweep(args)
    return time.perf_counter() - started


def main(cells: int = 4, days: int = 8, ray: bool = True, out: Path = RESULTS) -> dict:
    """Time the sweep on each configuration and write the ratios."""
    configs = [("local", 1), ("local", 2)] + ([("ray", 2)] if ray else [])
    seconds = {}
    for backend, workers in configs:
        with tempfile.TemporaryDirectory() as tmp:
            args = SweepArgs(
                out=Path(tmp) / "sweep", conditions=("round-robin",), seeds=tuple(range(cells)),
                preset="smoke", set=(f"days={days}",), backend=backend, workers=workers,
                threads=1,
            )
            seconds[f"{backend}x{workers}"] = timed(args)
            print(f"{backend} x {workers}: {seconds[f'{backend}x{workers}']:.1f} s", flush=True)
    result = {
        "cells": cells,
        "days": days,
        "seconds": seconds,
        "speedup_2_workers_over_1": seconds["localx1"] / seconds["localx2"],
    }
    if ray:
        result["ray_over_local_2_workers"] = seconds["rayx2"] / seconds["localx2"]
    atomic_write_text(out, json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    cli(main)
