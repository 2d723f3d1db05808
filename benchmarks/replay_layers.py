"""The paper's experiment 1: generative replay from each of the five max-pool layers vs. none.

Usage:
    python benchmarks/replay_layers.py                                   # default preset, 3 seeds
    python benchmarks/replay_layers.py --layers 4 5 --seeds 5
    python benchmarks/replay_layers.py --preset smoke --days 1 --seeds 1 --out /tmp/layers

Each block's run uses the ``generative`` condition with ``replay_layer`` set and the per-layer
down-sampling factors of ``sampler.downsample``; ``none`` is the no-replay baseline (reused from
the selector comparison when that holds an identical run). Writes ``OUT/layers.md`` and
``OUT/layers.json``. The paper found block 4 the only location significantly better than no
replay after 10 days.
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

RESULTS = Path(__file__).resolve().parent / "results"


def main(
    layers: tuple[int, ...] = (1, 2, 3, 4, 5),
    preset: str = "default",
    seeds: int = 3,
    days: int | None = None,
    out: Path = RESULTS / "layers",
    baseline: Path = RESULTS / "selectors" / "runs" / "none",
    rerun: bool = False,
) -> list[dict]:
    """Run (or reuse) no replay and generative replay at every layer; write the table."""
    env = preset_config(preset)
    if days is not None:
        env = dataclasses.replace(env, days=days)
    runs = [("none", RunArgs(condition="none", preset=preset, seeds=seeds, out=baseline, env=env))]
    for layer in layers:
        runs.append(
            (
                f"block {layer}",
                RunArgs(
                    condition="generative",
                    preset=preset,
                    seeds=seeds,
                    out=out / "runs" / f"block{layer}",
                    env=dataclasses.replace(env, replay_layer=layer),
                ),
            )
        )
    rows = []
    for label, args in runs:
        row = summarise(label, run_or_reuse(dataclasses.replace(args, progress=False), rerun))
        rows.append({**row, "replay": label})
        print(markdown(rows[-1:], "", first="replay").splitlines()[-1], flush=True)
    header = (
        f"Preset `{preset}`, {env.days} days, {seeds} seeds, generative replay (every sample once "
        f"per night), down-sampling {env.sampler.downsample}."
    )
    atomic_write_text(out / "layers.md", markdown(rows, header, first="replay"))
    atomic_write_text(out / "layers.json", json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    cli(main)
