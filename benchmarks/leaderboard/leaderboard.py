"""The selector leaderboard: every selector on held-out seeds, between round-robin and the oracle.

Usage:
    python benchmarks/leaderboard/leaderboard.py run                 # every row, both boards
    python benchmarks/leaderboard/leaderboard.py run --presets default fashion-mnist --workers 2
    python benchmarks/leaderboard/leaderboard.py add --name my-selector --imports my_package.selectors
    python benchmarks/leaderboard/leaderboard.py add --name ucb1 --agent discount 0.98 --row ucb1-discount0.98
    python benchmarks/leaderboard/leaderboard.py add-sb3 --algo ppo --timesteps 20000 --workers 2
    python benchmarks/leaderboard/leaderboard.py build               # the tables only

A board is one data set (a preset). Its cells are sweep cells, ``OUT/<preset>/<row>/base/
seed_<k>``, run through :func:`replay_gym.sweep.backends.run_cell` (finished cells are skipped,
killed ones resume), on the evaluation seeds (default 0-4, fixed before running). SB3 rows are
trained on other seeds (``--train-seed``, default 1000: courses 1000, 1001, ...) and evaluated
on the same held-out seeds through ``run --condition sb3``.

``build`` writes ``OUT/leaderboard.md`` and ``.json``: per board and row, final and mean-over-days
test accuracy (mean ± s.e.m.), the normalised score (selector − round-robin) / (oracle −
round-robin) averaged over nights (mean ± s.e.m.), a paired t-test against round-robin on
the mean over days, and how the row aims its replay (:mod:`replay_gym.replay_profile`'s
targeting and night entropy); then across boards, the interquartile mean of the normalised
score and the probability of improvement over round-robin (mean-over-days accuracy), each with a
stratified-bootstrap 95 % interval (Agarwal et al. 2021, as rliable computes them).

Adding a row is one command: ``add --name NAME`` runs the cells of a registered selector
(``--imports`` a module that registers yours with ``replay_gym.agents.register_selector``) and
rebuilds.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from replay_gym.analysis import read_json
from replay_gym.atomic import atomic_write_text
from replay_gym.cli import subcommand_cli
from replay_gym.replay_profile import run_profile
from replay_gym.results import find_run_dirs, load_runs, normalised_scores, per_seed
from replay_gym.stats import (
    iqm_ci,
    mean_sem,
    mean_sem_text,
    paired_t,
    paper_style,
    probability_of_improvement_ci,
)
from replay_gym.sweep.backends import pending, run_local
from replay_gym.sweep.grid import Cell, check_selector_arguments

OUT = Path(__file__).resolve().parents[1] / "results" / "leaderboard"
SELECTORS = (
    "round-robin", "oracle", "oracle-night", "regression", "exp3s", "ucb1", "thompson",
    "epsilon-greedy", "weakest", "random",
)  # fmt: skip
"""Rows every board has; round-robin and the (greedy, one-step) oracle are also the score's 0
and 1, as the issue defines it; ``oracle-night``, the night-level privileged ceiling, is a row."""
BASELINE, CEILING = "round-robin", "oracle"
TARGETING_NOTE = (
    "Targeting: Spearman's rho between a night's replays per class and the class's test "
    "accuracy after that day (negative = weak classes replayed more; – where every class is "
    "replayed equally); night entropy: 1 = uniform replay, 0 = one class all night "
    "(benchmarks/leaderboard/replay_profile.py has more)."
)
SB3_CHECKPOINT_STEPS = 1000
"""Training steps between an SB3 row's checkpoints (about 20 nights of the default)."""


def board_dir(out: Path, preset: str) -> Path:
    """Where one data set's cells live."""
    return out / preset


def row_cells(
    preset: str, row: str, seeds: tuple[int, ...], selector: str | None = None,
    agent: dict[str, str] | None = None, imports: tuple[str, ...] = (),
) -> list[dict]:
    """One row's cells, ``OUT/<preset>/<row>/base/seed_<k>``: ``selector`` (default: the row's
    name) with the selector arguments ``agent`` (as ``run --agent`` takes them); each cell's
    process imports ``imports`` first (where a user's selector registers itself)."""
    cells = []
    for seed in seeds:
        cell = Cell(selector or row, seed, preset, agent=tuple(sorted((agent or {}).items())))
        extra = {"imports": list(imports)} if imports else {}
        cells.append({**cell.to_dict(), "dir": str(Path(row) / "base" / f"seed_{seed}"), **extra})
    return cells


def run_rows(
    out: Path, preset: str, rows: tuple[str, ...], seeds: tuple[int, ...], threads: int,
    workers: int = 1, selector: str | None = None, agent: dict[str, str] | None = None,
    imports: tuple[str, ...] = (),
) -> list[dict]:
    """Run (or skip, or resume) each row's cells on ``seeds``, ``workers`` at once; the outcomes.

    Every cell is tried (the sweep's local pool); then a failed one stops the command, naming it.
    ``selector`` and ``agent`` (see :func:`row_cells`) apply to every row. A row whose finished
    cells ran another selector or other arguments is refused before anything runs.
    """
    cells = [c for row in rows for c in row_cells(preset, row, seeds, selector, agent, imports)]
    try:
        cells = pending(cells, board_dir(out, preset))
    except ValueError as error:
        raise SystemExit(f"{preset}: {error} (on a board: another --row)") from None

    def report(outcome: dict) -> None:
        print(f"{preset}: {outcome['status']:7} {outcome['dir']}", flush=True)

    outcomes = run_local(cells, board_dir(out, preset), workers=workers, threads=threads,
                         report=report)  # fmt: skip
    stopped = [o for o in outcomes if o["interrupted"]]
    if stopped:  # the table would be built from the cells that happened to finish
        raise SystemExit(f"{preset}: stopped by a signal ({len(stopped)} cells stopped at a "
                         "checkpoint or not started); run the same command again to continue")
    failed = [o for o in outcomes if o["status"] == "failed"]
    if failed:
        raise SystemExit("\n".join(f"{preset} {o['dir']} failed:\n{o['error']}" for o in failed))
    return outcomes


def train_and_run_sb3(
    out: Path, preset: str, algo: str, timesteps: int, train_seed: int, seeds: tuple[int, ...],
    threads: int, workers: int = 1,
) -> str:
    """Train an SB3 agent on training seeds, then evaluate it on ``seeds``; the row's name.

    Training runs ``workers`` environments side by side (subprocesses) and checkpoints every
    :data:`SB3_CHECKPOINT_STEPS` steps, so a killed command resumes its training where it
    stopped when run again.
    """
    from replay_gym.agents.sb3 import TrainSB3Args, list_checkpoints, train_sb3
    from replay_gym.runner import RunArgs, run

    row = f"sb3-{algo}"
    envs = f"-envs{workers}" if workers > 1 else ""
    model = board_dir(out, preset) / "models" / f"{algo}-{timesteps}-seed{train_seed}{envs}.zip"
    row_dir = board_dir(out, preset) / row
    others = row_models(row_dir, seeds) - {model.name}
    if others:  # the evaluated cells would be kept, so a new model would never be scored
        raise SystemExit(
            f"{row} on the {preset!r} board was evaluated with {', '.join(sorted(others))}, "
            f"not {model.name}; the model's name carries the training envs (--workers "
            f"{_envs_of(sorted(others)[0])} trained it): run with those settings to reuse it, or "
            f"delete {row_dir} to replace the row"
        )
    if not model.exists():
        args = TrainSB3Args(
            algo=algo, preset=preset, total_timesteps=timesteps, seed=train_seed, out=model,
            n_envs=workers, vec_env="subproc" if workers > 1 else "dummy",
            threads=1 if workers > 1 else threads, checkpoint_every=SB3_CHECKPOINT_STEPS,
        )  # fmt: skip
        checkpoints = model.with_suffix(".ckpt")
        if list_checkpoints(checkpoints):  # a killed training: finish its target
            args = dataclasses.replace(args, total_timesteps=None, resume=checkpoints)
        train_sb3(args)
    changed = settings_changed(model, preset)
    if changed:
        raise SystemExit(
            f"{model} was trained on other settings than the {preset!r} board's ("
            + "; ".join(changed[:8])
            + "): delete it, with its .ckpt and .zip.json, to train the row again"
        )
    for seed in seeds:
        run_dir = board_dir(out, preset) / row / "base" / f"seed_{seed}"
        if find_runs(run_dir):
            continue
        run(RunArgs(condition="sb3", preset=preset, seeds=1, first_seed=seed, out=run_dir,
                    overwrite=True, model=model, progress=False, threads=threads))  # fmt: skip
    return row


def row_models(row_dir: Path, seeds) -> set[str]:
    """File names of the models that the row's finished cells on ``seeds`` were evaluated with."""
    names = set()
    for seed in seeds:
        for run_dir in find_runs(row_dir / "base" / f"seed_{seed}"):
            recorded = read_json(run_dir / "config.json").get("model")
            if recorded:
                names.add(Path(recorded).name)
    return names


def _envs_of(model_name: str) -> int:
    """Training envs encoded in a model's file name (``...-envs<N>.zip``; none: 1)."""
    stem = Path(model_name).stem
    return int(stem.rsplit("-envs", 1)[1]) if "-envs" in stem else 1


def settings_changed(model: Path, preset: str) -> list[str]:
    """``key: saved X, now Y`` for each environment setting the model was not trained with.

    A board's SB3 row must be trained on the board's own preset; a model trained on anything
    else (another preset, an older preset definition) is refused rather than evaluated.
    """
    from replay_gym.agents.sb3 import read_sidecar
    from replay_gym.config import config_to_dict
    from replay_gym.config import preset as preset_config
    from replay_gym.statefile import differences

    sidecar = read_sidecar(model)
    if sidecar is None or "env" not in sidecar:
        return [f"{model} has no sidecar recording its environment"]
    board = json.loads(json.dumps(config_to_dict(preset_config(preset))))
    return differences(sidecar["env"], board)


def find_runs(path: Path) -> list[Path]:
    """Finished run directories under ``path`` (none when it does not exist yet)."""
    try:
        return find_run_dirs(path)
    except (FileNotFoundError, ValueError):
        return []


def board_table(out: Path, preset: str) -> dict:
    """Every finished row of one board with its per-seed values and tests."""
    folder = board_dir(out, preset)
    rows = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "models") if (
        folder.is_dir()) else []  # fmt: skip
    tables, run_dirs = {}, {}
    for row in rows:
        dirs = find_runs(folder / row)
        if dirs:
            table = load_runs(dirs)
            table["label"] = row
            tables[row], run_dirs[row] = table, dirs
    if BASELINE not in tables or CEILING not in tables:
        return {"preset": preset, "rows": {}, "missing": [r for r in (BASELINE, CEILING)
                                                          if r not in tables]}
    import pandas as pd

    everything = pd.concat(tables.values(), ignore_index=True)
    base = per_seed(tables[BASELINE]).set_index("seed")
    result = {"preset": preset, "rows": {}, "ceiling": ceiling_room(everything)}
    for row, table in tables.items():
        values = per_seed(table).set_index("seed")
        seeds = sorted(set(values.index) & set(base.index))
        entry = {
            "seeds": [int(s) for s in values.index],
            "final": values["final"].tolist(),
            "mean_over_days": values["mean_over_days"].tolist(),
            **policy_profile(run_dirs[row], [int(s) for s in values.index]),
        }
        if row not in (BASELINE, CEILING):
            try:
                score = normalised_scores(everything, row, BASELINE, CEILING)
                entry["normalised"] = [None if np.isnan(v) else float(v) for v in score.per_seed]
            except ValueError as error:  # seeds or days differ from the baseline's
                entry["normalised_error"] = str(error)
            if len(seeds) >= 2:
                test = paired_t(values.loc[seeds, "mean_over_days"],
                                base.loc[seeds, "mean_over_days"])  # fmt: skip
                entry["vs_round_robin"] = {"t": test.statistic, "df": test.df[0], "p": test.p,
                                           "text": paper_style(test)}  # fmt: skip
        result["rows"][row] = entry
    return result


def policy_profile(run_dirs: list[Path], seeds: list[int]) -> dict[str, list]:
    """Per seed, how concentrated a row's nights are and how aimed at weak classes.

    :mod:`replay_gym.replay_profile`'s ``entropy`` and ``targeting`` (None where a seed's nights
    have none, e.g. round-robin's equal counts); empty for courses it does not describe
    (class-incremental ones).
    """
    profiles = {}
    for run_dir in run_dirs:
        try:
            profiles[int(run_dir.name.removeprefix("seed_"))] = run_profile(run_dir)
        except ValueError:  # a class-incremental board: no profile
            return {}
    return {
        measure: [None if s not in profiles or np.isnan(profiles[s][measure])
                  else float(profiles[s][measure]) for s in seeds]  # fmt: skip
        for measure in ("targeting", "entropy")
    }


def ceiling_room(table) -> dict:
    """How far the ceiling lies above the baseline: the normalised score's denominator.

    ``mean_over_days``: per seed, the ceiling's mean accuracy over days minus the baseline's;
    ``nights_scored`` / ``nights``: the nights where the ceiling is above the baseline (the others
    are left out of the normalised score). Where this room is small, the score divides noise by
    noise, and the accuracy columns are the comparison to read.
    """
    ceiling = per_seed(table[table["label"] == CEILING]).set_index("seed")["mean_over_days"]
    baseline = per_seed(table[table["label"] == BASELINE]).set_index("seed")["mean_over_days"]
    seeds = sorted(set(ceiling.index) & set(baseline.index))
    try:
        counts = normalised_scores(table, CEILING, BASELINE, CEILING).nights_scored
    except ValueError:  # the two rows' seeds or days differ
        counts = None
    nights = table[table["label"] == BASELINE].groupby("seed")["day"].nunique()
    return {
        "mean_over_days": [float(ceiling[s] - baseline[s]) for s in seeds],
        "nights_scored": None if counts is None else int(np.sum(counts)),
        "nights": int(nights.loc[seeds].sum()),
    }


def aggregate(boards: list[dict], rng_seed: int = 0) -> dict:
    """Across boards: IQM of the normalised score, P(improvement) over round-robin, with CIs."""
    rows = sorted(set.intersection(*(set(b["rows"]) for b in boards))) if boards else []
    out = {}
    for row in rows:
        if row in (BASELINE, CEILING):
            continue
        # a generator per row, so that a row's intervals do not change when rows are added
        rng = np.random.default_rng([rng_seed, zlib.crc32(row.encode())])
        scores, ours, theirs = [], [], []
        for board in boards:
            entry, base = board["rows"][row], board["rows"][BASELINE]
            scores.append([v for v in entry.get("normalised", []) if v is not None])
            ours.append(entry["mean_over_days"])
            theirs.append(base["mean_over_days"])
        runs = min(len(s) for s in scores + ours + theirs)
        if runs < 2:
            continue
        score_matrix = np.array([s[:runs] for s in scores]).T
        iqm = iqm_ci(score_matrix, rng)
        poi = probability_of_improvement_ci(
            np.array([s[:runs] for s in ours]).T, np.array([s[:runs] for s in theirs]).T, rng
        )
        out[row] = {"iqm_normalised": iqm.__dict__, "p_improvement": poi.__dict__, "runs": runs,
                    "boards": len(boards)}  # fmt: skip
    return out


def _ms(values) -> str:
    values = [v for v in values if v is not None]
    return mean_sem_text(np.asarray(values, dtype=float)) if values else "–"


def _ceiling_lines(room: dict | None) -> list[str]:
    """A board's note on its normaliser (:func:`ceiling_room`)."""
    if not room or not room["mean_over_days"]:
        return []
    values = np.asarray(room["mean_over_days"], dtype=float)
    mean, sem = mean_sem(values)
    text = (f"Normaliser: {CEILING} − {BASELINE} in mean test accuracy over days "
            f"{_ms(values)}")  # fmt: skip
    if room["nights_scored"] is not None:
        text += (f"; the {CEILING} was above {BASELINE} on {room['nights_scored']} of "
                 f"{room['nights']} nights (only those are scored)")  # fmt: skip
    if sem is None or mean <= 2 * sem:
        text += (
            f". The {CEILING} is not clearly above {BASELINE} here, so the normalised "
            "score divides noise by noise: compare the accuracy columns instead"
        )
    return [text + "."]


def markdown(boards: list[dict], overall: dict) -> str:
    lines = ["# Selector leaderboard", ""]
    for board in boards:
        lines += [f"## {board['preset']}", ""]
        if not board["rows"]:
            lines += [f"Waiting for the {', '.join(board['missing'])} rows.", ""]
            continue
        lines += [
            "| row | seeds | final test acc | mean test acc over days | normalised score | "
            "vs round-robin (mean over days, paired t) | targeting (rho) | night entropy |",
            "|---|---|---|---|---|---|---|---|",
        ]
        ranked = sorted(board["rows"].items(), key=lambda kv: -np.mean(kv[1]["mean_over_days"]))
        for row, entry in ranked:
            score = {BASELINE: "0 (by definition)", CEILING: "1 (by definition)"}.get(
                row, _ms(entry.get("normalised", [])))
            test = entry.get("vs_round_robin", {}).get("text", "–")
            lines.append(f"| {row} | {len(entry['seeds'])} | {_ms(entry['final'])} | "
                         f"{_ms(entry['mean_over_days'])} | {score} | {test} | "
                         f"{_ms(entry.get('targeting', []))} | "
                         f"{_ms(entry.get('entropy', []))} |")  # fmt: skip
        lines += ["", *_ceiling_lines(board.get("ceiling")), TARGETING_NOTE, ""]
    if overall:
        lines += ["## Across boards (stratified bootstrap, 95 % CI)", "",
                  "| row | IQM normalised score | P(improvement over round-robin) |",
                  "|---|---|---|"]  # fmt: skip
        for row, entry in sorted(overall.items(), key=lambda kv: -kv[1]["iqm_normalised"][
                "estimate"]):  # fmt: skip
            i, p = entry["iqm_normalised"], entry["p_improvement"]
            lines.append(f"| {row} | {i['estimate']:.3f} [{i['low']:.3f}, {i['high']:.3f}] | "
                         f"{p['estimate']:.3f} [{p['low']:.3f}, {p['high']:.3f}] |")  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def build(out: Path, presets: tuple[str, ...]) -> str:
    """Write leaderboard.md / .json from the cells on disk; return the markdown."""
    boards = [board_table(out, preset) for preset in presets]
    complete = [b for b in boards if b["rows"]]
    overall = aggregate(complete)
    atomic_write_text(out / "leaderboard.json", json.dumps(
        {"boards": boards, "overall": overall}, indent=1, default=float))  # fmt: skip
    text = markdown(boards, overall)
    atomic_write_text(out / "leaderboard.md", text)
    return text


@dataclass(frozen=True)
class Run:
    """Run every row's cells on each board, then build the tables."""

    presets: tuple[str, ...] = ("default",)
    """Boards (data sets) to run."""
    rows: tuple[str, ...] = SELECTORS
    """Selectors (as ``run --condition`` takes them)."""
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Held-out evaluation seeds, fixed before running."""
    out: Path = OUT
    """Leaderboard folder: OUT/<preset>/<row>/base/seed_<k>, OUT/leaderboard.md."""
    threads: int = 1
    """torch threads per cell."""
    workers: int = 1
    """Cells at once (processes; give each core one: workers x threads <= cores)."""


@dataclass(frozen=True)
class Add:
    """Add one row: run a registered selector's cells on every board, then rebuild."""

    name: str
    """The selector's registry name."""
    imports: tuple[str, ...] = ()
    """Modules to import first (where your selector registers itself)."""
    agent: dict[str, str] = dataclasses.field(default_factory=dict)
    """Selector arguments, e.g. --agent discount 0.98 (as `run --agent` takes them); needs --row."""
    row: str | None = None
    """The row's name on the boards (default: the selector's); one setting, one row."""
    presets: tuple[str, ...] = ("default",)
    """Boards to add the row to."""
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Held-out evaluation seeds (the boards')."""
    out: Path = OUT
    """Leaderboard folder."""
    threads: int = 1
    """torch threads per cell."""
    workers: int = 1
    """Cells at once."""


@dataclass(frozen=True)
class AddSB3:
    """Add an SB3 row: train on training seeds, evaluate on the held-out seeds, rebuild."""

    algo: Literal["ppo", "a2c", "dqn"] = "ppo"
    timesteps: int = 20_000
    train_seed: int = 1000
    """First training course (the envs use train_seed, train_seed + 1, ...); kept apart from
    the evaluation seeds."""
    presets: tuple[str, ...] = ("default",)
    """Boards to add the row to."""
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Held-out evaluation seeds (the boards')."""
    out: Path = OUT
    """Leaderboard folder."""
    threads: int = 1
    """torch threads (of training with one env, and of the evaluation courses)."""
    workers: int = 1
    """Environments trained side by side, one subprocess (and one thread) each. Part of the
    row's model (its file name): a row already evaluated is extended only with the same value."""


@dataclass(frozen=True)
class Build:
    """Rebuild the tables from the cells on disk."""

    presets: tuple[str, ...] = ("default",)
    """Boards to tabulate."""
    out: Path = OUT
    """Leaderboard folder."""


ROW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=,-]*")


def check_row(command: Add) -> str:
    """The row an ``add`` fills: refused when arguments lack a row name or the name is unsafe."""
    if command.agent and command.row is None:
        example = "-".join([command.name, *(f"{k}{v}" for k, v in sorted(command.agent.items()))])
        raise SystemExit(
            f"--agent {command.agent} makes another row than plain {command.name!r}: name it "
            f"with --row (e.g. --row {example})"
        )
    row = command.row or command.name
    if not ROW_NAME.fullmatch(row) or row == "models":
        raise SystemExit(f"--row {row!r}: use letters, digits and ._+=,- (not 'models')")
    try:
        check_selector_arguments((command.name,), command.agent)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    return row


def main(command: Run | Add | AddSB3 | Build) -> str:
    """Dispatch one sub-command; return the leaderboard markdown."""
    if not isinstance(command, Build):
        torch.set_num_threads(command.threads)
        if isinstance(command, AddSB3) and command.train_seed in command.seeds:
            raise SystemExit("--train-seed is an evaluation seed; keep training seeds apart")
    if isinstance(command, Run):
        for preset in command.presets:
            run_rows(command.out, preset, command.rows, command.seeds, command.threads,
                     command.workers)
    elif isinstance(command, Add):
        for module in command.imports:
            importlib.import_module(module)
        from replay_gym.runner import condition_names

        if command.name not in condition_names():
            raise SystemExit(f"{command.name!r} is not a registered selector; registered: "
                             f"{condition_names()} (pass --imports MODULE to register yours)")
        row = check_row(command)
        for preset in command.presets:
            run_rows(command.out, preset, (row,), command.seeds, command.threads,
                     command.workers, selector=command.name, agent=command.agent,
                     imports=command.imports)  # fmt: skip
    elif isinstance(command, AddSB3):
        for preset in command.presets:
            train_and_run_sb3(command.out, preset, command.algo, command.timesteps,
                              command.train_seed, command.seeds, command.threads,
                              command.workers)  # fmt: skip
    text = build(command.out, command.presets)
    print(text)
    return text


COMMANDS = {"run": Run, "add": Add, "add-sb3": AddSB3, "build": Build}

if __name__ == "__main__":
    main(subcommand_cli(COMMANDS))
