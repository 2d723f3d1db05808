"""Shared test helpers."""

import importlib.util
import io
import os
import pickle
import signal
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def load_script():
    """Import a script of the repository (an example or a benchmark) as a module."""

    def load(relative: str):
        path = REPO / relative
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while defining
        spec.loader.exec_module(module)
        return module

    return load


# -- malicious files: every loader must refuse or ignore them ------------------------------


class Plant:
    """Unpickling this creates the file ``path``: the payload of a malicious pickle.

    Any code could run in its place; creating a file makes it visible to a test.
    """

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple:
        return (open, (self.path, "w"))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """Where the payload of :func:`plant` would create its file."""
    return tmp_path / "pwned"


@pytest.fixture
def plant(marker: Path) -> Plant:
    """An object whose unpickling creates ``marker``."""
    return Plant(marker)


@pytest.fixture
def evil_pickle(plant: Plant) -> bytes:
    """A pickle that creates ``marker`` when loaded."""
    return pickle.dumps(plant)


@pytest.fixture
def evil_torch_file(plant: Plant) -> bytes:
    """A ``torch.save`` file that creates ``marker`` when loaded without ``weights_only``."""
    buffer = io.BytesIO()
    torch.save({"features.0.weight": plant}, buffer)
    return buffer.getvalue()


RECORD_DEFAULTS = {
    "real_images": True,
    "day_loss": 1.0,
    "chi2_after_day": 10.0,
    "night_steps": 4,
    "reward_sum": 1.0,
    "val_accuracy": 0.5,
    "chi2_after_night": 8.0,
    "wall_time": 0.1,
}


@pytest.fixture
def make_run():
    """Write a finished run directory as the runner does, with the accuracies given.

    ``after_day`` and ``after_night`` map a seed to per-day lists of per-class test accuracies
    (after the day's training, after its night); ``replays`` to per-day replay counts.
    """
    import json

    import numpy as np

    def make(path, condition, after_day, after_night, replays=None, **env):
        path.mkdir(parents=True)
        seeds = sorted(after_night)
        config = {
            "condition": condition,
            "preset": "smoke",
            "seeds": seeds,
            "agent": {},
            "model": None,
            "env": {"days": len(after_night[seeds[0]]), **env},
        }
        (path / "config.json").write_text(json.dumps(config))
        lines = []
        for seed in seeds:
            for day, (before, after) in enumerate(
                zip(after_day[seed], after_night[seed], strict=True), start=1
            ):
                counts = [0] * len(after) if replays is None else replays[seed][day - 1]
                record = {
                    "condition": condition,
                    "seed": seed,
                    "day": day,
                    **RECORD_DEFAULTS,
                    "test_accuracy_after_day": float(np.mean(before)),
                    "test_class_accuracy_after_day": list(before),
                    "test_accuracy": float(np.mean(after)),
                    "test_class_accuracy": list(after),
                    "val_class_accuracy": list(after),
                    "replay_counts": list(counts),
                }
                lines.append(json.dumps(record))
        (path / "results.jsonl").write_text("\n".join(lines) + "\n")
        return path

    return make


def _with_torch_threads(count: int):
    """Set torch's intra-op threads to ``count`` for the test, then restore the count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(count)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def one_thread():
    """Run the test with one torch thread (fast on a busy machine), then restore the count."""
    yield from _with_torch_threads(1)


@pytest.fixture
def two_threads():
    """Run the test with two torch threads (to see that something sets fewer), then restore."""
    yield from _with_torch_threads(2)


@pytest.fixture
def checkout_env() -> dict[str, str]:
    """The environment of a subprocess that must import this checkout's ``replay_gym``.

    A script run as ``python tests/x.py`` has ``tests/`` on its path, not the repository, and
    would import whatever ``replay_gym`` is installed (another checkout's, in a git worktree).
    """
    paths = [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


@pytest.fixture
def stop_at_replay(monkeypatch):
    """Arm the env's n-th replay step: first send this process a signal, or raise an error.

    ``stop_at_replay(n)`` sends SIGTERM, ``stop_at_replay(n, signum=signal.SIGINT)`` another
    signal (the step still runs; a handler sees the signal at once), ``stop_at_replay(n,
    error)`` raises ``error`` instead of running the step. ``monkeypatch.undo()`` disarms it.
    """
    from replay_gym.envs.replay_select import ReplaySelectionEnv

    def arm(n: int, error: BaseException | None = None, signum: int = signal.SIGTERM) -> None:
        original = ReplaySelectionEnv._replay
        calls = {"n": 0}

        def replay(self, *args):
            calls["n"] += 1
            if calls["n"] == n:
                if error is not None:
                    raise error
                os.kill(os.getpid(), signum)
            return original(self, *args)

        monkeypatch.setattr(ReplaySelectionEnv, "_replay", replay)

    return arm
