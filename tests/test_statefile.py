"""State files (safetensors + JSON header)."""

from __future__ import annotations

import errno
import math

import numpy as np
import pytest
import torch

from replay_gym import statefile
from replay_gym.statefile import (
    StateFileError,
    differences,
    load_tree,
    rng_from_state,
    rng_state,
    save_tree,
)


def test_tree_round_trip_keeps_values_types_and_dtypes(tmp_path):
    base = torch.arange(6.0)
    tree = {
        "floats": [0.1, float("nan"), float("inf"), -0.0, 1e-300],
        "ints": [0, -3, 2**64 + 1],
        "flags": [True, False, None],
        "text": "ünïcode",
        "tuple": (1, 2),
        "numpy_scalar": np.float64(0.25),
        "nested": {"a": {"b": []}},
        "tensors": {"t": base, "view": base[2:4], "same": base, "scalar": torch.tensor(3.5),
                    "empty": torch.zeros(0, 3), "bytes": torch.Generator().get_state()},
        "arrays": [np.arange(3, dtype=np.int64), np.array([True, False]), np.zeros((2, 0)),
                   np.float32([1.5])],
    }
    save_tree(tmp_path / "s", tree, "test")
    back = load_tree(tmp_path / "s", "test")
    assert back["floats"][0] == 0.1 and math.isnan(back["floats"][1])
    assert back["floats"][2:] == [float("inf"), -0.0, 1e-300]
    assert back["ints"] == [0, -3, 2**64 + 1] and back["flags"] == [True, False, None]
    assert back["text"] == "ünïcode" and back["tuple"] == [1, 2] and back["numpy_scalar"] == 0.25
    assert back["nested"] == {"a": {"b": []}}
    for key, value in tree["tensors"].items():
        loaded = back["tensors"][key]
        assert isinstance(loaded, torch.Tensor) and loaded.dtype == value.dtype
        assert torch.equal(loaded, value)
    for saved, loaded in zip(tree["arrays"], back["arrays"], strict=True):
        assert isinstance(loaded, np.ndarray) and loaded.dtype == saved.dtype
        np.testing.assert_array_equal(loaded, saved)


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({1: 2}, "key 1 is not a string"),
        ({"a": {"__tensor__": 1}}, "reserved"),
        ({"a": [object()]}, "/a/0: object cannot be saved"),
        ({"a": np.array([None])}, "object arrays"),
    ],
)
def test_unsaveable_values_are_named(tree, message, tmp_path):
    with pytest.raises(TypeError, match=message):
        save_tree(tmp_path / "s", tree, "test")
    assert list(tmp_path.iterdir()) == []


def test_other_kinds_damaged_and_missing_files_are_refused(tmp_path):
    save_tree(tmp_path / "s", {"a": 1}, "env")
    with pytest.raises(StateFileError, match="holds 'env' state, not 'run-checkpoint' state"):
        load_tree(tmp_path / "s", "run-checkpoint")
    (tmp_path / "junk").write_bytes(b"\x00" * 64)
    with pytest.raises(StateFileError, match="not a replay-gym state file"):
        load_tree(tmp_path / "junk", "env")
    with pytest.raises(FileNotFoundError, match="no state file"):
        load_tree(tmp_path / "missing", "env")
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "plain"))  # safetensors, not ours
    with pytest.raises(StateFileError, match="format None"):
        load_tree(tmp_path / "plain", "env")


def test_save_tree_on_a_full_disk_keeps_the_previous_state(tmp_path, monkeypatch):
    save_tree(tmp_path / "s", {"v": torch.ones(3)}, "test")

    def full_disk(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(statefile, "save_file", full_disk)
    with pytest.raises(OSError, match="No space"):
        save_tree(tmp_path / "s", {"v": torch.zeros(3)}, "test")
    assert torch.equal(load_tree(tmp_path / "s", "test")["v"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


def test_numpy_generator_state_round_trips():
    rng = np.random.default_rng(4)
    rng.random(3)
    twin = rng_from_state(rng_state(rng))
    assert twin.random(5).tolist() == rng.random(5).tolist()
    with pytest.raises(ValueError, match="unknown numpy bit generator 'Evil'"):
        rng_from_state({"bit_generator": "Evil"})


def test_differences_names_each_changed_leaf():
    saved = {"a": 1, "b": {"c": [1, 2], "d": "x"}, "gone": True}
    current = {"a": 1, "b": {"c": (1, 3), "d": "x"}, "new": 0}
    assert differences(saved, current) == [
        "b.c[1]: saved 2, now 3",
        "gone: saved True, now '(absent)'",
        "new: saved '(absent)', now 0",
    ]
    assert differences({"x": True}, {"x": 1}) == ["x: saved True, now 1"]
    assert differences({"x": 1.0}, {"x": 1}) == []


def test_optimizer_state_round_trips_through_a_state_file(tmp_path):
    from replay_gym.statefile import load_optimizer_state, optimizer_state

    net = torch.nn.Linear(3, 2)
    adam = torch.optim.Adam(net.parameters(), lr=0.1, betas=(0.8, 0.9))
    net(torch.ones(4, 3)).sum().backward()
    adam.step()
    statefile.save_tree(tmp_path / "o.safetensors", {"o": optimizer_state(adam)}, "test")
    twin = torch.nn.Linear(3, 2)
    twin_adam = torch.optim.Adam(twin.parameters(), lr=0.5)
    load_optimizer_state(twin_adam, statefile.load_tree(tmp_path / "o.safetensors", "test")["o"])
    group = twin_adam.param_groups[0]
    assert group["betas"] == (0.8, 0.9) and group["lr"] == 0.1
    for a, b in zip(adam.state.values(), twin_adam.state.values(), strict=True):
        assert all(torch.equal(a[k], b[k]) for k in ("exp_avg", "exp_avg_sq", "step"))
