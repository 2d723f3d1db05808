"""Multi-armed bandit selectors: one arm per class, the reward is the chi-square decrease.

Four classic bandits, each a :class:`~replay_gym.agents.base.Selector` that draws all its
randomness from the ``rng`` given to ``begin_episode``:

* :class:`Exp3SSelector` -- Exp3.S with the learning-progress reward rescaling of Graves et al.
  (2017), "Automated Curriculum Learning for Neural Networks";
* :class:`UCB1Selector` -- UCB1 with its exploration bonus scaled to the rewards' spread;
* :class:`ThompsonSelector` -- Gaussian Thompson sampling with a pooled noise estimate;
* :class:`EpsilonGreedySelector` -- epsilon-greedy on running means.

The rewards are not stationary (a class's benefit shrinks as the network learns it), so UCB1 and
Thompson take an optional ``discount`` (exponential forgetting, Garivier & Moulines' discounted
UCB; 1.0 = none), epsilon-greedy an optional constant ``step_size``, and Exp3.S has its
fixed-share ``alpha``. Their statistics persist over the whole episode (all days and nights).

Ties between equally good arms are always broken at random with the episode's ``rng``. Only the
valid arms of ``info["action_mask"]`` are played (a class-incremental course masks the classes
not seen yet): untried means untried among them, and the choice is among them.
"""

from __future__ import annotations

import math
import numbers
from abc import abstractmethod
from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np

from replay_gym.agents.base import Selector, mask_values

__all__ = [
    "EpsilonGreedySelector",
    "Exp3SSelector",
    "ThompsonSelector",
    "UCB1Selector",
    "exp3s_policy",
    "exp3s_update",
    "rescale_reward",
]


# -- pure pieces of Exp3.S ------------------------------------------------------------------------


def rescale_reward(
    reward: float,
    history: np.ndarray | list[float],
    low_quantile: float = 0.2,
    high_quantile: float = 0.8,
) -> float:
    """Graves et al.'s rescaling of a raw reward to [-1, 1] by quantiles of past rewards.

    With ``lo`` and ``hi`` the ``low_quantile`` and ``high_quantile`` of ``history`` (numpy's
    default linear interpolation), the rescaled reward is -1 below ``lo``, +1 above ``hi`` and
    ``2 (reward - lo) / (hi - lo) - 1`` in between. When ``hi == lo`` (in particular while the
    history holds a single reward, or only equal ones) nothing distinguishes good from bad
    rewards yet and the result is 0. An empty history also gives 0.

    Args:
        reward: The raw reward to rescale.
        history: Past raw rewards; Graves et al. include the current one.
        low_quantile: Quantile mapped to -1, in [0, 1).
        high_quantile: Quantile mapped to +1, in (low_quantile, 1].

    Returns:
        The rescaled reward, in [-1, 1].
    """
    values = np.asarray(history, dtype=np.float64)
    if values.size == 0:
        return 0.0
    lo, hi = np.quantile(values, [low_quantile, high_quantile])
    if not hi > lo:
        return 0.0
    if reward < lo:
        return -1.0
    if reward > hi:
        return 1.0
    return float(2.0 * (reward - lo) / (hi - lo) - 1.0)


def exp3s_policy(weights: np.ndarray, epsilon: float) -> np.ndarray:
    """Exp3.S's policy ``pi(i) = (1 - epsilon) softmax(w)_i + epsilon / N`` (stable softmax).

    Args:
        weights: Log-weights, shape ``[N]``.
        epsilon: Share of uniform exploration, in [0, 1].

    Returns:
        Probabilities, shape ``[N]``.
    """
    z = np.asarray(weights, dtype=np.float64)
    e = np.exp(z - z.max())
    return (1.0 - epsilon) * e / e.sum() + epsilon / z.size


def exp3s_update(
    weights: np.ndarray,
    action: int,
    rescaled_reward: float,
    probability: float,
    eta: float,
    alpha: float,
) -> np.ndarray:
    """Exp3.S's weight update after playing ``action`` (pure, computed in log space).

    With the importance-weighted reward ``r~_i = r * [i == action] / pi(action)`` and
    ``u_j = w_j + eta * r~_j``::

        w_i <- log[(1 - alpha) exp(u_i) + alpha / (N - 1) * sum_{j != i} exp(u_j)]

    evaluated with ``logaddexp`` / ``logsumexp`` so that no exponential overflows. The result is
    shifted so that its maximum is 0 (the policy does not change; the numbers stay bounded).

    Args:
        weights: Log-weights before the update, shape ``[N]``.
        action: The arm played.
        rescaled_reward: Its reward, already rescaled (Graves et al.: in [-1, 1]).
        probability: ``pi(action)``, the probability with which it was drawn.
        eta: Learning rate.
        alpha: Fixed-share mixing in [0, 1] (0 gives plain Exp3).

    Returns:
        The new log-weights, shape ``[N]``.
    """
    u = np.asarray(weights, dtype=np.float64).copy()
    u[action] += eta * rescaled_reward / probability
    n = u.size
    if n == 1 or alpha == 0.0:
        return u - u.max()
    # log sum_{j != i} exp(u_j) for every i, stably: subtract the max, clip the tiny negative
    # rounding errors of (total - own) at zero before the log.
    m = u.max()
    e = np.exp(u - m)
    others = np.clip(e.sum() - e, 0.0, None)
    with np.errstate(divide="ignore"):
        log_others = np.log(others) + m
        log_keep = np.log1p(-alpha) + u if alpha < 1.0 else np.full(n, -np.inf)
    new = np.logaddexp(log_keep, math.log(alpha / (n - 1)) + log_others)
    return new - new.max()


# -- selectors ------------------------------------------------------------------------------------


class Exp3SSelector(Selector):
    """Exp3.S with Graves et al.'s (2017) learning-progress reward rescaling.

    Each step the arm is drawn from ``pi(i) = (1 - epsilon) softmax(w)_i + epsilon / N``. The raw
    reward joins a window of the last ``history`` raw rewards and is rescaled to [-1, 1] by that
    window's 20th and 80th percentiles (:func:`rescale_reward`); only the played arm's weight is
    pushed, by ``eta * r / pi(a)`` (importance weighting), and then ``alpha`` of every arm's weight
    is shared among the others (:func:`exp3s_update`), so that the policy can move to a new best
    arm when the rewards drift.

    Defaults. Graves et al. used ``eta = 1e-3, epsilon = 0.05, alpha = 1e-3`` for runs of
    hundreds of thousands of steps. Here a night has about 100-325 steps and there are 10 arms,
    so each arm is played some 10-30 times a night: with ``eta = 1e-3`` a weight would move by at
    most ~``1e-3 * 10 * 30 = 0.3`` in a night and the policy would stay nearly uniform.

    * ``eta = 0.05``: Exp3's tuned rate ``sqrt(2 ln N / (N T))`` is 0.04-0.07 for ``N = 10`` and
      ``T = 100-325``; a consistently top-quintile arm (``r = 1``, ``pi ~ 0.1``) then gains about
      0.5 in log-weight per play, so a clearly better class dominates within a few dozen steps.
    * ``epsilon = 0.1``: at least 1 % per arm, i.e. every class is still tried ~3 times in a
      325-step night, which keeps the importance weights ``1 / pi <= 100`` bounded.
    * ``alpha = 0.01``: Exp3.S's usual ``alpha ~ 1 / T`` for a switch horizon of ~100 steps (the
      shortest night); it also caps the log-weight gap at about ``ln((N - 1) / alpha) ~ 7``, so
      an arm abandoned early can come back once the network has learned the favourite.
    * ``history = 1000``: Graves et al. kept a sample of 1000 past rewards; here the window is
      the last 1000 (about three to ten nights), so the quantiles follow the shrinking rewards.

    ``preferences()`` is the policy ``pi``.

    Args:
        eta: Learning rate of the weights, > 0.
        epsilon: Share of uniform exploration in the policy, in [0, 1].
        alpha: Fixed-share mixing of the weights, in [0, 1].
        history: Number of past raw rewards kept for the quantiles, integer >= 1.
        low_quantile: Quantile of the history mapped to -1, in [0, 1).
        high_quantile: Quantile mapped to +1, in (low_quantile, 1].

    Raises:
        ValueError: If an argument is out of range; the message names it.
    """

    name = "exp3s"

    def __init__(
        self,
        eta: float = 0.05,
        epsilon: float = 0.1,
        alpha: float = 0.01,
        history: int = 1000,
        low_quantile: float = 0.2,
        high_quantile: float = 0.8,
    ) -> None:
        super().__init__()
        _check_real("eta", eta, low=0.0, low_open=True, why="the weights' learning rate")
        _check_real("epsilon", epsilon, low=0.0, high=1.0, why="a share of the policy")
        _check_real("alpha", alpha, low=0.0, high=1.0, why="a share of the weights")
        _check_int("history", history, low=1, why="the number of past rewards kept")
        _check_real(
            "low_quantile", low_quantile, low=0.0, high=1.0, high_open=True, why="a quantile"
        )
        _check_real("high_quantile", high_quantile, low=0.0, high=1.0, why="a quantile")
        if not high_quantile > low_quantile:
            raise ValueError(
                f"high_quantile must be > low_quantile ({low_quantile!r}), got {high_quantile!r}"
            )
        self.eta = float(eta)
        self.epsilon = float(epsilon)
        self.alpha = float(alpha)
        self.history = int(history)
        self.low_quantile = float(low_quantile)
        self.high_quantile = float(high_quantile)
        self.weights = np.zeros(0)
        """Log-weights ``w`` (shifted so that the largest is 0)."""
        self.rewards: deque[float] = deque(maxlen=self.history)
        self._mask: np.ndarray | None = None
        """The valid arms at the last choice (None: all)."""
        """The last ``history`` raw rewards."""

    def begin_episode(
        self, env: gym.Env, obs: np.ndarray, info: dict[str, Any], rng: np.random.Generator
    ) -> None:
        """Start with uniform weights and an empty reward history."""
        super().begin_episode(env, obs, info, rng)
        self.weights = np.zeros(self.n_actions)
        self.rewards = deque(maxlen=self.history)
        self._mask = None

    def policy(self) -> np.ndarray:
        """The current policy ``pi``, shape ``[n_classes]``: over the arms valid at the last choice.

        With a mask, ``pi`` is Exp3.S's policy over the valid arms' weights (their share of
        exploration included) and 0 elsewhere; the importance weight of the update uses it.
        """
        if self._mask is None:
            return exp3s_policy(self.weights, self.epsilon)
        out = np.zeros(self.n_actions)
        out[self._mask] = exp3s_policy(self.weights[self._mask], self.epsilon)
        return out

    def select(self, obs: np.ndarray, info: dict[str, Any]) -> int:
        """Draw a valid arm from ``pi``."""
        self._mask = self.action_mask(info)
        return int(self.rng.choice(self.n_actions, p=self.policy()))

    def observe(
        self, action: int, reward: float, obs: np.ndarray, info: dict[str, Any]
    ) -> None:
        """Rescale the reward by the history's quantiles and update the weights."""
        probability = float(self.policy()[action])
        self.rewards.append(float(reward))
        r = rescale_reward(float(reward), self.rewards, self.low_quantile, self.high_quantile)
        self.weights = exp3s_update(self.weights, int(action), r, probability, self.eta, self.alpha)

    def preferences(self) -> np.ndarray:
        """The policy ``pi``."""
        return self.policy()

    def state_dict(self) -> dict[str, Any]:
        """The log-weights, the reward history and the valid arms of the last choice."""
        return {**super().state_dict(), "weights": self.weights.copy(),
                "rewards": list(self.rewards),
                "mask": None if self._mask is None else self._mask.tolist()}

    def load_state_dict(self, state: dict[str, Any], env: gym.Env) -> None:
        """Continue with the saved log-weights, reward history and valid arms."""
        super().load_state_dict(state, env)
        self.weights = np.array(state["weights"], dtype=np.float64)
        self.rewards = deque((float(r) for r in state["rewards"]), maxlen=self.history)
        mask = state.get("mask")
        self._mask = None if mask is None else np.array(mask, dtype=bool)


class _ArmStatistics:
    """Discounted per-arm counts and means, and a discounted pooled reward spread.

    With ``discount = 1`` these are plain counts, sample means, and the standard deviation of all
    rewards seen. With ``discount < 1`` every past reward's weight is multiplied by ``discount``
    at each new reward (exponential forgetting), as in discounted UCB. Means are kept directly
    (not as sums) because a common decay of numerator and denominator leaves them unchanged:
    an arm not played for a long time keeps its mean while its count fades.
    """

    def __init__(self, n_arms: int, discount: float) -> None:
        self.discount = discount
        self.pulls = np.zeros(n_arms, dtype=np.int64)  # undiscounted: who was ever played
        self.counts = np.zeros(n_arms)  # discounted
        self._means = np.zeros(n_arms)
        self._weight = 0.0  # discounted number of rewards, all arms
        self._mean = 0.0
        self._m2 = 0.0

    def add(self, arm: int, reward: float) -> None:
        g = self.discount
        self.pulls[arm] += 1
        self.counts *= g
        self.counts[arm] += 1.0
        self._means[arm] += (reward - self._means[arm]) / self.counts[arm]
        # Weighted Welford (West 1979) with exponential decay of the old weight.
        self._weight = g * self._weight + 1.0
        self._m2 *= g
        delta = reward - self._mean
        self._mean += delta / self._weight
        self._m2 += delta * (reward - self._mean)

    def effective_counts(self) -> np.ndarray:
        """Discounted counts, floored at the smallest normal float (they may underflow)."""
        return np.maximum(self.counts, np.finfo(np.float64).tiny)

    def means(self) -> np.ndarray:
        """Per-arm (discounted) mean reward; NaN for arms never played."""
        return np.where(self.pulls > 0, self._means, np.nan)

    def scale(self) -> float:
        """(Discounted) standard deviation of all rewards, all arms pooled; 0 before two."""
        if self._weight <= 0.0:
            return 0.0
        return math.sqrt(max(self._m2 / self._weight, 0.0))

    def untried(self) -> np.ndarray:
        """Indices of arms never played."""
        return np.flatnonzero(self.pulls == 0)

    def state_dict(self) -> dict[str, Any]:
        """Every count and running moment."""
        return {
            "discount": self.discount, "pulls": self.pulls.copy(), "counts": self.counts.copy(),
            "means": self._means.copy(), "weight": self._weight, "mean": self._mean,
            "m2": self._m2,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> _ArmStatistics:
        """The statistics :meth:`state_dict` described."""
        stats = cls(len(state["pulls"]), float(state["discount"]))
        stats.pulls = np.array(state["pulls"], dtype=np.int64)
        stats.counts = np.array(state["counts"], dtype=np.float64)
        stats._means = np.array(state["means"], dtype=np.float64)
        stats._weight = float(state["weight"])
        stats._mean = float(state["mean"])
        stats._m2 = float(state["m2"])
        return stats


class _ArmStatisticsSelector(Selector):
    """Shared part of UCB1 and Thompson sampling: per-arm (discounted) reward statistics.

    Untried arms are played first, in random order; subclasses choose among tried arms.
    """

    def __init__(self, discount: float = 1.0) -> None:
        super().__init__()
        _check_real(
            "discount", discount, low=0.0, low_open=True, high=1.0, why="a forgetting factor"
        )
        self.discount = float(discount)
        self.stats = _ArmStatistics(0, self.discount)

    def begin_episode(
        self, env: gym.Env, obs: np.ndarray, info: dict[str, Any], rng: np.random.Generator
    ) -> None:
        """Forget all arm statistics."""
        super().begin_episode(env, obs, info, rng)
        self.stats = _ArmStatistics(self.n_actions, self.discount)

    def select(self, obs: np.ndarray, info: dict[str, Any]) -> int:
        """Play an untried valid arm if any, else the subclass's choice among the valid arms."""
        mask = self.action_mask(info)
        untried = self.stats.untried()
        if mask is not None:
            untried = untried[mask[untried]]
        if untried.size:
            return int(self.rng.choice(untried))
        return self._choose(mask)

    @abstractmethod
    def _choose(self, mask: np.ndarray | None) -> int:
        """The arm to play once every valid arm (``mask``; None: every arm) has been tried."""

    def observe(
        self, action: int, reward: float, obs: np.ndarray, info: dict[str, Any]
    ) -> None:
        """Add the reward to the played arm's statistics."""
        self.stats.add(int(action), float(reward))

    def preferences(self) -> np.ndarray:
        """Mean reward per arm (NaN for arms never played)."""
        return self.stats.means()

    def state_dict(self) -> dict[str, Any]:
        """The arm statistics."""
        return {**super().state_dict(), "stats": self.stats.state_dict()}

    def load_state_dict(self, state: dict[str, Any], env: gym.Env) -> None:
        """Continue with the saved arm statistics."""
        super().load_state_dict(state, env)
        self.stats = _ArmStatistics.from_state(state["stats"])


class UCB1Selector(_ArmStatisticsSelector):
    """UCB1 with an exploration bonus scaled to the rewards' spread.

    Every arm is played once (in random order); then the arm maximising
    ``mean_i + c * sigma * sqrt(2 ln t / n_i)`` is played, ties at random. UCB1's bonus
    ``sqrt(2 ln t / n_i)`` assumes rewards in [0, 1]; the chi-square decreases are unbounded and
    their size changes by orders of magnitude between tasks and over training. The bonus is
    therefore multiplied by ``sigma``, the standard deviation of all rewards seen so far (all arms
    pooled) -- the same as running UCB1 on rewards normalised to unit variance, and the form UCB
    takes for Gaussian rewards of known spread. Because ``sigma`` also contains the spread
    *between* arms it over-estimates the noise a little, which errs towards exploring. When all
    rewards so far are equal, ``sigma = 0`` and the choice is greedy among the best means.

    With ``discount < 1`` counts, sums, ``t = sum_i n_i`` and ``sigma`` are exponentially
    discounted (discounted UCB, Garivier & Moulines 2011): a neglected arm's ``n_i`` shrinks, its
    bonus grows, and it is tried again -- useful since a class's reward drifts as the network
    learns. ``preferences()`` are the (discounted) mean rewards, NaN for arms never played.

    Args:
        c: Multiplier of the exploration bonus, >= 0 (1 is UCB1).
        discount: Forgetting factor per step, in (0, 1]; 1 keeps everything.

    Raises:
        ValueError: If an argument is out of range; the message names it.
    """

    name = "ucb1"

    def __init__(self, c: float = 1.0, discount: float = 1.0) -> None:
        _check_real("c", c, low=0.0, why="the exploration bonus' multiplier")
        super().__init__(discount)
        self.c = float(c)

    def indices(self) -> np.ndarray:
        """UCB index of every arm (``inf`` for arms never played)."""
        s = self.stats
        out = np.full(self.n_actions, np.inf)
        tried = s.pulls > 0
        t = float(s.counts.sum())
        n_i = s.effective_counts()[tried]
        bonus = self.c * s.scale() * np.sqrt(2.0 * math.log(max(t, 1.0)) / n_i)
        out[tried] = s.means()[tried] + bonus
        return out

    def _choose(self, mask: np.ndarray | None) -> int:
        """The valid arm with the largest UCB index."""
        return _argmax_random_ties(mask_values(self.indices(), mask), self.rng)


class ThompsonSelector(_ArmStatisticsSelector):
    """Gaussian Thompson sampling with a noise level estimated from all rewards.

    Model: the rewards of arm ``i`` are ``N(mu_i, sigma^2)`` with one noise level ``sigma`` shared
    by all arms (every replay batch is an equally noisy measurement of a chi-square change), and
    a flat prior on each ``mu_i``. ``sigma`` is plugged in as known, estimated by the standard
    deviation of all rewards so far (pooled over arms; it includes the spread between arms, so it
    errs on the wide, exploring side). The posterior of ``mu_i`` after ``n_i`` plays with mean
    ``m_i`` is then ``N(m_i, sigma^2 / n_i)``. Each step one value is drawn from every arm's
    posterior and the largest is played. Arms never played are played first (a flat prior has no
    mean to sample), in random order. This model is scale-free: unlike a Normal-Gamma prior it
    needs no guess of the rewards' size, which changes a lot between tasks.

    With ``discount < 1`` the counts, sums and ``sigma`` are exponentially discounted (discounted
    Thompson sampling): old evidence fades and the posteriors widen again for arms not played.
    ``preferences()`` are the posterior means (NaN for arms never played).

    Args:
        discount: Forgetting factor per step, in (0, 1]; 1 keeps everything.

    Raises:
        ValueError: If an argument is out of range; the message names it.
    """

    name = "thompson"

    def _choose(self, mask: np.ndarray | None) -> int:
        """The valid arm with the largest posterior draw (one draw per arm, valid or not)."""
        s = self.stats
        spread = s.scale() / np.sqrt(s.effective_counts())
        draws = s.means() + spread * self.rng.standard_normal(self.n_actions)
        return _argmax_random_ties(mask_values(draws, mask), self.rng)


class EpsilonGreedySelector(Selector):
    """Epsilon-greedy on running mean rewards.

    Arms never played are played first (in random order). Afterwards, with probability
    ``epsilon`` a uniformly random arm is played, otherwise the arm with the largest estimated
    value (ties at random). Estimates are sample averages (``step_size=None``) or, for drifting
    rewards, exponential recency-weighted averages ``Q += step_size * (r - Q)``; either way the
    first reward of an arm sets its estimate (no bias towards an initial value).
    ``preferences()`` are the estimates (NaN for arms never played).

    Args:
        epsilon: Probability of a random arm, in [0, 1].
        step_size: None for sample averages, or a constant step size in (0, 1].

    Raises:
        ValueError: If an argument is out of range; the message names it.
    """

    name = "epsilon-greedy"

    def __init__(self, epsilon: float = 0.1, step_size: float | None = None) -> None:
        super().__init__()
        _check_real("epsilon", epsilon, low=0.0, high=1.0, why="a probability")
        if step_size is not None:
            _check_real(
                "step_size", step_size, low=0.0, low_open=True, high=1.0,
                why="a constant averaging step; None for sample averages",
            )
        self.epsilon = float(epsilon)
        self.step_size = None if step_size is None else float(step_size)
        self.values = np.zeros(0)
        """Estimated value per arm (NaN for arms never played)."""
        self.counts = np.zeros(0, dtype=np.int64)
        """Number of plays per arm."""

    def begin_episode(
        self, env: gym.Env, obs: np.ndarray, info: dict[str, Any], rng: np.random.Generator
    ) -> None:
        """Forget all estimates."""
        super().begin_episode(env, obs, info, rng)
        self.values = np.full(self.n_actions, np.nan)
        self.counts = np.zeros(self.n_actions, dtype=np.int64)

    def select(self, obs: np.ndarray, info: dict[str, Any]) -> int:
        """An untried valid arm, else a random valid arm with probability epsilon, else the best.

        ``best``: the valid arm with the largest estimate.
        """
        mask = self.action_mask(info)
        untried = np.flatnonzero(self.counts == 0 if mask is None else (self.counts == 0) & mask)
        if untried.size:
            return int(self.rng.choice(untried))
        if self.rng.random() < self.epsilon:
            if mask is None:
                return int(self.rng.integers(self.n_actions))
            return int(self.rng.choice(np.flatnonzero(mask)))
        return _argmax_random_ties(mask_values(self.values, mask), self.rng)

    def observe(
        self, action: int, reward: float, obs: np.ndarray, info: dict[str, Any]
    ) -> None:
        """Move the played arm's estimate towards the reward."""
        a = int(action)
        self.counts[a] += 1
        if self.counts[a] == 1:
            self.values[a] = float(reward)
            return
        step = 1.0 / self.counts[a] if self.step_size is None else self.step_size
        self.values[a] += step * (float(reward) - self.values[a])

    def preferences(self) -> np.ndarray:
        """Estimated value per arm (NaN for arms never played)."""
        return self.values.copy()

    def state_dict(self) -> dict[str, Any]:
        """The value estimates and play counts."""
        return {**super().state_dict(), "values": self.values.copy(),
                "counts": self.counts.copy()}

    def load_state_dict(self, state: dict[str, Any], env: gym.Env) -> None:
        """Continue with the saved estimates and counts."""
        super().load_state_dict(state, env)
        self.values = np.array(state["values"], dtype=np.float64)
        self.counts = np.array(state["counts"], dtype=np.int64)


# -- helpers --------------------------------------------------------------------------------------


def _argmax_random_ties(values: np.ndarray, rng: np.random.Generator) -> int:
    """Index of the largest value, ties broken uniformly at random with ``rng``."""
    best = np.flatnonzero(values == np.max(values))
    return int(best[0]) if best.size == 1 else int(rng.choice(best))


def _check_real(
    field: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    why: str,
) -> None:
    """Raise ValueError naming ``field`` unless ``value`` is a finite real in the interval."""
    lo_text = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
    hi_text = "" if high is None else f"{high:g}" + (")" if high_open else "]")
    interval = (
        f"in {lo_text}, {hi_text}" if low is not None and high is not None
        else (f"{'>' if low_open else '>='} {low:g}" if low is not None else f"<= {high:g}")
    )
    ok = (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(value)
        and (low is None or (value > low if low_open else value >= low))
        and (high is None or (value < high if high_open else value <= high))
    )
    if not ok:
        raise ValueError(f"{field} must be a finite number {interval} ({why}), got {value!r}")


def _check_int(field: str, value: int, *, low: int, why: str) -> None:
    """Raise ValueError naming ``field`` unless ``value`` is an integer >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{field} must be an integer >= {low} ({why}), got {value!r}")
