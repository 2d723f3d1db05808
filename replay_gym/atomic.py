"""Atomic file writes: readers see the old file or the complete new one, never half of one.

:func:`atomic_write` is the one way files are replaced in replay-gym: a temporary file beside the
target, flushed and ``fsync``-ed, then ``os.replace``-d, so a reader (or a run that resumes after
a crash) sees the old file or the complete new one. :func:`atomic_write_text` and
:func:`atomic_write_json` are the usual cases.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "atomic_write_json", "atomic_write_text", "fsync_dir"]


def atomic_write(path: Path | str, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` with a temporary path beside ``path``, then move it onto ``path``.

    The temporary file is flushed to disk before the rename, and removed if ``write`` fails (a
    full disk included) or is interrupted, so a crash leaves either the old ``path`` or the
    complete new one. Its name is unique to the process and the call, so concurrent writers of
    one file never share a temporary file.

    Args:
        path: The file to create or replace; its folder is created when missing.
        write: Writes the whole content to the path it is given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda tmp: tmp.write_text(text))


def atomic_write_json(path: Path | str, data: Any) -> None:
    """Write ``data`` as indented JSON (and a final newline) to ``path`` atomically."""
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def fsync_dir(folder: Path) -> None:
    """Flush ``folder``'s entries (a rename into it) to disk, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
