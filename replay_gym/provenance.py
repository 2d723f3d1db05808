"""Where a result came from: versions, git commit and processor, recorded in each run directory."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["DISTRIBUTIONS", "git_commit", "machine", "package_versions", "replay_gym_version"]

DISTRIBUTIONS = (
    "replay-gym", "torch", "torchvision", "gymnasium", "numpy", "stable-baselines3", "safetensors",
)
"""The distributions whose versions a run records."""


def replay_gym_version() -> str:
    """This package's version (``replay_gym.__version__``)."""
    from replay_gym import __version__

    return __version__


def package_versions() -> dict[str, str | None]:
    """Installed version of each of :data:`DISTRIBUTIONS` (None when not installed).

    replay-gym's own entry is ``replay_gym.__version__``, the version checkpoints are checked
    against.
    """
    versions: dict[str, str | None] = {}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["replay-gym"] = replay_gym_version()
    return versions


def git_commit() -> dict[str, str | bool] | None:
    """The commit of the git checkout this package runs from, and whether it has local changes.

    Returns:
        ``{"commit": sha, "dirty": bool}``, or None when the package is not inside a git
        checkout of replay-gym (an installed wheel, say) or git is not available.
    """
    package = Path(__file__).resolve().parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(package), *args], capture_output=True, text=True, timeout=10,
            check=True,
        )
        return done.stdout.strip()

    try:
        top = Path(git("rev-parse", "--show-toplevel")).resolve()
        if top / "replay_gym" != package:  # a repository that merely contains an install
            return None
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def machine() -> dict[str, str | None]:
    """The processor a run computed on: its model, torch's CPU kernel level and the architecture.

    The same seed, settings, code and package versions give bit-identical courses on one kind of
    processor, but not across kinds: the math libraries pick other kernels (MKL on an AMD EPYC
    with AVX-512 and on another host gave the default's seed-0 day-1 test accuracy 0.388 and
    0.403), and a course diverges from its first differing float. Comparisons paired by seed
    are only paired when their runs share this record.
    """
    import torch

    return {
        "cpu": _cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "arch": platform.machine() or None,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def _cpu_model() -> str | None:
    """``model name`` from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() or None
    except OSError:
        pass
    return platform.processor() or None
