"""Replay selectors: the paper's side network, bandits, heuristics, an oracle, SB3 policies.

In the repository this is the top-level ``agents/`` folder; installed, it is ``replay_gym.agents``.

Selectors are registered by name; :func:`make_selector` builds one from its name and keyword
arguments, and :func:`register_selector` adds your own::

    from replay_gym.agents import make_selector, register_selector

    agent = make_selector("exp3s", eta=0.1)
    register_selector("mine", MySelector)  # any callable returning a Selector
"""

from __future__ import annotations

from collections.abc import Callable

from replay_gym.agents.bandits import (
    EpsilonGreedySelector,
    Exp3SSelector,
    ThompsonSelector,
    UCB1Selector,
)
from replay_gym.agents.base import Selector
from replay_gym.agents.heuristics import (
    NightOracleSelector,
    OracleSelector,
    RandomSelector,
    WeakestSelector,
)
from replay_gym.agents.regression import RegressionSelector
from replay_gym.registry import Messages, Registry

__all__ = [
    "SELECTORS",
    "EpsilonGreedySelector",
    "Exp3SSelector",
    "NightOracleSelector",
    "OracleSelector",
    "RandomSelector",
    "RegressionSelector",
    "Selector",
    "ThompsonSelector",
    "UCB1Selector",
    "WeakestSelector",
    "make_selector",
    "register_selector",
]

SELECTORS: dict[str, Callable[..., Selector]] = {}
"""Registered selector factories by name (the name a run's configuration uses)."""

_SELECTORS: Registry[Selector] = Registry(
    kind="selector",
    base=Selector,
    messages=Messages(
        bad_name="name must be a non-empty string, got {name!r}",
        not_callable="factory must be callable (e.g. a Selector class), got {factory!r}",
        taken="name {name!r} is already registered (to {existing!r}); "
        "pass overwrite=True to replace it",
        wrong_type="the factory registered as {name!r} returned {value!r}, not a {base}",
    ),
    type_error=ValueError,
    factories=SELECTORS,
)


def _registry() -> Registry[Selector]:
    """The selector registry over :data:`SELECTORS` as the module holds it now (may be rebound)."""
    return _SELECTORS.over(SELECTORS)


def register_selector(
    name: str, factory: Callable[..., Selector], *, overwrite: bool = False
) -> None:
    """Make a selector available to :func:`make_selector` under ``name``.

    Args:
        name: The registry key, a non-empty string.
        factory: A callable (usually the class) that returns a :class:`Selector` when called with
            the keyword arguments given to :func:`make_selector`.
        overwrite: Replace an existing entry of the same name instead of refusing.

    Raises:
        ValueError: If ``name`` is empty or not a string, ``factory`` is not callable, or the
            name is taken and ``overwrite`` is false.
    """
    _registry().register(name, factory, overwrite=overwrite)


def make_selector(name: str, **kwargs: object) -> Selector:
    """Build the selector registered as ``name`` with ``kwargs``.

    Args:
        name: A key of :data:`SELECTORS`.
        **kwargs: Passed to the selector's factory (its constructor arguments).

    Returns:
        A new selector.

    Raises:
        ValueError: If no selector is registered under ``name`` (the message lists the names),
            or the factory does not return a :class:`Selector`.
    """
    return _registry().make(name, **kwargs)


for _cls in (
    RegressionSelector,
    Exp3SSelector,
    UCB1Selector,
    ThompsonSelector,
    EpsilonGreedySelector,
    WeakestSelector,
    RandomSelector,
    OracleSelector,
    NightOracleSelector,
):
    register_selector(_cls.name, _cls)
del _cls
