"""The paper's findings F1-F5, tested as the paper tested them, beside the paper's numbers.

Usage (after the sweeps in this folder have run; see benchmarks/RESULTS.md):
    python benchmarks/paper/analyze.py --runs benchmarks/results/paper/default

Reads the sweep folder's cells (``<condition>/<variant>/seed_<k>``), runs each finding's test
through :mod:`replay_gym.stats` (pingouin's ANOVAs, scipy's t-tests and regressions), and
writes ``RUNS/findings.json`` and ``RUNS/findings.md``: per finding, the paper's result, ours,
and whether it reproduced by the rule stated in the table. A finding whose cells have not all
run yet is listed as ``not run`` with the cells it waits for, never dropped.

Measures, as in the paper: test accuracy after each day's night (``test_accuracy``); "final" is
the last day's; per class, accuracy after day 1's training before its night (Fig 3C/D's x axis).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.results import class_table, find_run_dirs, load_runs, per_seed
from replay_gym.stats import (
    linear_regression,
    mean_sem_text,
    mixed_anova,
    paired_t,
    paper_style,
    rm_anova,
)

ALPHA = 0.05
LAYERS = (1, 2, 3, 4, 5)
SEED_SAMPLERS = ("cvae", "cvae-repulsion", "recall")
"""The seed papers' samplers, run in this scenario by samplers.toml (issue 11 §2)."""
NO_CLAIM = "– (no claim)"


@dataclass
class Finding:
    """One row of the findings table."""

    key: str
    claim: str
    paper: str
    ours: str = "not run"
    reproduced: str = "not run"
    rule: str = ""
    details: dict = field(default_factory=dict)


def group(runs: Path, condition: str, variant: str, seeds: int) -> pd.DataFrame | None:
    """The finished runs of one cell group, labelled ``condition``; None until all seeds ran."""
    folder = runs / condition / variant
    if not folder.is_dir():
        return None
    try:
        dirs = find_run_dirs(folder)
    except ValueError:  # only unfinished runs so far
        return None
    if len(dirs) < seeds:
        return None
    table = load_runs(dirs)
    table["label"] = condition
    return table


def _mean_text(values) -> str:
    return mean_sem_text(np.asarray(values, dtype=float))


def _final(table: pd.DataFrame) -> pd.Series:
    return per_seed(table).set_index("seed")["final"]


def _stack(*tables: pd.DataFrame) -> pd.DataFrame:
    both = pd.concat(tables, ignore_index=True)
    both["subject"] = both["label"] + "/" + both["seed"].astype(str)
    return both


def _common_seeds(*by_seed: pd.Series | pd.DataFrame) -> list[int]:
    """The seeds every seed-indexed summary has, in ascending order, so that paired tests line
    up seed by seed (seeds 5-9 were added to some groups only)."""
    return sorted(set.intersection(*(set(s.index) for s in by_seed)))


def _on_common_seeds(*tables: pd.DataFrame) -> list[pd.DataFrame]:
    """Each table restricted to the seeds every one of them has.

    Seeds added to some groups later (F1's and F5's 5-9) leave the other groups at 5; a
    comparison pairs the seeds both sides ran.
    """
    common = _common_seeds(*(t.set_index("seed") for t in tables))
    return [t[t["seed"].isin(common)] for t in tables]


def _days_where(a: pd.DataFrame, b: pd.DataFrame, better: bool) -> list[int]:
    """Days on which ``a`` is significantly above (``better``) or below ``b`` (paired t)."""
    days = []
    for day in sorted(set(a["day"]) & set(b["day"])):
        x = a[a["day"] == day].set_index("seed")["test_accuracy"]
        y = b[b["day"] == day].set_index("seed")["test_accuracy"].loc[x.index]
        if np.allclose(x.to_numpy(), y.to_numpy()):
            continue
        result = paired_t(x.to_numpy(), y.to_numpy())
        if result.p < ALPHA and (result.statistic > 0) == better:
            days.append(int(day))
    return days


PAPER_DOWNSAMPLE = "4-4-2-2-1"
"""The paper's down-sampling factors as the sweep names them (f1_paper_downsample.toml)."""


def _layer_variants(days: int) -> dict[int, str]:
    """F1's cell folders (f1_layers.toml): generative replay from each block."""
    return {k: f"days={days},replay_layer={k}" for k in LAYERS}


def f1(runs: Path, seeds: int, days: int = 10) -> list[Finding]:
    """Where to replay: five layers and none, 10 days, final test accuracy."""
    return where_to_replay(runs, seeds, days, _layer_variants(days), "F1", "")


def f1_paper_downsample(runs: Path, seeds: int, days: int = 10) -> list[Finding]:
    """F1 again with the paper's down-sampling at blocks 1-4 (f1_paper_downsample.toml).

    Block 5 is 1x1 and its factor is 1 either way, so its cells are F1's. Left out entirely
    where no cell with the paper's factors has run into ``runs``.
    """
    ours = _layer_variants(days)
    variants = {
        k: ours[k] + (f",sampler.downsample={PAPER_DOWNSAMPLE}" if k < 5 else "") for k in LAYERS
    }
    if not any((runs / "generative" / variants[k]).is_dir() for k in LAYERS[:-1]):
        return []
    rows = where_to_replay(
        runs, seeds, days, variants, "F1p", " with the paper's down-sampling (4, 4, 2, 2, 1)"
    )
    effect = Finding(
        "F1p",
        f"The paper's down-sampling against none (ours), day-{days} accuracy per block "
        "(paired t, paper's factors − factor 1)",
        "– (the paper replayed down-sampled maps only)",
        reproduced=NO_CLAIM,
        rule="(deviation, issue 8 §1)",
    )
    pairs = {k: (group(runs, "generative", variants[k], seeds),
                 group(runs, "generative", ours[k], seeds)) for k in LAYERS[:-1]}  # fmt: skip
    waiting = [f"generative/{v}" for k, pair in pairs.items()
               for v, t in zip((variants[k], ours[k]), pair, strict=True) if t is None]  # fmt: skip
    if waiting:
        effect.details = {"waiting_for": waiting}
        return [*rows, effect]
    parts = []
    for k, (paper, plain) in pairs.items():
        paper, plain = _final(paper), _final(plain)
        common = _common_seeds(paper, plain)
        diff = paper.loc[common] - plain.loc[common]
        parts.append(f"block {k}: {_mean_text(diff)}, "
                     f"{paper_style(paired_t(paper.loc[common], plain.loc[common]))}")  # fmt: skip
    effect.ours = "; ".join(parts)
    return [*rows, effect]


def where_to_replay(
    runs: Path, seeds: int, days: int, variants: dict[int, str], key: str, how: str
) -> list[Finding]:
    """F1's three tests: none and generative replay from each block (``variants[block]``)."""
    anova = Finding(
        key,
        f"Replay layer matters{how} (none and blocks 1-5, day-{days} accuracy, "
        "repeated-measures ANOVA)",
        "F(5,45)=7.23, p<.001",
        rule="p < .05",
    )
    block4 = Finding(
        key,
        f"Block-4 replay{how} beats none at day {days} (paired t, none − block 4)",
        "t(9)=−4.31, p=.002",
        rule="block 4 > none, p < .05",
    )
    only = Finding(
        key,
        f"Only block 4{how} beats none (paired t per block)",
        "only block 4 significant",
        rule="block 4 significant, no other block significantly above none",
    )
    none = group(runs, "none", f"days={days}", seeds)
    layers = {k: group(runs, "generative", variants[k], seeds) for k in LAYERS}
    if none is None or any(t is None for t in layers.values()):
        waiting = [f"none/days={days}"] * (none is None) + [
            f"generative/{variants[k]}" for k, t in layers.items() if t is None
        ]
        for finding in (anova, block4, only):
            finding.details = {"waiting_for": waiting}
        return [anova, block4, only]
    finals = {"none": _final(none)} | {f"block {k}": _final(t) for k, t in layers.items()}
    seeds_common = _common_seeds(*finals.values())
    long = pd.DataFrame(
        [{"seed": s, "condition": name, "final": float(values.loc[s])}
         for name, values in finals.items() for s in seeds_common]
    )  # fmt: skip
    result = rm_anova(long, dv="final", within="condition", subject="seed")
    means = {name: _mean_text(values.loc[seeds_common]) for name, values in finals.items()}
    anova.ours = paper_style(result) + (
        f" (Greenhouse-Geisser p={result.p_gg:.3f})" if result.p_gg is not None else ""
    )
    anova.reproduced = "yes" if result.p < ALPHA else "no"
    anova.details = {"final_mean_sem": means, "seeds": seeds_common}
    tests = {
        k: paired_t(finals["none"].loc[seeds_common], finals[f"block {k}"].loc[seeds_common])
        for k in LAYERS
    }
    block4.ours = paper_style(tests[4]) + f"; none {means['none']}, block 4 {means['block 4']}"
    block4.reproduced = "yes" if tests[4].p < ALPHA and tests[4].statistic < 0 else "no"
    above = [k for k, t in tests.items() if t.p < ALPHA and t.statistic < 0]
    only.ours = (
        "significantly above none: "
        + (", ".join(f"block {k}" for k in above) if above else "no block")
        + "; "
        + "; ".join(f"block {k}: {paper_style(t)}" for k, t in tests.items())
    )
    only.reproduced = "yes" if above == [4] else ("partly" if 4 in above else "no")
    return [anova, block4, only]


def f2_f4(runs: Path, seeds: int, days: int = 30) -> list[Finding]:
    """The fixed conditions over ``days`` days (the paper's 30)."""
    none = group(runs, "none", f"days={days}", seeds)
    generative = group(runs, "generative", f"days={days}", seeds)
    veridical = group(runs, "veridical", f"days={days}", seeds)
    continuous = group(runs, "continuous", f"days={days}", seeds)
    interaction = Finding(
        "F2",
        f"Generative vs none over {days} days: condition × day interaction (mixed ANOVA)",
        "F(29,522)=5.03",
        rule="interaction p < .05",
    )
    early = Finding(
        "F2",
        "Generative > none only early (per-day paired t)",
        "days 2–6 and 8",
        rule="significant days all within the first 10 and at least one",
    )
    room = Finding(
        "F2",
        "Gain relative to room for improvement, (gen − none)/(1 − none) (Fig 2C), "
        "largest in the first days",
        "largest in the first days",
        rule="the mean over days 1–5 exceeds the mean over the last third "
        f"(days {2 * days // 3 + 1}–{days})",
    )
    same = Finding(
        "F3",
        f"Generative ≈ veridical over {days} days (mixed ANOVA, condition)",
        "F(1,18)=0.16, p=.696",
        rule="condition p ≥ .05",
    )
    rises = Finding(
        "F4",
        "Continuous replay rises without new images (day 1 → day 30)",
        "32 % → 83 %",
        rule="day 30 > day 1, paired t p < .05",
    )
    below = Finding(
        "F4",
        "…but stays below interleaved (generative) learning from day 9",
        "from day 9",
        rule="continuous significantly below generative on every day ≥ 9",
    )
    findings = [interaction, early, room, same, rises, below]
    if none is not None and generative is not None:
        none_f2, generative_f2 = _on_common_seeds(none, generative)
        both = _stack(none_f2, generative_f2)
        tests = mixed_anova(both, "test_accuracy", "day", "label", "subject")
        interaction.ours = paper_style(tests["interaction"]) + (
            f"; condition {paper_style(tests['label'])}"
        )
        interaction.reproduced = "yes" if tests["interaction"].p < ALPHA else "no"
        significant = _days_where(generative_f2, none_f2, better=True)
        early.ours = "days " + (", ".join(map(str, significant)) if significant else "none")
        early.reproduced = "yes" if significant and max(significant) <= 10 else "no"
        gain = _relative_gain(generative_f2, none_f2)
        start = 2 * gain.shape[1] // 3  # the last third of the course
        room.ours = (
            f"days 1–5 {_mean_text(gain[:, :5].mean(1))}, days {start + 1}–{gain.shape[1]} "
            f"{_mean_text(gain[:, start:].mean(1))}"
        )
        room.reproduced = "yes" if gain[:, :5].mean() > gain[:, start:].mean() else "no"
        room.details = {"per_day_mean": gain.mean(0).round(4).tolist()}
    else:
        for finding in (interaction, early, room):
            finding.details = {"waiting_for": _missing(days, none=none, generative=generative)}
    if generative is not None and veridical is not None:
        generative_f3, veridical_f3 = _on_common_seeds(generative, veridical)
        tests = mixed_anova(_stack(generative_f3, veridical_f3), "test_accuracy", "day", "label",
                            "subject")  # fmt: skip
        gap = _mean_text(_final(generative_f3) - _final(veridical_f3))
        same.ours = paper_style(tests["label"]) + f"; final generative − veridical {gap}"
        same.reproduced = "yes" if tests["label"].p >= ALPHA else "no"
    else:
        same.details = {"waiting_for": _missing(days, generative=generative, veridical=veridical)}
    if continuous is not None and generative is not None:
        continuous_f4, generative_f4 = _on_common_seeds(continuous, generative)
        first = continuous_f4[continuous_f4["day"] == 1].set_index("seed")["test_accuracy"]
        last = continuous_f4[continuous_f4["day"] == days].set_index("seed")["test_accuracy"]
        result = paired_t(last.to_numpy(), first.loc[last.index].to_numpy())
        rises.ours = f"{_mean_text(first)} → {_mean_text(last)}; {paper_style(result)}"
        rises.reproduced = "yes" if result.p < ALPHA and result.statistic > 0 else "no"
        lower = _days_where(continuous_f4, generative_f4, better=False)
        late = list(range(9, days + 1))
        below.ours = f"significantly below on {len(set(lower) & set(late))} of days 9–{days}" + (
            f" (not on {sorted(set(late) - set(lower))})" if set(late) - set(lower) else ""
        )
        below.reproduced = (
            "yes" if set(late) <= set(lower) else ("partly" if set(lower) & set(late) else "no")
        )
    else:
        for finding in (rises, below):
            finding.details = {
                "waiting_for": _missing(days, continuous=continuous, generative=generative)
            }
    return findings


def _missing(days: int, **groups: pd.DataFrame | None) -> list[str]:
    """The cell groups (``condition/days=N``) among ``groups`` that have not all run."""
    return [f"{name}/days={days}" for name, table in groups.items() if table is None]


def _relative_gain(replay: pd.DataFrame, none: pd.DataFrame) -> np.ndarray:
    """(replay − none) / (1 − none) per seed (rows) and day (columns)."""
    a = replay.pivot(index="seed", columns="day", values="test_accuracy")
    b = none.pivot(index="seed", columns="day", values="test_accuracy").loc[a.index, a.columns]
    return ((a - b) / (1 - b)).to_numpy()


def f5(runs: Path, seeds: int, days: int = 30) -> list[Finding]:
    """The regression agent against uniform generative replay, and what it chooses."""
    same = Finding(
        "F5",
        f"Regression agent ≈ generative replay over {days} days (mixed ANOVA, condition)",
        "F(1,18)=0.15, no difference",
        rule="condition p ≥ .05",
    )
    replays = Finding(
        "F5",
        "Per class: replays over the course against day-1 accuracy (regression agent)",
        "R²=0.24, F(1,98)=31.15, negative slope",
        rule="slope < 0, p < .05",
    )
    gain = Finding(
        "F5",
        "Per class: accuracy gain against day-1 accuracy (regression agent)",
        "R²=0.18, negative slope",
        rule="slope < 0, p < .05",
    )
    regression = group(runs, "regression", f"days={days}", seeds)
    generative = group(runs, "generative", f"days={days}", seeds)
    if regression is None or generative is None:
        for finding in (same, replays, gain):
            finding.details = {
                "waiting_for": _missing(days, regression=regression, generative=generative)
            }
        return [same, replays, gain]
    paired = _on_common_seeds(regression, generative)
    tests = mixed_anova(_stack(*paired), "test_accuracy", "day", "label", "subject")
    gap = _final(paired[0]) - _final(paired[1])
    same.ours = paper_style(tests["label"]) + f"; day-{days} regression − generative {_mean_text(gap)}"
    same.reproduced = "yes" if tests["label"].p >= ALPHA else "no"
    classes = class_table(regression)
    for finding, column in ((replays, "replays"), (gain, "gain")):
        fit = linear_regression(classes["acc_after_day1_before_night"], classes[column])
        finding.ours = paper_style(fit)
        finding.reproduced = "yes" if fit.slope < 0 and fit.f_test.p < ALPHA else "no"
    return [same, replays, gain]


def seed_samplers(runs: Path, seeds: int, days: int = 10) -> list[Finding]:
    """The seed papers' samplers beside the Gaussian one in this scenario (samplers.toml).

    None of the seed papers made a claim about this scenario, so these rows compare and judge
    nothing; see :func:`sampler_rows`.
    """
    return sampler_rows(runs, seeds, days, SEED_SAMPLERS, "S",
                        "– (the seed papers tested class-incremental learning only)",
                        "(comparison, issue 11 §2)")  # fmt: skip


def rectified_gaussian(runs: Path, seeds: int, days: int = 10) -> list[Finding]:
    """The Gaussian clipped at zero beside the paper's (rectified.toml): a deviation's effect."""
    return sampler_rows(runs, seeds, days, ("gaussian-rectified",), "R",
                        "– (the paper's Gaussian is not clipped)",
                        "(deviation, issue 8 §1)")  # fmt: skip


def sampler_rows(
    runs: Path, seeds: int, days: int, kinds: tuple[str, ...], key: str, paper: str, rule: str
) -> list[Finding]:
    """Other sampler ``kinds`` beside the Gaussian one: an ANOVA and a paired row for each kind.

    Block 4, ``days`` days, against F1's block-4 Gaussian cells and its no-replay baseline. The
    rows judge nothing (no claim); they are left out entirely where no cell of ``kinds`` has
    run into ``runs``.
    """
    variants = {k: f"days={days},sampler.kind={k}" for k in kinds}
    if not any((runs / "generative" / v).is_dir() for v in variants.values()):
        return []
    anova = Finding(
        key,
        f"Sampler matters in the paper's scenario (none, Gaussian, {', '.join(kinds)} "
        "at block 4; last-day accuracy, repeated-measures ANOVA)",
        paper,
        reproduced=NO_CLAIM,
        rule=rule,
    )
    pairs = {
        k: Finding(
            key,
            f"{k} minus the Gaussian sampler: day-{days} accuracy and mean over days (paired t); "
            f"{k} minus none on day {days}",
            "–",
            reproduced=NO_CLAIM,
            rule=rule,
        )
        for k in kinds
    }
    folders = {
        "none": ("none", f"days={days}"),
        "gaussian": ("generative", f"days={days},replay_layer=4"),
    } | {k: ("generative", v) for k, v in variants.items()}
    groups = {k: group(runs, c, v, seeds) for k, (c, v) in folders.items()}
    rows = [anova, *pairs.values()]
    waiting = [f"{c}/{v}" for k, (c, v) in folders.items() if groups[k] is None]
    if waiting:
        for row in rows:
            row.reproduced, row.details = "not run", {"waiting_for": waiting}
        return rows
    summary = {k: per_seed(table).set_index("seed") for k, table in groups.items()}
    common = _common_seeds(*summary.values())
    long = pd.DataFrame(
        [{"seed": s, "sampler": k, "final": float(summary[k].loc[s, "final"])}
         for k in summary for s in common]
    )  # fmt: skip
    result = rm_anova(long, dv="final", within="sampler", subject="seed")
    anova.ours = paper_style(result) + f"; day {days}: " + ", ".join(
        f"{k} {_mean_text(summary[k].loc[common, 'final'])}" for k in summary
    )
    anova.details = {"seeds": common}
    gaussian, none = summary["gaussian"].loc[common], summary["none"].loc[common]
    for k, row in pairs.items():
        mine = summary[k].loc[common]
        parts = []
        for column, name in (("final", f"day {days}"), ("mean_over_days", "mean over days")):
            diff = mine[column] - gaussian[column]
            parts.append(f"{name} {_mean_text(diff)}, "
                         f"{paper_style(paired_t(mine[column], gaussian[column]))}")  # fmt: skip
        above_none = mine["final"] - none["final"]
        parts.append(f"vs none on day {days} {_mean_text(above_none)}, "
                     f"{paper_style(paired_t(mine['final'], none['final']))}")  # fmt: skip
        row.ours = "; ".join(parts)
    return rows


def table(findings: list[Finding], runs: Path, seeds: int) -> str:
    lines = [
        f"# The paper's findings on `{runs.name}` ({seeds} seeds)",
        "",
        "| finding | claim | paper | ours | reproduced | rule |",
        "|---|---|---|---|---|---|",
    ]
    for f in findings:
        ours = (
            f.ours
            if f.ours != "not run"
            else ("not run (waiting for " + ", ".join(f.details.get("waiting_for", [])) + ")")
        )
        lines.append(f"| {f.key} | {f.claim} | {f.paper} | {ours} | {f.reproduced} | {f.rule} |")
    return "\n".join(lines) + "\n"


def analyse(runs: Path, seeds: int = 5, short: int = 10, long: int = 30) -> list[Finding]:
    """Every finding on the sweep folder ``runs`` (each waits for its cells' ``seeds`` runs).

    ``short`` and ``long`` are the course lengths of F1 and of F2-F5 (the TOML files' days).
    """
    return (
        f1(runs, seeds, short)
        + f1_paper_downsample(runs, seeds, short)
        + f2_f4(runs, seeds, long)
        + f5(runs, seeds, long)
        + seed_samplers(runs, seeds, short)
        + rectified_gaussian(runs, seeds, short)
    )


def main(runs: Path, seeds: int = 5, short: int = 10, long: int = 30) -> None:
    """Test every finding on a sweep folder and write findings.json / findings.md there.

    Args:
        runs: The sweep folder the TOML files in this folder were run into.
        seeds: Seeds each cell group needs before its findings are tested.
        short: Days of the F1 courses (f1_*.toml).
        long: Days of the F2-F5 courses (days30.toml).
    """
    findings = analyse(runs, seeds, short, long)
    atomic_write_text(
        runs / "findings.json", json.dumps([f.__dict__ for f in findings], indent=1, default=str)
    )
    text = table(findings, runs, seeds)
    atomic_write_text(runs / "findings.md", text)
    print(text)


if __name__ == "__main__":
    cli(main)
