"""Shared test helpers."""

import importlib.util
import io
import pickle
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def load_script():
    """Import a script of the repository (an example or a benchmark) as a module."""

    def load(relative: str):
        path = REPO / relative
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


# -- malicious files: every loader must refuse or ignore them ------------------------------


class Plant:
    """Unpickling this creates the file ``path``: the payload of a malicious pickle.

    Any code could run in its place; creating a file makes it visible to a test.
    """

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple:
        return (open, (self.path, "w"))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """Where the payload of :func:`plant` would create its file."""
    return tmp_path / "pwned"


@pytest.fixture
def plant(marker: Path) -> Plant:
    """An object whose unpickling creates ``marker``."""
    return Plant(marker)


@pytest.fixture
def evil_pickle(plant: Plant) -> bytes:
    """A pickle that creates ``marker`` when loaded."""
    return pickle.dumps(plant)


@pytest.fixture
def evil_torch_file(plant: Plant) -> bytes:
    """A ``torch.save`` file that creates ``marker`` when loaded without ``weights_only``."""
    buffer = io.BytesIO()
    torch.save({"features.0.weight": plant}, buffer)
    return buffer.getvalue()
