"""Reading saved Stable-Baselines3 models without unpickling anything.

An SB3 ``.zip`` holds ``data``, a JSON object in which every value JSON cannot express (the
spaces, the policy class, schedules) is a cloudpickle inside a ``":serialized:"`` string, and
``policy.pth`` / ``policy.optimizer.pth``, torch files. Unpickling runs whatever code the file
names, so :func:`read_model` never does it:

* ``data`` is parsed with :mod:`json` alone. A pickled entry stays as SB3's readable description
  of it (its type name and plain attributes); it is never decoded.
* The torch files are read with ``torch.load(weights_only=True)``, which accepts only tensors
  and plain containers and refuses anything else before running it.

What the pickles would have given back is rebuilt from plain values: the spaces from their
descriptions (:meth:`SavedModel.observation_space`), the policy from its algorithm's ``MlpPolicy``
(SB3's ``ActorCriticPolicy`` or ``DQNPolicy``, sb3-contrib's ``MaskableActorCriticPolicy`` for
``maskable-ppo``) with the plain ``policy_kwargs``
(:func:`replay_gym.agents.sb3.policies.build_policy`), the schedules from
the hyper-parameters; classes named in ``policy_kwargs`` (an activation, an optimiser) are looked
up by name among :data:`KNOWN_CLASSES`. A model that needs a pickle to be rebuilt (a custom
feature extractor, say) is refused with a message that says so.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.torch_layers import FlattenExtractor

from replay_gym.agents.sb3.args import ALGORITHM_NAMES
from replay_gym.config import EnvConfig, config_to_dict
from replay_gym.learner.weights import load_weights_only
from replay_gym.run_logger import flatten

__all__ = [
    "KNOWN_CLASSES",
    "SavedModel",
    "check_spaces",
    "guess_algorithm",
    "read_model",
    "read_sidecar",
    "sidecar_path",
    "space_text",
    "warn_config_differences",
]

KNOWN_CLASSES: dict[str, type] = {
    str(cls): cls
    for cls in (
        torch.nn.Tanh, torch.nn.ReLU, torch.nn.ELU, torch.nn.LeakyReLU, torch.nn.GELU,
        torch.nn.SiLU, torch.nn.Sigmoid, torch.nn.Softplus, torch.nn.Mish,
        torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop, torch.optim.SGD,
        RMSpropTFLike, FlattenExtractor,
    )
}
"""Classes a model's ``policy_kwargs`` may name, by their ``str()`` (as SB3 records them):
activation functions, optimisers, SB3's extractor. Anything else is refused."""

MASKABLE_POLICY_MODULE = "sb3_contrib.common.maskable."
"""Where sb3-contrib's maskable policies live (as a saved ``policy_class`` names it)."""

POLICY_FILE = "policy.pth"
OPTIMIZER_FILE = "policy.optimizer.pth"


def sidecar_path(model_path: Path | str) -> Path:
    """The JSON file beside a model that describes it: ``<model_path>.json``."""
    path = Path(model_path)
    return path.with_name(path.name + ".json")


def read_sidecar(model_path: Path | str) -> dict[str, Any] | None:
    """The sidecar JSON of ``model_path`` as a dict, or None when there is none.

    Raises:
        ValueError: the sidecar exists but is not a JSON object.
    """
    path = sidecar_path(model_path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read the model's sidecar {path}: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"the model's sidecar {path} does not hold a JSON object")
    return data


def _is_pickled(value: Any) -> bool:
    return isinstance(value, dict) and ":serialized:" in value


@dataclass(frozen=True)
class SavedModel:
    """What a Stable-Baselines3 ``.zip`` holds, read by :func:`read_model` without unpickling.

    Attributes:
        path: The file read.
        data: The ``data`` JSON object. Plain values as saved; each pickled entry is SB3's
            readable description of it, never decoded.
        policy_state: The policy's state dict.
        optimizer_state: The policy optimiser's state dict, or None when the file has none.
        sidecar: The sidecar JSON written by ``train-sb3``, or None.
    """

    path: Path
    data: dict[str, Any]
    policy_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None
    sidecar: dict[str, Any] | None

    def plain(self, key: str) -> Any:
        """The value saved under ``key`` when it is plain JSON; None when absent or pickled."""
        value = self.data.get(key)
        return None if _is_pickled(value) else value

    def pickled(self) -> list[str]:
        """The keys of ``data`` whose values only unpickling could restore (never done here)."""
        return sorted(key for key, value in self.data.items() if _is_pickled(value))

    @property
    def algo(self) -> str:
        """The algorithm: the sidecar's ``algo``, else what the saved attributes point to.

        Raises:
            ValueError: the sidecar names an unknown algorithm, or there is no sidecar and the
                attributes are those of none of :data:`~replay_gym.agents.sb3.args.ALGORITHM_NAMES`.
        """
        if self.sidecar is not None and "algo" in self.sidecar:
            algo = self.sidecar["algo"]
            if algo not in ALGORITHM_NAMES:
                raise ValueError(
                    f"sidecar {sidecar_path(self.path)} names algo {algo!r}; "
                    f"known: {list(ALGORITHM_NAMES)}"
                )
            return algo
        guess = guess_algorithm(self.data)
        if guess is None:
            raise ValueError(
                f"{self.path} (no sidecar {sidecar_path(self.path).name}) is a model of none of "
                f"{list(ALGORITHM_NAMES)}: its saved attributes have neither clip_range, n_steps "
                "nor target_update_interval"
            )
        return guess

    @property
    def observation_space(self) -> spaces.Box:
        """The observation space, rebuilt from its description (shape and dtype; unbounded).

        The bounds are not rebuilt: SB3 does not scale vector observations, so they do not change
        what the policy computes.

        Raises:
            ValueError: the description is missing or not that of a floating-point ``Box``.
        """
        desc = self._description("observation_space", "spaces.box.Box", "Box")
        try:
            shape = desc["_shape"]
            shape = tuple(int(n) for n in (json.loads(shape) if isinstance(shape, str) else shape))
            dtype = np.dtype(str(desc.get("dtype", "float32")))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{self.path}: cannot read the observation space's shape and dtype from {desc}"
            ) from error
        if dtype.kind != "f":
            raise ValueError(f"{self.path}: observation dtype {dtype} is not floating-point")
        return spaces.Box(-np.inf, np.inf, shape=shape, dtype=dtype)

    @property
    def action_space(self) -> spaces.Discrete:
        """The action space, rebuilt from its description (``n`` and ``start``).

        Raises:
            ValueError: the description is missing or not that of a ``Discrete`` space.
        """
        desc = self._description("action_space", "spaces.discrete.Discrete", "Discrete")
        try:
            return spaces.Discrete(int(desc["n"]), start=int(desc.get("start", 0)))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{self.path}: cannot read the action space's n from {desc}"
            ) from error

    def _description(self, key: str, type_name: str, short: str) -> dict[str, Any]:
        desc = self.data.get(key)
        if not _is_pickled(desc):
            raise ValueError(f"{self.path} holds no description of its {key}")
        if type_name not in str(desc.get(":type:")):
            raise ValueError(
                f"{self.path}: the {key} is {desc.get(':type:')}; replay-gym's selectors take a "
                f"{short} space"
            )
        return desc

    @property
    def policy_kwargs(self) -> dict[str, Any]:
        """The policy's constructor settings (``net_arch``, an activation, an optimiser...).

        Plain JSON settings are taken as saved. When some are Python objects, SB3 pickles the
        whole dict and keeps a readable copy in which each object is its ``str()``; a class
        named there is taken when it is one of :data:`KNOWN_CLASSES` (looked up by that name,
        never unpickled).

        Raises:
            ValueError: a setting is an object other than a known class (a custom extractor, a
                function), which only unpickling could restore.
        """
        value = self.data.get("policy_kwargs", {})
        if not isinstance(value, dict):
            raise ValueError(f"{self.path}: policy_kwargs is {value!r}, not a JSON object")
        if not _is_pickled(value):
            return value
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key.startswith(":"):
                continue
            if isinstance(item, str) and item.startswith("<"):
                if item not in KNOWN_CLASSES:
                    raise ValueError(
                        f"{self.path}: its policy_kwargs[{key!r}] is {item}, which only "
                        "unpickling could restore, and replay-gym never unpickles a model file; "
                        f"it rebuilds classes it knows by name: {sorted(KNOWN_CLASSES)}"
                    )
                item = KNOWN_CLASSES[item]
            out[key] = item
        return out


def guess_algorithm(data: dict[str, Any] | None) -> str | None:
    """The algorithm a saved model's attributes point to, or None when they do not tell.

    PPO and A2C save the same policy class, so the attributes decide: only PPO has
    ``clip_range``, only DQN ``target_update_interval``, and A2C has ``n_steps`` without either.
    MaskablePPO saves PPO's attributes; its policy class, whose readable description (beside the
    pickle, which is never decoded) names the module ``sb3_contrib.common.maskable.policies``,
    tells it apart.
    """
    keys = set(data or {})
    policy_class = (data or {}).get("policy_class")
    if _is_pickled(policy_class) and str(policy_class.get("__module__", "")).startswith(
        MASKABLE_POLICY_MODULE
    ):
        return "maskable-ppo"
    if "target_update_interval" in keys:
        return "dqn"
    if "clip_range" in keys:
        return "ppo"
    if "n_steps" in keys:
        return "a2c"
    return None


def read_model(path: Path | str) -> SavedModel:
    """Read a Stable-Baselines3 ``.zip`` and its sidecar without unpickling anything.

    Args:
        path: The model file.

    Returns:
        Its data, policy and optimiser state, and sidecar.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not a model file, or a torch file in it holds more than tensors (refused
            by ``torch.load(weights_only=True)`` before any of it ran).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved Stable-Baselines3 model at {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = sorted({"data", POLICY_FILE} - names)
            if missing:
                raise ValueError(f"{path} is not a Stable-Baselines3 model: it has no {missing}")
            data = json.loads(archive.read("data").decode())
            policy = _read_torch(archive, POLICY_FILE, path)
            optimizer = _read_torch(archive, OPTIMIZER_FILE, path) if (
                OPTIMIZER_FILE in names
            ) else None
    except zipfile.BadZipFile as error:
        raise ValueError(
            f"cannot read {path} as a Stable-Baselines3 model: not a zip file"
        ) from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read {path}: its data is not JSON ({error})") from error
    if not isinstance(data, dict):
        raise ValueError(f"cannot read {path}: its data is not a JSON object")
    if not isinstance(policy, dict) or not all(
        isinstance(v, torch.Tensor) for v in policy.values()
    ):
        raise ValueError(f"{path}: {POLICY_FILE} is not a state dict of tensors")
    if optimizer is not None and not isinstance(optimizer, dict):
        raise ValueError(f"{path}: {OPTIMIZER_FILE} is not an optimiser state dict")
    return SavedModel(path, data, policy, optimizer, read_sidecar(path))


def _read_torch(archive: zipfile.ZipFile, name: str, path: Path) -> Any:
    """``torch.load(weights_only=True)`` of the archive member ``name``."""
    return load_weights_only(io.BytesIO(archive.read(name)), f"{name} in {path}")


def space_text(space: spaces.Space) -> str:
    """Short form of a space: ``Box(14,)``, ``Discrete(4)``."""
    if isinstance(space, spaces.Box):
        return f"Box{space.shape}"
    return str(space)


def _same_space(model: spaces.Space, env: spaces.Space) -> bool:
    if isinstance(model, spaces.Box) and isinstance(env, spaces.Box):
        return model.shape == env.shape and model.dtype == env.dtype
    return model == env


def check_spaces(
    model_path: Path | str,
    model_obs: spaces.Space,
    model_action: spaces.Space,
    env_obs: spaces.Space,
    env_action: spaces.Space,
) -> None:
    """Raise ``ValueError`` naming both pairs of spaces when they differ.

    Box spaces are compared by shape and dtype (see :attr:`SavedModel.observation_space`).
    """
    if _same_space(model_obs, env_obs) and _same_space(model_action, env_action):
        return
    trained = f"{space_text(model_obs)} / {space_text(model_action)}"
    present = f"{space_text(env_obs)} / {space_text(env_action)}"
    if trained == present:  # same shapes, another dtype: show everything
        trained, present = f"{model_obs!r} / {model_action!r}", f"{env_obs!r} / {env_action!r}"
    raise ValueError(
        f"model {model_path} was trained for {trained} but the environment has {present} "
        "(observation / action space; a different number of classes?)"
    )


def warn_config_differences(model_path: Path | str, trained: dict[str, Any], config: Any) -> None:
    """Warn, naming the settings, when the env's configuration differs from the training one."""
    if not isinstance(config, EnvConfig):
        return
    before, now = flatten(trained), flatten(json.loads(json.dumps(config_to_dict(config))))
    changed = [
        f"{key}: {before.get(key)!r} -> {now.get(key)!r}"
        for key in sorted(before.keys() | now.keys())
        if before.get(key) != now.get(key)
    ]
    if changed:
        more = f"; and {len(changed) - 8} more" if len(changed) > 8 else ""
        shown = "; ".join(changed[:8]) + more
        warnings.warn(
            f"model {model_path} was trained with other environment settings: {shown}",
            UserWarning,
            stacklevel=3,
        )
