"""Shared settings and helpers of the SB3 tests (imported by the test modules of this folder).

The environment is the smoke preset shrunk further (4-step nights, 2 days: 8-step courses, few
images, no augmentation) with random conv weights, so the tests need no pretrained asset and
a 16-step training run takes about a second.
"""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3 import A2C, DQN, PPO

import replay_gym  # noqa: F401 - registers ReplaySelect-v0
from replay_gym.agents.sb3 import TrainSB3Args
from replay_gym.config import apply_overrides, preset

TINY_OVERRIDES = {
    "days": 2,
    "steps_per_night": 4,
    "weights": "none",
    "augment": False,
    "train_per_class": 12,
    "val_per_class": 4,
    "test_per_class": 4,
}
TINY = apply_overrides(preset("smoke"), **TINY_OVERRIDES)
"""Smoke preset, 8-step courses of two 4-step nights; 4 classes: Box(14,) / Discrete(4)."""

TINY_FLAGS = [
    "--env.days", "2", "--env.steps-per-night", "4", "--env.learner.weights", "none",
    "--env.learner.no-augment", "--env.data.train-per-class", "12",
    "--env.data.val-per-class", "4", "--env.data.test-per-class", "4",
]
"""The same settings as command-line flags."""

ALGO_SETTINGS = {
    "ppo": {"n_steps": 8, "batch_size": 8, "n_epochs": 2},
    "a2c": {"n_steps": 4},
    "dqn": {"learning_starts": 4, "batch_size": 4, "buffer_size": 64},
}
CLASSES = {"ppo": PPO, "a2c": A2C, "dqn": DQN}


def tiny_args(tmp: Path, algo: str = "ppo", name: str | None = None, **kwargs) -> TrainSB3Args:
    settings = {**ALGO_SETTINGS[algo], **kwargs}
    settings.setdefault("total_timesteps", 16)
    return TrainSB3Args(
        algo=algo, preset="smoke", env=TINY, out=tmp / (name or f"{algo}.zip"), verbose=0,
        **settings,
    )


def tiny_env(**overrides) -> gym.Env:
    config = apply_overrides(TINY, **overrides) if overrides else TINY
    return gym.make("ReplaySelect-v0", config=config)


def tensorboard_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(folder.rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return out


# -- malicious files (the payloads are fixtures of tests/conftest.py) -----------------------


def rewrite_zip(src: Path, dst: Path, replace: dict[str, bytes]) -> Path:
    """Copy the model ``src`` to ``dst`` with the members in ``replace`` replaced."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, replace.get(item.filename, zin.read(item.filename)))
    return dst


def evil_data(
    src: Path, evil_pickle: bytes, keys: tuple[str, ...] | None = None, **readable: Any
) -> bytes:
    """``src``'s data JSON with its pickled entries (or ``keys``) replaced by ``evil_pickle``.

    ``readable`` adds items to the readable description of each replaced entry (what SB3
    writes beside a pickle: plain values, and ``str()`` of objects).
    """
    with zipfile.ZipFile(src) as archive:
        data = json.loads(archive.read("data"))
    payload = base64.b64encode(evil_pickle).decode()
    for key, value in data.items():
        pickled = isinstance(value, dict) and ":serialized:" in value
        if (keys is None and pickled) or (keys is not None and key in keys):
            base = value if isinstance(value, dict) else {":type:": "<class 'dict'>"}
            data[key] = {**base, **readable, ":serialized:": payload}
    return json.dumps(data).encode()


class SpacesEnv(gym.Env):
    """An environment with ReplaySelect's tiny spaces and nothing else, to build SB3 models."""

    def __init__(self, n_classes: int = 4) -> None:
        import numpy as np
        from gymnasium import spaces

        self.observation_space = spaces.Box(0.0, np.inf, (3 * n_classes + 2,), np.float32)
        self.action_space = spaces.Discrete(n_classes)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample() * 0, {}

    def step(self, action):
        return self.observation_space.sample() * 0, 0.0, True, False, {}
