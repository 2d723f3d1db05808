"""Do selectors that read the validation set gain when it is larger? (registered test, issue 8)

Pairs, seed by seed, the courses of a sweep run with another ``data.val_per_class`` (``--runs``,
e.g. the paper's 130) against the same conditions' courses with the default's 60 (``--baseline``,
the default leaderboard's rows), on the mean test accuracy over days and the final one.
Registered in ``benchmarks/acceptance/validation_size.toml``:

    python benchmarks/acceptance/validation_size.py

writes ``validation_size.md`` and ``.json`` into ``--runs``. A condition that reads no validation
image (round-robin) must come out identical, which the table reports as ``identical``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from replay_gym.analysis import load_records
from replay_gym.atomic import atomic_write_text
from replay_gym.cli import cli
from replay_gym.metrics import standard_error
from replay_gym.stats import paired_t

RESULTS = Path(__file__).resolve().parents[1] / "results"


@dataclass(frozen=True)
class Args:
    runs: Path = RESULTS / "acceptance" / "validation_size"
    """The sweep with the other validation size (``<condition>/<variant>/seed_<k>``)."""
    variant: str = "data.val_per_class=130"
    """The variant folder of every condition in ``runs``."""
    baseline: Path = RESULTS / "leaderboard" / "default"
    """The same conditions with the default's validation set (``<condition>/<baseline_variant>/
    seed_<k>``)."""
    baseline_variant: str = "base"
    """The variant folder of every condition in ``baseline`` (a leaderboard row: ``base``)."""
    out_name: str = "validation_size"
    """Name of the ``.md`` and ``.json`` written into ``runs``."""
    conditions: tuple[str, ...] = ("weakest", "regression", "round-robin")
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)


def test_curve(run: Path) -> np.ndarray:
    """Test accuracy per day of one finished course, day 1 first.

    Raises:
        ValueError: If the course is missing or unfinished.
    """
    if not (run / "summary.json").exists():
        raise ValueError(f"no finished course in {run}")
    records = sorted(load_records(run), key=lambda r: r["day"])
    return np.array([r["test_accuracy"] for r in records])


def compare(args: Args) -> dict:
    """Per condition: both settings' mean-over-days and final accuracy, and the paired change."""
    rows = []
    for condition in args.conditions:
        new = [test_curve(args.runs / condition / args.variant / f"seed_{s}") for s in args.seeds]
        old = [test_curve(args.baseline / condition / args.baseline_variant / f"seed_{s}")
               for s in args.seeds]  # fmt: skip
        same = all(np.array_equal(a, b) for a, b in zip(new, old, strict=True))
        row: dict = {"condition": condition, "identical": same}
        for name, pick in (("mean_over_days", np.mean), ("final", lambda c: c[-1])):
            a, b = [float(pick(c)) for c in new], [float(pick(c)) for c in old]
            diff = np.subtract(a, b)
            test = paired_t(a, b) if np.ptp(diff) > 1e-12 else None  # spread, not rounding
            row[name] = {
                "new": _mean_sem(a), "baseline": _mean_sem(b), "change": _mean_sem(diff),
                "t": None if test is None else test.statistic,
                "p": None if test is None else test.p, "df": len(diff) - 1,
            }  # fmt: skip
        rows.append(row)
    return {"seeds": list(args.seeds), "variant": args.variant, "rows": rows}


def _mean_sem(values) -> dict:
    values = [float(v) for v in values]
    return {"mean": float(np.mean(values)), "sem": standard_error(values), "per_seed": values}


def markdown(result: dict, args: Args) -> str:
    def ms(v: dict, sign: str = "") -> str:
        return f"{v['mean']:{sign}.3f} ± {v['sem']:.3f}"

    lines = [
        f"Test accuracy, seeds {result['seeds']}: `{args.variant}` (`{_short(args.runs)}`) "
        f"against `{args.baseline_variant}` (`{_short(args.baseline)}`), paired over seeds.",
        "",
        "| condition | measure | baseline | other size | change (paired t) |",
        "|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        for name in ("mean_over_days", "final"):
            v = row[name]
            change = "identical on every seed and day" if row["identical"] else (
                f"{ms(v['change'], '+')} (t({v['df']})={v['t']:.2f}, p={v['p']:.3g})"
                if v["t"] is not None else f"{ms(v['change'], '+')}")  # fmt: skip
            lines.append(f"| {row['condition']} | {name.replace('_', ' ')} | "
                         f"{ms(v['baseline'])} | {ms(v['new'])} | {change} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def _short(path: Path) -> str:
    """``path`` from the repository's root when it lies inside it (tables move with the repo)."""
    try:
        return str(path.resolve().relative_to(RESULTS.parents[1]))
    except ValueError:
        return str(path)


def main(args: Args) -> dict:
    result = compare(args)
    result["baseline"] = f"{_short(args.baseline)}/<condition>/{args.baseline_variant}"
    text = markdown(result, args)
    atomic_write_text(args.runs / f"{args.out_name}.json", json.dumps(result, indent=1))
    atomic_write_text(args.runs / f"{args.out_name}.md", text)
    print(text)
    return result


if __name__ == "__main__":
    main(cli(Args))
