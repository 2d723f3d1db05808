"""The paper's side network: Keras-style Adam on MSE, probing, softmax choice, nightly reload."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from replay_gym.agents.regression import (
    AdamState,
    RegressionSelector,
    adam_mse_step,
    fit,
    glorot_uniform,
    mse_loss_and_grad,
    softmax,
)

# -- the pure update, against arithmetic done by hand ---------------------------------------------


def test_mse_gradient_by_hand() -> None:
    # Two classes, w = [0.5, -0.25], b = 0.1; batch: one-hot(0) -> 1.0, one-hot(1) -> 0.0.
    params = np.array([0.5, -0.25, 0.1])
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([1.0, 0.0])
    # predictions 0.5 + 0.1 = 0.6 and -0.25 + 0.1 = -0.15; errors -0.4 and -0.15
    # loss = (0.4^2 + 0.15^2) / 2 = (0.16 + 0.0225) / 2 = 0.09125
    # dL/dw0 = 2/2 * -0.4 = -0.4; dL/dw1 = 2/2 * -0.15 = -0.15; dL/db = 2/2 * (-0.55) = -0.55
    loss, grad = mse_loss_and_grad(params, x, y)
    assert loss == pytest.approx(0.09125)
    np.testing.assert_allclose(grad, [-0.4, -0.15, -0.55])


def test_adam_step_by_hand_two_steps() -> None:
    lr, eps = 1e-3, 1e-7  # betas 0.9 and 0.999 are written out below
    params = np.array([0.5, -0.25, 0.1])
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([1.0, 0.0])

    # Step 1 from a fresh state. g = [-0.4, -0.15, -0.55] (see the test above).
    g = np.array([-0.4, -0.15, -0.55])
    m1 = 0.1 * g  # (1 - b1) * g            = [-0.04, -0.015, -0.055]
    v1 = 0.001 * g**2  # (1 - b2) * g^2     = [1.6e-4, 2.25e-5, 3.025e-4]
    lr1 = lr * math.sqrt(1 - 0.999) / (1 - 0.9)  # = 1e-3 * 0.0316227766 / 0.1 = 3.16227766e-4
    expected1 = params - lr1 * m1 / (np.sqrt(v1) + eps)
    # m1 / sqrt(v1) = sign(g) * 0.1 / sqrt(0.001) = sign(g) * 3.16227766, so each parameter moves
    # by almost exactly lr = 1e-3 against its gradient: Adam's first step.
    np.testing.assert_allclose(expected1, [0.501, -0.249, 0.101], atol=1e-9)
    p1, s1, loss1 = adam_mse_step(params, AdamState.zeros(3), x, y)
    assert loss1 == pytest.approx(0.09125)
    assert s1.t == 1
    np.testing.assert_allclose(s1.m, [-0.04, -0.015, -0.055])
    np.testing.assert_allclose(s1.v, [1.6e-4, 2.25e-5, 3.025e-4])
    np.testing.assert_allclose(p1, expected1, rtol=0, atol=1e-15)

    # Step 2 on a different pair: one-hot(1) -> 2.0 only (batch of one).
    x2 = np.array([[0.0, 1.0]])
    y2 = np.array([2.0])
    w1_, b_ = expected1[1], expected1[2]
    err = w1_ + b_ - 2.0  # = -0.249 + 0.101 - 2 = -2.148 (up to the eps terms)
    g2 = np.array([0.0, 2.0 * err, 2.0 * err])  # batch of 1: dL/dw1 = dL/db = 2 * err
    m2 = 0.9 * m1 + 0.1 * g2
    v2 = 0.999 * v1 + 0.001 * g2**2
    lr2 = lr * math.sqrt(1 - 0.999**2) / (1 - 0.9**2)  # bias corrections at t = 2
    expected2 = expected1 - lr2 * m2 / (np.sqrt(v2) + eps)
    # w0 has no gradient now but its momentum still moves it: m2[0] = 0.9 * -0.04 = -0.036,
    # v2[0] = 0.999 * 1.6e-4; update = lr2 * 0.036 / sqrt(1.5984e-4) ~ 0.000628... upwards.
    assert m2[0] == pytest.approx(-0.036)
    assert expected2[0] > expected1[0]
    p2, s2, _ = adam_mse_step(p1, s1, x2, y2)
    assert s2.t == 2
    np.testing.assert_allclose(s2.m, m2, rtol=1e-12)
    np.testing.assert_allclose(s2.v, v2, rtol=1e-12)
    np.testing.assert_allclose(p2, expected2, rtol=0, atol=1e-15)


def test_adam_step_is_pure() -> None:
    params = np.array([0.1, 0.2, 0.3])
    state = AdamState(m=np.array([0.01, 0.0, -0.02]), v=np.array([1e-4, 0.0, 4e-4]), t=3)
    before = (params.copy(), state.m.copy(), state.v.copy())
    adam_mse_step(params, state, np.array([[1.0, 0.0]]), np.array([1.0]))
    fit(params, state, np.array([[1.0, 0.0]]), np.array([1.0]), 5)
    np.testing.assert_array_equal(params, before[0])
    np.testing.assert_array_equal(state.m, before[1])
    np.testing.assert_array_equal(state.v, before[2])
    assert state.t == 3


def test_fit_equals_repeated_steps() -> None:
    rng = np.random.default_rng(1)
    params = rng.normal(size=4)
    state = AdamState(m=rng.normal(size=4) * 0.01, v=rng.random(4) * 1e-3, t=11)
    x = np.eye(3)[[0, 2, 2]]
    y = np.array([0.3, -1.0, 0.5])
    p, s = params, state
    for _ in range(50):
        p, s, _ = adam_mse_step(p, s, x, y, learning_rate=2e-3, beta_1=0.8, epsilon=1e-6)
    fp, fs = fit(params, state, x, y, 50, learning_rate=2e-3, beta_1=0.8, epsilon=1e-6)
    np.testing.assert_allclose(fp, p, rtol=1e-13)
    np.testing.assert_allclose(fs.m, s.m, rtol=1e-13)
    np.testing.assert_allclose(fs.v, s.v, rtol=1e-13)
    assert fs.t == s.t == 61


def test_softmax_by_hand_and_stable() -> None:
    w = np.array([0.3, 0.0, -0.3])
    # exp(w / 0.3) = [e, 1, 1/e]
    e = math.e
    np.testing.assert_allclose(softmax(w, 0.3), np.array([e, 1, 1 / e]) / (e + 1 + 1 / e))
    p = softmax(np.array([1e4, 0.0]), 0.3)
    assert np.all(np.isfinite(p)) and p[0] == pytest.approx(1.0)


# -- the selector ---------------------------------------------------------------------------------


def test_initial_probe_calls_probe_n_times_and_fits_on_it(make_toy) -> None:
    probe_values = [0.7, -0.2, 0.1, 1.3, 0.0]
    env = make_toy(probe_values=probe_values)
    obs, info = env.reset(seed=3)
    agent = RegressionSelector()
    agent.begin_episode(env, obs, info, np.random.default_rng(5))

    assert sorted(env.probe_calls) == list(range(5))  # exactly once per class
    np.testing.assert_array_equal(agent.initial_rewards, probe_values)
    assert env.chi2 == 100.0 and env.night_step == 0  # probing changed nothing

    # Rebuild by hand: Glorot-uniform weights from the same generator, zero bias, 50 full-batch
    # Adam steps on the five (one-hot, probed reward) pairs.
    limit = math.sqrt(6 / (5 + 1))
    init = np.append(np.random.default_rng(5).uniform(-limit, limit, 5), 0.0)
    params, state = fit(init, AdamState.zeros(6), np.eye(5), np.array(probe_values), 50)
    np.testing.assert_allclose(agent.weights, params[:-1], rtol=1e-13)
    assert agent.bias == pytest.approx(params[-1], rel=1e-13)
    assert agent.adam_state.t == 50
    # The choice is a softmax of the weights only, temperature 0.3.
    np.testing.assert_allclose(agent.preferences(), softmax(params[:-1] / 0.3))


def test_glorot_uniform_is_keras_dense_default() -> None:
    limit = math.sqrt(6 / 11)
    np.testing.assert_array_equal(
        glorot_uniform(10, np.random.default_rng(4)),
        np.random.default_rng(4).uniform(-limit, limit, 10),
    )


def test_zero_initial_weights_start_uniform_and_keep_the_later_draws(make_toy) -> None:
    env = make_toy()
    obs, info = env.reset(seed=0)
    agents = {}
    for start in ("glorot", "zeros"):
        agents[start] = RegressionSelector(initial_probe=False, initial_weights=start)
        agents[start].begin_episode(env, obs, info, np.random.default_rng(7))
    np.testing.assert_array_equal(agents["zeros"].weights, np.zeros(5))
    np.testing.assert_allclose(agents["zeros"].preferences(), np.full(5, 0.2))
    glorot = glorot_uniform(5, np.random.default_rng(7))
    np.testing.assert_array_equal(agents["glorot"].weights, glorot)
    # Both drew the Glorot weights, so their later draws from the episode's generator agree.
    assert agents["zeros"].rng.random() == agents["glorot"].rng.random()


def test_no_initial_probe(make_toy) -> None:
    env = make_toy()
    obs, info = env.reset(seed=0)
    agent = RegressionSelector(initial_probe=False)
    agent.begin_episode(env, obs, info, np.random.default_rng(0))
    assert env.probe_calls == []
    assert agent.bias == 0.0 and agent.adam_state.t == 0


def test_each_step_fits_fifty_epochs_on_the_single_pair(make_toy) -> None:
    env = make_toy()
    obs, info = env.reset(seed=0)
    agent = RegressionSelector()
    agent.begin_episode(env, obs, info, np.random.default_rng(0))
    params = np.append(agent.weights, agent.bias)
    state = agent.adam_state
    action = agent.select(obs, info)
    obs, reward, _, _, info = env.step(action)
    agent.observe(action, reward, obs, info)
    expected, expected_state = fit(params, state, np.eye(5)[[action]], np.array([reward]), 50)
    np.testing.assert_allclose(np.append(agent.weights, agent.bias), expected, rtol=1e-13)
    assert agent.adam_state.t == 100  # Adam's state persists from the initial fit
    np.testing.assert_allclose(agent.adam_state.m, expected_state.m, rtol=1e-13)


def test_select_draws_from_the_softmax(make_toy) -> None:
    env = make_toy()
    obs, info = env.reset(seed=0)
    agent = RegressionSelector()
    agent.begin_episode(env, obs, info, np.random.default_rng(0))
    twin = copy.deepcopy(agent.rng)
    p = agent.preferences()
    assert agent.select(obs, info) == int(twin.choice(5, p=p))


def test_finds_the_best_arm(make_toy, toy_means, run) -> None:
    best = int(np.argmax(toy_means))
    env = make_toy(noise=0.3, night_length=100, n_nights=3)
    agent = RegressionSelector()
    actions = run(env, agent, seed=2)
    assert len(actions) == 300
    assert int(np.argmax(agent.preferences())) == best
    assert agent.preferences()[best] > 0.5
    assert int(np.argmax(np.bincount(actions[-150:], minlength=5))) == best


def _night_end(info: dict) -> dict:
    return info | {"night_end": {"steps": info["night_step"]}}


def test_reload_each_night_restores_snapshot_and_keeps_last_softmax(make_toy) -> None:
    env = make_toy(night_length=1000)
    obs, info = env.reset(seed=0)
    agent = RegressionSelector(reload_each_night=True)
    agent.begin_episode(env, obs, info, np.random.default_rng(4))
    snap_params = np.append(agent.weights, agent.bias)
    snap_state = agent.adam_state

    for _ in range(20):  # an ordinary stretch of night: the network moves away from the snapshot
        a = agent.select(obs, info)
        obs, r, _, _, info = env.step(a)
        agent.observe(a, r, obs, info)
    moved = np.append(agent.weights, agent.bias)
    assert not np.allclose(moved, snap_params)

    # The last step of the night: fitted as usual, its softmax is kept for the next choice.
    a = agent.select(obs, info)
    obs, r, _, _, info = env.step(a)
    agent.observe(a, r, obs, _night_end(info))
    last_softmax = agent.preferences()
    twin = copy.deepcopy(agent.rng)

    first = agent.select(obs, info)  # first choice of the new night
    assert first == int(twin.choice(5, p=last_softmax))
    np.testing.assert_array_equal(np.append(agent.weights, agent.bias), snap_params)
    assert agent.adam_state.t == snap_state.t == 50
    np.testing.assert_array_equal(agent.adam_state.m, snap_state.m)
    np.testing.assert_array_equal(agent.adam_state.v, snap_state.v)

    # After the first step the choice comes from the reloaded network, updated once.
    obs, r, _, _, info = env.step(first)
    agent.observe(first, r, obs, info)
    expected, _ = fit(snap_params, snap_state, np.eye(5)[[first]], np.array([r]), 50)
    np.testing.assert_allclose(np.append(agent.weights, agent.bias), expected, rtol=1e-13)
    np.testing.assert_allclose(agent.preferences(), softmax(expected[:-1], 0.3))


def test_without_reload_the_network_persists_across_nights(make_toy) -> None:
    env = make_toy(night_length=1000)
    obs, info = env.reset(seed=0)
    agent = RegressionSelector()
    agent.begin_episode(env, obs, info, np.random.default_rng(4))
    a = agent.select(obs, info)
    obs, r, _, _, info = env.step(a)
    agent.observe(a, r, obs, _night_end(info))
    after = np.append(agent.weights, agent.bias)
    agent.select(obs, info)
    np.testing.assert_array_equal(np.append(agent.weights, agent.bias), after)
    assert agent.adam_state.t == 100


def test_reload_runs_through_nights(make_toy, run) -> None:
    env = make_toy(night_length=30, n_nights=3)
    agent = RegressionSelector(reload_each_night=True)
    actions = run(env, agent, seed=1)
    assert len(actions) == 90
    # Each night restarts from the snapshot (t = 50) and then fits 50 epochs per step.
    assert agent.adam_state.t == 50 + 30 * 50


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"beta_1": 1.0}, "beta_1"),
        ({"beta_2": -0.1}, "beta_2"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"epochs": -1}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"initial_epochs": True}, "initial_epochs"),
        ({"reload_each_night": "yes"}, "reload_each_night"),
        ({"initial_probe": 1}, "initial_probe"),
        ({"initial_weights": "he"}, "initial_weights"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field} "):
        RegressionSelector(**kwargs)


def test_env_without_probe_is_refused() -> None:
    import gymnasium as gym

    env = gym.make("CartPole-v1")
    obs, info = env.reset(seed=0)
    with pytest.raises(TypeError, match="probe"):
        RegressionSelector().begin_episode(env, obs, info, np.random.default_rng(0))
