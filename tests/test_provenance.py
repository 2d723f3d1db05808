"""Package versions and the git commit recorded in run directories."""

from __future__ import annotations

import re
import subprocess

from replay_gym import __version__, provenance


def test_package_versions_name_every_distribution():
    versions = provenance.package_versions()
    assert set(versions) == set(provenance.DISTRIBUTIONS)
    assert versions["replay-gym"] == __version__
    assert versions["torch"] and versions["numpy"] and versions["gymnasium"]


def test_git_commit_is_a_sha_or_none():
    found = provenance.git_commit()
    assert found is None or (re.fullmatch(r"[0-9a-f]{40}", found["commit"])
                             and isinstance(found["dirty"], bool))


def test_git_commit_is_none_without_git(monkeypatch):
    def missing(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", missing)
    assert provenance.git_commit() is None
