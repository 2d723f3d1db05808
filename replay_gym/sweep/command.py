"""``python -m replay_gym sweep``: arguments, the dry run, and the summary of outcomes."""

from __future__ import annotations

import json
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from replay_gym.rundir import RunInterrupted
from replay_gym.sweep.backends import BACKENDS, default_threads, pending
from replay_gym.sweep.grid import SweepSpec, load_spec, parse_assignment


@dataclass(frozen=True)
class SweepArgs:
    """Run a grid of conditions x seeds x config overrides, one run directory per cell."""

    out: Path
    """Sweep folder: cells land in OUT/<condition>/<overrides>/seed_<k>/."""
    config: Path | None = None
    """TOML file with preset, conditions, seeds, [set] and [grid] (flags below add to it)."""
    conditions: tuple[str, ...] = ()
    """Conditions or selectors (as `run --condition` takes them)."""
    seeds: tuple[int, ...] = ()
    """Seeds of the courses."""
    preset: str | None = None
    """Base configuration (default: the file's, else `default`)."""
    set: tuple[str, ...] = ()
    """Overrides for every cell, KEY=VALUE (VALUE as JSON), e.g. days=3 learner.lr=1e-3."""
    grid: tuple[str, ...] = ()
    """Grid axes, KEY=JSON-LIST, e.g. 'adam_eps=[1e-2, 3e-3]': every combination is a variant."""
    agent: dict[str, str] = field(default_factory=dict)
    """Selector arguments for every cell, e.g. --agent discount 0.9 (added to the file's
    [agent]; as `run --agent` takes them). Not part of a cell's folder name: give each setting
    its own --out."""
    imports: tuple[str, ...] = ()
    """Modules to import first, here and in every cell's process (where your own selector or
    sampler registers itself), e.g. --imports my_package.selectors."""
    backend: Literal["local", "submitit", "ray"] = "local"
    """Where cells run: a local process pool, Slurm via submitit, or Ray."""
    workers: int = 1
    """Cells at once (local pool size; Slurm array parallelism; Ray CPUs / threads)."""
    threads: int | None = None
    """torch threads per cell; default: the cores available divided by --workers."""
    partition: str | None = None
    """submitit: Slurm partition."""
    time_limit: int = 240
    """submitit: minutes per job before Slurm stops it (it is requeued and resumes)."""
    cluster: str | None = None
    """submitit: 'slurm', 'local' or 'debug' (default: Slurm if present, else local)."""
    address: str | None = None
    """ray: address of an existing cluster, e.g. 'auto' or 'ray://head:10001'."""
    dry_run: bool = False
    """List the cells (and which are finished) without running anything."""

    def spec(self) -> SweepSpec:
        """The grid from the file and the flags (flags extend or replace the file's)."""
        base = load_spec(self.config) if self.config is not None else {}
        fixed = dict(base.get("fixed", {}))
        fixed.update(parse_assignment(item) for item in self.set)
        grid = dict(base.get("grid", {}))
        for item in self.grid:
            key, values = parse_assignment(item)
            if not isinstance(values, list):
                raise ValueError(f"--grid {item!r}: the values must be a JSON list, e.g. "
                                 f"'{key}=[1, 2]'")
            grid[key] = values
        return SweepSpec(
            conditions=self.conditions or tuple(base.get("conditions", ())),
            seeds=self.seeds or tuple(base.get("seeds", ())),
            preset=self.preset or base.get("preset", "default"),
            fixed=fixed,
            grid=grid,
            agent={**base.get("agent", {}), **self.agent},
        )

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad argument."""
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ValueError(f"--workers must be a positive integer, got {self.workers!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"--threads must be a positive integer, got {self.threads!r}")
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"--out {self.out} is a file, not a sweep folder")


def sweep(args: SweepArgs, *, stream: TextIO | None = None) -> list[dict]:
    """Run every unfinished cell; returns the outcomes. Raises SystemExit(1) if any failed."""
    stream = stream or sys.stdout
    args.validate()
    _import_all(args.imports)
    cells = [cell.to_dict() for cell in args.spec().cells()]
    if args.imports:  # the cells' processes import them too (spawned: nothing inherited)
        cells = [{**cell, "imports": list(args.imports)} for cell in cells]
    todo = pending(cells, args.out)
    if args.dry_run:
        for cell in cells:
            state = "todo" if cell in todo else "done"
            print(f"{state:4}  {cell['dir']}", file=stream)
        print(f"{len(cells)} cells, {len(todo)} to run", file=stream)
        return []
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep.json").write_text(json.dumps(
        {"cells": cells, "backend": args.backend}, indent=1))
    threads = args.threads or default_threads(args.workers)
    print(f"{len(cells)} cells, {len(cells) - len(todo)} finished earlier, running {len(todo)} "
          f"on {args.backend} ({args.workers} workers x {threads} threads)", file=stream)

    def report(outcome: dict) -> None:
        status = "stopped" if outcome["interrupted"] else outcome["status"]
        line = f"{status:7} {outcome['dir']} ({outcome['seconds']:.1f} s)"
        if outcome["error"]:
            line += "\n  " + outcome["error"].splitlines()[0]
        print(line, file=stream, flush=True)

    outcomes = BACKENDS[args.backend](
        todo, args.out, workers=args.workers, threads=threads, report=report,
        partition=args.partition, time_limit=args.time_limit, cluster=args.cluster,
        address=args.address,
    )
    failed = [o for o in outcomes if o["status"] == "failed" and not o["interrupted"]]
    stopped = [o for o in outcomes if o["interrupted"]]
    for outcome in failed:
        print(f"FAILED {outcome['dir']}:\n{outcome['error']}", file=sys.stderr)
    if stopped:
        raise _stopped(stopped, failed)
    if failed:
        raise SystemExit(f"{len(failed)} of {len(todo)} cells failed; rerun the same command to "
                         "retry them (finished cells are skipped)")
    print(f"all {len(cells)} cells finished in {args.out}", file=stream)
    return outcomes


def _import_all(modules: tuple[str, ...]) -> None:
    """Import ``modules`` (where selectors and samplers register), naming the one that fails.

    Done before any cell runs, so that a misspelt module stops the sweep at once.
    """
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as error:
            raise ValueError(f"--imports {module}: {type(error).__name__}: {error}") from error


def _stopped(stopped: list[dict], failed: list[dict]) -> RunInterrupted:
    """The one line a sweep stopped by a signal ends with: what stopped, how to go on."""
    signum = next((o["signum"] for o in stopped if o["signum"]), signal.SIGTERM)
    at_checkpoint = sum(o["status"] != "not started" for o in stopped)
    not_started = len(stopped) - at_checkpoint
    also = f", {len(failed)} failed" if failed else ""
    return RunInterrupted(
        f"stopped by {signal.Signals(signum).name}: {at_checkpoint} cells stopped at a checkpoint, "
        f"{not_started} not started{also}; rerun the same command to continue (finished cells are "
        "skipped, stopped ones resume)", signum)
