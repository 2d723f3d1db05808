"""The selector registry: names, construction, user registration, and seeded determinism."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import replay_gym.agents as agents_pkg
from replay_gym.agents import (
    SELECTORS,
    RandomSelector,
    RegressionSelector,
    Selector,
    make_selector,
    register_selector,
)

BUILTIN = {
    "regression", "exp3s", "ucb1", "thompson", "epsilon-greedy", "weakest", "random", "oracle",
}


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A private copy of the registry, so that registering in a test leaks nowhere."""
    copy = dict(SELECTORS)
    monkeypatch.setattr(agents_pkg, "SELECTORS", copy)
    return copy


def test_builtin_names() -> None:
    assert BUILTIN <= set(SELECTORS)
    for name in BUILTIN:
        agent = make_selector(name)
        assert isinstance(agent, Selector)
        assert agent.name == name
    assert make_selector("oracle").privileged
    assert not any(make_selector(n).privileged for n in BUILTIN - {"oracle"})


def test_kwargs_reach_the_constructor() -> None:
    agent = make_selector("regression", temperature=0.5, reload_each_night=True)
    assert isinstance(agent, RegressionSelector)
    assert agent.temperature == 0.5 and agent.reload_each_night
    with pytest.raises(ValueError, match="^temperature "):
        make_selector("regression", temperature=-1)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown selector 'nope'.*exp3s.*regression"):
        make_selector("nope")


def test_register_a_user_selector(registry: dict) -> None:
    class Always(Selector):
        name = "always"

        def __init__(self, arm: int = 0) -> None:
            super().__init__()
            self.arm = arm

        def select(self, obs: np.ndarray, info: dict[str, Any]) -> int:
            return self.arm

    register_selector("always", Always)
    agent = make_selector("always", arm=3)
    assert isinstance(agent, Always) and agent.arm == 3
    assert "always" in registry and "always" not in SELECTORS  # the fixture's copy only

    with pytest.raises(ValueError, match="already registered"):
        register_selector("always", RandomSelector)
    register_selector("always", RandomSelector, overwrite=True)
    assert isinstance(make_selector("always"), RandomSelector)


def test_register_rejects_bad_input(registry: dict) -> None:
    with pytest.raises(ValueError, match="^name "):
        register_selector("", RandomSelector)
    with pytest.raises(ValueError, match="^factory "):
        register_selector("x", 42)  # type: ignore[arg-type]
    register_selector("not-a-selector", lambda: object())
    with pytest.raises(ValueError, match="not a Selector"):
        make_selector("not-a-selector")


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_same_seed_same_actions(name: str, make_toy, run) -> None:
    def actions(seed: int) -> list[int]:
        env = make_toy(night_length=30, n_nights=2, noise=1.0)
        return run(env, make_selector(name), seed=seed)

    first = actions(11)
    assert first == actions(11)
    assert len(first) == 60 and all(0 <= a < 5 for a in first)
    if name in {"random", "exp3s", "regression"}:  # stochastic from the first step
        assert first != actions(12)
