"""How much larger the authors' gradients were: caffe-scale inputs against normalised ones.

Usage:
    python benchmarks/calibration/gradient_scale.py            # default preset, 3 seeds

Adam's update ignores the gradients' scale except through epsilon, so the epsilon that matches
the authors' Keras ``eps = 1.0`` is 1.0 divided by how much larger their gradients were. Their
VGG-16 took caffe-scale pixels (0-255 minus the mean); ours takes ImageNet-normalised ones,
``255 * std`` (~58) times smaller. This script measures, for the default learner at
initialisation on one day-1 batch, each parameter tensor's gradient RMS with the normalised input
and with that input times ``255 * std``, and writes the ratios to
``benchmarks/results/calibration/gradient_scale.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.envs.replay_select import ReplaySelectionEnv
from replay_gym.learner.cortex import Learner
from replay_gym.learner.vgg import IMAGENET_STD

RESULTS = Path(__file__).resolve().parents[1] / "results" / "calibration" / "gradient_scale.json"


def gradient_rms(env: ReplaySelectionEnv, seed: int, scale: float) -> dict[str, float]:
    """Per-tensor gradient RMS of a fresh learner on one batch, input multiplied by ``scale``."""
    learner = Learner(
        env.config.learner, env.n_classes, env._base_state, torch.Generator().manual_seed(seed)
    )
    model = learner.model.train()
    order = torch.randperm(len(env.data.train_images), generator=torch.Generator().manual_seed(seed))
    index = order[: env.config.learner.batch_size]
    images = env.data.train_images[index].float() / 255.0
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # dropout masks, identical for both scales
        logits = model.head(model.features(scale * model.normalize(images)))
    F.cross_entropy(logits, env.data.train_labels[index]).backward()
    return {name: float(p.grad.pow(2).mean().sqrt()) for name, p in model.named_parameters()}


def main(preset: str = "default", seeds: int = 3, out: Path = RESULTS) -> dict:
    """Measure the ratios and write them."""
    torch.set_num_threads(1)
    env = ReplaySelectionEnv(preset=preset)
    caffe = 255.0 * float(np.mean(IMAGENET_STD))
    ratios: dict[str, list[float]] = {}
    for seed in range(seeds):
        plain, scaled = gradient_rms(env, seed, 1.0), gradient_rms(env, seed, caffe)
        for name in plain:
            ratios.setdefault(name, []).append(scaled[name] / plain[name])
    per_tensor = {name: float(np.median(r)) for name, r in ratios.items()}
    weights = [v for k, v in per_tensor.items() if k.endswith("weight")]
    result = {
        "preset": preset,
        "input_scale": caffe,
        "median_ratio_all_tensors": float(np.median(list(per_tensor.values()))),
        "weight_ratio_range": [float(np.min(weights)), float(np.max(weights))],
        # The authors' eps = 1.0 divided by each estimate of how much larger their gradients were:
        "matching_eps": {
            "weights_only": [1.0 / float(np.max(weights)), 1.0 / float(np.min(weights))],
            "median_all_tensors": 1.0 / float(np.median(list(per_tensor.values()))),
            "input_scale": 1.0 / caffe,
        },
        "per_tensor": per_tensor,
    }
    atomic_write_text(out, json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "per_tensor"}, indent=1))
    return result


if __name__ == "__main__":
    cli(main)
