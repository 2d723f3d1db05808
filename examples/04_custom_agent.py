"""Write your own selector in a few lines and run it through the same runner as the paper's.

Usage:
    python examples/04_custom_agent.py --out runs/greedy-drop
    python examples/04_custom_agent.py --preset smoke --days 1 --out /tmp/greedy

The selector below replays the class whose validation accuracy fell most since the night began
(ties: the weakest class). Register it by name, then every runner feature works for it:
seeds, results.jsonl, TensorBoard, comparison with the paper's conditions, and checkpoints: a
selector that remembers something between steps adds it to ``state_dict`` so that an
interrupted run resumes exactly.
"""

import dataclasses
from pathlib import Path

import numpy as np

from replay_gym.agents import Selector, register_selector
from replay_gym.cli import cli
from replay_gym.config import preset as preset_config
from replay_gym.runner import RunArgs, run


class LargestDropSelector(Selector):
    """Replay the class that lost most validation accuracy tonight, else the weakest."""

    name = "largest-drop"

    def begin_episode(self, env, obs, info, rng):
        """Remember where the first night starts."""
        super().begin_episode(env, obs, info, rng)
        self.night_start = info["class_accuracy"].copy()

    def select(self, obs, info):
        """The class with the largest accuracy drop tonight."""
        if info["night_step"] == 0:
            self.night_start = info["class_accuracy"].copy()
        drop = self.night_start - info["class_accuracy"]
        score = drop - 1e-3 * info["class_accuracy"]  # weakest breaks ties
        best = np.flatnonzero(score == score.max())
        return int(self.rng.choice(best))

    def state_dict(self):
        """What a checkpoint keeps beyond the base's generator: tonight's starting accuracies."""
        return {**super().state_dict(), "night_start": self.night_start.copy()}

    def load_state_dict(self, state, env):
        """Continue an interrupted run (``--resume`` calls this instead of begin_episode)."""
        super().load_state_dict(state, env)
        self.night_start = np.array(state["night_start"])


register_selector("largest-drop", LargestDropSelector, overwrite=True)


def main(out: Path, preset: str = "default", days: int | None = None, seeds: int = 1) -> list:
    """Run the custom selector for ``seeds`` courses; return the per-day records."""
    env = preset_config(preset)
    if days is not None:
        env = dataclasses.replace(env, days=days)
    args = RunArgs(condition="largest-drop", preset=preset, seeds=seeds, out=out, env=env)
    return run(args)


if __name__ == "__main__":
    cli(main)
