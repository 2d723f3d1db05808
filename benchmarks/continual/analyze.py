"""Class-incremental results (issue 11 §1 acceptance and §3): sampler x selector, ACC/BWT/early classes.

Usage (after the sweeps in this folder have run; see benchmarks/RESULTS.md):
    python benchmarks/continual/analyze.py --runs benchmarks/results/continual/default \
        --paper-runs benchmarks/results/calibration/runs

Reads a class-incremental sweep folder (``<condition>/<variant>/seed_<k>``: ``base`` is the
Gaussian sampler, ``sampler.kind=<kind>`` the others), takes each course's last record (its
accuracy matrix, ACC, BWT, forgetting and the accuracy on the first 20 % and 50 % of classes,
all on the test split, from :meth:`~replay_gym.scenarios.ClassIncrementalScenario.course_summary`)
and writes ``RUNS/continual.json``, ``RUNS/continual.md`` and two figures: the mean accuracy
matrix of each schedule (``accuracy_matrix.png``) and first-task accuracy after every night
(``first_task.png``). A group whose seeds have not all finished is listed as waiting, never
dropped; a test whose groups are missing is ``not run``.

Acceptance (issue 11 §1): without replay the first task is forgotten (its accuracy after the last
task <= 0.10); generative replay raises ACC (paired t-test over seeds, p < .05); oracle minus
round-robin on ACC is larger than in the paper scenario (Welch's t-test, p < .05; there, final
test accuracy, from the paper-scenario runs under ``--paper-runs``, ``<condition>/seed_<k>`` or
a sweep's ``<condition>/base/seed_<k>``), read for the greedy ``oracle`` and, where it has run, the
night-level ``oracle-night``, each against its own paper-scenario gap. The seed papers' claims
are tested beside them, each on the same seeds (paired t-tests). Where the folder holds selectors
(``weakest``, ``regression``, the bandits, ``random``; ``--selectors`` adds your own), a table
sets each against round-robin and ``oracle-night`` (paired t, Holm-adjusted over the selectors).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from replay_gym.analysis import load_records
from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.plots import new_figure, save_figure
from replay_gym.results import is_run_dir
from replay_gym.stats import holm, paired_t, paper_style, rm_anova_two_way, welch_t
from replay_gym.stats import mean_sem_text as text

ALPHA = 0.05
FORGOTTEN = 0.10
CONDITIONS = ("none", "generative", "round-robin", "weakest", "regression", "oracle",
              "oracle-night")  # fmt: skip
REPLAYING = ("generative", "round-robin", "weakest", "regression", "oracle")
SELECTORS = ("weakest", "regression", "exp3s", "ucb1", "thompson", "epsilon-greedy", "random")
"""The selectors compared with round-robin and the night-level ceiling (the leaderboard's rows
but the discounted and SB3 ones), in the order of their table."""
EXTRA_SELECTORS = tuple(s for s in SELECTORS if s not in CONDITIONS)
SAMPLERS = ("gaussian", "cvae", "cvae-repulsion", "recall", "cvae-hard-targets")
VARIANTS = {
    "gaussian": "base",
    "cvae": "sampler.kind=cvae",
    "cvae-repulsion": "sampler.kind=cvae-repulsion",
    "recall": "sampler.kind=recall",
    "cvae-hard-targets": "sampler.cvae.soft_targets=False,sampler.kind=cvae",
}
"""Each sampler's folder in the sweep (``base``: the preset's Gaussian); ``cvae-hard-targets``
is the cvae with hard labels for every replayed sample (default_frozen_cvae_targets.toml)."""
SCHEDULES = {
    "gaussian": CONDITIONS + EXTRA_SELECTORS, "cvae": REPLAYING, "cvae-repulsion": REPLAYING,
    "recall": REPLAYING,
    "cvae-hard-targets": ("generative",),
}  # fmt: skip
"""The conditions each sampler's grid runs (a group never run is not listed as waiting)."""
OPTIONAL = {("oracle-night", "gaussian"), ("generative", "cvae-hard-targets"),
            *((selector, "gaussian") for selector in EXTRA_SELECTORS)}  # fmt: skip
"""Groups added after the first grids: absent from a sweep folder, they are left out rather
than listed as waiting."""
METRICS = ("acc", "bwt", "forgetting", "first_20pct_accuracy", "first_50pct_accuracy")
GRID_SAMPLERS = ("gaussian", "cvae", "cvae-repulsion", "recall")
"""The samplers of the sampler x schedule grid (every replaying schedule)."""


def variant_of(sampler: str, base: str = "base") -> str:
    """The sweep's folder name of a sampler's cells.

    ``base`` is the preset's own (Gaussian) sampler's: ``base`` in a plain sweep, the setting
    (``sampler.samples_per_class=240``) in one whose ``[set]`` changed every cell.
    """
    return base if sampler == "gaussian" else VARIANTS[sampler]


def group_folder(runs: Path, condition: str, sampler: str, base: str = "base") -> Path:
    """Where a (condition, sampler) group's seeds lie in the sweep folder."""
    return runs / condition / variant_of(sampler, base)


def load_group(runs: Path, condition: str, sampler: str, seeds: tuple[int, ...],
               base: str = "base") -> dict | None:  # fmt: skip
    """Per seed, the course's records; None until every seed has finished."""
    courses = {}
    for seed in seeds:
        run = group_folder(runs, condition, sampler, base) / f"seed_{seed}"
        if not is_run_dir(run):
            return None
        courses[seed] = load_records(run)
    return courses


def last(courses: dict, key: str) -> np.ndarray:
    """``key`` of each course's last record, in seed order."""
    return np.array([records[-1][key] for records in courses.values()], dtype=np.float64)


def first_task_curve(courses: dict) -> np.ndarray:
    """seeds x days: test accuracy on the first task after each night."""
    return np.array(
        [[r["task_test_accuracy"][0] for r in records] for records in courses.values()],
        dtype=np.float64,
    )


def mean_matrix(courses: dict) -> np.ndarray:
    """The accuracy matrix averaged over seeds (NaN above the diagonal)."""
    stack = [
        [[np.nan if v is None else v for v in row] for row in records[-1]["accuracy_matrix"]]
        for records in courses.values()
    ]
    with warnings.catch_warnings():  # the cells above the diagonal are NaN in every seed
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(stack, dtype=np.float64), axis=0)


@dataclass
class Check:
    """One row of the acceptance / claims table."""

    name: str
    target: str
    ours: str = "not run"
    met: bool | None = None
    details: dict = field(default_factory=dict)
    claim: bool = True
    """False for a comparison the issue asks for without a claim to meet or miss."""


def _paired(a: dict | None, b: dict | None, key: str, name: str, target: str,
            better: bool = True, claim: bool = True) -> Check:  # fmt: skip
    """a − b on ``key`` over seeds: mean ± s.e.m., paired t-test; met when a > b at p < .05.

    Without a ``claim``, the difference and test are reported and ``met`` stays None.
    """
    check = Check(name, target, claim=claim)
    if a is None or b is None:
        return check
    x, y = last(a, key), last(b, key)
    difference = x - y
    test = paired_t(x, y)
    check.ours = f"{text(difference)}, {paper_style(test)}"
    check.met = bool(test.p < ALPHA and (difference.mean() > 0) == better) if claim else None
    check.details = {"difference": difference.tolist(), "t": test.statistic, "p": test.p}
    return check


def paper_run(paper_runs: Path, condition: str, seed: int) -> Path:
    """A paper-scenario course: ``<condition>/seed_<k>`` (the acceptance script's layout) or,
    failing that, ``<condition>/base/seed_<k>`` (a sweep's)."""
    plain = paper_runs / condition / f"seed_{seed}"
    return plain if is_run_dir(plain) else paper_runs / condition / "base" / f"seed_{seed}"


def paper_oracle_gap(paper_runs: Path | None, seeds: tuple[int, ...],
                     ceiling: str = "oracle") -> np.ndarray | None:  # fmt: skip
    """``ceiling`` minus round-robin final test accuracy per seed in the paper scenario, if run."""
    if paper_runs is None:
        return None
    finals = {}
    for condition in (ceiling, "round-robin"):
        runs = [paper_run(paper_runs, condition, s) for s in seeds]
        if not all(is_run_dir(r) for r in runs):
            return None
        finals[condition] = np.array([load_records(r)[-1]["test_accuracy"] for r in runs])
    return finals[ceiling] - finals["round-robin"]


def _gap_check(groups: dict, ceiling: str, paper_gap: np.ndarray | None) -> Check:
    """ACC ``ceiling`` minus round-robin here against the same gap in the paper scenario.

    Met when the gap here is larger by Welch's t-test (p < .05): the two scenarios' gaps come
    from different courses, and a difference of means alone can be noise. Gaps without spread
    in either scenario (a ceiling that ends where round-robin does on every seed) are compared
    exactly, as Welch's t is undefined there.
    """
    gap = Check(f"ACC {ceiling} minus round-robin, against the paper scenario's final accuracy "
                "gap", "larger than the paper scenario's, Welch's t-test p < .05")  # fmt: skip
    top, rr = groups.get((ceiling, "gaussian")), groups.get(("round-robin", "gaussian"))
    if top is not None and rr is not None:
        ours = last(top, "acc") - last(rr, "acc")
        if paper_gap is None:
            gap.ours = f"{text(ours)}; paper scenario not run"
        elif np.ptp(ours) == 0 and np.ptp(paper_gap) == 0:  # no test needed, nor defined
            gap.ours = (f"{text(ours)} vs paper scenario {text(paper_gap)} (no spread in either: "
                        "compared exactly)")  # fmt: skip
            gap.met = bool(ours.mean() > paper_gap.mean())
            gap.details = {"class_incremental": ours.tolist(), "paper": paper_gap.tolist()}
        else:
            test = welch_t(ours, paper_gap, effect="class-incremental gap vs paper gap")
            gap.ours = f"{text(ours)} vs paper scenario {text(paper_gap)}, {paper_style(test)}"
            gap.met = bool(ours.mean() > paper_gap.mean() and test.p < ALPHA)
            gap.details = {"class_incremental": ours.tolist(), "paper": paper_gap.tolist(),
                           "t": test.statistic, "df": test.df[0], "p": test.p}  # fmt: skip
    return gap


def acceptance(groups: dict, paper_gaps: dict[str, np.ndarray | None]) -> list[Check]:
    """Issue 11 §1's three criteria on the Gaussian sampler's courses.

    The oracle-gap criterion is read for each ceiling in ``paper_gaps`` (``oracle``, and
    ``oracle-night`` where it has run), each against its own paper-scenario gap.
    """
    none = groups.get(("none", "gaussian"))
    forgotten = Check("none: first-task test accuracy after the last task", f"<= {FORGOTTEN}")
    if none is not None:
        values = np.array([r[-1]["accuracy_matrix"][-1][0] for r in none.values()])
        forgotten.ours, forgotten.met = text(values), bool(values.mean() <= FORGOTTEN)
        forgotten.details = {"per_seed": values.tolist()}
    checks = [
        forgotten,
        _paired(groups.get(("generative", "gaussian")), none, "acc",
                "ACC: generative minus none", "> 0, paired t-test p < .05"),  # fmt: skip
    ]
    for ceiling, paper_gap in paper_gaps.items():
        if ceiling == "oracle" or (ceiling, "gaussian") in groups:
            checks.append(_gap_check(groups, ceiling, paper_gap))
    return checks


def claims(groups: dict) -> list[Check]:
    """The seed papers' claims, each beside ours on the same seeds (generative schedule)."""
    none = groups.get(("none", "gaussian"))

    def g(sampler: str) -> dict | None:
        return groups.get(("generative", sampler))

    return [
        _paired(g("cvae"), none, "acc", "van de Ven et al.: internal (conditional VAE) replay "
                "raises class-incremental ACC over no replay", "> 0, p < .05"),  # fmt: skip
        _paired(g("cvae"), g("gaussian"), "acc", "cvae minus the paper's Gaussian sampler (ACC)",
                "(comparison asked for; no claim)", claim=False),  # fmt: skip
        _paired(g("cvae-hard-targets"), g("cvae"), "acc", "cvae with hard labels minus cvae "
                "with BI-R's soft targets (ACC)", "(ablation; no claim)", claim=False),  # fmt: skip
        _paired(g("recall"), none, "acc", "Ji et al.: automatic recall, with no generator and "
                "no buffer, raises ACC over no replay", "> 0, p < .05"),  # fmt: skip
        _paired(g("cvae-repulsion"), g("cvae"), "first_50pct_accuracy",
                "Millichamp & Chen: repulsion raises accuracy on the first 50 % of classes",
                "paper: +0.032 (CIFAR-100)"),  # fmt: skip
        _paired(g("cvae-repulsion"), g("cvae"), "first_20pct_accuracy",
                "Millichamp & Chen: repulsion raises accuracy on the first 20 % of classes",
                "paper: +0.043 (CIFAR-100)"),  # fmt: skip
    ]


def results_table(groups: dict, waiting: list[str]) -> list[str]:
    """Markdown rows: sampler x condition, every metric as mean ± s.e.m."""
    lines = [
        "| sampler | condition | ACC | BWT | forgetting | first 20 % | first 50 % |",
        "|---|---|---|---|---|---|---|",
    ]
    for sampler in SAMPLERS:
        for condition in SCHEDULES[sampler]:
            courses = groups.get((condition, sampler))
            if courses is None:
                continue
            row = " | ".join(text(last(courses, m)) for m in METRICS)
            lines.append(f"| {sampler if condition != 'none' else '–'} | {condition} | {row} |")
    if waiting:
        lines += ["", "Waiting for: " + ", ".join(waiting)]
    return lines


def acc_grid(groups: dict) -> list[str]:
    """Markdown rows: ACC of each sampler (rows) under each replaying schedule (columns)."""
    lines = ["| sampler | " + " | ".join(REPLAYING) + " |", "|---|" + "---|" * len(REPLAYING)]
    for sampler in GRID_SAMPLERS:
        cells = [
            text(last(groups[(c, sampler)], "acc")) if (c, sampler) in groups else "–"
            for c in REPLAYING
        ]
        lines.append(f"| {sampler} | " + " | ".join(cells) + " |")
    return lines


def sampler_schedule_anova(groups: dict) -> dict | None:
    """Two-way repeated-measures ANOVA on ACC, sampler x schedule, seeds as subjects.

    Over the samplers whose every replaying schedule has finished (None while fewer than two
    have): is there a schedule effect, and does it depend on the sampler (the interaction)?
    """
    import pandas as pd

    samplers = [s for s in GRID_SAMPLERS if all((c, s) in groups for c in REPLAYING)]
    if len(samplers) < 2:
        return None
    rows = [
        {"seed": seed, "sampler": s, "schedule": c, "acc": acc}
        for s in samplers
        for c in REPLAYING
        for seed, acc in zip(groups[(c, s)], last(groups[(c, s)], "acc"), strict=True)
    ]
    tests = rm_anova_two_way(pd.DataFrame(rows), "acc", ("sampler", "schedule"), "seed")
    return {"samplers": samplers, "schedules": list(REPLAYING),
            **{name: {"text": paper_style(r), **vars(r)} for name, r in tests.items()}}  # fmt: skip


def anova_lines(anova: dict | None) -> list[str]:
    """The ANOVA as a sentence (or why it has not run)."""
    if anova is None:
        return ["Sampler x schedule ANOVA: not run (fewer than two samplers with every schedule)."]
    return [
        "Two-way repeated-measures ANOVA on ACC (statsmodels' AnovaRM; seeds as subjects; "
        f"samplers {', '.join(anova['samplers'])} x schedules {', '.join(anova['schedules'])}): "
        f"sampler {anova['sampler']['text']}; schedule {anova['schedule']['text']}; "
        f"interaction {anova['interaction']['text']}."
    ]


def selector_table(groups: dict, selectors: tuple[str, ...] = SELECTORS) -> dict | None:
    """Each selector's ACC against round-robin and against the night-level ceiling.

    Paired t-tests over seeds, Holm-adjusted over the selectors present (one family per
    reference), and the share of the ceiling's gain, (selector − round-robin) / (oracle-night −
    round-robin) on the mean ACC: 1 reaches the ceiling, 0 is round-robin. The share is given
    only where the ceiling beats round-robin (paired t, p < .05; exactly, where the gap has no
    spread): a ratio over a gap that may be noise says nothing. None without round-robin,
    oracle-night or any selector (Gaussian sampler).
    """
    rr, top = groups.get(("round-robin", "gaussian")), groups.get(("oracle-night", "gaussian"))
    present = [s for s in selectors if (s, "gaussian") in groups]
    if rr is None or top is None or not present:
        return None
    rr_acc, top_acc = last(rr, "acc"), last(top, "acc")
    ceiling = _paired_gap(top_acc, rr_acc)
    above = ceiling["difference"] > 0 and ceiling["p"] < ALPHA
    room = ceiling["difference"] if above else None
    rows = []
    for selector in present:
        acc = last(groups[(selector, "gaussian")], "acc")
        share = float(acc.mean() - rr_acc.mean()) / room if room else None
        row = {"condition": selector, "acc": acc.tolist(), "share_of_ceiling": share}
        for key, reference in (("vs_round_robin", rr_acc), ("vs_ceiling", top_acc)):
            row[key] = _paired_gap(acc, reference)
        rows.append(row)
    for key in ("vs_round_robin", "vs_ceiling"):
        for row, adjusted in zip(rows, holm([r[key]["p"] for r in rows]), strict=True):
            row[key]["p_holm"] = adjusted
    return {"round_robin": text(rr_acc), "ceiling": text(top_acc),
            "ceiling_gain": ceiling["text"], "ceiling_above_round_robin": above,
            "rows": rows}  # fmt: skip


def _paired_gap(a: np.ndarray, b: np.ndarray) -> dict:
    """a − b over seeds with its paired t-test; a gap without spread is compared exactly.

    A constant difference leaves the t-test undefined (scipy gives NaN for a zero one, which
    Holm's correction refuses): equal on every seed is p = 1, a constant non-zero gap p = 0.
    """
    difference = a - b
    if np.ptp(difference) == 0:
        equal = bool(difference[0] == 0)
        t = 0.0 if equal else float(np.sign(difference[0]) * np.inf)
        return {"difference": float(difference.mean()),
                "text": f"{text(difference)} (no spread: exact)",
                "t": t, "p": 1.0 if equal else 0.0}  # fmt: skip
    test = paired_t(a, b)
    return {"difference": float(difference.mean()),
            "text": f"{text(difference)}, {paper_style(test)}",
            "t": test.statistic, "p": test.p}  # fmt: skip


def selector_lines(table: dict | None) -> list[str]:
    """The selector table as markdown (or why it has not run)."""
    if table is None:
        return ["Selectors against round-robin: not run (needs round-robin, oracle-night and at "
                "least one selector)."]  # fmt: skip
    lines = [
        "Selectors against round-robin and the night-level ceiling (ACC; paired t over seeds, "
        f"Holm-adjusted p over the {len(table['rows'])} selectors; round-robin "
        f"{table['round_robin']}, oracle-night {table['ceiling']}; oracle-night − round-robin "
        f"{table['ceiling_gain']}"
        + ("):" if table["ceiling_above_round_robin"] else
           ": the ceiling does not beat round-robin, so no share of its gain is given):"),
        "",
        "| selector | ACC | − round-robin | Holm p | − oracle-night | Holm p | share of the "
        "ceiling's gain |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table["rows"]:
        share = "–" if row["share_of_ceiling"] is None else f"{row['share_of_ceiling']:+.2f}"
        lines.append(
            f"| {row['condition']} | {text(np.array(row['acc']))} | "
            f"{row['vs_round_robin']['text']} | {_p(row['vs_round_robin']['p_holm'])} | "
            f"{row['vs_ceiling']['text']} | {_p(row['vs_ceiling']['p_holm'])} | {share} |"
        )
    return lines


def _p(p: float) -> str:
    """A p-value as the tables write it (``<.001``, ``.028``)."""
    return "<.001" if p < 0.001 else f"{p:.3f}".removeprefix("0")


def check_rows(checks: list[Check]) -> list[str]:
    """Markdown rows of a checks table."""
    lines = ["| check | target | ours | met |", "|---|---|---|---|"]
    mark = {True: "yes", False: "no", None: "not run"}
    lines += [
        f"| {c.name} | {c.target} | {c.ours} | "
        f"{mark[c.met] if c.claim or c.ours == 'not run' else '– (no claim)'} |"
        for c in checks
    ]
    return lines


def figures(groups: dict, out: Path) -> list[Path]:
    """The mean accuracy matrices and first-task accuracy over days (Gaussian sampler)."""
    shown = [c for c in CONDITIONS if (c, "gaussian") in groups]
    if not shown:
        return []
    fig = new_figure(3.0 * len(shown), 3.2)
    for i, condition in enumerate(shown):
        ax = fig.add_subplot(1, len(shown), i + 1)
        matrix = mean_matrix(groups[(condition, "gaussian")])
        ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
        for (t, j), value in np.ndenumerate(matrix):
            if not np.isnan(value):
                ax.text(j, t, f"{value:.2f}", ha="center", va="center", fontsize=6, color="w")
        ax.set_title(condition, fontsize=9)
        ax.set_xlabel("task tested")
        ax.set_ylabel("after task" if i == 0 else "")
    paths = [save_figure(fig, out / "accuracy_matrix.png")]
    fig = new_figure()
    ax = fig.add_subplot()
    for condition in shown:
        curve = first_task_curve(groups[(condition, "gaussian")])
        days = np.arange(1, curve.shape[1] + 1)
        mean = curve.mean(axis=0)
        sem = curve.std(axis=0, ddof=1) / np.sqrt(len(curve)) if len(curve) > 1 else 0 * mean
        ax.plot(days, mean, label=condition)
        ax.fill_between(days, mean - sem, mean + sem, alpha=0.2)
    ax.set_xlabel("day")
    ax.set_ylabel("test accuracy on the first task")
    ax.legend(fontsize=7)
    paths.append(save_figure(fig, out / "first_task.png"))
    return paths


def analyse(runs: Path, paper_runs: Path | None = None,
            seeds: tuple[int, ...] = (0, 1, 2, 3, 4), out: Path | None = None,
            base: str = "base", selectors: tuple[str, ...] = ()) -> dict:  # fmt: skip
    """Every group, the acceptance and the claims; written to ``out`` (default: ``runs``).

    ``selectors`` adds your own (by condition name, Gaussian sampler) to the selector table.
    """
    if not runs.is_dir():
        raise FileNotFoundError(f"{runs}: no such sweep folder")
    if not base or "/" in base:
        raise ValueError(f"base must name one folder of the sweep (e.g. 'base'), got {base!r}")
    out = runs if out is None else out
    out.mkdir(parents=True, exist_ok=True)
    extra = tuple(s for s in selectors if s not in SCHEDULES["gaussian"])
    for selector in extra:  # a user's selector is asked for by name: its folder must exist
        folder = group_folder(runs, selector, "gaussian", base)
        if not folder.is_dir():
            raise FileNotFoundError(f"--selectors {selector}: no folder {folder}")
    groups, waiting = {}, []
    for sampler in SAMPLERS:
        for condition in SCHEDULES[sampler] + (extra if sampler == "gaussian" else ()):
            optional = (condition, sampler) in OPTIONAL
            if optional and not group_folder(runs, condition, sampler, base).is_dir():
                continue
            courses = load_group(runs, condition, sampler, seeds, base)
            if courses is None:
                waiting.append(f"{condition}/{variant_of(sampler, base)}")
            else:
                groups[(condition, sampler)] = courses
    gaps = {c: paper_oracle_gap(paper_runs, seeds, c) for c in ("oracle", "oracle-night")}
    checks = acceptance(groups, gaps)
    seed_claims = claims(groups)
    paths = figures(groups, out)
    anova = sampler_schedule_anova(groups)
    selector_rows = selector_table(groups, SELECTORS + extra)
    result = {
        "seeds": list(seeds),
        "base": base,
        "groups": {
            f"{c}/{s}": {m: last(courses, m).tolist() for m in METRICS}
            for (c, s), courses in groups.items()
        },
        "waiting": waiting,
        "acceptance": [vars(c) for c in checks],
        "claims": [vars(c) for c in seed_claims],
        "sampler_schedule_anova": anova,
        "selectors": selector_rows,
        "figures": [p.name for p in paths],
    }
    lines = [
        f"Class-incremental results in `{runs}`: seeds {list(seeds)}, test split, mean ± s.e.m."
        + ("" if base == "base" else f" The Gaussian sampler's cells: `{base}`."),
        "",
        *results_table(groups, waiting),
        "",
        "ACC by sampler and schedule:",
        "",
        *acc_grid(groups),
        "",
        *anova_lines(anova),
        "",
        *selector_lines(selector_rows),
        "",
        "Acceptance (issue 11 §1):",
        "",
        *check_rows(checks),
        "",
        "The seed papers' claims beside ours (generative schedule, same seeds):",
        "",
        *check_rows(seed_claims),
        "",
    ]
    atomic_write_text(out / "continual.json", json.dumps(result, indent=1) + "\n")
    atomic_write_text(out / "continual.md", "\n".join(lines))
    return result


def main(runs: Path, paper_runs: Path | None = None,
         seeds: tuple[int, ...] = (0, 1, 2, 3, 4), out: Path | None = None,
         base: str = "base", selectors: tuple[str, ...] = ()) -> None:  # fmt: skip
    """Analyse a class-incremental sweep folder and print the table.

    Args:
        runs: The sweep's output folder.
        paper_runs: Paper-scenario runs ``<condition>/seed_<k>`` (the calibration acceptance's
            ``runs`` folder) for the oracle-gap comparison.
        seeds: The seeds every group must have.
        out: Where the tables and figures go (default: ``runs``), e.g. for another set of seeds.
        base: The folder of the preset's Gaussian sampler's cells: ``base``, or the setting a
            sweep's ``[set]`` gave every cell (``sampler.samples_per_class=240``).
        selectors: Your own selectors (condition names) to add to the selector table.
    """
    analyse(runs, paper_runs, seeds, out, base, selectors)
    print(((out or runs) / "continual.md").read_text())


if __name__ == "__main__":
    cli(main)
