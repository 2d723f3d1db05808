"""A registry of named factories: the one behind samplers, scenarios and selectors.

Each plug point keeps a :class:`Registry` of factories by name::

    samplers = Registry(kind="sampler", base=Sampler, field="sampler.kind")
    samplers.register("gaussian", lambda config, layer: GaussianSampler(...))
    sampler = samplers.make("gaussian", config, layer)  # checked to be a Sampler

Registration refuses an empty name, a factory that is not callable, and a name already taken
(unless ``overwrite=True``); building refuses an unknown name (the message lists the registered
names) and a factory that returns something other than ``base``. The wording of each message and
the exception class of the type errors are parameters (:class:`Messages`, ``type_error``), so a
plug point keeps the messages its users and tests know.

This module imports nothing from the package: the configuration builds scenarios while it is
itself being imported, so anything the registries need must be importable before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Messages", "Registry"]

T = TypeVar("T")


@dataclass(frozen=True)
class Messages:
    """The wording of a registry's errors, as :meth:`str.format` templates.

    Every template may use ``{kind}`` (the registry's noun), ``{field}`` (the setting that names
    an entry, or ``""``), ``{where}`` (``" (field)"``, or ``""`` without a field), ``{base}``
    (the name of the class a factory must return) and ``{name}`` (the name at issue); some add
    their own, listed below.
    """

    bad_name: str = "{kind} name must be a non-empty string, got {name!r}"
    """A name that is not a non-empty string (``ValueError``)."""
    not_callable: str = "{kind} factory for {name!r} must be callable, got {factory!r}"
    """A factory that cannot be called (``type_error``); adds ``{factory}``."""
    taken: str = "{kind} {name!r} is already registered; pass overwrite=True to replace"
    """A name registered before, without ``overwrite`` (``ValueError``); adds ``{existing}``,
    the factory registered under it."""
    unknown: str = "unknown {kind} {name!r}{where}; registered: {names}"
    """A name not registered (``ValueError``); adds ``{names}``, the registered names sorted and
    joined by ``", "``."""
    wrong_type: str = "factory of {kind} {name!r} returned {type}, not a {base}"
    """A factory that returned something other than ``base`` (``type_error``); adds ``{value}``
    (what it returned) and ``{type}`` (the name of its class)."""


class Registry(Generic[T]):
    """Factories of ``base`` objects by name, with the checks every plug point needs.

    Args:
        kind: The noun of the messages ("sampler", "scenario", "selector").
        base: The class every factory must return an instance of.
        field: The setting whose value names an entry (``"sampler.kind"``), for the messages.
        messages: The wording of the errors (the default names ``kind`` and ``field``).
        type_error: The exception class for a factory that is not callable or returns the wrong
            type (the other refusals are ``ValueError``).
        factories: The mapping to keep the factories in, used as it is (not copied), so a
            module can expose it; a new empty one if omitted.
    """

    def __init__(
        self,
        kind: str,
        base: type[T],
        *,
        field: str | None = None,
        messages: Messages | None = None,
        type_error: type[Exception] = TypeError,
        factories: dict[str, Callable[..., T]] | None = None,
    ) -> None:
        self.kind = kind
        self.base = base
        self.field = field
        self.messages = Messages() if messages is None else messages
        self.type_error = type_error
        self.factories: dict[str, Callable[..., T]] = {} if factories is None else factories

    def over(self, factories: dict[str, Callable[..., T]]) -> Registry[T]:
        """This registry's rules over another mapping of factories (``self`` if it is the same).

        For a module that exposes its mapping as a public name that may be rebound (a test
        swapping in a copy): its functions follow whichever mapping the name holds now.
        """
        if factories is self.factories:
            return self
        return Registry(
            self.kind,
            self.base,
            field=self.field,
            messages=self.messages,
            type_error=self.type_error,
            factories=factories,
        )

    def register(self, name: str, factory: Callable[..., T], *, overwrite: bool = False) -> None:
        """Register ``factory`` under ``name``.

        Raises:
            ValueError: If ``name`` is not a non-empty string, or is already registered and
                ``overwrite`` is false.
            type_error: If ``factory`` is not callable.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(self._message(self.messages.bad_name, name))
        if not callable(factory):
            raise self.type_error(self._message(self.messages.not_callable, name, factory=factory))
        if name in self.factories and not overwrite:
            raise ValueError(
                self._message(self.messages.taken, name, existing=self.factories[name])
            )
        self.factories[name] = factory

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self.factories)

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is registered."""
        return isinstance(name, str) and name in self.factories

    def factory(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``.

        Raises:
            ValueError: If ``name`` is not registered (the message lists the registered names).
        """
        try:
            return self.factories[name]
        except KeyError:
            names = ", ".join(self.names())
            raise ValueError(self._message(self.messages.unknown, name, names=names)) from None

    def make(self, name: str, /, *args: Any, **kwargs: Any) -> T:
        """Call the factory registered as ``name`` with ``args`` and ``kwargs``.

        Raises:
            ValueError: If ``name`` is not registered (the message lists the registered names).
            type_error: If the factory returns something that is not a ``base``.
        """
        value = self.factory(name)(*args, **kwargs)
        if not isinstance(value, self.base):
            raise self.type_error(
                self._message(
                    self.messages.wrong_type, name, value=value, type=type(value).__name__
                )
            )
        return value

    def __repr__(self) -> str:
        return f"Registry(kind={self.kind!r}, names={self.names()!r})"

    def _message(self, template: str, name: object, **extra: object) -> str:
        return template.format(
            kind=self.kind,
            field=self.field or "",
            where=f" ({self.field})" if self.field else "",
            base=self.base.__name__,
            name=name,
            **extra,
        )
