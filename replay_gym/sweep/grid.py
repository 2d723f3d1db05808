"""A sweep's grid: conditions x seeds x config overrides, expanded into cells.

A cell is one course configuration and one seed: one run directory under the sweep folder,
``OUT/<condition>/<overrides>/seed_<k>``. The grid comes from the command line or a TOML file::

    preset = "default"
    conditions = ["none", "generative", "round-robin"]
    seeds = [0, 1, 2, 3, 4]

    [set]            # applied to every cell
    days = 10

    [grid]           # every combination of these values
    adam_eps = [1e-2, 3e-3]
    replay_layer = [4, 5]

Keys of ``set`` and ``grid`` are the overrides ``gym.make("ReplaySelect-v0", ...)`` takes: an
``EnvConfig`` field, a field name unique to one section, or ``section.field`` (``data.source``).
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replay_gym.config import EnvConfig, apply_overrides
from replay_gym.config import preset as preset_config

__all__ = ["Cell", "SweepSpec", "check_selector_arguments", "load_spec", "parse_assignment"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._+=,-]+")


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: a condition, one seed, the overrides on top of the preset."""

    condition: str
    seed: int
    preset: str
    overrides: tuple[tuple[str, Any], ...] = ()
    """Sorted ``(key, value)`` pairs; values are JSON-ready."""
    agent: tuple[tuple[str, str], ...] = ()
    """Selector constructor arguments (``--agent``), as the runner takes them."""

    @property
    def variant(self) -> str:
        """The overrides as a folder name (``base`` when there are none)."""
        if not self.overrides:
            return "base"
        parts = [f"{key}={_compact(value)}" for key, value in self.overrides]
        return _UNSAFE.sub("_", ",".join(parts))

    def relative_dir(self) -> Path:
        """Where the cell's run directory lies inside the sweep folder."""
        return Path(self.condition) / self.variant / f"seed_{self.seed}"

    def env_config(self) -> EnvConfig:
        """The preset with this cell's overrides, checked."""
        config = apply_overrides(preset_config(self.preset), **dict(self.overrides))
        config.validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (what ``--dry-run`` lists and the done marker records)."""
        return {
            "condition": self.condition,
            "seed": self.seed,
            "preset": self.preset,
            "overrides": dict(self.overrides),
            "agent": dict(self.agent),
            "dir": str(self.relative_dir()),
        }


@dataclass(frozen=True)
class SweepSpec:
    """The grid of a sweep; :meth:`cells` expands it."""

    conditions: tuple[str, ...]
    seeds: tuple[int, ...]
    preset: str = "default"
    fixed: Mapping[str, Any] = field(default_factory=dict)
    """Overrides applied to every cell."""
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    """Overrides whose every combination gives a variant."""
    agent: Mapping[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad part of the grid."""
        from replay_gym.runner import condition_names

        if not self.conditions:
            raise ValueError("a sweep needs at least one condition")
        unknown = [c for c in self.conditions if c not in condition_names()]
        if unknown:
            raise ValueError(f"unknown condition(s) {unknown}; choose from {condition_names()}")
        if "sb3" in self.conditions:
            raise ValueError("condition 'sb3' needs a model per cell; run it with `run --model`")
        if not self.seeds:
            raise ValueError("a sweep needs at least one seed")
        for seed in self.seeds:
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ValueError(f"seeds must be non-negative integers, got {seed!r}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds repeat: {list(self.seeds)}")
        preset_config(self.preset)
        for key, values in self.grid.items():
            if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
                raise ValueError(
                    f"grid[{key!r}] must be a non-empty list of values, got {values!r}"
                )
        overlap = set(self.fixed) & set(self.grid)
        if overlap:
            raise ValueError(f"{sorted(overlap)} given both as fixed settings and in the grid")
        check_selector_arguments(self.conditions, self.agent)

    def cells(self) -> list[Cell]:
        """Every cell, conditions outermost, then variants, then seeds; each variant checked."""
        self.validate()
        keys = sorted(self.grid)
        variants = [dict(zip(keys, combo, strict=True)) for combo in
                    itertools.product(*(self.grid[k] for k in keys))]
        cells = []
        for condition in self.conditions:
            for variant in variants:
                overrides = tuple(sorted({**self.fixed, **variant}.items()))
                for seed in self.seeds:
                    cell = Cell(condition, seed, self.preset, _jsonable(overrides),
                                tuple(sorted(self.agent.items())))
                    cells.append(cell)
        for cell in {c.variant: c for c in cells}.values():
            try:
                cell.env_config()
            except (TypeError, ValueError) as error:
                raise ValueError(f"sweep variant {cell.variant!r}: {error}") from error
        return cells


def check_selector_arguments(conditions: Sequence[str], agent: Mapping[str, str]) -> None:
    """Raise ``ValueError`` unless every condition's selector takes the arguments ``agent``.

    ``agent`` holds strings, as ``run --agent`` takes them (JSON for numbers); fixed conditions
    take none. Checked by building each selector, which is cheap, before any cell runs.
    """
    if not agent:
        return
    from replay_gym.agents import make_selector
    from replay_gym.conditions import FIXED_CONDITIONS
    from replay_gym.runner import agent_kwargs

    for key, value in agent.items():
        if not isinstance(value, str):
            raise ValueError(f"agent[{key!r}] must be a string (JSON for numbers), got {value!r}")
    kwargs = agent_kwargs(dict(agent))
    for condition in conditions:
        if condition in FIXED_CONDITIONS:
            raise ValueError(
                f"[agent] arguments {sorted(agent)} do not apply to fixed condition "
                f"{condition!r}; sweep it without them (another --out)"
            )
        try:
            make_selector(condition, **kwargs)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"[agent] arguments {dict(agent)} do not fit condition {condition!r}: {error}"
            ) from error


def load_spec(path: Path) -> dict[str, Any]:
    """The settings of a sweep TOML file as keyword arguments of :class:`SweepSpec`."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"sweep file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"sweep file {path} is not valid TOML: {error}") from None
    known = {"preset", "conditions", "seeds", "set", "grid", "agent"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"sweep file {path}: unknown key(s) {unknown}; known: {sorted(known)}")
    out: dict[str, Any] = {}
    if "preset" in data:
        out["preset"] = data["preset"]
    if "conditions" in data:
        out["conditions"] = tuple(data["conditions"])
    if "seeds" in data:
        out["seeds"] = tuple(data["seeds"])
    for key, target in (("set", "fixed"), ("grid", "grid"), ("agent", "agent")):
        if key in data:
            if not isinstance(data[key], dict):
                raise ValueError(f"sweep file {path}: [{key}] must be a table")
            out[target] = _flatten(data[key])
    if "agent" in out:  # the runner takes selector arguments as strings (JSON for numbers)
        out["agent"] = {k: v if isinstance(v, str) else json.dumps(v)
                        for k, v in out["agent"].items()}  # fmt: skip
    return out


def parse_assignment(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE parsed as JSON where it parses (numbers, lists), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """TOML sub-tables (``[set.learner]``) become dotted keys (``learner.lr``)."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _jsonable(pairs: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    """Lists to tuples (hashable) after a JSON round trip (so TOML and CLI values agree)."""
    def freeze(value: Any) -> Any:
        return tuple(freeze(v) for v in value) if isinstance(value, list | tuple) else value

    return tuple((key, freeze(json.loads(json.dumps(value)))) for key, value in pairs)


def _compact(value: Any) -> str:
    if isinstance(value, tuple):
        return "-".join(_compact(v) for v in value)
    return format(value, "g") if isinstance(value, float) else str(value)
