"""Every committed sweep file under benchmarks/ expands to valid cells on the reported seeds."""

from pathlib import Path

import pytest

from replay_gym.sweep.grid import SweepSpec, load_spec

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "benchmarks").rglob("*.toml"))
REPORTED_SEEDS = (0, 1, 2, 3, 4)
"""Seeds fixed for every reported experiment."""
CALIBRATION_SEEDS_FROM = 100
"""Sweeps under benchmarks/calibration/ choose settings on seeds from here on."""


def test_there_are_sweep_files():
    assert len(SPECS) >= 8


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_sweep_file_expands_to_valid_cells_on_the_reported_seeds(path):
    spec = SweepSpec(**load_spec(path))
    cells = spec.cells()  # checks conditions, presets and every variant's settings
    if path.parent.name == "calibration":  # chooses settings: never on a reported seed
        assert spec.seeds and min(spec.seeds) >= CALIBRATION_SEEDS_FROM
    else:  # the paper had 10 models: some acceptance checks add seeds 5-9
        assert spec.seeds in (REPORTED_SEEDS, tuple(range(10)))
    assert len(cells) == len(spec.conditions) * len(spec.seeds) * max(
        1, len({c.variant for c in cells})
    )
    assert str(path.relative_to(ROOT)) in path.read_text(), "its comment gives the command"
