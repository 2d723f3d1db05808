"""Setting checks run when a configuration dataclass is built: types from annotations, then ranges.

:func:`check_fields` reads a dataclass's field annotations, so a field added later is checked
by its type with no further code: integers must be integers (``1.5`` is refused, not rounded;
``True`` is not an integer), floats must be finite numbers, tuples need their length and element
types, ``X | None`` and ``Literal[...]`` are honoured. Values of a compatible type are normalised
in place (a list becomes a tuple, a numpy integer an ``int``, an ``int`` given for a float a
``float``, a path-like for a string its ``str``), so a built config is hashable and JSON-ready.
Range rules are per field and live beside the fields, in each config's ``validate``; they use
:func:`require`.

Every refusal is a ``ValueError`` that names the setting, what it must be and what it got.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = [
    "accumulating_flags",
    "check_fields",
    "convert",
    "describe",
    "refuse_repeated_flags",
    "require",
]


def check_fields(config: Any, prefix: str = "") -> None:
    """Check every field of dataclass instance ``config`` against its annotation.

    Normalised values are written back (``object.__setattr__``, so frozen dataclasses work).
    Call it first in ``__post_init__``, before range rules that assume the types.

    Args:
        config: A dataclass instance.
        prefix: Put before each field name in messages, e.g. ``"learner."``.

    Raises:
        ValueError: A field's value does not fit its annotation (the message names the field).
    """
    hints = _field_hints(type(config))
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        normal = convert(prefix + item.name, value, hints[item.name])
        if normal is not value:
            object.__setattr__(config, item.name, normal)


def require(ok: bool, name: str, rule: str, value: Any) -> None:
    """Raise ``ValueError("{name} must be {rule}, got {value!r}")`` unless ``ok``."""
    if not ok:
        raise ValueError(f"{name} must be {rule}, got {value!r}")


@functools.cache
def _field_hints(cls: Any) -> dict[str, Any]:
    """Resolved annotations of ``cls`` (``Annotated`` extras dropped); cached per class."""
    return typing.get_type_hints(cls)


def convert(name: str, value: Any, hint: Any) -> Any:
    """``value`` checked against type ``hint`` and normalised; ``ValueError`` names ``name``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (types.UnionType, typing.Union):
        return _convert_union(name, value, hint, args)
    if origin is Literal:
        if any(value == choice and type(value) is type(choice) for choice in args):
            return value
        raise _refusal(name, value, hint)
    if origin is tuple:
        return _convert_tuple(name, value, hint, args)
    if origin is dict:
        if not isinstance(value, dict):
            raise _refusal(name, value, hint)
        key_hint, value_hint = args or (Any, Any)
        return {
            convert(f"{name} key", k, key_hint): convert(f"{name}[{k!r}]", v, value_hint)
            for k, v in value.items()
        }
    if hint is type(None):
        if value is None:
            return None
        raise _refusal(name, value, hint)
    if hint in _SCALARS:
        return _convert_scalar(name, value, hint)
    if hint is Path:
        if isinstance(value, str | os.PathLike):
            return value if isinstance(value, Path) else Path(value)
        raise _refusal(name, value, hint)
    if isinstance(origin or hint, type):
        if isinstance(value, origin or hint):
            return value
        raise _refusal(name, value, hint)
    raise TypeError(f"{name}: cannot check a value against the annotation {hint!r}")


def _convert_scalar(name: str, value: Any, hint: type) -> Any:
    if hint is bool:
        if isinstance(value, bool | np.bool_):
            return bool(value)
    elif hint is int:
        if isinstance(value, numbers.Integral) and not _is_bool(value):
            return value if type(value) is int else int(value)
    elif hint is float:
        if isinstance(value, numbers.Real) and not _is_bool(value):
            number = value if type(value) is float else float(value)
            if math.isfinite(number):
                return number
    elif hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, os.PathLike):
            path = os.fspath(value)
            if isinstance(path, str):
                return path
    raise _refusal(name, value, hint)


def _convert_union(name: str, value: Any, hint: Any, members: tuple[Any, ...]) -> Any:
    if value is None and type(None) in members:
        return None
    for member in members:
        if member is type(None):
            continue
        try:
            return convert(name, value, member)
        except ValueError:
            continue
    raise _refusal(name, value, hint)


def _convert_tuple(name: str, value: Any, hint: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    if not isinstance(value, tuple | list):
        raise _refusal(name, value, hint)
    if len(args) == 2 and args[1] is Ellipsis:
        element_hints = [args[0]] * len(value)
    else:
        if len(value) != len(args):
            raise _refusal(name, value, hint)
        element_hints = list(args)
    items = tuple(
        convert(f"{name}[{i}]", item, element)
        for i, (item, element) in enumerate(zip(value, element_hints, strict=True))
    )
    unchanged = isinstance(value, tuple) and all(a is b for a, b in zip(items, value, strict=True))
    return value if unchanged else items


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


_SCALARS: dict[type, tuple[str, str]] = {
    bool: ("True or False (bool)", "booleans"),
    int: ("an integer (int)", "integers"),
    float: ("a finite number (float)", "finite numbers"),
    str: ("a string (str)", "strings"),
}
"""Each scalar type: how a message names one value of it, and several."""


def describe(hint: Any, plural: bool = False) -> str:
    """How a message names a value of type ``hint``: ``an integer (int)``, ``a tuple of 5 ...``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in _SCALARS:
        return _SCALARS[hint][1 if plural else 0]
    if hint is type(None):
        return "None"
    if hint is Path:
        return "paths" if plural else "a path (str or Path)"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(describe(member, plural) for member in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a tuple of {describe(args[0], plural=True)}"
        if len(set(args)) == 1:
            return f"a tuple of {len(args)} {describe(args[0], plural=True)}"
        return f"a tuple ({', '.join(describe(a) for a in args)})"
    if origin is dict:
        return "a dict"
    kind = getattr(origin or hint, "__name__", repr(hint))
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    return f"{kind}s" if plural else f"{article} {kind}"


def _refusal(name: str, value: Any, hint: Any) -> ValueError:
    return ValueError(
        f"{name} must be {describe(hint)}, got {value!r} ({type(value).__name__})"
    )


def accumulating_flags(cls: Any, prefix: str = "--") -> set[str]:
    """The flags of ``cls`` that take any number of values (list, set, dict, ``X, ...``).

    ``cls`` is a dataclass or a function, as ``tyro.cli`` takes them. Given twice, such a flag
    looks like it adds to the first, but the parser keeps only the last; nested dataclass fields
    are included under their dotted names (``--env.data.classes``).
    """
    flags = set()
    hints = {k: v for k, v in _field_hints(cls).items() if k != "return"}
    for name, hint in hints.items():
        for kind in (hint, *typing.get_args(hint)):  # X | None: the X
            origin, args = typing.get_origin(kind), typing.get_args(kind)
            if origin in (list, set, dict) or (origin is tuple and args[-1:] == (Ellipsis,)):
                flags |= {prefix + name, prefix + name.replace("_", "-")}
            elif dataclasses.is_dataclass(kind) and isinstance(kind, type):
                flags |= accumulating_flags(kind, f"{prefix}{name}.")
    return flags


def refuse_repeated_flags(argv: Sequence[str], flags: set[str]) -> None:
    """Refuse any of ``flags`` given twice in ``argv``: the parser keeps only the last.

    ``--agent a 1 --agent b 2`` would run without ``a``; the message shows the one flag that
    keeps both. Flags of one value (``--env.days 1 --env.days 2``) keep the usual last-wins.

    Raises:
        SystemExit: naming the flag and how to give all its values at once.
    """
    occurrences: list[tuple[str, list[str]]] = []  # (flag, the values after it)
    for arg in argv:
        if arg.startswith("--"):
            flag, has_value, value = arg.partition("=")
            occurrences.append((flag, [value] if has_value else []))
        elif occurrences:
            occurrences[-1][1].append(arg)
    values: dict[str, list[str]] = {}
    for flag, given in occurrences:
        if flag not in flags:
            continue
        if flag in values:
            joined = " ".join([flag, *values[flag], *given])
            raise SystemExit(
                f"error: {flag} is given twice; only the last would count. Give every value "
                f"after one {flag}: {joined}"
            )
        values[flag] = given
