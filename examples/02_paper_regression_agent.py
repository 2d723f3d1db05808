"""The paper's "hippocampus": a softmax-regression side network chooses what to replay.

Usage:
    python examples/02_paper_regression_agent.py
    python examples/02_paper_regression_agent.py --preset smoke --days 2
    python examples/02_paper_regression_agent.py --reload-each-night   # the authors' code

Prints each class's replays beside its validation accuracy after day 1 (before its night): the
selector should replay weakly learned classes more (the paper's Fig. 3C).
"""

import gymnasium as gym
import numpy as np

import replay_gym  # noqa: F401
from replay_gym.agents import RegressionSelector
from replay_gym.cli import cli


def main(
    preset: str = "default",
    days: int | None = None,
    seed: int = 0,
    reload_each_night: bool = False,
) -> dict:
    """One course with the paper's selector; per class, replays and accuracy after day 1."""
    overrides = {} if days is None else {"days": days}
    env = gym.make("ReplaySelect-v0", preset=preset, **overrides)
    agent = RegressionSelector(reload_each_night=reload_each_night)
    obs, info = env.reset(seed=seed)
    day1 = info["class_accuracy"].copy()
    agent.begin_episode(env, obs, info, np.random.default_rng(seed))
    replays = np.zeros(env.action_space.n, dtype=int)
    terminated = False
    while not terminated:
        action = agent.select(obs, info)
        obs, reward, terminated, truncated, info = env.step(action)
        agent.observe(action, reward, obs, info)
        replays[action] += 1
    names = env.unwrapped.data.class_names
    print(f"final test accuracy {info['test_accuracy']:.3f}")
    print(f"{'class':>10}  day-1 val acc  replays")
    for c in np.argsort(day1):
        print(f"{names[c]:>10}  {day1[c]:>13.3f}  {replays[c]:>7}")
    r = np.corrcoef(day1, replays)[0, 1] if day1.std() > 0 and replays.std() > 0 else float("nan")
    print(f"correlation of day-1 accuracy with replays: {r:+.2f} (paper: negative)")
    return {"replays": replays, "day1_accuracy": day1, "correlation": r}


if __name__ == "__main__":
    cli(main)
