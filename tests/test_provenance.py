"""Package versions and the git commit recorded in run directories."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from replay_gym import __version__, provenance


def test_package_versions_name_every_distribution():
    versions = provenance.package_versions()
    assert set(versions) == set(provenance.DISTRIBUTIONS)
    assert versions["replay-gym"] == __version__
    assert versions["torch"] and versions["numpy"] and versions["gymnasium"]


def test_git_commit_is_this_checkouts_head_or_none():
    found = provenance.git_commit()
    repo = Path(provenance.__file__).resolve().parent.parent
    if not (repo / ".git").exists():  # an installed copy: nothing to record
        assert found is None
        return

    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    assert re.fullmatch(r"[0-9a-f]{40}", found["commit"])
    assert found == {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def test_git_commit_is_none_without_git(monkeypatch):
    def missing(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", missing)
    assert provenance.git_commit() is None


def test_machine_names_the_processor_and_torchs_kernel_level():
    import platform

    import torch

    found = provenance.machine()
    assert set(found) == {"cpu", "cpu_capability", "arch", "gpu"}
    assert found["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert found["arch"] == (platform.machine() or None)
    assert found["cpu"] is None or found["cpu"].strip() == found["cpu"] != ""


def test_cpu_model_falls_back_to_platform_without_proc(monkeypatch):
    import builtins

    real_open = builtins.open

    def no_proc(path, *args, **kwargs):
        if str(path) == "/proc/cpuinfo":
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_proc)
    monkeypatch.setattr(provenance.platform, "processor", lambda: "")
    assert provenance._cpu_model() is None
    monkeypatch.setattr(provenance.platform, "processor", lambda: "arm")
    assert provenance._cpu_model() == "arm"
