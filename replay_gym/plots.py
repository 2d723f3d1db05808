"""``compare`` and ``plot``: tables and the paper's figure types from run directories.

Usage:
    python -m replay_gym compare runs/none runs/generative --out curves.png
    python -m replay_gym plot curves runs/ --out curves.png       # a sweep folder works too
    python -m replay_gym plot final runs/none runs/generative --out final.png
    python -m replay_gym plot scatter runs/regression --out fig3d.png
    python -m replay_gym plot gain runs/none runs/generative --out fig2c.png

Figures are drawn on a ``matplotlib.figure.Figure`` (no pyplot, no global backend state) and
saved as PNG; every band and error bar is ± one standard error of the mean over seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
import pandas as pd
import tyro

from replay_gym.metrics import relative_gain
from replay_gym.results import (
    check_metric,
    class_table,
    curve_table,
    format_curve_table,
    labels_in_order,
    load_runs,
    per_seed,
    processors,
)
from replay_gym.stats import linear_regression, mean_sem, mean_sem_text, paper_style

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PlotKind = Literal["curves", "final", "scatter", "gain"]

METRIC_LABELS = {
    "test_accuracy": "test accuracy (after the night)",
    "test_accuracy_after_day": "test accuracy (after the day, before its night)",
    "val_accuracy": "validation accuracy (after the night)",
}


def _axis_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def _sem_or_zero(values: pd.Series) -> np.ndarray:
    return values.astype(float).fillna(0.0).to_numpy()


def plot_curves(ax: Axes, table: pd.DataFrame, metric: str = "test_accuracy") -> None:
    """Mean learning curve per label with a ± s.e.m. band (the paper's Fig. 2A/4)."""
    curves = curve_table(table, metric)
    for label in labels_in_order(table):
        part = curves[curves["label"] == label]
        days, mean, sem = part["day"], part["mean"].to_numpy(), _sem_or_zero(part["sem"])
        n = part["seeds"].max()
        (line,) = ax.plot(days, mean, marker="o", markersize=3, label=f"{label} (n={n})")
        ax.fill_between(days, mean - sem, mean + sem, color=line.get_color(), alpha=0.2)
    ax.set(xlabel="day", ylabel=_axis_label(metric))
    _integer_days(ax)
    ax.legend(fontsize="small")


def _integer_days(ax: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_final(ax: Axes, table: pd.DataFrame, metric: str = "test_accuracy") -> None:
    """Final-day mean per label as bars with ± s.e.m. error bars and the seeds as dots."""
    finals = per_seed(table, metric)
    labels = labels_in_order(table)
    for i, label in enumerate(labels):
        values = finals.loc[finals["label"] == label, "final"].to_numpy()
        mean, sem = mean_sem(values)
        ax.bar(i, mean, yerr=0.0 if sem is None else sem, capsize=4, alpha=0.7)
        ax.plot(np.full(len(values), i), values, "k.", markersize=4)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    last_days = table.groupby(["label", "seed"])["day"].max().unique()
    when = f"day {last_days[0]}" if len(last_days) == 1 else "each run's last day"
    ax.set(ylabel=f"{_axis_label(metric)}, {when}")


def plot_scatter(ax: Axes, table: pd.DataFrame, y: Literal["replays", "gain"] = "replays") -> None:
    """The paper's Fig. 3D: per class, ``y`` against test accuracy after day 1 (before its night).

    Each point is a class of one label, averaged over seeds (the paper's F(1, 98) is over its
    100 classes); the least-squares line and its R² and F-test are in the legend.
    """
    classes = class_table(table)
    means = classes.groupby(["label", "class"], sort=False).mean(numeric_only=True).reset_index()
    for label in labels_in_order(table):
        part = means[means["label"] == label]
        x, values = part["acc_after_day1_before_night"].to_numpy(), part[y].to_numpy()
        try:
            fit = linear_regression(x, values)
        except ValueError:  # constant replays (a fixed schedule), or fewer than 3 classes
            ax.scatter(x, values, s=14, label=f"{label}: no line ({y} constant or < 3 classes)")
            continue
        points = ax.scatter(x, values, s=14, label=f"{label}: {paper_style(fit)}")
        grid = np.linspace(x.min(), x.max(), 2)
        ax.plot(grid, fit.slope * grid + fit.intercept, color=points.get_facecolor()[0])
    ylabel = {
        "replays": "samples replayed per course",
        "gain": "test accuracy gain (final − after day 1)",
    }
    ax.set(xlabel="test accuracy after day 1 (before its night)", ylabel=ylabel[y])
    ax.legend(fontsize="x-small")


def plot_gain(ax: Axes, table: pd.DataFrame, metric: str = "test_accuracy") -> None:
    """The paper's Fig. 2C: day-over-day gain relative to room for improvement.

    On each label's mean curve, ``(acc[n+1] - acc[n]) / (acc[n] - acc[1])``, drawn at day n+1
    (:func:`replay_gym.metrics.relative_gain`); undefined where acc[n] equals acc[1].
    """
    curves = curve_table(table, metric)
    for label in labels_in_order(table):
        part = curves[curves["label"] == label]
        if len(part) < 3:
            raise ValueError(f"{label!r} has {len(part)} days; the gain plot needs at least 3")
        gain = relative_gain(part["mean"].to_numpy())
        ax.plot(part["day"].to_numpy()[2:], gain, marker="o", markersize=3, label=label)
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.set(xlabel="day", ylabel="gain / room for improvement")
    _integer_days(ax)
    ax.legend(fontsize="small")


def new_figure(width: float = 6.4, height: float = 4.4) -> Figure:
    """A figure outside pyplot: nothing global is touched, nothing stays open."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Figure, out: Path) -> Path:
    """Save ``fig`` as PNG at ``out`` (folders made), via a temporary file and a rename."""
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out {out}: figures are written as PNG; name the file *.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=130)
    tmp.replace(out)
    return out


PLOTTERS: dict[str, Callable[..., None]] = {
    "curves": plot_curves,
    "final": plot_final,
    "scatter": plot_scatter,
    "gain": plot_gain,
}


@dataclass(frozen=True)
class CompareArgs:
    """Compare runs: a table of mean ± s.e.m. per condition and day, and learning curves."""

    run_dirs: tyro.conf.Positional[tuple[Path, ...]]
    """Run directories, or folders holding them (searched at any depth)."""
    out: Path | None = None
    """Also write the learning curves with s.e.m. bands to this PNG."""
    metric: str = "test_accuracy"
    """Per-day value to compare: test_accuracy (after the night), test_accuracy_after_day,
    val_accuracy, reward_sum, chi2_after_night, ..."""


@dataclass(frozen=True)
class PlotArgs:
    """Draw one of the paper's figure types from run directories."""

    kind: tyro.conf.Positional[PlotKind]
    """curves (mean ± s.e.m. per day), final (last-day bars ± s.e.m.), scatter (Fig. 3D: per
    class, replays against accuracy after day 1, with the regression line), gain (Fig. 2C)."""
    run_dirs: tyro.conf.Positional[tuple[Path, ...]]
    """Run directories, or folders holding them (searched at any depth)."""
    out: Annotated[Path, tyro.conf.arg(aliases=("-o",))]
    """PNG file to write."""
    metric: str = "test_accuracy"
    """Per-day value for curves, final and gain."""
    y: Literal["replays", "gain"] = "replays"
    """scatter only: samples replayed per course, or final minus day-1 (pre-night) accuracy."""


def compare(args: CompareArgs) -> str:
    """Print (and return) the comparison table; write the curves when ``--out`` is given."""
    table = load_runs(args.run_dirs)
    check_metric(table, args.metric)
    text = format_curve_table(curve_table(table, args.metric), args.metric)
    summary = per_seed(table, args.metric)
    lines = [text, "", f"{'label':>24}  {'final':>15}  {'mean over days':>15}  run"]
    for label in labels_in_order(table):
        part = summary[summary["label"] == label]
        cells = []
        for column in ("final", "mean_over_days"):
            cells.append(mean_sem_text(part[column].to_numpy()))
        runs = ", ".join(table.loc[table["label"] == label, "run"].unique())
        lines.append(f"{label:>24}  {cells[0]:>15}  {cells[1]:>15}  {runs}")
    kinds = processors(table)
    if len(kinds) > 1:
        lines += ["", f"note: these runs computed on {len(kinds)} kinds of processor "
                  f"({'; '.join(kinds)}); a seed's course differs between them from day 1, so "
                  "differences between runs of one seed are not paired"]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        fig = new_figure()
        plot_curves(fig.add_subplot(), table, args.metric)
        print(f"curves in {save_figure(fig, args.out)}")
    return text


def plot(args: PlotArgs) -> Path:
    """Draw ``args.kind`` from ``args.run_dirs`` into ``args.out``."""
    table = load_runs(args.run_dirs)
    fig = new_figure()
    ax = fig.add_subplot()
    if args.kind == "scatter":
        plot_scatter(ax, table, args.y)
    else:
        check_metric(table, args.metric)
        PLOTTERS[args.kind](ax, table, args.metric)
    out = save_figure(fig, args.out)
    print(f"{args.kind} in {out}")
    return out
