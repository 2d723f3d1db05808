"""Speed and memory of every sampler, as ratios to the Gaussian sampler measured in the same run.

Usage:
    python benchmarks/bench_samplers.py                  # default preset, every kind, 2 nights
    python benchmarks/bench_samplers.py --preset smoke --kinds gaussian recall --nights 1 \
        --out /tmp/samplers

For each sampler kind, in a process of its own (so that its peak memory is its own), one course
of ``nights`` days on the chosen preset (seed 0, replay at the preset's layer), each day followed
by a night of round-robin steps (one class per step, as a selector replays):

- fit time per day: the sampler's ``fit`` after each day of real images;
- sample time per night step: the sampler's work in a step (``sample``, ``finish_batch`` and
  ``replay_targets``);
- night time: a whole night of steps (sampling, training, validation), without the next day;
- day time: the learner's training on the day's images, for scale;
- peak memory: the process's peak resident set size, and the bytes the sampler keeps (its state:
  for the seed samplers, by part).

Night 1 of a seed sampler has no copy of the network from before the day (hard labels, recall
against the current network only); night 2 has one. Each kind's numbers are divided by the
Gaussian sampler's; the rule of issue 11 is a night ratio of at most 3. Absolute times depend on
the machine and its load; the ratios are the result. Writes ``OUT/samplers.json`` and
``OUT/samplers.md``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.config import preset as preset_config
from replay_gym.envs import ReplaySelectionEnv
from replay_gym.learner.cortex import Learner
from replay_gym.learner.vgg import VGG16
from replay_gym.samplers import ContinualSampler, make_sampler, state_bytes

RESULTS = Path(__file__).resolve().parent / "results" / "samplers"
KINDS = ("gaussian", "gaussian-rectified", "veridical", "cvae", "cvae-repulsion", "recall")
NIGHT_RULE = 3.0
"""No sampler may make a default night more than this many times slower than the Gaussian one."""


CLOCK = time.thread_time
"""The clock of every measurement: CPU time of this thread. With one torch thread it counts the
work done and not the waits of a machine shared with other jobs (wall times are kept beside)."""


@contextlib.contextmanager
def timed(owner: type, names: tuple[str, ...], clock: dict[str, list[float]]) -> Iterator[None]:
    """Record the CPU time of every call of ``owner``'s methods ``names`` into ``clock``."""
    originals = {name: getattr(owner, name) for name in names}

    def wrap(name, method):
        def call(self, *args, **kwargs):
            start = CLOCK()
            try:
                return method(self, *args, **kwargs)
            finally:
                clock[name].append(CLOCK() - start)

        return call

    for name, method in originals.items():
        setattr(owner, name, wrap(name, method))
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(owner, name, method)


def measure(kind: str, preset: str, nights: int, seed: int = 0) -> dict:
    """One course with sampler ``kind``: its times, its memory and the peak RSS of this process."""
    env = ReplaySelectionEnv(preset=preset, sampler={"kind": kind}, days=nights)
    sampler_class = type(make_sampler(env.config.sampler, env.layer))
    clock: dict[str, list[float]] = defaultdict(list)
    sampler_methods = ("fit", "sample", "finish_batch", "replay_targets")
    with (
        timed(sampler_class, sampler_methods, clock),
        timed(Learner, ("train_day",), clock),
        timed(ReplaySelectionEnv, ("_start_day",), clock),
    ):
        env.reset(seed=seed)
        nights_s, walls, steps = [], [], []
        for _ in range(nights):
            sampler_before = {
                m: len(clock[m]) for m in ("sample", "finish_batch", "replay_targets")
            }
            days_before = sum(clock["_start_day"])
            start, wall = CLOCK(), time.perf_counter()
            for step in range(env.night_length):
                env.step(step % env.n_classes)
            day = sum(clock["_start_day"]) - days_before  # the next day, trained by the last step
            nights_s.append(CLOCK() - start - day)
            walls.append(time.perf_counter() - wall)
            steps.append(
                sum(sum(clock[m][sampler_before[m] :]) for m in sampler_before) / env.night_length
            )
    sampler = env.sampler
    parts = sampler.memory() if isinstance(sampler, ContinualSampler) else {}
    shape = env.config.learner.pool_shape(env.layer)
    activation_bytes = 4 * math.prod(shape)
    return {
        "kind": kind,
        "fit_s": clock["fit"],
        "day_training_s": clock["train_day"],
        "sample_per_step_s": steps,
        "night_s": nights_s,
        "night_wall_s_with_next_day": walls,
        "night_length": env.night_length,
        "sampler_state_bytes": state_bytes(sampler.state_dict()),
        "sampler_parts_bytes": parts,
        "model_copy_as_activations": parts.get("model_copy", 0) / activation_bytes,
        "day_buffer_bytes": activation_bytes * len(env.data.train_labels),
        "peak_rss_bytes": 1024 * resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def measure_isolated(kind: str, preset: str, nights: int, threads: int) -> dict:
    """:func:`measure` in a fresh Python process (its peak memory is then the kind's own)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "one.json"
        code = (
            "import json, sys, torch; torch.set_num_threads(int(sys.argv[5]));"
            "sys.path.insert(0, sys.argv[1]); import bench_samplers as b;"
            "json.dump(b.measure(sys.argv[2], sys.argv[3], int(sys.argv[4])), "
            "open(sys.argv[6], 'w'))"
        )
        here = str(Path(__file__).resolve().parent)
        subprocess.run(
            [sys.executable, "-c", code, here, kind, preset, str(nights), str(threads), str(out)],
            check=True,
        )
        return json.loads(out.read_text())


def ratios(row: dict, base: dict) -> dict:
    """The row's means and their ratios to the Gaussian sampler's row ``base``."""

    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else float("nan")

    summary = {
        "fit_per_day_s": mean(row["fit_s"]),
        "sample_per_step_s": mean(row["sample_per_step_s"]),
        "night_s": mean(row["night_s"]),
        "day_training_s": mean(row["day_training_s"]),
    }
    summary["fit_ratio"] = summary["fit_per_day_s"] / mean(base["fit_s"])
    summary["sample_per_step_ratio"] = summary["sample_per_step_s"] / mean(
        base["sample_per_step_s"]
    )
    summary["night_ratio"] = summary["night_s"] / mean(base["night_s"])
    summary["fit_over_day_training"] = summary["fit_per_day_s"] / summary["day_training_s"]
    if len(row["fit_s"]) > 1:  # from day 2 on, the VAE also trains on its own replay
        summary["later_fit_over_day_training"] = mean(row["fit_s"][1:]) / mean(
            row["day_training_s"][1:]
        )
    summary["night_1_ratio"] = row["night_s"][0] / base["night_s"][0]
    if len(row["night_s"]) > 1:
        summary["later_nights_ratio"] = mean(row["night_s"][1:]) / mean(base["night_s"][1:])
    summary["peak_rss_ratio"] = row["peak_rss_bytes"] / base["peak_rss_bytes"]
    summary["within_night_rule"] = bool(
        max(summary["night_1_ratio"], summary.get("later_nights_ratio", 0.0)) <= NIGHT_RULE
    )
    return summary


def paper_memory(n_classes: int = 10, train_per_class: int = 1170) -> list[dict]:
    """ARM's memory account at the ``paper`` preset's scale, computed (nothing is trained).

    For each replay layer: the bytes of a copy of the network above it (4 per parameter, as ARM
    counts) against a buffer of one day's activations there (the veridical sampler's), and how
    many activations the copy's bytes would hold. The network is built on the meta device, so
    no memory is used.
    """
    config = preset_config("paper").learner
    with torch.device("meta"):
        model = VGG16(config.widths, config.input_size, config.hidden, n_classes, config.dropout)
    rows = []
    for layer in range(1, 6):
        copy_bytes = 4 * sum(p.numel() for p in model.parameters_above(layer))
        activation_bytes = 4 * math.prod(config.pool_shape(layer))
        buffer_bytes = activation_bytes * n_classes * train_per_class
        rows.append({
            "layer": layer,
            "model_copy_bytes": copy_bytes,
            "day_buffer_bytes": buffer_bytes,
            "copy_over_buffer": copy_bytes / buffer_bytes,
            "copy_as_activations": copy_bytes / activation_bytes,
        })  # fmt: skip
    return rows


def table(rows: list[dict], paper: list[dict]) -> str:
    """The markdown tables: the ratios, then ARM's memory account at the paper's scale."""
    head = (
        "| sampler | fit / day (s) | × Gaussian | fit / day's training (day 2 on) "
        "| sample / step (ms) | × Gaussian | night (s) | × Gaussian (night 1, later) "
        "| peak RSS (MB) | kept (MB) | night ≤ 3× |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for row in rows:
        s = row["summary"]
        later = s.get("later_nights_ratio", float("nan"))
        later_fit = s.get("later_fit_over_day_training", float("nan"))
        lines.append(
            f"| {row['kind']} | {s['fit_per_day_s']:.3g} | {s['fit_ratio']:.3g} "
            f"| {s['fit_over_day_training']:.2f} ({later_fit:.2f}) "
            f"| {1e3 * s['sample_per_step_s']:.3g} | {s['sample_per_step_ratio']:.3g} "
            f"| {s['night_s']:.3g} | {s['night_ratio']:.2f} ({s['night_1_ratio']:.2f}, "
            f"{later:.2f}) | {row['peak_rss_bytes'] / 1e6:.0f} "
            f"| {row['sampler_state_bytes'] / 1e6:.2f} "
            f"| {'yes' if s['within_night_rule'] else '**no**'} |"
        )
    memory = [
        "",
        "Recall's memory at the `paper` preset's scale (computed): a copy of the network above "
        "the layer against a buffer of one day's activations there.",
        "",
        "| layer | copy (MB) | day buffer (MB) | copy / buffer | copy in activations |",
        "|---|---|---|---|---|",
    ]
    for m in paper:
        memory.append(
            f"| {m['layer']} | {m['model_copy_bytes'] / 1e6:.0f} | {m['day_buffer_bytes'] / 1e6:.0f} "
            f"| {m['copy_over_buffer']:.3g} | {m['copy_as_activations']:.0f} |"
        )
    return head + "\n".join(lines) + "\n" + "\n".join(memory) + "\n"


def main(
    preset: str = "default",
    kinds: tuple[str, ...] = KINDS,
    nights: int = 2,
    isolate: bool = True,
    threads: int = 1,
    out: Path = RESULTS,
    measure_again: bool = True,
) -> dict:
    """Measure every kind (the Gaussian sampler first, as the base) and write the tables.

    Args:
        preset: The environment preset.
        kinds: Sampler kinds; ``gaussian`` is added first when missing.
        nights: Nights (and days) per course; night 1 has no copy of the network yet.
        isolate: Measure each kind in its own process (peak memory per kind); otherwise in
            this one, where the peak is the process's so far.
        threads: Torch threads.
        out: Folder of ``samplers.json`` and ``samplers.md``.
        measure_again: With False, only tabulate the rows already in ``OUT/samplers.json``
            again (the other arguments are then those of that run).
    """
    if not measure_again:
        result = json.loads((out / "samplers.json").read_text())
        return write(result, result["rows"], out)
    if nights < 1:
        raise ValueError(f"nights must be at least 1, got {nights}")
    preset_config(preset)  # an unknown preset fails before any work
    kinds = ("gaussian", *[k for k in kinds if k != "gaussian"])
    torch.set_num_threads(threads)
    rows = []
    for kind in kinds:
        row = (
            measure_isolated(kind, preset, nights, threads)
            if isolate
            else measure(kind, preset, nights)
        )
        print(f"{kind}: night {np.mean(row['night_s']):.3g} s", flush=True)
        rows.append(row)
    result = {
        "preset": preset,
        "nights": nights,
        "isolated": isolate,
        "night_rule": NIGHT_RULE,
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": threads,
            "load_average": list(os.getloadavg()),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
    }
    return write(result, rows, out)


def write(result: dict, rows: list[dict], out: Path) -> dict:
    """Summarise ``rows`` against the first (Gaussian) one, add the paper-scale memory, write."""
    for row in rows:
        row["summary"] = ratios(row, rows[0])
    result["rows"] = rows
    result["paper_preset_memory"] = paper_memory()
    machine = result["machine"]
    text = (
        f"Preset `{result['preset']}`, {result['nights']} days and nights per sampler"
        f"{', each in its own process' if result['isolated'] else ''}; CPU time of the one "
        f"torch thread ({machine['torch_threads']}), on {machine['cpu_count']} cores with a "
        f"load average of {machine['load_average'][0]:.1f}. Night 1 has no copy of the network "
        "from before the day; later nights do. `python benchmarks/bench_samplers.py`.\n\n"
        + table(rows, result["paper_preset_memory"])
    )
    atomic_write_text(out / "samplers.json", json.dumps(result, indent=2))
    atomic_write_text(out / "samplers.md", text)
    print(text)
    return result


if __name__ == "__main__":
    cli(main)
