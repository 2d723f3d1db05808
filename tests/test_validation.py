import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from replay_gym.validation import (
    accumulating_flags,
    check_fields,
    convert,
    describe,
    refuse_repeated_flags,
    require,
)


@pytest.mark.parametrize(
    ("value", "hint", "expected"),
    [
        (3, int, 3),
        (np.int64(3), int, 3),
        (2, float, 2.0),
        (np.float32(0.5), float, 0.5),
        (True, bool, True),
        (np.bool_(False), bool, False),
        ("x", str, "x"),
        (Path("/a/b"), str, "/a/b"),
        ("a/b", Path, Path("a/b")),
        (None, int | None, None),
        (4, int | None, 4),
        ([1, 2], tuple[int, int], (1, 2)),
        ([], tuple[str, ...], ()),
        (("a", "b"), tuple[str, ...], ("a", "b")),
        ("b", Literal["a", "b"], "b"),
        ({"k": "v"}, dict[str, str], {"k": "v"}),
    ],
)
def test_convert_accepts_and_normalises(value, hint, expected):
    out = convert("x", value, hint)
    assert out == expected and type(out) is type(expected)


def test_convert_keeps_an_already_normal_value_itself():
    value = (1, 2)
    assert convert("x", value, tuple[int, int]) is value


@pytest.mark.parametrize(
    ("value", "hint", "message"),
    [
        (1.5, int, r"x must be an integer \(int\), got 1.5 \(float\)"),
        (3.0, int, r"x must be an integer \(int\), got 3.0 \(float\)"),
        (True, int, r"x must be an integer \(int\), got True \(bool\)"),
        ("3", int, r"x must be an integer \(int\), got '3' \(str\)"),
        (math.inf, float, r"x must be a finite number \(float\), got inf"),
        (math.nan, float, r"x must be a finite number \(float\), got nan"),
        ("1e-3", float, r"x must be a finite number \(float\), got '1e-3' \(str\)"),
        (False, float, r"x must be a finite number"),
        (1, bool, r"x must be True or False \(bool\), got 1 \(int\)"),
        (3, str, r"x must be a string \(str\), got 3 \(int\)"),
        (2.5, int | None, r"x must be an integer \(int\) or None, got 2.5"),
        ((1, 2, 3), tuple[int, int], r"x must be a tuple of 2 integers, got \(1, 2, 3\)"),
        ((1, 2.5), tuple[int, int], r"x\[1\] must be an integer \(int\), got 2.5"),
        ("ab", tuple[str, ...], r"x must be a tuple of strings, got 'ab'"),
        ("c", Literal["a", "b"], r"x must be one of 'a', 'b', got 'c'"),
        (1, Literal["1"], r"x must be one of '1', got 1"),
        ({"k": 1}, dict[str, str], r"x\['k'\] must be a string"),
        (3, Path, r"x must be a path \(str or Path\), got 3"),
        (None, int, r"x must be an integer \(int\), got None"),
    ],
)
def test_convert_refuses_with_the_name_and_the_type_needed(value, hint, message):
    with pytest.raises(ValueError, match=message):
        convert("x", value, hint)


def test_convert_refuses_an_unknown_annotation_loudly():
    with pytest.raises(TypeError, match="cannot check"):
        convert("x", 1, "not a type")


def test_describe_names_types_for_messages():
    assert describe(int) == "an integer (int)"
    assert describe(tuple[float, float]) == "a tuple of 2 finite numbers"
    assert describe(tuple[int, str]) == "a tuple (an integer (int), a string (str))"
    assert describe(str | None) == "a string (str) or None"


@dataclass(frozen=True)
class _Example:
    count: int = 1
    rate: float = 0.5
    names: tuple[str, ...] = ()
    limit: int | None = None


def test_check_fields_normalises_frozen_instances_and_names_the_prefix():
    example = _Example(count=np.int64(2), rate=1, names=["a"])
    check_fields(example, "section.")
    assert (example.count, example.rate, example.names) == (2, 1.0, ("a",))
    assert type(example.count) is int and type(example.rate) is float
    with pytest.raises(ValueError, match=r"section.limit must be an integer \(int\) or None"):
        check_fields(_Example(limit=1.5), "section.")


def test_require_states_the_rule():
    require(True, "x", "positive", -1)
    with pytest.raises(ValueError, match=r"^x must be positive, got -1$"):
        require(False, "x", "positive", -1)


def test_accumulating_flags_are_the_many_valued_fields_nested_too():
    @dataclass
    class Inner:
        names: tuple[str, ...] = ()
        pair: tuple[int, int] = (0, 0)

    @dataclass
    class Outer:
        agent_args: dict[str, str]
        seeds: list[int] | None
        inner: Inner
        days: int = 1

    assert accumulating_flags(Outer) == {
        "--agent_args", "--agent-args", "--seeds", "--inner.names",
    }  # fmt: skip


def test_repeated_flags_are_refused_with_the_flag_that_keeps_both():
    many = {"--agent", "--set", "--seeds"}
    refuse_repeated_flags(["--agent", "a", "1", "b", "2", "--set=days=1", "--seeds", "0"], many)
    refuse_repeated_flags(["--days", "1", "--days", "2"], many)  # one value: last wins, as usual
    refuse_repeated_flags([], many)
    with pytest.raises(SystemExit, match=r"--agent is given twice.*: --agent a 1 b 2$"):
        refuse_repeated_flags(["--agent", "a", "1", "--out", "x", "--agent", "b", "2"], many)
    with pytest.raises(SystemExit, match=r"--set is given twice.*: --set days=1 seed=2$"):
        refuse_repeated_flags(["--set=days=1", "--set", "seed=2"], many)
