"""Bandit selectors: Exp3.S (with Graves et al.'s rescaling), UCB1, Thompson, epsilon-greedy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from replay_gym.agents.bandits import (
    EpsilonGreedySelector,
    Exp3SSelector,
    ThompsonSelector,
    UCB1Selector,
    exp3s_policy,
    exp3s_update,
    rescale_reward,
)

BANDITS = [Exp3SSelector, UCB1Selector, ThompsonSelector, EpsilonGreedySelector]


def _start(agent, env, seed: int = 0):
    obs, info = env.reset(seed=seed)
    agent.begin_episode(env, obs, info, np.random.default_rng(seed))
    return obs, info


def _feed(agent, pairs) -> None:
    """Observe (action, reward) pairs directly, as if the agent had chosen them."""
    for a, r in pairs:
        agent.observe(a, r, np.zeros(1, np.float32), {})


# -- every bandit finds the best arm ---------------------------------------------------------------


@pytest.mark.parametrize("cls", BANDITS)
@pytest.mark.parametrize("seed", [0, 1])
def test_finds_the_best_arm(cls, seed, make_toy, toy_means, run) -> None:
    best = int(np.argmax(toy_means))
    env = make_toy(noise=0.5, night_length=100, n_nights=3)
    agent = cls()
    actions = run(env, agent, seed=seed)
    counts = np.bincount(actions, minlength=len(toy_means))
    assert int(np.argmax(counts)) == best
    assert counts[best] > 0.5 * len(actions)
    assert int(np.nanargmax(agent.preferences())) == best


@pytest.mark.parametrize("cls", BANDITS)
def test_same_seed_same_actions(cls, make_toy, run) -> None:
    a = run(make_toy(night_length=40, n_nights=2), cls(), seed=7)
    b = run(make_toy(night_length=40, n_nights=2), cls(), seed=7)
    c = run(make_toy(night_length=40, n_nights=2), cls(), seed=8)
    assert a == b
    assert a != c


@pytest.mark.parametrize("cls", [UCB1Selector, ThompsonSelector, EpsilonGreedySelector])
def test_untried_arms_first(cls, make_toy) -> None:
    env = make_toy()
    agent = cls()
    obs, info = _start(agent, env, seed=3)
    chosen = []
    for _ in range(5):
        a = agent.select(obs, info)
        chosen.append(a)
        obs, r, _, _, info = env.step(a)
        agent.observe(a, r, obs, info)
    assert sorted(chosen) == list(range(5))


# -- Exp3.S ---------------------------------------------------------------------------------------


def test_rescale_reward_by_hand() -> None:
    history = [1.0, 2.0, 3.0, 4.0, 5.0]
    # 20th percentile, linear interpolation: position 0.2 * 4 = 0.8 -> 1 + 0.8 * (2 - 1) = 1.8
    # 80th percentile: position 0.8 * 4 = 3.2 -> 4 + 0.2 * (5 - 4) = 4.2; hi - lo = 2.4
    assert rescale_reward(3.0, history) == pytest.approx(2 * (3 - 1.8) / 2.4 - 1)  # = 0
    assert rescale_reward(3.0, history) == pytest.approx(0.0)
    assert rescale_reward(4.0, history) == pytest.approx(2 * (4 - 1.8) / 2.4 - 1)  # = 0.8333...
    assert rescale_reward(4.0, history) == pytest.approx(5 / 6)
    assert rescale_reward(5.0, history) == 1.0  # above hi
    assert rescale_reward(1.0, history) == -1.0  # below lo
    assert rescale_reward(1.8, history) == pytest.approx(-1.0)  # exactly lo: linear end
    assert rescale_reward(4.2, history) == pytest.approx(1.0)

    # Two rewards 0 and 10: lo = 2, hi = 8; 6.5 -> 2 * 4.5 / 6 - 1 = 0.5
    assert rescale_reward(6.5, [0.0, 10.0]) == pytest.approx(0.5)
    # Other quantiles: the 50th and 100th of [0, 10] are 5 and 10; 7.5 -> 2 * 2.5 / 5 - 1 = 0
    assert rescale_reward(7.5, [0.0, 10.0], 0.5, 1.0) == pytest.approx(0.0)


def test_rescale_reward_degenerate_histories() -> None:
    assert rescale_reward(3.0, []) == 0.0
    assert rescale_reward(3.0, [3.0]) == 0.0  # first step: nothing to compare with
    assert rescale_reward(9.0, [2.0, 2.0, 2.0]) == 0.0  # hi == lo


def test_exp3s_update_by_hand() -> None:
    # N = 3, uniform weights, arm 0 played with probability 1/3, rescaled reward 1,
    # eta = 0.1, alpha = 0.01: r~_0 = 1 / (1/3) = 3, u = [0.3, 0, 0].
    w = exp3s_update(np.zeros(3), 0, 1.0, 1 / 3, eta=0.1, alpha=0.01)
    e3 = math.exp(0.3)
    w0 = math.log(0.99 * e3 + 0.01 / 2 * (1 + 1))
    w1 = math.log(0.99 * 1 + 0.01 / 2 * (e3 + 1))
    expected = np.array([w0, w1, w1]) - w0  # shifted so the largest is 0
    np.testing.assert_allclose(w, expected, rtol=1e-12, atol=1e-15)
    # alpha = 0 is plain Exp3: only the played arm moves, by eta * r / pi.
    np.testing.assert_allclose(exp3s_update(np.zeros(3), 1, -1.0, 0.5, 0.2, 0.0), [0, -0.4, 0])


def test_exp3s_update_is_stable_with_huge_weights() -> None:
    w = exp3s_update(np.array([1e4, -1e4, 0.0]), 1, 1.0, 1e-6, eta=0.5, alpha=1e-3)
    assert np.all(np.isfinite(w)) and w.max() == 0.0


def test_exp3s_policy_floor_and_sum() -> None:
    p = exp3s_policy(np.array([50.0, 0.0, -50.0, 0.0]), epsilon=0.2)
    assert p.sum() == pytest.approx(1.0)
    assert p.min() >= 0.2 / 4 - 1e-15
    np.testing.assert_allclose(exp3s_policy(np.zeros(4), 0.1), 0.25)


def test_exp3s_selector_uses_importance_weights_and_history(make_toy) -> None:
    agent = Exp3SSelector(eta=0.1, epsilon=0.1, alpha=0.0, history=3)
    _start(agent, make_toy())
    _feed(agent, [(0, 5.0)])  # first reward: rescaled to 0, nothing moves
    np.testing.assert_array_equal(agent.weights, 0.0)
    _feed(agent, [(1, 7.0)])  # history [5, 7]: lo 5.4, hi 6.6 -> 7 is above: r = +1
    # pi(1) = 0.9 / 5 + 0.1 / 5 = 0.2 -> w1 += 0.1 * 1 / 0.2 = 0.5, then shifted to max 0
    np.testing.assert_allclose(agent.weights, [-0.5, 0, -0.5, -0.5, -0.5])
    _feed(agent, [(2, 0.0), (3, 1.0)])
    assert list(agent.rewards) == [7.0, 0.0, 1.0]  # only the last `history` rewards are kept
    np.testing.assert_allclose(agent.preferences().sum(), 1.0)


# -- UCB1 -----------------------------------------------------------------------------------------


def test_ucb1_indices_by_hand(make_toy) -> None:
    agent = UCB1Selector(c=1.0)
    _start(agent, make_toy(means=[0.0, 0.0]))
    _feed(agent, [(0, 1.0), (1, 2.0), (0, 3.0)])
    # means: arm 0 = 2, arm 1 = 2; t = 3; sigma = population std of [1, 2, 3] = sqrt(2/3)
    sigma = math.sqrt(2 / 3)
    expected = [2 + sigma * math.sqrt(2 * math.log(3) / 2), 2 + sigma * math.sqrt(2 * math.log(3))]
    np.testing.assert_allclose(agent.indices(), expected)
    assert agent.select(np.zeros(1), {}) == 1  # the less-played arm has the larger bonus
    np.testing.assert_allclose(agent.preferences(), [2.0, 2.0])


def test_ucb1_discount_by_hand(make_toy) -> None:
    agent = UCB1Selector(discount=0.5)
    _start(agent, make_toy(means=[0.0, 0.0]))
    _feed(agent, [(0, 4.0), (1, 0.0), (0, 2.0)])
    # counts: [1, 0] -> [0.5, 1] -> [1.25, 0.5]; sums: [4, 0] -> [2, 0] -> [3, 0]
    np.testing.assert_allclose(agent.stats.counts, [1.25, 0.5])
    np.testing.assert_allclose(agent.preferences(), [3 / 1.25, 0.0])
    # discounted spread: weights of the rewards 4, 0, 2 are 0.25, 0.5, 1 (total 1.75)
    wts, vals = np.array([0.25, 0.5, 1.0]), np.array([4.0, 0.0, 2.0])
    mean = (wts * vals).sum() / wts.sum()
    assert agent.stats.scale() == pytest.approx(
        math.sqrt((wts * (vals - mean) ** 2).sum() / wts.sum())
    )


def test_ucb1_preferences_nan_before_play(make_toy) -> None:
    agent = UCB1Selector()
    _start(agent, make_toy())
    assert np.all(np.isnan(agent.preferences()))
    assert np.all(np.isinf(agent.indices()))


# -- Thompson -------------------------------------------------------------------------------------


def test_thompson_draw_matches_the_model(make_toy) -> None:
    agent = ThompsonSelector()
    _start(agent, make_toy(means=[0.0, 0.0, 0.0]))
    _feed(agent, [(0, 1.0), (1, 2.0), (2, 3.0), (2, 5.0)])
    # posterior N(mean_i, sigma^2 / n_i), sigma = population std of all rewards
    sigma = float(np.std([1.0, 2.0, 3.0, 5.0]))
    means, counts = np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 2.0])
    twin = np.random.default_rng(123)
    agent.rng = np.random.default_rng(123)
    draws = means + sigma / np.sqrt(counts) * twin.standard_normal(3)
    assert agent.select(np.zeros(1), {}) == int(np.argmax(draws))
    np.testing.assert_allclose(agent.preferences(), means)


# -- epsilon-greedy -------------------------------------------------------------------------------


def test_epsilon_greedy_sample_average_and_constant_step(make_toy) -> None:
    avg = EpsilonGreedySelector(epsilon=0.0)
    _start(avg, make_toy(means=[0.0, 0.0]))
    _feed(avg, [(0, 1.0), (0, 2.0), (0, 6.0), (1, 2.5)])
    np.testing.assert_allclose(avg.preferences(), [3.0, 2.5])
    assert avg.select(np.zeros(1), {}) == 0  # epsilon 0: always greedy once all arms are tried

    const = EpsilonGreedySelector(step_size=0.5)
    _start(const, make_toy(means=[0.0, 0.0]))
    _feed(const, [(0, 1.0), (0, 2.0), (0, 6.0)])
    # first reward sets Q = 1; then 1 + 0.5 (2 - 1) = 1.5; then 1.5 + 0.5 (6 - 1.5) = 3.75
    assert const.preferences()[0] == pytest.approx(3.75)
    assert np.isnan(const.preferences()[1])


def test_epsilon_one_is_uniform(make_toy, run) -> None:
    actions = run(make_toy(night_length=500, n_nights=1), EpsilonGreedySelector(epsilon=1.0), 0)
    counts = np.bincount(actions, minlength=5)
    assert counts.min() > 70  # ~100 each


# -- arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "kwargs", "field"),
    [
        (Exp3SSelector, {"eta": 0.0}, "eta"),
        (Exp3SSelector, {"eta": float("inf")}, "eta"),
        (Exp3SSelector, {"epsilon": 1.5}, "epsilon"),
        (Exp3SSelector, {"alpha": -0.1}, "alpha"),
        (Exp3SSelector, {"history": 0}, "history"),
        (Exp3SSelector, {"history": 10.0}, "history"),
        (Exp3SSelector, {"low_quantile": 1.0}, "low_quantile"),
        (Exp3SSelector, {"high_quantile": 0.1}, "high_quantile"),
        (UCB1Selector, {"c": -1.0}, "c"),
        (UCB1Selector, {"discount": 0.0}, "discount"),
        (UCB1Selector, {"discount": 1.01}, "discount"),
        (ThompsonSelector, {"discount": "0.9"}, "discount"),
        (EpsilonGreedySelector, {"epsilon": -0.01}, "epsilon"),
        (EpsilonGreedySelector, {"step_size": 0.0}, "step_size"),
        (EpsilonGreedySelector, {"step_size": 2.0}, "step_size"),
    ],
)
def test_bad_arguments_name_the_field(cls, kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field} "):
        cls(**kwargs)
