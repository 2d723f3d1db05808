"""Why does a sampler keep (or not keep) old classes? Old-class sample fidelity along a course.

Usage:
    python benchmarks/continual/old_class_fidelity.py --seeds 100 101 \
        --out benchmarks/results/continual/default/old_class_fidelity

A diagnosis, on calibration seeds (never the reported 0-4) and the validation split. For each
sampler kind, a class-incremental course with the `generative` schedule; at the start of every
night (after the day trained and the sampler was refitted) the network above the replay layer
classifies ``--samples`` generated activations of each class seen so far, and the real
validation activations of the same classes. Reported per night, for the classes of earlier tasks
(the ones replay must keep) and those of the current task: the accuracy on samples, the accuracy
on real activations, and their ratio; the sample accuracy of old classes is what replay can
teach, the real one is what is kept.

Writes ``OUT/<kind>/seed_<k>.json`` per course as it finishes (reused when run again) and
``OUT/old_class_fidelity.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.conditions import make_fixed_env
from replay_gym.config import apply_overrides
from replay_gym.config import preset as preset_config
from replay_gym.sweep.grid import parse_assignment


def night_fidelity(env, day_end: dict, samples: int, seed: int) -> dict:
    """Sample and real validation accuracy of each seen class, now (at the start of a night).

    ``day_end`` is the day's summary from the env's info (its per-class validation accuracy).
    """
    base = env.unwrapped
    seen = base.scenario.seen_classes(base.day)
    current = set(base.scenario.train_classes(base.day))
    generator = torch.Generator().manual_seed(seed * 1000 + base.day)
    rows = {}
    for c in seen:
        drawn = base.sampler.sample(c, samples, generator)
        drawn = base.sampler.finish_batch(drawn, torch.full((samples,), c, dtype=torch.int64))
        sample_acc = float(np.mean(base.learner.predict_from(drawn, base.layer) == c))
        rows[int(c)] = {
            "old": c not in current,
            "sample_accuracy": sample_acc,
            "real_accuracy": float(day_end["class_accuracy"][c]),
        }
    return {"day": base.day, "classes": rows}


def course(
    preset: str, kind: str, seed: int, samples: int, overrides: dict | None = None
) -> list[dict]:
    """One generative class-incremental course; fidelity at every night's start."""
    config = apply_overrides(preset_config(preset), **(overrides or {}))
    config = apply_overrides(config, sampler={"kind": kind})
    env = make_fixed_env("generative", config)
    _, info = env.reset(seed=seed)
    nights = [night_fidelity(env, info["day_end"], samples, seed)]
    while True:
        _, _, terminated, _, info = env.step(0)
        if terminated:
            return nights
        if "night_end" in info:
            nights.append(night_fidelity(env, info["day_end"], samples, seed))


def summarise(nights: list[dict], old: bool) -> dict:
    """Mean sample and real accuracy over a course's nights and its old (or current) classes."""
    sample, real = [], []
    for night in nights:
        rows = [r for r in night["classes"].values() if r["old"] == old]
        if rows:
            sample.append(np.mean([r["sample_accuracy"] for r in rows]))
            real.append(np.mean([r["real_accuracy"] for r in rows]))
    return {"sample": float(np.mean(sample)), "real": float(np.mean(real))}


def main(
    out: Path,
    kinds: tuple[str, ...] = ("gaussian", "cvae", "cvae-repulsion", "recall"),
    seeds: tuple[int, ...] = (100, 101),
    preset: str = "class-incremental",
    samples: int = 200,
    threads: int = 1,
    override: tuple[str, ...] = (),
) -> str:
    """Run (or reuse) each kind's courses, then tabulate.

    Args:
        out: Folder for the per-course JSON and the table.
        kinds: Sampler kinds to compare.
        seeds: Calibration seeds (keep the reported seeds 0-4 out).
        preset: A class-incremental preset.
        samples: Generated activations judged per class and night.
        threads: torch threads.
        override: Settings ``KEY=JSON`` on top of the preset (as ``gym.make`` takes them).
    """
    torch.set_num_threads(threads)
    overrides = dict(parse_assignment(item) for item in override)
    lines = [
        f"Preset `{preset}`, `generative` schedule, seeds {list(seeds)}, validation split; mean "
        "over nights 2-10 and seeds. Old: classes of earlier tasks; current: the day's task.",
        "",
        "| sampler | old: sample acc. | old: real acc. | current: sample acc. | current: real acc. |",
        "|---|---|---|---|---|",
    ]
    for kind in kinds:
        per_seed = []
        for seed in seeds:
            path = out / kind / f"seed_{seed}.json"
            if not path.exists():
                atomic_write_text(path, json.dumps(course(preset, kind, seed, samples, overrides), indent=1))
                print(f"{kind} seed {seed} done", flush=True)
            per_seed.append(json.loads(path.read_text()))
        old = [summarise(n[1:], old=True) for n in per_seed]
        new = [summarise(n[1:], old=False) for n in per_seed]

        def cell(values: list[dict], key: str) -> str:
            return f"{np.mean([v[key] for v in values]):.3f}"

        lines.append(f"| {kind} | {cell(old, 'sample')} | {cell(old, 'real')} | "
                     f"{cell(new, 'sample')} | {cell(new, 'real')} |")  # fmt: skip
    text = "\n".join(lines) + "\n"
    atomic_write_text(out / "old_class_fidelity.md", text)
    print(text)
    return text


if __name__ == "__main__":
    cli(main)
