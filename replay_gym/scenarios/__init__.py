"""Scenarios: which classes a course trains on each day, and which it replays and tests.

``make_scenario(config)`` builds the scenario named by ``EnvConfig.scenario``:

* ``paper`` -- every class every day, as in Barry & Love (the default, and the behaviour the
  environment always had);
* ``class-incremental`` -- classes arrive in tasks of ``classes_per_task``, ``days_per_task``
  days each; nights replay and tests cover every class seen so far
  (:class:`~replay_gym.scenarios.class_incremental.ClassIncrementalScenario`).

Plug in your own with ``register_scenario("name", factory)``, where ``factory(config)`` returns
a :class:`Scenario` (usually the class itself); ``EnvConfig(scenario="name")`` then selects it,
with no change to the environment. Register before building the configuration: the
configuration builds its scenario to check its settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from replay_gym.registry import Registry
from replay_gym.scenarios.base import Scenario
from replay_gym.scenarios.class_incremental import ClassIncrementalScenario
from replay_gym.scenarios.paper import PaperScenario

if TYPE_CHECKING:
    from replay_gym.config import EnvConfig

__all__ = [
    "ClassGroupSampler",
    "ClassIncrementalScenario",
    "PaperScenario",
    "Scenario",
    "ScenarioFactory",
    "make_scenario",
    "register_scenario",
    "scenario_names",
]

ScenarioFactory = Callable[["EnvConfig"], Scenario]
"""Builds a scenario from the environment's configuration (checking the settings it reads)."""

_SCENARIOS: Registry[Scenario] = Registry(kind="scenario", base=Scenario, field="scenario")
_REGISTRY = _SCENARIOS.factories
"""The registered factories by name (the registry's own mapping)."""


def register_scenario(name: str, factory: ScenarioFactory, *, overwrite: bool = False) -> None:
    """Make ``EnvConfig(scenario=name)`` build its scenario with ``factory(config)``.

    Args:
        name: The ``scenario`` string.
        factory: Called with the :class:`~replay_gym.config.EnvConfig`; returns a
            :class:`Scenario` and raises ``ValueError`` naming a setting that does not fit.
        overwrite: Replace an existing registration instead of refusing.

    Raises:
        ValueError: If ``name`` is empty or already registered (and ``overwrite`` is False).
        TypeError: If ``factory`` is not callable.
    """
    _SCENARIOS.register(name, factory, overwrite=overwrite)


def scenario_names() -> list[str]:
    """The registered scenario names, sorted."""
    return _SCENARIOS.names()


def make_scenario(config: EnvConfig) -> Scenario:
    """The scenario ``config.scenario`` names, built for ``config``.

    Raises:
        ValueError: If the name is not registered (the message lists the registered names) or
            a setting does not fit the scenario (the message names it).
        TypeError: If the registered factory does not return a :class:`Scenario`.
    """
    return _SCENARIOS.make(config.scenario, config)


def __getattr__(name: str) -> Any:
    """:class:`ClassGroupSampler`, imported on first use.

    The configuration module builds its presets' scenarios while it is itself being imported,
    before the samplers (which import it) can be; so nothing here imports them at the top.
    """
    if name == "ClassGroupSampler":
        from replay_gym.scenarios.grouped import ClassGroupSampler

        return ClassGroupSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


register_scenario("paper", PaperScenario)
register_scenario("class-incremental", ClassIncrementalScenario)
