"""Compare selector agents and fixed conditions against the paper's side network.

Usage:
    python benchmarks/compare_selectors.py                              # default preset, 3 seeds
    python benchmarks/compare_selectors.py --seeds 5 --conditions none regression exp3s
    python benchmarks/compare_selectors.py --preset smoke --days 1 --seeds 1 --out /tmp/cmp

Every condition runs through the same runner (``OUT/runs/<condition>``), then one table is
written to ``OUT/selectors.md`` and ``OUT/selectors.json``:
- final test accuracy (mean ± s.e.m. over seeds) and the mean over days (area under the curve);
- test accuracy after day 1 (before its night) and after night 1;
- the paper's Fig. 3C analysis, pooled over seeds and classes: how replays relate to a class's
  test accuracy after day 1, before its night (Pearson r and R^2; the paper found R^2 = 0.24, weak classes replayed
  more, i.e. r < 0), and how the final-minus-day-1 accuracy change relates to it (paper
  R^2 = 0.18, weak classes improved more).
Existing runs are reused (pass --rerun to redo them), so an interrupted comparison resumes.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from replay_gym.analysis import markdown, run_or_reuse, summarise
from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.config import preset as preset_config
from replay_gym.runner import RunArgs

RESULTS = Path(__file__).resolve().parent / "results" / "selectors"

DEFAULT_CONDITIONS = (
    "none",
    "generative",
    "round-robin",
    "regression",
    "exp3s",
    "ucb1",
    "thompson",
    "epsilon-greedy",
    "weakest",
    "random",
    "oracle",
)


def main(
    conditions: tuple[str, ...] = DEFAULT_CONDITIONS,
    preset: str = "default",
    seeds: int = 3,
    days: int | None = None,
    out: Path = RESULTS,
    rerun: bool = False,
) -> list[dict]:
    """Run (or reuse) every condition and write the comparison table."""
    env = preset_config(preset)
    if days is not None:
        env = dataclasses.replace(env, days=days)
    rows = []
    for condition in conditions:
        args = RunArgs(
            condition=condition,
            preset=preset,
            seeds=seeds,
            out=out / "runs" / condition,
            env=env,
            progress=False,
        )
        rows.append(summarise(condition, run_or_reuse(args, rerun)))
        print(markdown(rows[-1:], "").splitlines()[-1], flush=True)
    header = (
        f"Preset `{preset}`, {env.days} days, {seeds} seeds, replay at block {env.replay_layer}, "
        f"{env.night_length} steps per night. `oracle` is privileged (probes every class each step)."
    )
    atomic_write_text(out / "selectors.md", markdown(rows, header))
    atomic_write_text(out / "selectors.json", json.dumps(rows, indent=2))
    print(markdown(rows, header))
    return rows


if __name__ == "__main__":
    cli(main)
