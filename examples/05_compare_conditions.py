"""Compare replay conditions and selectors on one preset, several seeds, one table (and a plot).

Usage:
    python examples/05_compare_conditions.py --out runs/compare
    python examples/05_compare_conditions.py --conditions none generative regression --seeds 3
    python examples/05_compare_conditions.py --preset smoke --days 1 --out /tmp/compare

Each condition runs through the same runner into OUT/<condition>; the table gives the mean
final test accuracy (and its standard error over seeds). The mean test-accuracy curves, with
s.e.m. bands, are saved to OUT/curves.png; `python -m replay_gym compare OUT` shows them again
as a table, and `python -m replay_gym plot KIND OUT --out FIG.png` draws the paper's figures.
"""

import dataclasses
import json
from pathlib import Path

from replay_gym.analysis import summarise
from replay_gym.cli import cli
from replay_gym.config import preset as preset_config
from replay_gym.plots import new_figure, plot_curves, save_figure
from replay_gym.results import load_runs
from replay_gym.runner import RunArgs, run


def main(
    out: Path = Path("runs/compare"),
    conditions: tuple[str, ...] = ("none", "generative", "round-robin", "regression"),
    preset: str = "default",
    seeds: int = 2,
    days: int | None = None,
    overwrite: bool = False,
) -> dict[str, list[float]]:
    """Run each condition; return its mean test accuracy per day."""
    env = preset_config(preset)
    if days is not None:
        env = dataclasses.replace(env, days=days)
    curves: dict[str, list[float]] = {}
    for condition in conditions:
        args = RunArgs(
            condition=condition,
            preset=preset,
            seeds=seeds,
            out=out / condition,
            env=env,
            overwrite=overwrite,
            progress=False,
        )
        row = summarise(condition, run(args))
        curves[condition] = row["curve"]
        sem = "–" if row["final_sem"] is None else f"{row['final_sem']:.3f}"
        print(f"{condition:>14}: final test accuracy {row['final_test_accuracy']:.3f} ± {sem}")
    (out / "curves.json").write_text(json.dumps(curves, indent=2))
    fig = new_figure()
    ax = fig.add_subplot()
    plot_curves(ax, load_runs([out / condition for condition in conditions]))
    ax.set_title(f"preset {preset}")
    save_figure(fig, out / "curves.png")
    return curves


if __name__ == "__main__":
    cli(main)
