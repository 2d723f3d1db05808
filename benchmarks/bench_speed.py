"""Speed and memory of the environment's hot paths, as ratios measured in one run.

Usage:
    python benchmarks/bench_speed.py                      # default preset, writes results/speed.json
    python benchmarks/bench_speed.py --preset smoke --repeats 3 --out /tmp/speed.json

Measures, on this machine, in this process:
1. a night step's validation with cached activations at the replay layer vs. the whole network
   (the lower part is frozen at night, so both give the same chi-square);
2. the exact low-rank Gaussian sampler (mean + (A - mean)^T z / sqrt(n-1)) vs. the dense route
   (d x d covariance, Cholesky, then sampling), time and the bytes each keeps per class, on the
   default preset and on synthetic activations growing to the paper's block-4 dimension;
3. the environment's costs: reset (day 1), a night step, a probe, a whole night-and-day.
Absolute times depend on the machine and its load; the ratios are the result.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.envs import ReplaySelectionEnv
from replay_gym.samplers import GaussianSampler


def best_of(repeats: int, fn) -> float:
    """Smallest wall time of ``repeats`` calls (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_validation(env: ReplaySelectionEnv, repeats: int) -> dict:
    inner = env
    cached = best_of(repeats, inner._evaluate_validation)
    full = best_of(repeats, lambda: inner.learner.predict(inner.data.val_images))
    return {"cached_s": cached, "full_network_s": full, "speedup": full / cached}


def bench_sampler(env: ReplaySelectionEnv, repeats: int, n_samples: int) -> dict:
    layer = env.layer
    acts = env.learner.activations(env.data.train_images, layer)
    labels = env.data.train_labels
    sampler = GaussianSampler(env.config.sampler.downsample[layer - 1])
    sampler.fit(acts, labels, env.n_classes)
    generator = torch.Generator().manual_seed(0)
    exact = best_of(repeats, lambda: sampler.sample(0, n_samples, generator))
    mean, cov = sampler.moments(0)
    d = mean.numel()

    def dense() -> None:
        jitter = 1e-5 * torch.eye(d, dtype=cov.dtype)  # the rank-deficient covariance needs it
        chol = torch.linalg.cholesky(cov + jitter)
        z = torch.randn(n_samples, d, generator=generator, dtype=cov.dtype)
        _ = mean + z @ chol.T

    dense_s = best_of(repeats, dense)
    n = int((labels == 0).sum())
    return {
        "d": d,
        "n_per_class": n,
        "n_samples": n_samples,
        "exact_s": exact,
        "dense_s": dense_s,
        "dense_over_exact_time": dense_s / exact,
        "exact_bytes_per_class": 4 * (n * d + d),
        "dense_bytes_per_class": 4 * (d * d + d),
        "dense_over_exact_memory": (d * d + d) / (n * d + d),
    }


def bench_sampler_scaling(n: int, dims: tuple[int, ...], dense_max: int, batch: int) -> list[dict]:
    """Exact vs. dense sampling as the dimension grows to the paper's block 4 (d = 25,088).

    Synthetic ReLU activations of one class with n = 1,170 (the paper's images per class). The
    dense route needs a d x d covariance and its Cholesky factor; above ``dense_max`` only its
    memory is computed (25,088^2 floats are 2.5 GB, and the factorisation alone takes minutes).
    """
    rows = []
    generator = torch.Generator().manual_seed(0)
    for d in dims:
        acts = torch.relu(torch.randn(n, d, 1, 1, generator=generator))
        sampler = GaussianSampler(1)
        fit = best_of(1, lambda s=sampler, a=acts: s.fit(a, torch.zeros(n, dtype=torch.int64), 1))
        exact = best_of(3, lambda s=sampler: s.sample(0, batch, generator))
        row = {
            "d": d,
            "n": n,
            "exact_fit_s": fit,
            "exact_batch_s": exact,
            "exact_bytes": 4 * (n * d + d),
            "dense_bytes": 4 * (d * d + d),
            "dense_over_exact_memory": (d * d + d) / (n * d + d),
        }
        if d <= dense_max:
            flat = acts.flatten(1).double()

            def dense(flat=flat) -> None:
                cov = torch.cov(flat.T) + 1e-6 * torch.eye(flat.shape[1], dtype=flat.dtype)
                chol = torch.linalg.cholesky(cov)
                z = torch.randn(batch, flat.shape[1], generator=generator, dtype=flat.dtype)
                _ = flat.mean(0) + z @ chol.T

            row["dense_fit_and_batch_s"] = best_of(1, dense)
            row["dense_over_exact_time"] = row["dense_fit_and_batch_s"] / (fit + exact)
        rows.append(row)
        print(row, flush=True)
    return rows


def bench_env(env: ReplaySelectionEnv, repeats: int) -> dict:
    reset = best_of(1, lambda: env.reset(seed=0))
    step = best_of(repeats, lambda: env.step(0))
    probe = best_of(repeats, lambda: env.probe(1))
    env.reset(seed=1)

    def night_and_day() -> None:
        for t in range(env.night_length):
            env.step(t % env.n_classes)

    cycle = best_of(1, night_and_day)
    return {
        "reset_s": reset,
        "step_s": step,
        "probe_s": probe,
        "night_and_next_day_s": cycle,
        "night_length": env.night_length,
        "probe_over_step": probe / step,
    }


def main(
    preset: str = "default",
    repeats: int = 5,
    n_samples: int = 360,
    scaling_dims: tuple[int, ...] = (128, 2048, 8192, 25088),
    dense_max: int = 8192,
    out: Path = Path(__file__).resolve().parent / "results" / "speed.json",
) -> dict:
    """Run every measurement and write them to ``out`` (atomically)."""
    env = ReplaySelectionEnv(preset=preset)
    env.reset(seed=0)
    result = {
        "preset": preset,
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
        "validation": bench_validation(env, repeats),
        "sampler": bench_sampler(env, repeats, n_samples),
        "sampler_scaling": bench_sampler_scaling(1170, scaling_dims, dense_max, 36),
        "env": bench_env(env, repeats),
    }
    atomic_write_text(out, json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    cli(main)
