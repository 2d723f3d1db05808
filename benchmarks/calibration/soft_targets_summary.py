"""Summarise the soft-target screen of the seed samplers in the paper's scenario.

Usage (after the four sweeps listed in the screen.md this writes have run):
    python benchmarks/calibration/soft_targets_summary.py

Calibration seeds 100-101 only, judged on the validation split (``val_accuracy`` after each
night), never on test accuracy: a screen that tests a diagnosis, not a reported result.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from replay_gym.atomic import atomic_write_text
from replay_gym.results import find_run_dirs, load_runs, per_seed

ROOT = Path("benchmarks/results/calibration/paper_samplers_soft_targets")
SEEDS = (100, 101)
ROWS = (
    ("none", "none/days=10"),
    ("Gaussian", "generative/days=10"),
    ("cvae (soft targets)", "generative/days=10,sampler.kind=cvae"),
    ("cvae, hard labels", "generative/days=10,sampler.cvae.soft_targets=False,sampler.kind=cvae"),
    ("recall (soft targets)", "generative/days=10,sampler.kind=recall"),
    ("recall, hard labels",
     "generative/days=10,sampler.kind=recall,sampler.recall.soft_targets=False"),
)  # fmt: skip
HEADER = """Seed samplers in the paper's scenario, with and without soft targets: calibration seeds
100-101, validation split only (`val_accuracy` after each night), default preset, block 4, 10 days.

Commands (`S='python -m replay_gym sweep --workers 1 --threads 1 --preset default --seeds 100 101
--out benchmarks/results/calibration/paper_samplers_soft_targets'`), then this table with
`python benchmarks/calibration/soft_targets_summary.py`:

    $S --conditions none generative --set days=10
    $S --conditions generative --set days=10 --grid 'sampler.kind=["cvae", "recall"]'
    $S --conditions generative --set days=10 'sampler.kind="cvae"' sampler.cvae.soft_targets=false
    $S --conditions generative --set days=10 'sampler.kind="recall"' sampler.recall.soft_targets=false

| sampler | day-10 val accuracy (seeds 100, 101) | mean | mean over days |
|---|---|---|---|
"""


def main() -> None:
    """Write ``screen.md`` and ``screen.json`` beside the runs and print the table."""
    lines, out = [], {}
    for name, folder in ROWS:
        runs = find_run_dirs(ROOT / folder)
        table = per_seed(load_runs(runs), "val_accuracy").set_index("seed").loc[list(SEEDS)]
        finals, means = table["final"].tolist(), table["mean_over_days"].tolist()
        out[name] = {"final": finals, "mean_over_days": means}
        shown = ", ".join(f"{v:.3f}" for v in finals)
        lines.append(f"| {name} | {shown} | {np.mean(finals):.3f} | {np.mean(means):.3f} |")
    text = HEADER + "\n".join(lines) + "\n"
    atomic_write_text(ROOT / "screen.md", text)
    atomic_write_text(ROOT / "screen.json", json.dumps(out, indent=1) + "\n")
    print(text)


if __name__ == "__main__":
    main()
