"""Fixtures of the SB3 tests: one thread, and one tiny trained model per algorithm."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from sb3_helpers import ALGO_SETTINGS, tiny_args

from replay_gym.agents.sb3 import train_sb3


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on a shared 2-core machine, two threads that wait for each other
    while another process holds a core make these tiny workloads tens of times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One 16-step model per algorithm, trained once for the session (do not modify them)."""
    folder = tmp_path_factory.mktemp("models")
    return {algo: train_sb3(tiny_args(folder, algo)) for algo in ALGO_SETTINGS}
