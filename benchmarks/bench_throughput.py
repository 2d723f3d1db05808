"""RL training throughput: env steps per second, each step against its compute limit, PPO's time.

Usage:
    python benchmarks/bench_throughput.py                       # default preset, ~10-15 min
    python benchmarks/bench_throughput.py --ppo-steps 20000     # also PPO's wall time (long)
    python benchmarks/bench_throughput.py --preset smoke --nights 1 --layers 4 --layer-steps 3

Writes ``benchmarks/results/throughput/throughput.json`` and ``throughput.md`` (``--out``).
Everything is measured in this one run, one torch thread per process (vector-env workers: one
each), so the ratios compare like with like. Run it on an otherwise idle machine with at least
two cores: other load slows some configurations more than others.

1. Matrix-multiply rate: the best of ``--matmul-repeats`` float32 ``n x n`` products on one
   thread, the machine's bare-compute rate.
2. Per replay layer (1-5) and variant (below): the median time of ``--layer-steps`` night steps
   against the step's bare-compute limit: its FLOP count
   (``torch.utils.flop_counter.FlopCounterMode`` around one eager step: matmuls and
   convolutions, forward and backward, the sampler's too) divided by the rate of 1. Target:
   compiled step within 1.5x of the limit at block 4. A layer's compile time is the compiled
   variant's reset minus the eager one's (the first compile of that layer in the process).
3. Single environment, per learner variant (``eager``; ``compiled``: ``learner.compile``;
   ``adam_fused``: ``learner.adam_fused``; ``compiled+fused``: both) at the preset's layer:
   reset (day 1), then ``--nights`` whole nights with the day that follows each, random
   actions. Env steps per second over all of it (what RL training sees), and over the night
   steps alone (steps that do not end a night, which train no day).
4. Vector environments of the eager env: ``SyncVectorEnv(2)`` (one process) and
   ``AsyncVectorEnv(2)`` with one torch thread per worker (``replay_gym.envs.make_vector_env``),
   and, when it is not the eager one, ``AsyncVectorEnv(2)`` of the fastest single-env variant.
   Target: async >= 1.7x one env.
5. With ``--ppo-steps N``: the wall time of ``train-sb3`` PPO for N steps with the fastest
   setting: two subprocess envs, one thread each, the fastest variant's learner settings.

Compiling uses a fresh inductor cache in a temporary folder (``--no-fresh-compile-cache``: the
user's), so the compile times are first-use times; later processes reuse the cache.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import replay_gym
from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.config import EnvConfig, apply_overrides
from replay_gym.config import preset as preset_config
from replay_gym.devices import compile_unavailable
from replay_gym.envs import make_env, make_vector_env
from replay_gym.sweep.grid import parse_assignment

RESULTS = Path(__file__).resolve().parent / "results" / "throughput"

VARIANTS: dict[str, dict[str, bool]] = {
    "eager": {},
    "compiled": {"compile": True},
    "adam_fused": {"adam_fused": True},
    "compiled+fused": {"compile": True, "adam_fused": True},
}
"""Learner settings compared, by name."""

WARMUP_STEPS = 2
"""Night steps taken after reset before a layer's steps are timed."""

ASYNC_TARGET = 1.7
LIMIT_TARGET = 1.5
TARGET_LAYER = 4


def matmul_gflops(size: int, repeats: int) -> float:
    """Best float32 ``size x size`` matrix-product rate in GFLOP/s on this process's threads."""
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=gen) for _ in range(2))
    torch.mm(a, b)
    best = min(_seconds(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _seconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _ended_night(info: dict[str, Any]) -> bool:
    """Whether a step's info (single env) or infos (vector env) report a night's end."""
    mask = info.get("_night_end")
    return bool(np.any(mask)) if mask is not None else "night_end" in info


def time_nights(env: Any, nights: int, n_envs: int, seed: int) -> dict[str, Any]:
    """Reset ``env`` (a single or vector env), then time ``nights`` whole nights and their days.

    Returns:
        reset_s; steps (env steps, all envs) and seconds over everything after reset, and the
        same over night steps only (those that do not end a night); their rates; and the
        median night step in ms (per vector step for a vector env).
    """
    rng = np.random.default_rng(seed)
    n_actions = int(env.single_action_space.n if n_envs > 1 else env.action_space.n)
    start = time.perf_counter()
    env.reset(seed=seed)
    reset_s = time.perf_counter() - start
    night_times, day_times, done = [], [], 0
    while done < nights:
        action = (
            rng.integers(n_actions, size=n_envs) if n_envs > 1 else int(rng.integers(n_actions))
        )
        start = time.perf_counter()
        _, _, terminated, truncated, info = env.step(action)
        elapsed = time.perf_counter() - start
        if np.any(terminated) or np.any(truncated):
            raise ValueError("the course ended while timing: nights must be below days")
        if _ended_night(info):
            day_times.append(elapsed)
            done += 1
        else:
            night_times.append(elapsed)
    seconds = sum(night_times) + sum(day_times)
    steps = n_envs * (len(night_times) + len(day_times))
    return {
        "reset_s": reset_s,
        "steps": steps,
        "seconds": seconds,
        "steps_per_s": steps / seconds,
        "night_steps": n_envs * len(night_times),
        "night_seconds": sum(night_times),
        "night_steps_per_s": n_envs * len(night_times) / sum(night_times),
        "median_night_step_ms": 1e3 * statistics.median(night_times),
    }


def bench_single(config: EnvConfig, variants: dict[str, dict], nights: int, seed: int) -> dict:
    results = {}
    for name, settings in variants.items():
        env = make_env(apply_overrides(config, **settings))
        try:
            results[name] = time_nights(env, nights, 1, seed)
        finally:
            env.close()
        print(
            f"single env, {name}: {results[name]['steps_per_s']:.2f} steps/s "
            f"({results[name]['night_steps_per_s']:.2f} night steps/s)",
            flush=True,
        )
    return results


def bench_vector(config: EnvConfig, best: dict, nights: int, seed: int) -> dict:
    runs = {"sync2": (config, "sync"), "async2": (config, "async")}
    if best:  # the fastest variant is not the eager one
        runs["async2_fastest"] = (apply_overrides(config, **best), "async")
    results = {}
    for name, (settings, mode) in runs.items():
        envs = make_vector_env(settings, 2, mode=mode, threads=1)
        try:
            results[name] = time_nights(envs, nights, 2, seed)
            results[name]["worker_threads"] = list(envs.get_attr("torch_threads"))
        finally:
            envs.close()
        print(f"{name}: {results[name]['steps_per_s']:.2f} steps/s", flush=True)
    return results


def step_flops(env: gym.Env, action: int) -> int:
    """FLOPs (matmuls, convolutions; forward and backward) of one ``env.step(action)``."""
    with FlopCounterMode(display=False) as counter:
        env.step(action)
    return int(counter.get_total_flops())


def layer_steps_needed(config: EnvConfig, steps: int) -> int:
    """Night steps a layer's measurement takes; ``ValueError`` when they do not fit a night."""
    needed = WARMUP_STEPS + 1 + steps  # the +1: the step whose FLOPs are counted
    if steps < 1 or needed >= config.night_length:
        raise ValueError(
            f"layer_steps={steps} does not fit a night of {config.night_length} steps "
            f"(with {WARMUP_STEPS + 1} untimed steps first, and the last ending the night)"
        )
    return needed


def bench_layer(
    config: EnvConfig, layer: int, variants: dict[str, dict], steps: int, gflops: float, seed: int
) -> dict:
    """One replay layer: each variant's median night step against the eager step's FLOPs."""
    config = apply_overrides(config, replay_layer=layer)
    needed = layer_steps_needed(config, steps)
    rng = np.random.default_rng(seed)
    actions = rng.integers(config.data.n_classes, size=needed).tolist()
    row: dict[str, Any] = {"layer": layer, "variants": {}}
    for name, settings in variants.items():
        env = make_env(apply_overrides(config, **settings))
        try:
            reset_s = _seconds(lambda env=env: env.reset(seed=seed))
            for action in actions[:WARMUP_STEPS]:
                env.step(action)
            if "flops" not in row:  # count on the first variant (eager when present)
                row["flops"] = step_flops(env, actions[WARMUP_STEPS])
                row["limit_ms"] = 1e3 * row["flops"] / (gflops * 1e9)
            else:
                env.step(actions[WARMUP_STEPS])
            times = [
                _seconds(lambda a=a, env=env: env.step(a)) for a in actions[WARMUP_STEPS + 1 :]
            ]
        finally:
            env.close()
        median_ms = 1e3 * statistics.median(times)
        row["variants"][name] = {
            "reset_s": reset_s,
            "median_step_ms": median_ms,
            "ratio_to_limit": median_ms / row["limit_ms"],
        }
        print(
            f"block {layer}, {name}: {median_ms:.1f} ms per step, "
            f"{median_ms / row['limit_ms']:.2f}x the limit",
            flush=True,
        )
    if "eager" in row["variants"] and "compiled" in row["variants"]:
        eager, compiled = row["variants"]["eager"], row["variants"]["compiled"]
        row["compile_s"] = compiled["reset_s"] - eager["reset_s"]
    return row


def bench_ppo(config: EnvConfig, preset: str, best: dict, steps: int, seed: int) -> dict:
    """Wall time of ``train-sb3`` PPO for ``steps`` steps: 2 subprocess envs, 1 thread each."""
    from replay_gym.agents.sb3 import TrainSB3Args, train_sb3

    env = apply_overrides(config, **best)
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainSB3Args(
            algo="ppo",
            preset=preset,
            env=env,
            total_timesteps=steps,
            n_envs=2,
            vec_env="subproc",
            seed=seed,
            out=Path(tmp) / "ppo.zip",
            verbose=0,
        )
        seconds = _seconds(lambda: train_sb3(args))
    print(f"PPO, {steps} steps: {seconds:.0f} s", flush=True)
    return {
        "steps": steps,
        "seconds": seconds,
        "steps_per_s": steps / seconds,
        "n_envs": 2,
        "vec_env": "subproc",
        "learner": best,
    }


def machine() -> dict[str, Any]:
    """What ran the benchmark: CPU, cores, load, versions."""
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "torch": torch.__version__,
        "replay_gym": replay_gym.__version__,
        "python": platform.python_version(),
    }


def main(
    preset: str = "default",
    override: tuple[str, ...] = (),
    nights: int = 2,
    layers: tuple[int, ...] = (1, 2, 3, 4, 5),
    layer_steps: int = 20,
    variants: tuple[str, ...] = tuple(VARIANTS),
    matmul_size: int = 1024,
    matmul_repeats: int = 10,
    ppo_steps: int = 0,
    seed: int = 0,
    fresh_compile_cache: bool = True,
    out: Path = RESULTS,
) -> dict:
    """Measure everything in one run and write ``throughput.json`` and ``throughput.md``.

    Args:
        preset: The environment preset (``default``: the issue's measurements).
        override: Settings changed from the preset, ``KEY=VALUE`` as ``gym.make`` takes them
            (``steps_per_night=10``; VALUE parsed as JSON where it parses).
        nights: Whole nights (each with its following day) per single and vector env run;
            below the preset's days.
        layers: Replay layers of the step-against-limit table.
        layer_steps: Night steps timed per layer and variant.
        variants: Learner variants to compare (names of VARIANTS; the first must be ``eager``).
        matmul_size: Side of the square matrices of the matmul rate.
        matmul_repeats: Matmuls timed; the fastest counts.
        ppo_steps: PPO steps to time with the fastest setting; 0 skips it.
        seed: Seed of the courses and the random actions.
        fresh_compile_cache: Compile into an empty temporary inductor cache (first-use times).
        out: Folder for the results.
    """
    config = apply_overrides(preset_config(preset), **dict(map(parse_assignment, override)))
    unknown = set(variants) - set(VARIANTS)
    if unknown or not variants or variants[0] != "eager":
        raise ValueError(f"variants must start with 'eager' and be among {list(VARIANTS)}")
    if not 1 <= nights < config.days:
        raise ValueError(f"nights must be in 1..{config.days - 1} (below the preset's days)")
    layer_steps_needed(config, layer_steps)
    chosen = {name: VARIANTS[name] for name in variants}
    why = compile_unavailable(config.learner.device)
    if why is not None:
        chosen = {name: v for name, v in chosen.items() if not v.get("compile")}
        print(f"compiled variants skipped: {why}", flush=True)
    threads = torch.get_num_threads()
    cache = tempfile.TemporaryDirectory() if fresh_compile_cache else None
    previous_cache = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if cache is not None:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache.name
    torch.set_num_threads(1)
    try:
        result: dict[str, Any] = {
            "machine": machine(),
            "settings": {
                "preset": preset,
                "override": list(override),
                "nights": nights,
                "layers": list(layers),
                "layer_steps": layer_steps,
                "variants": chosen,
                "matmul_size": matmul_size,
                "torch_threads": 1,
                "fresh_compile_cache": fresh_compile_cache,
                "seed": seed,
                "compile_unavailable": why,
            },
        }
        gflops = matmul_gflops(matmul_size, matmul_repeats)
        result["matmul_gflops"] = gflops
        print(f"matmul: {gflops:.1f} GFLOP/s on one thread", flush=True)
        # Layers first: each compiles there for the first time in this process (compile_s);
        # the single-env runs then reuse the compiled code, as a new course's learner does.
        result["layers"] = [
            bench_layer(config, layer, chosen, layer_steps, gflops, seed) for layer in layers
        ]
        single = bench_single(config, chosen, nights, seed)
        fastest = max(single, key=lambda name: single[name]["steps_per_s"])
        result["single"] = single
        result["fastest_variant"] = fastest
        result["vector"] = bench_vector(config, chosen[fastest], nights, seed)
        base = single["eager"]["steps_per_s"]
        result["speedups_over_one_eager_env"] = {
            **{f"single_{name}": run["steps_per_s"] / base for name, run in single.items()},
            **{name: run["steps_per_s"] / base for name, run in result["vector"].items()},
        }
        result["targets"] = targets(result)
        result["ppo"] = (
            bench_ppo(config, preset, chosen[fastest], ppo_steps, seed) if ppo_steps else None
        )
        result["machine"]["load_average_at_end"] = (
            list(os.getloadavg()) if hasattr(os, "getloadavg") else None
        )
    finally:
        torch.set_num_threads(threads)
        if cache is not None:
            if previous_cache is None:
                os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
            else:
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = previous_cache
            cache.cleanup()
    atomic_write_text(out / "throughput.json", json.dumps(result, indent=1) + "\n")
    atomic_write_text(out / "throughput.md", markdown(result))
    print(markdown(result))
    return result


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's two targets, each with the measured value and whether it is met."""
    checks = [
        {
            "target": f"AsyncVectorEnv(2), one thread per worker, >= {ASYNC_TARGET}x one env",
            "value": result["speedups_over_one_eager_env"]["async2"],
            "met": result["speedups_over_one_eager_env"]["async2"] >= ASYNC_TARGET,
        }
    ]
    for row in result["layers"]:
        if row["layer"] != TARGET_LAYER:
            continue
        for name in ("compiled", "compiled+fused"):
            if name in row["variants"]:
                ratio = row["variants"][name]["ratio_to_limit"]
                checks.append(
                    {
                        "target": f"{name} step at block {TARGET_LAYER} within {LIMIT_TARGET}x the limit",
                        "value": ratio,
                        "met": ratio <= LIMIT_TARGET,
                    }
                )
    return checks


def markdown(result: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    m, s = result["machine"], result["settings"]
    lines = [
        "# RL training throughput",
        "",
        f"`python benchmarks/bench_throughput.py` on {m['cpu']} ({m['cores']} cores), torch "
        f"{m['torch']}, one torch thread per process, preset `{s['preset']}`; load average "
        f"{_load(m.get('load_average_at_start'))} at the start, "
        f"{_load(m.get('load_average_at_end'))} at the end. Matrix multiply: "
        f"**{result['matmul_gflops']:.1f} GFLOP/s** ({s['matmul_size']}², float32).",
        "",
        f"## Env steps per second ({s['nights']} night(s) after reset, each with its next day)",
        "",
        "| configuration | steps/s | night steps/s | median night step (ms) | × one eager env | reset (s) |",
        "|---|---|---|---|---|---|",
    ]
    speedups = result["speedups_over_one_eager_env"]
    rows = [
        (f"one env, {name}", run, speedups[f"single_{name}"])
        for name, run in result["single"].items()
    ]
    labels = {
        "sync2": "SyncVectorEnv(2)",
        "async2": "AsyncVectorEnv(2), 1 thread each",
        "async2_fastest": f"AsyncVectorEnv(2), 1 thread each, {result['fastest_variant']}",
    }
    rows += [(labels[name], run, speedups[name]) for name, run in result["vector"].items()]
    for label, run, speedup in rows:
        lines.append(
            f"| {label} | {run['steps_per_s']:.2f} | {run['night_steps_per_s']:.2f} | "
            f"{run['median_night_step_ms']:.1f} | {speedup:.2f} | {run['reset_s']:.1f} |"
        )
    names = list(result["single"])
    lines += [
        "",
        "## A night step against its bare-compute limit (FLOPs / matmul rate)",
        "",
        "| replay layer | GFLOP per step | limit (ms) | "
        + " | ".join(f"{n} ms (× limit)" for n in names)
        + " | compile (s) |",
        "|---|---|---|" + "---|" * len(names) + "---|",
    ]
    for row in result["layers"]:
        cells = [
            f"{row['variants'][n]['median_step_ms']:.1f} ({row['variants'][n]['ratio_to_limit']:.2f})"
            for n in names
        ]
        compile_s = f"{row['compile_s']:.1f}" if "compile_s" in row else "–"
        lines.append(
            f"| {row['layer']} | {row['flops'] / 1e9:.3f} | {row['limit_ms']:.1f} | "
            + " | ".join(cells)
            + f" | {compile_s} |"
        )
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for check in result["targets"]:
        lines.append(
            f"| {check['target']} | {check['value']:.2f} | {'yes' if check['met'] else 'no'} |"
        )
    if result["ppo"] is not None:
        ppo = result["ppo"]
        lines += [
            "",
            f"PPO, {ppo['steps']:,} steps, 2 subprocess envs with one thread each, learner "
            f"settings {ppo['learner'] or 'eager'}: **{ppo['seconds'] / 60:.1f} min** "
            f"({ppo['steps_per_s']:.2f} steps/s).",
        ]
    return "\n".join(lines) + "\n"


def _load(values: list[float] | None) -> str:
    return "unknown" if values is None else f"{values[0]:.1f}"


if __name__ == "__main__":
    cli(main)
