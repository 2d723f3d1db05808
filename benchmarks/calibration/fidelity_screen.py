"""Choose the down-sampling factor of each block by sample fidelity, on calibration seeds.

Usage:
    python benchmarks/calibration/fidelity_screen.py                  # seeds 100 101, days 1-5
    python benchmarks/calibration/fidelity_screen.py --preset smoke --days 2 --seeds 7 --out /tmp/f

The factor only matters when replay is drawn from that block, so it is chosen by the one
criterion it affects: the network above the block must classify generated samples about as
well as the real activations they were fitted to (issue 8: >= 0.9 of it, every day). Along a
round-robin course (as ``acceptance.py``'s branches), every candidate factor of every block is
judged on each day's activations with :func:`replay_gym.fidelity.sample_fidelity`. The seeds
are kept apart from the reported ones (0-4) and nothing here looks at test accuracy.

Each seed is written to ``OUT/seed_<k>.json`` as soon as it is done and reused on a rerun;
``OUT/fidelity_screen.md`` tabulates the minimum and mean ratio per block and factor, and the
largest factor (smallest Gaussian) whose minimum passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.config import config_to_dict
from replay_gym.config import preset as preset_config
from replay_gym.fidelity import fidelity_along_course

THRESHOLD = 0.9
"""Issue 8's criterion: sample accuracy at least 0.9 x real accuracy."""


def candidate_factors(env_config, layer: int, largest: int = 4) -> list[int]:
    """Factors 1, 2, 4, ... up to ``largest`` that divide the block's map."""
    side = env_config.learner.input_size // 2**layer
    return [f for f in (1, 2, 4, 8) if f <= largest and side % f == 0]


def screen_seed(env_config, seed: int, days: int) -> dict:
    """Fidelity of every (block, candidate factor) on days 1..``days`` of a round-robin course."""
    records = fidelity_along_course(
        env_config, seed, days, lambda layer: candidate_factors(env_config, layer)
    )
    return {"seed": seed, "records": records}


def summarise(results: list[dict]) -> list[dict]:
    """Per (block, factor): min and mean ratio over every day and seed, and whether it passes."""
    rows: dict[tuple[int, int], list[float]] = {}
    for result in results:
        for record in result["records"]:
            rows.setdefault((record["layer"], record["factor"]), []).append(record["ratio"])
    return [
        {
            "layer": layer,
            "factor": factor,
            "min_ratio": float(np.min(ratios)),
            "mean_ratio": float(np.mean(ratios)),
            "n": len(ratios),
            "passes": bool(np.min(ratios) >= THRESHOLD),
        }
        for (layer, factor), ratios in sorted(rows.items())
    ]


def choose(rows: list[dict]) -> dict[int, int | None]:
    """Per block, the largest passing factor (the cheapest Gaussian); None if none passes."""
    chosen: dict[int, int | None] = {}
    for row in rows:
        chosen.setdefault(row["layer"], None)
        if row["passes"]:
            chosen[row["layer"]] = max(row["factor"], chosen[row["layer"]] or 0)
    return chosen


def table(rows: list[dict], chosen: dict[int, int | None], seeds: list[int], days: int) -> str:
    lines = [
        f"# Down-sampling screen: sample/real accuracy above each block (seeds {seeds}, "
        f"days 1-{days})",
        "",
        "| block | factor | min ratio | mean ratio | n | passes (min >= 0.9) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['layer']} | {r['factor']} | {r['min_ratio']:.3f} | {r['mean_ratio']:.3f} | "
        f"{r['n']} | {'yes' if r['passes'] else 'no'} |"
        for r in rows
    ]
    lines += [
        "",
        "Largest passing factor per block: "
        + ", ".join(
            f"{layer}: {factor if factor is not None else 'none passes'}"
            for layer, factor in sorted(chosen.items())
        ),
        "",
    ]
    return "\n".join(lines)


def main(
    preset: str = "default",
    seeds: tuple[int, ...] = (100, 101),
    days: int = 5,
    out: Path = Path(__file__).resolve().parents[1] / "results" / "calibration" / "fidelity",
    threads: int = 1,
) -> None:
    """Screen every block's factors on each seed (reusing finished seeds), then tabulate.

    Args:
        preset: Base configuration.
        seeds: Calibration seeds, kept apart from the reported 0-4.
        days: Days of the round-robin course.
        out: Where the per-seed JSON and the table go.
        threads: torch threads.
    """
    torch.set_num_threads(threads)
    env_config = preset_config(preset)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for seed in seeds:
        path = out / f"seed_{seed}.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
            continue
        result = {"config": config_to_dict(env_config), **screen_seed(env_config, seed, days)}
        atomic_write_text(path, json.dumps(result, indent=1))
        results.append(result)
        print(f"fidelity screen seed {seed} done", flush=True)
    rows = summarise(results)
    chosen = choose(rows)
    atomic_write_text(
        out / "fidelity_screen.json",
        json.dumps(
            {
                "seeds": list(seeds),
                "days": days,
                "rows": rows,
                "chosen": {str(k): v for k, v in chosen.items()},
            },
            indent=1,
        ),
    )
    atomic_write_text(out / "fidelity_screen.md", table(rows, chosen, list(seeds), days))
    print(table(rows, chosen, list(seeds), days))


if __name__ == "__main__":
    cli(main)
