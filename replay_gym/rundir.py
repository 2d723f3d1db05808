"""A run directory while it is written: staging, append-only logs, checkpoints, resume, signals.

A run is written under ``DIR.partial`` and moved to ``DIR`` only when every seed has finished, so
a run that stopped never looks complete. Inside the staging folder:

* ``config.json``: the run's settings, versions and git commit (written once, atomically);
* ``results.jsonl`` and ``steps.jsonl``: one JSON line per record, each written with a single
  ``write`` and flushed at once, so after a crash a line is whole or absent;
* ``checkpoint.safetensors``: the latest checkpoint (:data:`CHECKPOINT`), replaced atomically. It
  holds the byte length of both logs at that moment; a resume cuts the logs back to it, so lines
  written after the checkpoint are written again, exactly once.

:class:`RunDir` refuses what could lose work: a new run over an interrupted one (it says how to
resume instead), a resume with other settings or another replay-gym version (naming what
differs). :class:`StopSignals` turns SIGINT and SIGTERM into a request the run loop honours at
its next consistent point.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shlex
import shutil
import signal
import threading
import warnings
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from replay_gym.atomic import atomic_write_json
from replay_gym.config import comparable_env
from replay_gym.provenance import replay_gym_version
from replay_gym.statefile import differences, load_tree, save_tree

__all__ = [
    "CHECKPOINT",
    "JsonLines",
    "RunDir",
    "RunFailed",
    "RunInterrupted",
    "StopRequested",
    "StopSignals",
    "check_writable",
    "resume_command",
    "staging_path",
]

CHECKPOINT = "checkpoint.safetensors"
"""File name of a run's checkpoint inside its staging folder."""

CHECKPOINT_KIND = "run-checkpoint"

UNCHECKED = ("threads", "versions", "git", "machine")
"""config.json entries that may differ when resuming (the others must match exactly)."""


class RunInterrupted(RuntimeError):
    """SIGINT or SIGTERM stopped the run at a consistent point, after a checkpoint.

    Attributes:
        signum: The signal that stopped it.
        exit_code: ``128 + signum``, the shell's code for death by that signal.
    """

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum

    @classmethod
    def at(cls, signum: int, where: str, saved: str, resume: str) -> RunInterrupted:
        """The one line every command prints when a signal stopped it.

        Args:
            signum: The signal.
            where: Where it stopped (``"seed 0, day 2, night step 7"``).
            saved: What was written (``"checkpoint written"``).
            resume: How to continue (a command).

        Returns:
            ``stopped by SIGTERM at WHERE (SAVED); resume with: RESUME``, as an exception.
        """
        name = signal.Signals(signum).name
        return cls(f"stopped by {name} at {where} ({saved}); resume with: {resume}", signum)


class RunFailed(RuntimeError):
    """An operating-system error (a full disk, say) stopped the run; its checkpoint is kept."""


class StopRequested(Exception):  # noqa: N818 - a request, not an error
    """Raised by the run loop after the checkpoint it wrote on a stop request.

    Its message says where the run stopped (``"seed 0, day 2, night step 7"``).
    """


def staging_path(run_dir: Path) -> Path:
    """Where the run of ``run_dir`` is written until it has finished: ``DIR.partial``."""
    return run_dir.with_name(run_dir.name + ".partial")


def resume_command(run_dir: Path) -> str:
    """The shell command that continues the interrupted run of ``run_dir``."""
    return f"python -m replay_gym run --resume {shlex.quote(str(run_dir))}"


def read_config(run_dir: Path) -> dict[str, Any]:
    """The ``config.json`` of the interrupted run of ``run_dir``.

    Raises:
        FileNotFoundError: If ``run_dir`` holds no interrupted run (the message says what it
            holds instead).
        ValueError: If its ``config.json`` is not a JSON object.
    """
    staging = staging_path(run_dir)
    if not (staging / "config.json").is_file():
        if (run_dir / "config.json").is_file():
            raise FileNotFoundError(
                f"--resume {run_dir}: that run has finished; there is nothing to resume"
            )
        raise FileNotFoundError(
            f"--resume {run_dir}: no interrupted run there (no {staging.name}/config.json)"
        )
    path = staging / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read {path}: {error}") from error
    if not isinstance(config, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return config


class JsonLines:
    """An append-only JSON-lines file whose every line is one ``write`` call.

    Args:
        path: The file (created when missing).
        length: Cut the file back to this many bytes first (a resume); None: start empty.
    """

    def __init__(self, path: Path, length: int | None = None) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            size = os.fstat(self._fd).st_size
            keep = 0 if length is None else length
            if keep > size:
                raise ValueError(
                    f"{path} holds {size} bytes but its checkpoint expects {keep}: the run "
                    "directory was changed after the checkpoint"
                )
            os.ftruncate(self._fd, keep)
            self.position = keep
        except BaseException:
            os.close(self._fd)
            raise

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` as one line at the end of the file."""
        data = (json.dumps(record) + "\n").encode()
        written = os.pwrite(self._fd, data, self.position)
        while written < len(data):  # a short write: only on a full disk, which then raises
            written += os.pwrite(self._fd, data[written:], self.position + written)
        self.position += len(data)

    def sync(self) -> None:
        """Make every line written so far durable (``fsync``)."""
        os.fsync(self._fd)

    def records(self) -> list[dict[str, Any]]:
        """Every record in the file."""
        with open(self.path, "rb") as handle:
            data = handle.read(self.position)
        try:
            return [json.loads(line) for line in data.decode().splitlines()]
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{self.path} is damaged: {error}") from error

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class RunDir:
    """The staging folder of one run: its logs, checkpoints and the move into place.

    Build it with :meth:`create` (a new run) or :meth:`resume` (an interrupted one).

    Attributes:
        path: The run directory the user named (``--out``).
        staging: ``path`` + ``.partial``, where everything is written.
        config: The run's ``config.json`` (the saved one when resuming).
        checkpoint: The checkpoint resumed from (its ``run`` and ``course`` parts), or None.
        results: ``results.jsonl``.
        steps: ``steps.jsonl``.
    """

    def __init__(
        self,
        path: Path,
        config: dict[str, Any],
        checkpoint: dict[str, Any] | None,
        created: list[Path],
    ) -> None:
        self.path = path
        self.staging = staging_path(path)
        self.config = config
        self.checkpoint = checkpoint
        self._created = created
        self._digest = _digest(config)
        run = checkpoint["run"] if checkpoint else {}
        self.results = JsonLines(self.staging / "results.jsonl", run.get("results_bytes"))
        try:
            self.steps = JsonLines(self.staging / "steps.jsonl", run.get("steps_bytes"))
        except BaseException:
            self.results.close()
            raise

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, config: dict[str, Any], overwrite: bool) -> RunDir:
        """Stage a new run for ``path``.

        Raises:
            FileExistsError: ``path`` holds a finished run (without ``overwrite``), other files,
                or an interrupted run (without ``overwrite``; the message says how to resume).
            ValueError: ``path`` cannot be written (the message names it and says why).
        """
        staging = staging_path(path)
        if path.exists() and not path.is_dir():
            raise FileExistsError(f"--out {path} is a file, not a run directory")
        if path.is_dir() and any(path.iterdir()) and not overwrite:
            what = "another run" if (path / "config.json").exists() else "other files"
            raise FileExistsError(
                f"{path} already holds {what}; pass --overwrite to replace it or choose --out"
            )
        if staging.exists():
            if not overwrite:
                raise FileExistsError(
                    f"{path} holds an interrupted run (in {staging}); resume it with: "
                    f"{resume_command(path)}  (or pass --overwrite to discard it)"
                )
            shutil.rmtree(staging)  # asked for: --overwrite
        created = _make_dirs(path, staging)
        try:
            atomic_write_json(staging / "config.json", config)
            return cls(path, config, None, created)
        except OSError as error:
            _remove(staging, created)
            raise ValueError(f"--out {path}: cannot write a run there: {_reason(error)}") from error

    @classmethod
    def resume(cls, path: Path, config: dict[str, Any]) -> RunDir:
        """Reopen the interrupted run of ``path`` at its last checkpoint.

        ``config`` is this invocation's ``config.json``; every entry but :data:`UNCHECKED` must
        equal the saved one, its ``env`` up to what cannot change the course
        (:func:`~replay_gym.config.comparable_env`), and replay-gym's version must be the same
        (other packages' versions may differ, with a warning). The run goes on with its own
        saved settings.

        Raises:
            FileNotFoundError: ``path`` holds no interrupted run.
            ValueError: The settings or the version differ (each difference is named), or a file
                of the run is not what it should be.
        """
        saved = read_config(path)
        _check_same_run(path, saved, config)
        staging = staging_path(path)
        checkpoint = None
        if (staging / CHECKPOINT).exists():
            checkpoint = load_tree(staging / CHECKPOINT, CHECKPOINT_KIND)
            if checkpoint.get("version") != replay_gym_version():
                raise ValueError(
                    f"cannot resume {path}: its checkpoint was written by replay-gym "
                    f"{checkpoint.get('version')}, this is {replay_gym_version()}"
                )
            if checkpoint.get("config_sha256") != _digest(saved):
                raise ValueError(
                    f"cannot resume {path}: {staging / CHECKPOINT} belongs to another run "
                    "(its settings differ from config.json)"
                )
        else:
            shutil.rmtree(staging / "tb", ignore_errors=True)  # stopped before any checkpoint
        try:
            return cls(path, saved, checkpoint, [])
        except OSError as error:
            raise ValueError(f"--resume {path}: cannot write there: {_reason(error)}") from error

    # -- writing ----------------------------------------------------------------------------

    def save_checkpoint(self, run: dict[str, Any], course: dict[str, Any] | None) -> None:
        """Make the logs durable, then replace the checkpoint with ``run`` and ``course``.

        Args:
            run: The run's own position (JSON values); the logs' lengths are added.
            course: The state of the course in progress (a state tree), or None between
                courses.
        """
        self.results.sync()
        self.steps.sync()
        tree = {
            "version": replay_gym_version(),
            "config_sha256": self._digest,
            "run": {
                **run,
                "results_bytes": self.results.position,
                "steps_bytes": self.steps.position,
            },
            "course": course,
        }
        save_tree(self.staging / CHECKPOINT, tree, CHECKPOINT_KIND)

    def has_checkpoint(self) -> bool:
        """Whether a checkpoint exists to resume from."""
        return (self.staging / CHECKPOINT).exists()

    def finish(self, summary: dict[str, Any]) -> None:
        """Write ``summary.json``, move the run to :attr:`path`, then drop its checkpoint.

        Until the move the staging folder keeps its checkpoint, so a kill in between leaves a
        run that resumes (and finishes at once).
        """
        atomic_write_json(self.staging / "summary.json", summary)
        self.results.sync()
        self.steps.sync()
        self.close()
        if self.path.exists():
            shutil.rmtree(self.path)  # a finished run that --overwrite asked to replace
        self.staging.rename(self.path)
        (self.path / CHECKPOINT).unlink(missing_ok=True)

    def abandon(self) -> str | None:
        """After a failure: remove a run that never checkpointed; else say how to resume.

        Returns:
            None when nothing was kept, else a line saying where the checkpoint is and the
            command that resumes it.
        """
        self.close()
        if not self.has_checkpoint():
            _remove(self.staging, self._created)
            return None
        return f"the last checkpoint is kept in {self.staging}; resume with: {self.command}"

    def close(self) -> None:
        """Close both logs."""
        self.results.close()
        self.steps.close()

    @property
    def command(self) -> str:
        """The command that resumes this run."""
        return resume_command(self.path)


def _check_same_run(path: Path, saved: dict[str, Any], config: dict[str, Any]) -> None:
    saved_version = (saved.get("versions") or {}).get("replay-gym")
    if saved_version != replay_gym_version():
        raise ValueError(
            f"cannot resume {path}: it was started with replay-gym {saved_version}, this is "
            f"{replay_gym_version()}; finish it with that version or start again with --overwrite"
        )
    if saved.get("model") == config.get("model") and saved.get("model_sha256") != config.get(
        "model_sha256"
    ):
        raise ValueError(
            f"cannot resume {path}: the model {config.get('model')} has changed since the run "
            "started (its SHA-256 differs); put the original file back to resume"
        )
    changed = differences(_comparable(saved), _comparable(json.loads(json.dumps(config))))
    if changed:
        raise ValueError(
            f"cannot resume {path} with other settings: " + "; ".join(changed)
            + f". Resume with the run's own settings: {resume_command(path)}"
        )
    others = differences(saved.get("versions") or {}, config.get("versions") or {})
    if others:
        warnings.warn(
            f"resuming {path} with other package versions ({'; '.join(others)}): the numbers "
            "may differ slightly from an uninterrupted run",
            stacklevel=3,
        )
    if saved.get("machine") and config.get("machine") and saved["machine"] != config["machine"]:
        warnings.warn(
            f"resuming {path} on another processor ({saved['machine'].get('cpu')} -> "
            f"{config['machine'].get('cpu')}): from here on the course differs from one run "
            "through on the first; config.json keeps the first",
            stacklevel=3,
        )


def _checked(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in UNCHECKED}


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """``_checked(config)`` with its ``env`` as it bears on the course (``comparable_env``)."""
    checked = _checked(config)
    if isinstance(checked.get("env"), dict):
        checked["env"] = comparable_env(checked["env"])
    return checked


def _digest(config: dict[str, Any]) -> str:
    text = json.dumps(_checked(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def check_writable(target: Path, name: str) -> None:
    """Refuse, before any work, an output that cannot be created where it is asked for.

    ``target`` (a file or a folder, existing or not) is created or replaced inside the nearest
    folder above it that exists; that folder must be a folder and writable.

    Args:
        target: The output path.
        name: How the user gave it, for the message (``"--out runs/x"``, ``"out runs/x.zip"``).

    Raises:
        ValueError: ``{name}: {folder} is a file, not a folder`` or ``{name}: cannot create it:
            {folder} is not writable``.
    """
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{name}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ValueError(f"{name}: cannot create it: {parent} is not writable")
            return


def _make_dirs(path: Path, staging: Path) -> list[Path]:
    """Create ``staging`` and its missing parents; the folders created, outermost first.

    Raises:
        ValueError: Naming ``path`` (the user's ``--out``) and why it cannot be created.
    """
    missing = [p for p in (staging, *staging.parents) if not p.exists()][::-1]
    check_writable(staging, f"--out {path}")
    created: list[Path] = []
    try:
        for folder in missing:
            try:
                folder.mkdir()
            except FileExistsError:
                if folder.is_dir():  # made meanwhile by another run (a sweep's parallel cells)
                    continue
                raise
            created.append(folder)
    except OSError as error:
        _remove(None, created)
        raise ValueError(f"--out {path}: cannot create it: {_reason(error)}") from error
    return created


def _remove(staging: Path | None, created: list[Path]) -> None:
    """Remove ``staging`` and the (then empty) folders this run created for it."""
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            pass  # gone already, or someone else's files are in it now


def _reason(error: OSError) -> str:
    if error.errno == errno.ENOSPC:
        return "the disk is full"
    where = f" ({error.filename})" if error.filename else ""
    return f"{error.strerror or error}{where}"


class StopSignals:
    """While active, SIGINT and SIGTERM ask the run to stop instead of killing it.

    The first signal only sets :attr:`signum`; the run loop checks :meth:`requested` after each
    step, writes a checkpoint and stops. A second SIGINT raises ``KeyboardInterrupt`` at once
    (the last checkpoint is kept). Handlers are installed only in the main thread, and the
    previous ones are restored on exit. Entered inside another active ``StopSignals`` (a sweep's
    worker around its runs) that a signal already reached, it starts with that signal: a stop
    asked for while a run was starting is not lost.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def requested(self) -> bool:
        """Whether a stop was requested."""
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
                outer = getattr(self._previous[signum], "__self__", None)
                if isinstance(outer, StopSignals) and self.signum is None:
                    self.signum = outer.signum
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
