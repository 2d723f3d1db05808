"""The paper's side network ("hippocampus"): a linear regression that learns which class to replay.

Barry & Love (METHOD §5) attach a tiny regression to the cortex network: ``n_classes`` inputs (the
one-hot code of the replayed class) and one output, the predicted reward (the decrease of the
validation chi-square). After every replay step it is fitted for 50 epochs on that single
(one-hot, reward) pair with Adam (learning rate 1e-3) and mean-squared error; the next class is
drawn from a softmax over its weights sharpened by a temperature of 0.3. Before the first night it
is fitted on one probe replay of every class.

The authors used Keras, so this module reproduces Keras's ``Dense(1)`` defaults (Glorot-uniform
weights, zero bias) and Keras's Adam update, in numpy: the network is ``n + 1`` numbers.

The update is exposed as pure functions (:func:`mse_loss_and_grad`, :func:`adam_mse_step`,
:func:`fit`) so that it can be checked against arithmetic done by hand.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from replay_gym.agents.base import Selector

__all__ = [
    "INITIAL_WEIGHTS",
    "AdamState",
    "RegressionSelector",
    "adam_mse_step",
    "fit",
    "glorot_uniform",
    "mse_loss_and_grad",
    "softmax",
]


INITIAL_WEIGHTS = ("glorot", "zeros")
"""How the side network's weights start: Keras's ``Dense`` default (the paper) or all zero."""


def glorot_uniform(n: int, rng: np.random.Generator) -> np.ndarray:
    """Keras's ``Dense(1)`` initial weights for ``n`` inputs: uniform in ``±sqrt(6 / (n + 1))``.

    Public so that an analysis can recover the weights a seeded course started from (the
    selector draws them first from its episode generator, :func:`replay_gym.runner.selector_rng`).
    """
    limit = math.sqrt(6.0 / (n + 1))  # Glorot uniform, fan_in = n, fan_out = 1
    return rng.uniform(-limit, limit, size=n)


@dataclass(frozen=True)
class AdamState:
    """Adam's moment estimates and step counter for one parameter vector.

    Attributes:
        m: First-moment (mean) estimate of the gradient, same shape as the parameters.
        v: Second-moment (uncentred variance) estimate of the gradient, same shape.
        t: Number of updates applied so far (the bias corrections use ``t + 1`` next).
    """

    m: np.ndarray
    v: np.ndarray
    t: int = 0

    @classmethod
    def zeros(cls, size: int) -> AdamState:
        """A fresh state for ``size`` parameters (both moments zero, no step taken)."""
        return cls(m=np.zeros(size), v=np.zeros(size), t=0)


def softmax(x: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Numerically stable softmax of ``x / temperature``.

    Args:
        x: Scores, shape ``[n]``.
        temperature: Positive divisor of the scores; below 1 sharpens the distribution.

    Returns:
        Probabilities, shape ``[n]``, summing to one.
    """
    z = np.asarray(x, dtype=np.float64) / temperature
    z = z - np.max(z)
    e = np.exp(z)
    return e / e.sum()


def mse_loss_and_grad(
    params: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """Mean-squared error of a linear model and its gradient.

    The model is ``y_hat = x @ w + b`` with ``params = [w_1, ..., w_n, b]``; the loss is the mean
    over the batch of ``(y_hat - y) ** 2`` (Keras's ``mean_squared_error`` with one output), so
    ``dL/dw = 2 / B * x.T @ (y_hat - y)`` and ``dL/db = 2 / B * sum(y_hat - y)``.

    Args:
        params: Weights followed by the bias, shape ``[n + 1]``.
        x: Inputs, shape ``[B, n]``.
        y: Targets, shape ``[B]``.

    Returns:
        The loss (before the update) and its gradient with respect to ``params``, shape
        ``[n + 1]``.
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    w, b = params[:-1], params[-1]
    err = x @ w + b - y
    batch = err.shape[0]
    grad = np.empty_like(params, dtype=np.float64)
    grad[:-1] = 2.0 / batch * (x.T @ err)
    grad[-1] = 2.0 / batch * err.sum()
    return float(np.mean(err**2)), grad


def adam_mse_step(
    params: np.ndarray,
    state: AdamState,
    x: np.ndarray,
    y: np.ndarray,
    *,
    learning_rate: float = 1e-3,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
) -> tuple[np.ndarray, AdamState, float]:
    """One full-batch Adam step on the mean-squared error of a linear model (pure).

    Keras's form of Adam (the authors' library), with ``g`` the gradient of
    :func:`mse_loss_and_grad` and ``t`` the new step number::

        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g ** 2
        lr_t = learning_rate * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        params = params - lr_t * m / (sqrt(v) + epsilon)

    This equals the textbook ``m_hat / (sqrt(v_hat) + eps')`` update with
    ``m_hat = m / (1 - beta_1 ** t)``, ``v_hat = v / (1 - beta_2 ** t)`` and
    ``eps' = epsilon / sqrt(1 - beta_2 ** t)``: Keras adds epsilon to the uncorrected ``sqrt(v)``.

    Args:
        params: Weights followed by the bias, shape ``[n + 1]``; not modified.
        state: Adam's moments and step counter before this step; not modified.
        x: Inputs, shape ``[B, n]``.
        y: Targets, shape ``[B]``.
        learning_rate: Adam's step size.
        beta_1: Decay of the first-moment estimate.
        beta_2: Decay of the second-moment estimate.
        epsilon: Added to ``sqrt(v)`` in the denominator.

    Returns:
        The new parameters, the new Adam state and the loss before the step.
    """
    loss, g = mse_loss_and_grad(params, x, y)
    t = state.t + 1
    m = beta_1 * state.m + (1.0 - beta_1) * g
    v = beta_2 * state.v + (1.0 - beta_2) * g * g
    lr_t = learning_rate * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
    new_params = params - lr_t * m / (np.sqrt(v) + epsilon)
    return new_params, AdamState(m=m, v=v, t=t), loss


def fit(
    params: np.ndarray,
    state: AdamState,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    *,
    learning_rate: float = 1e-3,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
) -> tuple[np.ndarray, AdamState]:
    """``epochs`` full-batch Adam steps on ``(x, y)``, as Keras's ``fit`` with one batch (pure).

    Keras's ``fit`` uses batches of 32; the side network never sees more than ``n_classes`` pairs
    at once (10 in the paper), so every epoch is exactly one full-batch step.

    Args:
        params: Weights followed by the bias, shape ``[n + 1]``; not modified.
        state: Adam's state before the first step; not modified.
        x: Inputs, shape ``[B, n]``.
        y: Targets, shape ``[B]``.
        epochs: Number of Adam steps.
        learning_rate: Adam's step size.
        beta_1: Decay of the first-moment estimate.
        beta_2: Decay of the second-moment estimate.
        epsilon: Added to ``sqrt(v)`` in the denominator.

    Returns:
        The parameters and Adam state after the last step.
    """
    # The same arithmetic as repeated `adam_mse_step` calls, on local arrays updated in place
    # (the selector runs 50 of these per replay step; the per-call overhead would dominate).
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    xt = x.T
    scale = 2.0 / x.shape[0]
    params = np.array(params, dtype=np.float64)
    w, b = params[:-1], params[-1:]  # views into params
    m, v = state.m.copy(), state.v.copy()
    m_w, m_b, v_w, v_b = m[:-1], m[-1:], v[:-1], v[-1:]
    t = state.t
    for _ in range(epochs):
        t += 1
        err = x @ w + b - y
        g_w = scale * (xt @ err)
        g_b = scale * err.sum()
        m_w *= beta_1
        m_w += (1.0 - beta_1) * g_w
        m_b *= beta_1
        m_b += (1.0 - beta_1) * g_b
        v_w *= beta_2
        v_w += (1.0 - beta_2) * g_w * g_w
        v_b *= beta_2
        v_b += (1.0 - beta_2) * g_b * g_b
        lr_t = learning_rate * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
        params -= lr_t * m / (np.sqrt(v) + epsilon)
    return params, AdamState(m=m, v=v, t=t)


class RegressionSelector(Selector):
    """Barry & Love's side network ("hippocampus"), exactly as METHOD §5 describes it.

    A linear regression with one weight per class and a bias predicts the reward of replaying a
    class; the class to replay is drawn from ``softmax(weights / temperature)`` (bias excluded).
    After every step the regression is fitted ``epochs`` times (full-batch Adam steps, Keras's
    form, mean-squared error) on the single pair (one-hot of the replayed class, reward). Adam's
    moments and step counter persist across steps.

    Initialisation (:meth:`begin_episode`): weights Glorot-uniform from the episode's ``rng``
    (limit ``sqrt(6 / (n + 1))``, Keras's ``Dense`` default; all zero with
    ``initial_weights="zeros"``), bias zero, then -- when
    ``initial_probe`` is true, as in the paper -- ``env.unwrapped.probe(c)`` is called exactly
    once for every class ``c`` (``n`` calls, all from the episode's starting state, nothing kept)
    and the regression is fitted ``initial_epochs`` full-batch steps on those ``n`` pairs. The
    probe is the paper's way of getting initial values, so the selector still counts as
    unprivileged (``privileged = False``); it needs an environment that offers ``probe``.

    Across nights the network persists (the paper's description). With ``reload_each_night``
    the authors' published code is reproduced instead: they saved the network only after the
    initial fit, so every new night restarts from that snapshot (weights, bias *and* Adam state),
    while the softmax computed at the end of the previous night is carried over and used for the
    first choice of the new night; later choices come from the reloaded, then updated, network.
    A night boundary is a step whose ``info`` holds ``"night_end"``; the reload happens at the
    next :meth:`select`, so a night that ends the episode triggers nothing.

    Only the valid classes of ``info["action_mask"]`` are chosen (the softmax over their weights).
    When classes become valid later (a class-incremental course's new task), the first
    :meth:`select` that sees them gives them their initial values as :meth:`begin_episode` gave
    the first ones: one probe each, ``initial_epochs`` steps on those pairs (with
    ``reload_each_night``, after the pending reload, and the snapshot is taken again after it).

    Args:
        temperature: Softmax temperature, ``p ∝ exp(w / temperature)`` (paper: 0.3). > 0.
        learning_rate: Adam's learning rate (paper: 1e-3). > 0.
        beta_1: Adam's first-moment decay (Keras default 0.9). In [0, 1).
        beta_2: Adam's second-moment decay (Keras default 0.999). In [0, 1).
        epsilon: Adam's epsilon (Keras default 1e-7). > 0.
        epochs: Full-batch Adam steps after every replay step (paper: 50). Integer >= 0.
        initial_epochs: Full-batch Adam steps on the initial probe values (paper: 50).
            Integer >= 0.
        initial_probe: Probe every class at the start of an episode and fit on the results
            (paper: yes). Without it the network starts from its random initialisation.
        reload_each_night: Restart every night from the post-initial-fit snapshot, as the
            authors' code did (default off: the network persists, as the paper describes).
        initial_weights: ``"glorot"`` (Keras's default, the paper) or ``"zeros"``. Adam moves a
            weight by about ``learning_rate`` per epoch whatever the reward's size, so in a short
            night the random Glorot weights (±0.74 for 10 classes, ±2.5 in the softmax at
            temperature 0.3) outweigh what the rewards taught (RESULTS §3, F5); zeros start
            from a uniform choice. The Glorot draw is made either way, so both variants make
            the same later draws from ``rng``.

    Raises:
        ValueError: If an argument is out of range; the message names it.
    """

    name = "regression"
    privileged = False

    def __init__(
        self,
        temperature: float = 0.3,
        learning_rate: float = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        epochs: int = 50,
        initial_epochs: int = 50,
        initial_probe: bool = True,
        reload_each_night: bool = False,
        initial_weights: str = "glorot",
    ) -> None:
        super().__init__()
        _check_positive("temperature", temperature, "it divides the weights in the softmax")
        _check_positive("learning_rate", learning_rate, "it is Adam's step size")
        _check_unit_interval("beta_1", beta_1)
        _check_unit_interval("beta_2", beta_2)
        _check_positive("epsilon", epsilon, "it keeps Adam's denominator away from zero")
        _check_count("epochs", epochs)
        _check_count("initial_epochs", initial_epochs)
        _check_bool("initial_probe", initial_probe)
        _check_bool("reload_each_night", reload_each_night)
        if initial_weights not in INITIAL_WEIGHTS:
            raise ValueError(
                f"initial_weights must be one of {list(INITIAL_WEIGHTS)}, got {initial_weights!r}"
            )
        self.temperature = float(temperature)
        self.learning_rate = float(learning_rate)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.epochs = int(epochs)
        self.initial_epochs = int(initial_epochs)
        self.initial_probe = bool(initial_probe)
        self.reload_each_night = bool(reload_each_night)
        self.initial_weights = initial_weights

        self._params = np.zeros(1)
        self._adam = AdamState.zeros(1)
        self._snapshot: tuple[np.ndarray, AdamState] | None = None
        self._probs = np.ones(0)
        self._reload_pending = False
        self._env: gym.Env | None = None
        self._initialised = np.zeros(0, dtype=bool)
        """Classes that have had their initial values (all, once every class was valid)."""
        self.initial_rewards: np.ndarray | None = None
        """The probed reward of every class when it became valid (None before the episode; NaN
        for classes not valid yet)."""

    # -- public state -------------------------------------------------------------------------

    @property
    def weights(self) -> np.ndarray:
        """The regression's per-class weights (a copy), shape ``[n_classes]``."""
        return self._params[:-1].copy()

    @property
    def bias(self) -> float:
        """The regression's bias (not used for the choice)."""
        return float(self._params[-1])

    @property
    def adam_state(self) -> AdamState:
        """Adam's current moments and step counter (weights first, bias last)."""
        return self._adam

    def preferences(self) -> np.ndarray:
        """The probabilities the next choice will be drawn from, shape ``[n_classes]``."""
        return self._probs.copy()

    # -- the Selector protocol ----------------------------------------------------------------

    def begin_episode(
        self, env: gym.Env, obs: np.ndarray, info: dict[str, Any], rng: np.random.Generator
    ) -> None:
        """Initialise the regression, probe every class once and fit on the probed rewards.

        Calls ``env.unwrapped.probe(c)`` once per class (``n_classes`` calls) when
        ``initial_probe`` is set.

        Raises:
            TypeError: If ``initial_probe`` is set and the environment has no ``probe``.
        """
        super().begin_episode(env, obs, info, rng)
        n = self.n_actions
        params = np.zeros(n + 1)
        glorot = glorot_uniform(n, rng)  # drawn either way: the same later draws from rng
        if self.initial_weights == "glorot":
            params[:-1] = glorot
        self._params, self._adam = params, AdamState.zeros(n + 1)
        self._env = env
        self.initial_rewards = None
        if self.initial_probe and not callable(getattr(env.unwrapped, "probe", None)):
            raise TypeError(
                "RegressionSelector(initial_probe=True) needs env.unwrapped.probe(action) "
                "for its initial values; pass initial_probe=False for an env without it"
            )
        self._initialised = np.zeros(n, dtype=bool)
        mask = self.action_mask(info)
        self._initialise(np.ones(n, dtype=bool) if mask is None else mask)
        self._reload_pending = False

    def _initialise(self, classes: np.ndarray) -> None:
        """Initial values of ``classes`` (a boolean mask): one probe each, then a fit; snapshot."""
        new = np.flatnonzero(classes & ~self._initialised)
        if self.initial_probe:
            probe = self._env.unwrapped.probe  # type: ignore[union-attr]
            rewards = np.array([float(probe(c)) for c in new])
            if self.initial_rewards is None:
                self.initial_rewards = np.full(self.n_actions, np.nan)
            self.initial_rewards[new] = rewards
            self._params, self._adam = self._fit(
                self._params, self._adam, np.eye(self.n_actions)[new], rewards,
                self.initial_epochs,
            )
        self._initialised[new] = True
        self._snapshot = (self._params.copy(), self._adam)
        self._probs = softmax(self._params[:-1], self.temperature)

    def select(self, obs: np.ndarray, info: dict[str, Any]) -> int:
        """Draw a valid class from the current softmax (at a new night, the carried-over one)."""
        mask = self.action_mask(info)
        valid = np.ones(self.n_actions, dtype=bool) if mask is None else mask
        if not self._initialised[valid].all():  # classes that became valid since the last choice
            if self._reload_pending:
                self._reload()
            self._initialise(valid)
        if mask is None:
            action = int(self.rng.choice(self.n_actions, p=self._probs))
        else:
            probs = np.where(mask, self._probs, 0.0)
            action = int(self.rng.choice(self.n_actions, p=probs / probs.sum()))
        if self._reload_pending:
            self._reload()
        return action

    def _reload(self) -> None:
        # The authors' code: the first choice of a night used the previous night's softmax;
        # the network itself restarts from the snapshot taken after the initial fit.
        assert self._snapshot is not None
        params, adam = self._snapshot
        self._params, self._adam = params.copy(), adam
        self._reload_pending = False

    def observe(
        self, action: int, reward: float, obs: np.ndarray, info: dict[str, Any]
    ) -> None:
        """Fit ``epochs`` Adam steps on (one-hot(action), reward) and recompute the softmax."""
        x = np.zeros((1, self.n_actions))
        x[0, int(action)] = 1.0
        self._params, self._adam = self._fit(
            self._params, self._adam, x, np.array([float(reward)]), self.epochs
        )
        self._probs = softmax(self._params[:-1], self.temperature)
        if self.reload_each_night and "night_end" in info:
            self._reload_pending = True

    def state_dict(self) -> dict[str, Any]:
        """The regression's parameters, Adam state, snapshot, softmax and generator."""
        snapshot = None
        if self._snapshot is not None:
            params, adam = self._snapshot
            snapshot = {"params": params.copy(), "adam": _adam_state(adam)}
        return {
            **super().state_dict(),
            "params": self._params.copy(),
            "adam": _adam_state(self._adam),
            "snapshot": snapshot,
            "probs": self._probs.copy(),
            "reload_pending": self._reload_pending,
            "initial_rewards": None if self.initial_rewards is None else list(self.initial_rewards),
            "initialised": self._initialised.tolist(),
        }

    def load_state_dict(self, state: dict[str, Any], env: gym.Env) -> None:
        """Continue the episode where :meth:`state_dict` left it (no probing now).

        Classes that become valid later are probed in ``env``.
        """
        super().load_state_dict(state, env)
        self._params = np.array(state["params"], dtype=np.float64)
        self._adam = _adam_from(state["adam"])
        snapshot = state["snapshot"]
        self._snapshot = None if snapshot is None else (
            np.array(snapshot["params"], dtype=np.float64), _adam_from(snapshot["adam"])
        )
        self._probs = np.array(state["probs"], dtype=np.float64)
        self._reload_pending = bool(state["reload_pending"])
        rewards = state["initial_rewards"]
        self.initial_rewards = None if rewards is None else np.array(rewards, dtype=np.float64)
        # A state from before masks existed had every class initialised at the start.
        self._initialised = np.array(state.get("initialised", [True] * self.n_actions), dtype=bool)
        self._env = env

    # -- helpers ------------------------------------------------------------------------------

    def _fit(
        self, params: np.ndarray, adam: AdamState, x: np.ndarray, y: np.ndarray, epochs: int
    ) -> tuple[np.ndarray, AdamState]:
        return fit(
            params, adam, x, y, epochs,
            learning_rate=self.learning_rate, beta_1=self.beta_1, beta_2=self.beta_2,
            epsilon=self.epsilon,
        )


def _adam_state(adam: AdamState) -> dict[str, Any]:
    return {"m": adam.m.copy(), "v": adam.v.copy(), "t": adam.t}


def _adam_from(state: dict[str, Any]) -> AdamState:
    return AdamState(
        m=np.array(state["m"], dtype=np.float64),
        v=np.array(state["v"], dtype=np.float64),
        t=int(state["t"]),
    )


def _check_positive(field: str, value: float, why: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{field} must be a number > 0 ({why}), got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{field} must be finite, got {value!r}")


def _check_unit_interval(field: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(
            f"{field} must be in [0, 1) (Adam's moment decay; at 1 the bias correction "
            f"divides by zero), got {value!r}"
        )


def _check_count(field: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{field} must be an integer >= 0 (a number of Adam steps), got {value!r}")


def _check_bool(field: str, value: bool) -> None:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{field} must be a bool, got {value!r}")
