"""Checkpoints of ``train-sb3``: written atomically, read back without unpickling.

A checkpoint is a folder ``step-<steps>`` (zero-padded) in the run's checkpoint folder:

* ``model.zip`` and its sidecar ``model.zip.json``: policy and optimiser weights, counters and
  hyper-parameters (SB3's format, read by :func:`~replay_gym.agents.sb3.loading.read_model`);
  the sidecar also holds the RNG states SB3 uses (Python's, NumPy's global, torch's and the
  action space's generator), as JSON;
* ``replay_buffer.npz`` (off-policy algorithms): the buffer's arrays and position, read with
  ``numpy.load(allow_pickle=False)``.

It is written into a hidden temporary folder that is renamed into place when complete, so a
crash leaves the previous checkpoints and at most an incomplete hidden folder, which the next run
removes. What SB3 cannot hand over is not in it: the environments' own state (a resumed run
starts new courses) and a half-collected rollout (checkpoints are taken between updates).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from replay_gym.agents.sb3.args import CHECKPOINT_PREFIX
from replay_gym.agents.sb3.saving import write_sidecar
from replay_gym.atomic import fsync_dir

__all__ = [
    "BUFFER_FILE",
    "MODEL_FILE",
    "ResumePoint",
    "clear_checkpoints",
    "list_checkpoints",
    "remove_incomplete",
    "resume_point",
    "restore_training_state",
    "rng_state",
    "write_checkpoint",
]

MODEL_FILE = "model.zip"
BUFFER_FILE = "replay_buffer.npz"
_STEP = re.compile(rf"^{re.escape(CHECKPOINT_PREFIX)}(\d+)$")
_BUFFER_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


@dataclass(frozen=True)
class ResumePoint:
    """Where ``--resume`` continues from.

    Attributes:
        model: The model file to read.
        checkpoint: The checkpoint folder it is in, or None for a bare model file.
    """

    model: Path
    checkpoint: Path | None

    @property
    def step(self) -> int | None:
        """The checkpoint's step count, from its folder name; None for a bare model."""
        if self.checkpoint is None:
            return None
        match = _STEP.match(self.checkpoint.name)
        return int(match.group(1)) if match else None


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """The complete checkpoints in ``folder`` as ``(steps, path)``, oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _STEP.match(path.name)
        if match and (path / MODEL_FILE).is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def resume_point(path: Path) -> ResumePoint:
    """Resolve ``--resume``: a model file, one checkpoint, or a folder of them (its latest).

    Raises:
        ValueError: ``path`` is a folder without a checkpoint.
    """
    if path.is_file():
        return ResumePoint(path, None)
    if (path / MODEL_FILE).is_file():
        return ResumePoint(path / MODEL_FILE, path)
    found = list_checkpoints(path)
    if not found:
        raise ValueError(
            f"resume: {path} holds no checkpoint ({CHECKPOINT_PREFIX}N folders with {MODEL_FILE})"
        )
    return ResumePoint(found[-1][1] / MODEL_FILE, found[-1][1])


def clear_checkpoints(folder: Path) -> None:
    """Delete the checkpoints in ``folder`` and what interrupted writes left behind."""
    for _, path in list_checkpoints(folder):
        shutil.rmtree(path)
    remove_incomplete(folder)


def remove_incomplete(folder: Path) -> None:
    """Delete the hidden folders that interrupted checkpoint writes left in ``folder``."""
    if folder.is_dir():
        for path in folder.glob(f".{CHECKPOINT_PREFIX}*"):
            shutil.rmtree(path, ignore_errors=True)


def write_checkpoint(
    model: BaseAlgorithm, folder: Path, meta: dict[str, Any], keep: int
) -> Path:
    """Write a checkpoint of ``model`` into ``folder`` and keep only the newest ``keep``.

    Args:
        model: The model, between updates.
        folder: The run's checkpoint folder (created when missing).
        meta: The sidecar (see :func:`~replay_gym.agents.sb3.saving.model_metadata`); the RNG
            states are added to it.
        keep: How many checkpoints to keep, counting this one.

    Returns:
        The checkpoint's folder.
    """
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{CHECKPOINT_PREFIX}{int(model.num_timesteps):09d}"
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=f".{name}."))
    try:
        model.save(tmp / MODEL_FILE)
        write_sidecar(tmp / MODEL_FILE, {**meta, "rng": rng_state(model)})
        if isinstance(model, OffPolicyAlgorithm) and model.replay_buffer is not None:
            _save_buffer(model, tmp / BUFFER_FILE)
        for path in tmp.iterdir():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        final = folder / name
        if final.exists():  # the same step again: move the old one aside first
            old = Path(tempfile.mkdtemp(dir=folder, prefix=f".{name}.old."))
            os.replace(final, old / name)
            os.rename(tmp, final)
            shutil.rmtree(old)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(folder)
    for _, path in list_checkpoints(folder)[:-keep]:
        shutil.rmtree(path)
    return final


def rng_state(model: BaseAlgorithm) -> dict[str, Any]:
    """The RNG states SB3 draws from, as JSON.

    SB3 samples from global generators (Python's, NumPy's legacy one, torch's) and DQN's random
    actions from the action space's generator; all four are recorded, none is drawn from.
    """
    version, internal, gauss = random.getstate()
    # SB3 uses NumPy's global legacy generator; it is read here, never drawn from.
    kind, key, pos, has_gauss, cached = np.random.get_state(legacy=True)  # noqa: NPY002
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": {
            "kind": kind, "key": key.tolist(), "pos": int(pos), "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state().tolist(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    generator = getattr(model.action_space, "_np_random", None)
    if generator is not None:
        state["action_space"] = generator.bit_generator.state
    return state


def restore_training_state(model: BaseAlgorithm, point: ResumePoint, rng: Any) -> list[str]:
    """Restore the RNG states and the replay buffer that a checkpoint holds into ``model``.

    Args:
        model: The rebuilt model, weights and counters already loaded.
        point: The checkpoint (a bare model file restores nothing).
        rng: The ``rng`` entry of the checkpoint's sidecar (None when absent).

    Returns:
        What was restored (for the log), e.g. ``["rng", "replay buffer (64 transitions)"]``.

    Raises:
        ValueError: a state that does not fit the model (naming the checkpoint and why).
    """
    if point.checkpoint is None:
        return []
    restored = []
    if rng is not None:
        _restore_rng(model, rng, point.checkpoint)
        restored.append("rng")
    buffer_file = point.checkpoint / BUFFER_FILE
    if isinstance(model, OffPolicyAlgorithm) and buffer_file.is_file():
        count = _restore_buffer(model, buffer_file)
        restored.append(f"replay buffer ({count} transitions)")
    return restored


def _restore_rng(model: BaseAlgorithm, state: dict[str, Any], where: Path) -> None:
    try:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
        numpy = state["numpy"]
        np.random.set_state((  # noqa: NPY002 - SB3's global generator, restored
            numpy["kind"], np.asarray(numpy["key"], dtype=np.uint32), numpy["pos"],
            numpy["has_gauss"], numpy["cached_gaussian"],
        ))
        torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
        if "cuda" in state and torch.cuda.is_available():
            cuda = [torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]]
            torch.cuda.set_rng_state_all(cuda)
        if "action_space" in state:
            if getattr(model.action_space, "_np_random", None) is None:
                model.action_space.seed(0)
            model.action_space.np_random.bit_generator.state = state["action_space"]
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ValueError(
            f"resume: the RNG state in {where} does not restore ({type(error).__name__}: {error})"
        ) from error


def _save_buffer(model: OffPolicyAlgorithm, path: Path) -> None:
    buffer = model.replay_buffer
    arrays = {
        name: getattr(buffer, name)
        for name in _BUFFER_ARRAYS
        if isinstance(getattr(buffer, name, None), np.ndarray)
    }
    with open(path, "wb") as handle:
        np.savez(handle, pos=np.int64(buffer.pos), full=np.bool_(buffer.full), **arrays)


def _restore_buffer(model: OffPolicyAlgorithm, path: Path) -> int:
    """Fill ``model``'s replay buffer from ``path``; return its transitions (all envs)."""
    buffer = model.replay_buffer
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in saved.files}
    except Exception as error:  # noqa: BLE001 - pickled or damaged: say which file and why
        raise ValueError(
            f"resume: cannot read the replay buffer {path} ({type(error).__name__}: {error})"
        ) from error
    if "pos" not in arrays or "full" not in arrays:
        raise ValueError(f"resume: the replay buffer {path} has no position (pos, full)")
    pos = int(arrays["pos"])
    if not 0 <= pos < buffer.buffer_size:
        raise ValueError(
            f"resume: the replay buffer {path} is at position {pos}, outside the model's "
            f"{buffer.buffer_size} transitions"
        )
    for name in _BUFFER_ARRAYS:
        target = getattr(buffer, name, None)
        if not isinstance(target, np.ndarray):
            continue
        if name not in arrays:
            raise ValueError(f"resume: the replay buffer {path} has no {name!r}")
        if arrays[name].shape != target.shape or arrays[name].dtype != target.dtype:
            raise ValueError(
                f"resume: the replay buffer {path} holds {name} of shape "
                f"{arrays[name].shape} ({arrays[name].dtype}), but the model's buffer takes "
                f"{target.shape} ({target.dtype}); resume with the same --n-envs and "
                "--buffer-size, or from the model file (an empty buffer)"
            )
    for name in _BUFFER_ARRAYS:
        if isinstance(getattr(buffer, name, None), np.ndarray):
            getattr(buffer, name)[...] = arrays[name]
    buffer.pos = pos
    buffer.full = bool(arrays["full"])
    filled = buffer.buffer_size if buffer.full else buffer.pos
    return filled * buffer.n_envs
