"""Does clipping the Gaussian at zero bring its samples on distribution at every block?

Usage:
    python benchmarks/calibration/rectified_fidelity.py                    # seeds 100 101, 10 days
    python benchmarks/calibration/rectified_fidelity.py --seeds 0 1 2 3 4 \
        --out benchmarks/results/calibration/rectified_fidelity/seeds_0-4
    python benchmarks/calibration/rectified_fidelity.py --seeds 0 1 2 3 4 --days 3 --layers 5 \
        --samples-per-class 1800 --out benchmarks/results/calibration/rectified_fidelity/block5_x10

Every replay layer is a max-pool of ReLU maps, so real activations are never negative and most
are exactly zero, while a Gaussian fitted to them puts part of its mass below zero. Along the
preset's own round-robin course (its configured sampler replays; nothing else changes), every
block is judged each day with the paper's ``gaussian`` and with ``gaussian-rectified`` by
:func:`replay_gym.fidelity.sample_fidelity` on the day's training activations: no validation or
test images are involved. Each seed goes to ``OUT/seed_<k>.json`` as soon as it is done and is
reused on a rerun; ``OUT/rectified_fidelity.md`` tabulates, per block and kind, the lowest and
mean sample/real accuracy ratio, the days below issue 8's 0.9, and how much of each side lies
at or below zero.
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
"""Issue 8's criterion: sample accuracy at least 0.9 x real accuracy, every day."""
KINDS = ("gaussian", "gaussian-rectified")
OUT = Path(__file__).resolve().parents[1] / "results" / "calibration" / "rectified_fidelity"


def summarise(results: list[dict]) -> list[dict]:
    """Per (block, kind): min and mean ratio, days below the threshold, mean fractions at zero."""
    groups: dict[tuple[int, str], list[dict]] = {}
    for result in results:
        for record in result["records"]:
            groups.setdefault((record["layer"], record["kind"]), []).append(
                {**record, "seed": result["seed"]}
            )
    rows = []
    for (layer, kind), records in sorted(groups.items()):
        ratios = np.array([r["ratio"] for r in records], dtype=float)
        below = [f"{r['seed']}/{r['day']}" for r in records if r["ratio"] < THRESHOLD]
        rows.append({
            "layer": layer, "kind": kind, "n": len(records),
            "min_ratio": float(np.nanmin(ratios)), "mean_ratio": float(np.nanmean(ratios)),
            "below": below,
            "sample_below_zero": float(np.mean([r["sample_below_zero"] for r in records])),
            "real_at_zero": float(np.mean([r["real_at_zero"] for r in records])),
        })  # fmt: skip
    return rows


def table(rows: list[dict], seeds: list[int], days: int, preset: str) -> str:
    """The markdown table of :func:`summarise`'s rows."""
    lines = [
        f"# Plain vs rectified Gaussian: sample/real accuracy above each block ({preset!r}, "
        f"seeds {seeds}, days 1-{days}, the day's training activations)",
        "",
        "| block | sampler | min ratio | mean ratio | seed/day below 0.9 | sample values < 0 | "
        "real values = 0 |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['layer']} | {r['kind']} | {r['min_ratio']:.3f} | {r['mean_ratio']:.3f} | "
        f"{', '.join(r['below']) or 'none'} ({len(r['below'])} of {r['n']}) | "
        f"{r['sample_below_zero']:.3f} | {r['real_at_zero']:.3f} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def main(
    preset: str = "default",
    seeds: tuple[int, ...] = (100, 101),
    days: int = 10,
    out: Path = OUT,
    threads: int = 1,
    layers: tuple[int, ...] = (),
    samples_per_class: int | None = None,
) -> str:
    """Judge both kinds on each seed's course (reusing finished seeds), then tabulate.

    Args:
        preset: Base configuration (its course and replay are unchanged).
        seeds: Courses to judge; the defaults are calibration seeds, apart from the reported 0-4.
        days: Real days of the round-robin course.
        out: Where the per-seed JSON and the table go.
        threads: torch threads.
        layers: Blocks to judge (default: all five).
        samples_per_class: Generated samples per class (default: a night's); more narrows the
            ratio's binomial noise (the real side is the day's images either way).
    """
    torch.set_num_threads(threads)
    env_config = preset_config(preset)
    saved_config = json.loads(json.dumps(config_to_dict(env_config)))  # as the JSON holds it
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for seed in seeds:
        path = out / f"seed_{seed}.json"
        if path.exists():
            result = json.loads(path.read_text())
            judged = (result["days"], result["config"], result.get("layers", []),
                      result.get("samples_per_class"))
            if judged != (days, saved_config, list(layers), samples_per_class):
                raise SystemExit(f"{path} was judged on another preset, number of days, layers "
                                 f"or number of samples; use another --out")  # fmt: skip
        else:
            records = fidelity_along_course(env_config, seed, days, kinds=KINDS,
                                            layers=layers or None,
                                            samples_per_class=samples_per_class)
            result = {"config": config_to_dict(env_config), "days": days, "seed": seed,
                      "layers": list(layers), "samples_per_class": samples_per_class,
                      "records": records}  # fmt: skip
            atomic_write_text(path, json.dumps(result, indent=1))
            print(f"rectified fidelity seed {seed} done", flush=True)
        results.append(result)
    rows = summarise(results)
    text = table(rows, list(seeds), days, preset)
    atomic_write_text(out / "rectified_fidelity.json",
                      json.dumps({"seeds": list(seeds), "days": days, "rows": rows}, indent=1))
    atomic_write_text(out / "rectified_fidelity.md", text)
    print(text)
    return text


if __name__ == "__main__":
    cli(main)
