"""The generic Registry behind the sampler, scenario and selector plug points.

(Not test_registry.py: tests/agents/test_registry.py has that module name.)
"""

from __future__ import annotations

import pytest

from replay_gym.registry import Messages, Registry


class Shape:
    """The base class a test registry's factories must return."""

    def __init__(self, size: int = 1) -> None:
        self.size = size


class Square(Shape):
    pass


@pytest.fixture
def shapes() -> Registry[Shape]:
    registry: Registry[Shape] = Registry(kind="shape", base=Shape, field="draw.shape")
    registry.register("square", Square)
    return registry


def test_register_and_make(shapes: Registry[Shape]) -> None:
    shapes.register("plain", Shape)
    assert shapes.names() == ["plain", "square"]
    assert "square" in shapes and "circle" not in shapes and 3 not in shapes
    assert shapes.factory("square") is Square
    square = shapes.make("square", 4)
    assert isinstance(square, Square) and square.size == 4
    assert shapes.make("plain", size=2).size == 2


def test_make_passes_a_name_keyword_on() -> None:
    """``name`` is positional-only, so a factory may take a ``name`` keyword."""

    class Named(Shape):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    registry: Registry[Shape] = Registry(kind="shape", base=Shape)
    registry.register("named", Named)
    assert registry.make("named", name="x").name == "x"


def test_duplicate_refused_unless_overwrite(shapes: Registry[Shape]) -> None:
    with pytest.raises(
        ValueError, match=r"^shape 'square' is already registered; pass overwrite=True to replace$"
    ):
        shapes.register("square", Shape)
    assert shapes.factory("square") is Square
    shapes.register("square", Shape, overwrite=True)
    assert shapes.factory("square") is Shape


@pytest.mark.parametrize("factory", [None, 3, "Square"])
def test_non_callable_refused(shapes: Registry[Shape], factory: object) -> None:
    with pytest.raises(TypeError, match=r"^shape factory for 'x' must be callable, got "):
        shapes.register("x", factory)  # type: ignore[arg-type]
    assert "x" not in shapes


@pytest.mark.parametrize("name", ["", None, 3])
def test_empty_or_non_string_name_refused(shapes: Registry[Shape], name: object) -> None:
    with pytest.raises(ValueError, match=r"^shape name must be a non-empty string, got "):
        shapes.register(name, Shape)  # type: ignore[arg-type]
    assert shapes.names() == ["square"]


def test_unknown_name_lists_the_names(shapes: Registry[Shape]) -> None:
    shapes.register("circle", Shape)
    message = r"^unknown shape 'nope' \(draw\.shape\); registered: circle, square$"
    with pytest.raises(ValueError, match=message):
        shapes.factory("nope")
    with pytest.raises(ValueError, match=message):
        shapes.make("nope")


def test_unknown_name_without_a_field() -> None:
    registry: Registry[Shape] = Registry(kind="shape", base=Shape)
    with pytest.raises(ValueError, match=r"^unknown shape 'nope'; registered: $"):
        registry.make("nope")


def test_wrong_return_type_refused(shapes: Registry[Shape]) -> None:
    shapes.register("liar", lambda: object())
    with pytest.raises(TypeError, match=r"^factory of shape 'liar' returned object, not a Shape$"):
        shapes.make("liar")


def test_messages_and_error_class_are_parameters() -> None:
    registry: Registry[Shape] = Registry(
        kind="shape",
        base=Shape,
        messages=Messages(
            bad_name="bad {name!r}",
            not_callable="cannot call {factory!r} ({name})",
            taken="{name} taken by {existing.__name__}",
            unknown="no {kind} {name!r} in [{names}]",
            wrong_type="{name} gave {value!r} ({type}), wanted {base}",
        ),
        type_error=ValueError,
    )
    registry.register("square", Square)
    registry.register("liar", lambda: 7)
    with pytest.raises(ValueError, match=r"^bad ''$"):
        registry.register("", Square)
    with pytest.raises(ValueError, match=r"^cannot call 5 \(x\)$"):
        registry.register("x", 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^square taken by Square$"):
        registry.register("square", Shape)
    with pytest.raises(ValueError, match=r"^no shape 'nope' in \[liar, square\]$"):
        registry.make("nope")
    with pytest.raises(ValueError, match=r"^liar gave 7 \(int\), wanted Shape$"):
        registry.make("liar")


def test_the_factories_mapping_is_shared_not_copied() -> None:
    factories: dict = {"square": Square}
    registry: Registry[Shape] = Registry(kind="shape", base=Shape, factories=factories)
    registry.register("plain", Shape)
    assert factories == {"square": Square, "plain": Shape} and registry.factories is factories
    del factories["square"]
    assert registry.names() == ["plain"]


def test_over_keeps_the_rules_on_another_mapping(shapes: Registry[Shape]) -> None:
    assert shapes.over(shapes.factories) is shapes
    copy = dict(shapes.factories)
    view = shapes.over(copy)
    view.register("plain", Shape)
    assert "plain" in copy and "plain" not in shapes
    with pytest.raises(ValueError, match=r"^unknown shape 'nope' \(draw\.shape\); registered: "):
        view.make("nope")
