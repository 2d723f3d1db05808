"""Atomic writes (replay_gym.atomic): the old file or the complete new one, never half of one."""

from __future__ import annotations

import errno
import json

import pytest

from replay_gym import atomic
from replay_gym.atomic import atomic_write, atomic_write_json, atomic_write_text, fsync_dir


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "f.json"
    atomic_write_json(path, {"v": 1})

    def full_disk(tmp):
        tmp.write_text('{"v": 2, "trunc')
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(path, full_disk)
    assert path.read_text() == '{\n  "v": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temporary file left


def test_an_interrupted_write_leaves_no_temporary_file(tmp_path):
    def interrupted(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(str(tmp_path / "f.txt"), interrupted)  # a str path works too
    assert list(tmp_path.iterdir()) == []


def test_text_and_json_land_whole_in_new_folders(tmp_path):
    atomic_write_text(tmp_path / "a" / "b.txt", "x")
    atomic_write_json(tmp_path / "c" / "d.json", {"k": [1, 2.5, None]})
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.txt"]
    assert (tmp_path / "a" / "b.txt").read_text() == "x"
    text = (tmp_path / "c" / "d.json").read_text()
    assert json.loads(text) == {"k": [1, 2.5, None]} and text.endswith("}\n")


def test_each_write_has_its_own_temporary_file(tmp_path):
    seen = []
    for _ in range(2):
        atomic_write(tmp_path / "f", lambda tmp: (seen.append(tmp.name), tmp.write_text("x")))
    assert seen[0] != seen[1] and all(name.startswith(".f.") for name in seen)


def test_the_rename_is_made_durable(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(atomic, "fsync_dir", synced.append)
    atomic_write_text(tmp_path / "f", "x")
    assert synced == [tmp_path]


def test_fsync_dir_ignores_what_it_cannot_open(tmp_path):
    fsync_dir(tmp_path)
    fsync_dir(tmp_path / "missing")  # no error: nothing to flush
