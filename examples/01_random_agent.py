"""A random selector in the plain Gymnasium loop.

Usage:
    python examples/01_random_agent.py                   # embedded default, one course
    python examples/01_random_agent.py --preset smoke    # seconds
"""

import gymnasium as gym

import replay_gym  # noqa: F401  (registers ReplaySelect-v0)
from replay_gym.cli import cli


def main(preset: str = "default", seed: int = 0) -> float:
    """Replay uniformly random classes for one course; return the final test accuracy."""
    env = gym.make("ReplaySelect-v0", preset=preset)
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    terminated = False
    while not terminated:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        if night := info.get("night_end"):
            print(f"day {night['day']}: test accuracy {night['test_accuracy']:.3f}")
    return info["test_accuracy"]


if __name__ == "__main__":
    cli(main)
