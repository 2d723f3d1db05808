"""Train a Stable-Baselines3 PPO selector, then evaluate it like every other condition.

Usage:
    python examples/03_train_ppo.py --out runs/ppo                 # 10 default courses of training
    python examples/03_train_ppo.py --preset smoke --days 1 --total-timesteps 64 --out /tmp/ppo

The same from the command line:
    python -m replay_gym train-sb3 --algo ppo --total-timesteps 5000 --out runs/ppo.zip
    python -m replay_gym run --condition sb3 --model runs/ppo.zip --seeds 3 --out runs/ppo-eval

Training logs go to TensorBoard beside the model (``tensorboard --logdir runs``).
"""

import dataclasses
from pathlib import Path

from replay_gym.agents.sb3 import TrainSB3Args, train_sb3
from replay_gym.cli import cli
from replay_gym.config import preset as preset_config
from replay_gym.runner import RunArgs, run


def main(
    out: Path = Path("runs/ppo"),
    preset: str = "default",
    days: int | None = None,
    total_timesteps: int = 5000,
    n_steps: int | None = None,
    batch_size: int | None = None,
    eval_seeds: int = 1,
) -> dict:
    """Train PPO on ReplaySelect-v0, evaluate it on held-out seeds; return paths and records."""
    env = preset_config(preset)
    if days is not None:
        env = dataclasses.replace(env, days=days)
    model = train_sb3(
        TrainSB3Args(
            algo="ppo",
            preset=preset,
            env=env,
            total_timesteps=total_timesteps,
            n_steps=n_steps,
            batch_size=batch_size,
            out=out / "ppo.zip",
            overwrite=True,
            verbose=0,
        )
    )
    # Evaluation seeds start after the training seeds so the courses are new ones.
    records = run(
        RunArgs(
            condition="sb3",
            preset=preset,
            model=model,
            env=env,
            seeds=eval_seeds,
            first_seed=1000,
            out=out / "eval",
            overwrite=True,
        )
    )
    return {"model": model, "records": records}


if __name__ == "__main__":
    cli(main)
