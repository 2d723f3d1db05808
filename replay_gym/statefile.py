"""Safe state files: nothing written here ever executes code when read back.

A *state tree* is what ``state_dict()`` methods return: nested dicts (string keys) and lists of
JSON values (``None``, bools, ints, floats, strings), torch tensors and numpy arrays. A state file
stores one tree as a single `safetensors <https://huggingface.co/docs/safetensors>`_ file: every
tensor and array as a tensor, everything else as JSON in the file's header. Reading it parses a
JSON header and raw numbers; a pickle (or a ``torch.save`` archive) placed where a state file is
expected fails to parse and is refused, never unpickled.

State files are replaced atomically (:func:`replay_gym.atomic.atomic_write`): a reader, or a run
that resumes after a crash, sees the old file or the complete new one, never half of one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from replay_gym.atomic import atomic_write

__all__ = [
    "FORMAT",
    "StateFileError",
    "differences",
    "load_optimizer_state",
    "load_tree",
    "optimizer_state",
    "rng_from_state",
    "rng_state",
    "save_tree",
]

FORMAT = "replay-gym-state/1"
"""Written into every state file's header; a file with another value is refused."""

_TENSOR = "__tensor__"
_ARRAY = "__ndarray__"
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class StateFileError(ValueError):
    """A state file that cannot be used: not a state file, another kind, or damaged."""


# -- state trees --------------------------------------------------------------------------------


def save_tree(path: Path | str, tree: dict[str, Any], kind: str) -> None:
    """Write ``tree`` to ``path`` as one safetensors file, atomically.

    Args:
        path: The state file.
        tree: A state tree (see the module docstring).
        kind: What the file holds (e.g. ``"env"``); :func:`load_tree` checks it.

    Raises:
        TypeError: If the tree holds a value that is not a tensor, array or JSON value, or a
            dict key that is not a string.
    """
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _split(tree, "", tensors, set())
    header = {"format": FORMAT, "kind": kind, "tree": json.dumps(skeleton)}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=header))


def load_tree(path: Path | str, kind: str) -> dict[str, Any]:
    """Read a state tree written by :func:`save_tree` with the same ``kind``.

    Nothing in the file is executed: the header is JSON, the tensors raw numbers.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        StateFileError: If the file is not a replay-gym state file (a pickle, say), holds another
            kind of state, or is damaged.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no state file at {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            if header.get("format") != FORMAT:
                raise StateFileError(
                    f"{path} is not a replay-gym state file (format {header.get('format')!r}, "
                    f"expected {FORMAT!r})"
                )
            if header.get("kind") != kind:
                raise StateFileError(
                    f"{path} holds {header.get('kind')!r} state, not {kind!r} state"
                )
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        skeleton = json.loads(header["tree"])
    except SafetensorError as error:
        raise StateFileError(
            f"{path} is not a replay-gym state file (a safetensors file); it was not loaded "
            f"(state files are never unpickled): {error}"
        ) from error
    except (KeyError, json.JSONDecodeError) as error:
        raise StateFileError(f"{path} has a damaged header: {error}") from error
    return _join(skeleton, tensors, path)


def _split(value: Any, where: str, tensors: dict[str, torch.Tensor], storages: set[int]) -> Any:
    """The JSON skeleton of ``value``; its tensors and arrays go into ``tensors`` by tree path."""
    if isinstance(value, torch.Tensor | np.ndarray):
        marker = _TENSOR if isinstance(value, torch.Tensor) else _ARRAY
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                raise TypeError(f"state at {where or '/'}: object arrays cannot be saved")
            value = torch.from_numpy(np.ascontiguousarray(value))
        tensor = value.detach().to("cpu").contiguous()
        if tensor.numel() and tensor.untyped_storage().data_ptr() in storages:
            tensor = tensor.clone()  # safetensors refuses tensors that share memory
        if tensor.numel():
            storages.add(tensor.untyped_storage().data_ptr())
        key = where or "/"
        tensors[key] = tensor
        return {marker: key}
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"state at {where or '/'}: key {key!r} is not a string")
            if key in (_TENSOR, _ARRAY):
                raise TypeError(f"state at {where or '/'}: key {key!r} is reserved")
            out[key] = _split(item, f"{where}/{key}", tensors, storages)
        return out
    if isinstance(value, list | tuple):
        return [_split(item, f"{where}/{i}", tensors, storages) for i, item in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"state at {where or '/'}: {type(value).__name__} cannot be saved")


def _join(value: Any, tensors: dict[str, torch.Tensor], path: Path) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and (_TENSOR in value or _ARRAY in value):
            key = value.get(_TENSOR, value.get(_ARRAY))
            if key not in tensors:
                raise StateFileError(f"{path} is damaged: tensor {key!r} is missing")
            return tensors[key] if _TENSOR in value else tensors[key].numpy()
        return {key: _join(item, tensors, path) for key, item in value.items()}
    if isinstance(value, list):
        return [_join(item, tensors, path) for item in value]
    return value


def differences(saved: Any, current: Any, where: str = "") -> list[str]:
    """Each place where two JSON-like trees differ, as ``"key: saved X, now Y"``.

    Tuples compare equal to lists (JSON has only lists); dict keys are walked in sorted order.
    """
    if isinstance(saved, dict) and isinstance(current, dict):
        out = []
        for key in sorted(set(saved) | set(current)):
            name = f"{where}.{key}" if where else str(key)
            if key not in saved or key not in current:
                out.append(f"{name}: saved {saved.get(key, '(absent)')!r}, "
                           f"now {current.get(key, '(absent)')!r}")
            else:
                out.extend(differences(saved[key], current[key], name))
        return out
    if isinstance(saved, list | tuple) and isinstance(current, list | tuple):
        if len(saved) == len(current):
            return [d for i, (a, b) in enumerate(zip(saved, current, strict=True))
                    for d in differences(a, b, f"{where}[{i}]")]
    elif saved == current and isinstance(saved, bool) == isinstance(current, bool):
        return []
    return [f"{where or 'value'}: saved {saved!r}, now {current!r}"]


# -- optimisers ---------------------------------------------------------------------------------


def optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """A torch optimiser's state as a state tree (tensors copied, parameter indices as strings).

    Returns:
        ``{"state": {"<index>": {...}}, "param_groups": [...]}``, as :func:`save_tree` stores it.
    """
    state = optimizer.state_dict()
    return {
        "state": {
            str(index): {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in s.items()}
            for index, s in state["state"].items()
        },
        "param_groups": [dict(group) for group in state["param_groups"]],
    }


def load_optimizer_state(optimizer: torch.optim.Optimizer, tree: dict[str, Any]) -> None:
    """Restore what :func:`optimizer_state` returned (JSON lists of ``betas`` become tuples)."""
    groups = []
    for group in tree["param_groups"]:
        group = dict(group)
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    optimizer.load_state_dict(
        {"state": {int(i): dict(s) for i, s in tree["state"].items()}, "param_groups": groups}
    )


# -- numpy generators ---------------------------------------------------------------------------


def rng_state(generator: np.random.Generator) -> dict[str, Any]:
    """The state of a numpy ``Generator`` as JSON values (its bit generator's ``state``)."""
    return generator.bit_generator.state


def rng_from_state(state: dict[str, Any]) -> np.random.Generator:
    """A numpy ``Generator`` in the state :func:`rng_state` returned.

    Raises:
        ValueError: If the state names a bit generator numpy does not have.
    """
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ValueError(f"unknown numpy bit generator {name!r}; known: {_BIT_GENERATORS}")
    bit_generator = getattr(np.random, name)()
    bit_generator.state = state
    return np.random.Generator(bit_generator)
