"""Calibration probe: how a candidate default behaves on the VALIDATION split (never test).

For each seed: train day 1, then from that same state run one night of each policy
(none / round-robin / weakest / oracle) on copies of the env, and measure validation accuracy;
also the sample-accuracy ratio (network above the replay layer on generated samples vs on the
real activations the sampler was fitted to). Optionally a multi-day none/round-robin course.

Usage:
    python benchmarks/calibration/probe.py --set adam_eps=1e-2 --set downsample=[4,4,2,1,1] --seeds 0 1
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time

import numpy as np
import torch

import replay_gym  # noqa: F401
from replay_gym.envs.replay_select import ReplaySelectionEnv
from replay_gym.metrics import class_accuracy, overall_accuracy


def parse_sets(items):
    out = {}
    for item in items:
        key, value = item.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def sample_ratio(env: ReplaySelectionEnv, layer: int) -> float:
    """Accuracy above ``layer`` on generated samples / on the real activations they were fitted to."""
    data = env.data
    acts = env.learner.activations(data.train_images, layer)
    from replay_gym.samplers import make_sampler

    sampler = make_sampler(env.config.sampler, layer)
    sampler.fit(acts, data.train_labels, env.n_classes)
    gen = torch.Generator().manual_seed(123)
    samples, labels = sampler.sample_night(env.config.data.train_per_class, gen)
    real = (env.learner.predict_from(acts, layer) == data.train_labels.numpy()).mean()
    fake = (env.learner.predict_from(samples, layer) == labels.numpy()).mean()
    return float(fake / real), float(real), float(fake)


def val_acc(env) -> float:
    return overall_accuracy(env._val_confusion)


def night(env: ReplaySelectionEnv, policy: str, rng: np.random.Generator) -> float:
    turn = 0
    for _ in range(env.night_length):
        if env.night_step == env.night_length - 1:
            # stop before the night ends (which would train the next day): measure after the step
            pass
        if policy == "round-robin":
            action = turn % env.n_classes
            turn += 1
        elif policy == "weakest":
            acc = class_accuracy(env._val_confusion)
            action = int(rng.choice(np.flatnonzero(acc == acc.min())))
        elif policy == "oracle":
            rewards = np.array([env.probe(c) for c in range(env.n_classes)])
            action = int(rng.choice(np.flatnonzero(rewards == rewards.max())))
        elif policy == "generative":
            raise NotImplementedError
        if env.night_step == env.night_length - 1:
            # replay the last batch without letting the env roll over into the next day
            samples = env.sampler.sample(action, env.config.learner.batch_size, env._night_gen)
            labels = torch.full((len(samples),), action, dtype=torch.int64)
            env.learner.train_above(samples, labels, env.layer, env._night_gen)
            env._evaluate_validation()
            break
        env.step(action)
    return val_acc(env)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--policies", nargs="+", default=["round-robin", "weakest", "oracle"])
    parser.add_argument("--layers", type=int, nargs="*", default=None)
    parser.add_argument("--days", type=int, default=0, help="also run a none course this long")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides = parse_sets(args.set)
    rows = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        env = ReplaySelectionEnv(**overrides)
        env.reset(seed=seed)
        row = {"seed": seed, "set": overrides, "day1_val": val_acc(env)}
        row["ratio"] = sample_ratio(env, env.layer)
        for layer in args.layers or []:
            row[f"ratio_b{layer}"] = sample_ratio(env, layer)
        rng = np.random.default_rng(seed)
        for policy in args.policies:
            row[f"n1_{policy}"] = night(copy.deepcopy(env), policy, rng)
        if args.days:
            course = ReplaySelectionEnv(**{**overrides, "days": args.days})
            course.reset(seed=seed)
            accs = [val_acc(course)]
            while True:
                _, _, term, _, info = course.end_night()
                if term:
                    break
                accs.append(info["day_end"]["val_accuracy"])
            row["none_course_val"] = [round(a, 3) for a in accs]
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    keys = [k for k in rows[0] if k.startswith("n1_") or k == "day1_val"]
    summary = {k: round(float(np.mean([r[k] for r in rows])), 3) for k in keys}
    summary["ratio"] = round(float(np.mean([r["ratio"][0] for r in rows])), 3)
    print("SUMMARY", json.dumps(overrides), json.dumps(summary), flush=True)


if __name__ == "__main__":
    sys.exit(main())
