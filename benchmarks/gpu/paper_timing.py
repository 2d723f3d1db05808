"""Time the paper-scale preset (VGG-16 at 224 px, 1,170 images per class, 325-step nights).

Usage (on a machine with a GPU; nothing is downloaded):
    python benchmarks/gpu/paper_timing.py --out runs/paper_timing [--days 2] [--images 1350]

Timing does not depend on what the images show, so this writes a stand-in for the paper's class
folders (the WordNet ids of paper model 1, ``--images`` random JPEGs each, 256 px) and runs the
paper preset on them with random conv weights (the ImageNet weights cannot be fetched offline;
the same network and arithmetic). The runner's per-day ``wall_time`` (a day, its fit and its
night) and the whole course's wall time go to ``OUT/paper_timing.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from replay_gym.analysis import load_records, read_json
from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.data.folders import paper_model_classes


def _write_class(folder: Path, count: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        pixels = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.jpg", quality=90)


def make_class_folders(root: Path, images: int, model: int = 1) -> list[str]:
    """Stand-in class folders for the paper's model ``model``: ``images`` random JPEGs each."""
    if images < 1:
        raise ValueError(f"images must be positive, got {images}")
    classes = list(paper_model_classes(model))
    with ProcessPoolExecutor(min(len(classes), os.cpu_count() or 1)) as pool:
        list(pool.map(_write_class, [root / c for c in classes], [images] * len(classes),
                      range(len(classes))))  # fmt: skip
    return classes


@dataclass(frozen=True)
class Args:
    """Time the paper preset on stand-in images."""

    out: Path
    """Folder for the images, the run and paper_timing.json."""
    days: int = 2
    """Days of the course (each a day, a fit and a 325-step night)."""
    images: int = 1350
    """Images per class: the paper's 1,170 + 130 + 50 splits."""
    condition: str = "regression"
    """The condition timed (the paper's agent)."""
    threads: int = 16
    """CPU threads (data loading and what runs on the CPU)."""


def main(args: Args) -> dict:
    """Write the folders, run the course, return and save the timings."""
    root = args.out / "classes"
    started = time.perf_counter()
    make_class_folders(root, args.images)
    made = time.perf_counter() - started
    run_dir = args.out / "run"
    command = [sys.executable, "-m", "replay_gym", "run", "--preset", "paper",
               "--condition", args.condition, "--seeds", "1", "--out", str(run_dir),
               "--overwrite", "--threads", str(args.threads), "--env.data.root", str(root),
               "--env.learner.weights", "none", "--env.days", str(args.days)]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True)
    course = time.perf_counter() - started
    records = load_records(run_dir)
    config = read_json(run_dir / "config.json")
    result = {
        "machine": config.get("machine"), "days": args.days, "condition": args.condition,
        "images_per_class": args.images, "stand_in_images_seconds": round(made, 1),
        "course_seconds": round(course, 1),
        "day_wall_time": [r.get("wall_time") for r in records],
        "night_steps": [r.get("night_steps") for r in records],
        "test_accuracy": [r.get("test_accuracy") for r in records],
    }  # fmt: skip
    atomic_write_text(args.out / "paper_timing.json", json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(cli(Args)), indent=1))
