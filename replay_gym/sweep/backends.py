"""Where a sweep's cells run: a local process pool, Slurm through submitit, or Ray.

Every backend calls the same :func:`run_cell` on a cell's JSON description, so all of them
write the same directory layout and the same done markers. None schedules anything itself:
``concurrent.futures``, submitit and Ray do.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from replay_gym.rundir import RunInterrupted, StopSignals

__all__ = ["BACKENDS", "CellOutcome", "default_threads", "run_cell"]

DONE = ".done.json"
"""Marker written into a cell's run directory once its run has finished."""


@dataclass(frozen=True)
class CellOutcome:
    """What became of one cell."""

    dir: str
    status: str
    """``done`` (ran now), ``skipped`` (finished earlier), ``failed`` or ``not started`` (a
    signal stopped the sweep first)."""
    seconds: float = 0.0
    error: str | None = None
    interrupted: bool = False
    """SIGINT or SIGTERM stopped it (after a checkpoint) or kept it from starting: the sweep
    stops too."""
    signum: int | None = None
    """The signal, where ``interrupted``."""


def default_threads(workers: int) -> int:
    """Torch threads per worker: the cores this process may use, shared out (at least 1)."""
    return max(1, len(os.sched_getaffinity(0)) // max(1, workers))


def run_cell(cell: dict[str, Any], sweep_dir: str, threads: int) -> dict[str, Any]:
    """Run one cell (a :meth:`Cell.to_dict`) into ``sweep_dir``; never raises for the cell's error.

    A cell whose done marker exists is skipped. An unfinished one (a ``.partial`` left by a
    killed run) is resumed from its last checkpoint, or started again when it has none. The
    modules a cell lists under ``imports`` (where a user's selector or sampler registers
    itself) are imported first: a spawned worker, a Slurm job or a Ray task starts without them.
    """
    import importlib

    import torch

    from replay_gym.rundir import CHECKPOINT, staging_path
    from replay_gym.runner import RunArgs, run
    from replay_gym.sweep.grid import Cell

    run_dir = Path(sweep_dir) / cell["dir"]
    if (run_dir / DONE).exists():
        return CellOutcome(cell["dir"], "skipped").__dict__
    started = time.perf_counter()
    try:
        for module in cell.get("imports", ()):
            importlib.import_module(module)
        torch.set_num_threads(threads)
        spec = Cell(
            condition=cell["condition"], seed=cell["seed"], preset=cell["preset"],
            overrides=tuple(sorted(cell["overrides"].items())),
            agent=tuple(sorted(cell["agent"].items())),
        )
        args = RunArgs(
            condition=spec.condition, preset=spec.preset, seeds=1, first_seed=spec.seed,
            out=run_dir, overwrite=True, agent=dict(spec.agent), env=spec.env_config(),
            progress=False, threads=threads,
        )
        if (staging_path(run_dir) / CHECKPOINT).exists():
            args = dataclasses.replace(args, overwrite=False, resume=run_dir)
        with open(os.devnull, "w") as quiet:
            run(args, stream=quiet)
        seconds = time.perf_counter() - started
        marker = {**cell, "seconds": round(seconds, 3), "threads": threads}
        (run_dir / DONE).write_text(json.dumps(marker, indent=1))
        return CellOutcome(cell["dir"], "done", seconds).__dict__
    except Exception as error:  # one failing cell must not stop the others
        detail = "".join(traceback.format_exception_only(error)).strip()
        return CellOutcome(
            cell["dir"], "failed", time.perf_counter() - started,
            f"{detail}\n{traceback.format_exc(limit=-3)}",
            interrupted=isinstance(error, RunInterrupted),
            signum=error.signum if isinstance(error, RunInterrupted) else None,
        ).__dict__


Report = Callable[[dict[str, Any]], None]


def run_local(
    cells: list[dict], sweep_dir: Path, *, workers: int, threads: int, report: Report, **_: Any
) -> list[dict]:
    """A pool of ``workers`` processes (spawned: no state inherited), ``threads`` each.

    SIGINT or SIGTERM stops the sweep as it stops a run: running cells stop at a checkpoint,
    no other cell starts (those are returned as ``not started``), and the next sweep resumes.
    """
    if workers == 1:  # cells run in this process, whose signal handler the runner holds
        outcomes = []
        for c in cells:
            outcomes.append(_reported(run_cell(c, str(sweep_dir), threads), report))
            if outcomes[-1]["interrupted"]:  # stopped as a run stops
                return outcomes + _not_started(cells[len(outcomes):], outcomes[-1]["signum"])
        return outcomes
    context = multiprocessing.get_context("spawn")
    signum: int | None = None
    with _ForwardStopSignals() as stop, concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker
    ) as pool:
        futures = [pool.submit(_run_cell_unless_stopped, c, str(sweep_dir), threads)
                   for c in cells]
        started: dict[str, dict] = {}
        for future in concurrent.futures.as_completed(futures):
            if future.cancelled():
                continue
            outcome = future.result()
            if outcome is not None:  # None: a queued cell a stopped worker did not start
                started[outcome["dir"]] = _reported(outcome, report)
                signum = signum or outcome["signum"]
            if stop.signum is not None or signum is not None:
                for other in futures:  # those not yet handed to a worker never start
                    other.cancel()
    signum = stop.signum or signum
    return [*started.values(), *_not_started([c for c in cells if c["dir"] not in started],
                                             signum or signal.SIGTERM)]


def _not_started(cells: list[dict], signum: int | None) -> list[dict]:
    """Outcomes for cells a signal kept from starting (they run on the next sweep)."""
    return [CellOutcome(c["dir"], "not started", interrupted=True, signum=signum).__dict__
            for c in cells]


class _ForwardStopSignals(StopSignals):
    """While active, SIGINT/SIGTERM to the sweep stop its pool workers' runs at a checkpoint.

    Without it a signal to the sweep alone killed it and left its workers running as orphans
    (they finished their cells, took the queued ones, then hung). As the runner's
    :class:`~replay_gym.rundir.StopSignals` (whose handlers it installs and restores), the first
    signal is recorded in :attr:`signum` and a second SIGINT raises ``KeyboardInterrupt``; the
    first is also sent on to every child as SIGTERM, which a run turns into a checkpointed stop
    (a second SIGINT would abort it). A later SIGTERM changes nothing.
    """

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None and signum != signal.SIGINT:
            return  # keep the first signal; the workers have it already
        super()._handle(signum, frame)  # a second SIGINT raises here
        for child in multiprocessing.active_children():
            if child.pid is not None:
                try:
                    os.kill(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass


_worker_stop = StopSignals()
"""In a pool worker, active for its whole life: a signal between two cells, or while a run is
starting (the run's own ``StopSignals`` takes it over), means "start no other cell"."""


def _init_worker() -> None:
    """Pool worker set-up: a signal is a request to stop, not death (see :data:`_worker_stop`)."""
    _worker_stop.__enter__()


def _run_cell_unless_stopped(cell: dict, sweep_dir: str, threads: int) -> dict | None:
    """:func:`run_cell` in a pool worker, or ``None`` once a signal stopped this worker."""
    if _worker_stop.requested():
        return None
    outcome = run_cell(cell, sweep_dir, threads)
    if outcome["interrupted"] and not _worker_stop.requested():  # the run's handler had it
        _worker_stop.signum = outcome["signum"]
    return outcome


class SubmititCell:
    """A cell as a submitit job that checkpoints by requeueing itself on pre-emption.

    On SIGTERM (Slurm's pre-emption notice) submitit calls :meth:`checkpoint`; the job is
    requeued with the same arguments and, once the runner can resume, continues the run.
    """

    def __init__(self, cell: dict, sweep_dir: str, threads: int) -> None:
        self.cell, self.sweep_dir, self.threads = cell, sweep_dir, threads

    def __call__(self) -> dict:
        return run_cell(self.cell, self.sweep_dir, self.threads)

    def checkpoint(self) -> Any:
        import submitit

        return submitit.helpers.DelayedSubmission(SubmititCell(self.cell, self.sweep_dir,
                                                               self.threads))


def run_submitit(
    cells: list[dict],
    sweep_dir: Path,
    *,
    workers: int,
    threads: int,
    report: Report,
    partition: str | None = None,
    time_limit: int = 240,
    cluster: str | None = None,
    **_: Any,
) -> list[dict]:
    """Slurm jobs through submitit (``cluster="local"`` runs them as local processes)."""
    try:
        import submitit
    except ImportError:
        raise ValueError(
            "--backend submitit needs submitit: pip install 'replay-gym[slurm]'"
        ) from None
    executor = submitit.AutoExecutor(folder=sweep_dir / ".submitit" / "%j", cluster=cluster)
    params: dict[str, Any] = {"timeout_min": time_limit, "cpus_per_task": threads}
    if partition:
        params["slurm_partition"] = partition
    if executor.cluster == "slurm":
        params["slurm_array_parallelism"] = workers
    executor.update_parameters(**params)
    jobs = [executor.submit(SubmititCell(c, str(sweep_dir), threads)) for c in cells]
    outcomes = []
    for cell, job in zip(cells, jobs, strict=True):
        try:
            outcomes.append(_reported(job.result(), report))
        except Exception as error:  # the job itself died (not the cell's own error)
            outcomes.append(_reported(CellOutcome(cell["dir"], "failed", 0.0,
                                                  f"submitit job {job.job_id}: {error}").__dict__,
                                      report))
    return outcomes


def run_ray(
    cells: list[dict],
    sweep_dir: Path,
    *,
    workers: int,
    threads: int,
    report: Report,
    address: str | None = None,
    **_: Any,
) -> list[dict]:
    """Ray tasks, ``threads`` CPUs each; ``address`` joins an existing cluster (else local)."""
    try:
        import ray
    except ImportError:
        raise ValueError("--backend ray needs Ray: pip install 'replay-gym[ray]'") from None
    started_here = not ray.is_initialized()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers * threads, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=threads)(run_cell)
        pending = {remote.remote(c, str(sweep_dir), threads): c for c in cells}
        outcomes = []
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            cell = pending.pop(ready[0])
            try:
                outcomes.append(_reported(ray.get(ready[0]), report))
            except Exception as error:  # the task itself died
                outcomes.append(_reported(CellOutcome(cell["dir"], "failed", 0.0,
                                                      f"ray task: {error}").__dict__, report))
        return outcomes
    finally:
        if started_here:
            ray.shutdown()
            for sig, handler in handlers.items():  # ray.init installs its own and leaves them
                signal.signal(sig, handler)


def _reported(outcome: dict, report: Report) -> dict:
    report(outcome)
    return outcome


BACKENDS: dict[str, Callable[..., list[dict]]] = {
    "local": run_local,
    "submitit": run_submitit,
    "ray": run_ray,
}
"""Backend name -> ``f(cells, sweep_dir, *, workers, threads, report, **options)``."""


MARKED = ("condition", "seed", "preset", "overrides", "agent")
"""What a done marker must agree on with a cell for the finished run to count as that cell."""


def pending(cells: Iterable[dict], sweep_dir: Path) -> list[dict]:
    """The cells without a done marker.

    Raises:
        ValueError: A cell's folder holds a run finished with other settings (a cell's folder
            names its condition, overrides and seed, not its preset or selector arguments), or
            an unreadable marker; each is named, and nothing has run.
    """
    from replay_gym.analysis import read_json

    todo, clashes = [], []
    for cell in cells:
        marker = sweep_dir / cell["dir"] / DONE
        if not marker.exists():
            todo.append(cell)
            continue
        finished = read_json(marker)
        wanted = json.loads(json.dumps(cell))  # as the marker holds it (tuples are lists)
        differ = [
            f"{key} {finished[key]!r} there, {wanted[key]!r} here"
            for key in MARKED
            if key in finished and key in wanted and finished[key] != wanted[key]
        ]
        if differ:
            clashes.append(f"{cell['dir']}: " + "; ".join(differ))
    if clashes:
        raise ValueError(
            f"{len(clashes)} cell(s) of {sweep_dir} finished with other settings than this "
            "sweep's, and would be taken for its own: " + " | ".join(clashes[:3])
            + (f" (and {len(clashes) - 3} more)" if len(clashes) > 3 else "")
            + ". Give this sweep another --out (a cell's folder names its condition, overrides "
            "and seed only)"
        )
    return todo
