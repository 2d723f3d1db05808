"""Nothing replay-gym loads executes code: every loader, fed a malicious pickle, refuses it.

The payload (tests/conftest.py) creates the file ``marker`` when it is unpickled. Each loader
below gets it where it reads a file (as a bare pickle and inside a ``torch.save`` archive) and
must refuse the file without the marker appearing. :func:`test_no_unsafe_deserialiser_in_the_code`
keeps the list complete: the code has no other way to unpickle a file.

The SB3 loaders are also tested end to end, through ``run --condition sb3`` and ``train-sb3
--resume``, in tests/agents/sb3/test_sb3_safe_loading.py; ``run --resume`` on a real
interrupted run in tests/test_resume.py; the hub cache in tests/learner/test_weights.py.
"""

from __future__ import annotations

import ast
import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import pytest
import torch

from replay_gym.config import LearnerConfig
from replay_gym.rundir import CHECKPOINT, RunDir, staging_path

REPO = Path(__file__).resolve().parent.parent
IMAGENET = LearnerConfig(widths=(64, 128, 256, 512, 512), weights="imagenet")
CONFIG = {"condition": "random", "preset": "smoke", "seeds": [0], "threads": 1,
          "versions": {"replay-gym": "0.1.0"}, "git": None}  # fmt: skip


Loader = Callable[[Path, bytes], tuple[Path, Callable[[], object]]]
"""``loader(folder, payload)`` writes ``payload`` where a loader reads a file, and returns that
file and the call that reads it."""


def _planted(folder: Path, payload: bytes, name: str = "planted") -> Path:
    path = folder / name
    path.write_bytes(payload)
    return path


def _env_load_state(folder: Path, payload: bytes):
    from replay_gym.envs.replay_select import ReplaySelectionEnv

    path = _planted(folder, payload)
    return path, lambda: ReplaySelectionEnv(preset="smoke").load_state(path)


def _env_reset_with_state(folder: Path, payload: bytes):
    path = _planted(folder, payload)
    return path, lambda: gym.make("ReplaySelect-v0", preset="smoke").reset(options={"state": path})


def _state_tree(folder: Path, payload: bytes):
    from replay_gym.statefile import load_tree

    path = _planted(folder, payload)
    return path, lambda: load_tree(path, "env")


def _interrupted_run(folder: Path) -> Path:
    """A run directory stopped after one checkpoint (no training: written by hand)."""
    out = folder / "run"
    run = RunDir.create(out, CONFIG, overwrite=False)
    run.results.append({"seed": 0, "day": 1})
    run.save_checkpoint({"seed": 0}, None)
    run.close()
    return out


def _run_checkpoint(folder: Path, payload: bytes):
    out = _interrupted_run(folder)
    path = _planted(staging_path(out), payload, CHECKPOINT)
    return path, lambda: RunDir.resume(out, CONFIG)


def _run_config(folder: Path, payload: bytes):
    from replay_gym.runner import RunArgs

    out = _interrupted_run(folder)
    return _planted(staging_path(out), payload, "config.json"), lambda: RunArgs.resuming(out)


def _run_results(folder: Path, payload: bytes):
    out = _interrupted_run(folder)
    path = staging_path(out) / "results.jsonl"
    path.write_bytes(payload + path.read_bytes())  # the checkpoint's length covers it
    return path, lambda: RunDir.resume(out, CONFIG).results.records()


def _weights_file(folder: Path, payload: bytes):
    from replay_gym.learner.weights import load_base_state

    path = _planted(folder, payload)
    return path, lambda: load_base_state(LearnerConfig(weights=str(path)))


def _hub_cache(folder: Path, payload: bytes):
    """Planted in torch's hub cache, named after its own hash so that it reaches torch.load."""
    from replay_gym.learner import weights

    name = f"vgg16-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    path = weights.hub_cache_path(f"https://example.org/{name}")
    path.parent.mkdir(parents=True)
    path.write_bytes(payload)
    weights.imagenet_url = lambda: f"https://example.org/{name}"  # undone by the test
    return path, lambda: weights.load_base_state(IMAGENET)


def _sb3_model_file(folder: Path, payload: bytes):
    from replay_gym.agents.sb3 import read_model

    path = _planted(folder, payload, "model.zip")
    return path, lambda: read_model(path)


def _sb3_zip(member: str) -> Loader:
    """An SB3 .zip whose ``member`` holds the payload, the rest plain."""

    def plant(folder: Path, payload: bytes):
        import io

        from replay_gym.agents.sb3 import read_model

        weights = io.BytesIO()
        torch.save({"w": torch.zeros(1)}, weights)
        members = {"data": b"{}", "policy.pth": weights.getvalue(), member: payload}
        path = folder / "model.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        return path, lambda: read_model(path)

    return plant


def _sb3_data(folder: Path, payload: bytes):
    """SB3 keeps objects in ``data`` as base64 pickles; read_model leaves them undecoded."""
    import base64
    import io

    from replay_gym.agents.sb3 import read_model

    weights = io.BytesIO()
    torch.save({"w": torch.zeros(1)}, weights)
    pickled = {":type:": "<class 'function'>", ":serialized:": base64.b64encode(payload).decode()}
    path = folder / "model.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps({"clip_range": pickled}))
        archive.writestr("policy.pth", weights.getvalue())
    return path, lambda: read_model(path).pickled()


def _sb3_sidecar(folder: Path, payload: bytes):
    from replay_gym.agents.sb3 import read_sidecar

    path = _planted(folder, payload, "model.zip.json")
    return path, lambda: read_sidecar(folder / "model.zip")


def _sb3_replay_buffer(folder: Path, payload: bytes):
    from stable_baselines3 import DQN

    from replay_gym.agents.sb3.checkpoints import BUFFER_FILE, ResumePoint, restore_training_state

    checkpoint = folder / "step-000000001"
    checkpoint.mkdir()
    path = _planted(checkpoint, payload, BUFFER_FILE)
    point = ResumePoint(checkpoint / "model.zip", checkpoint)

    def load():
        model = DQN("MlpPolicy", gym.make("CartPole-v1"), buffer_size=8, device="cpu")
        restore_training_state(model, point, None)

    return path, load


def _compare(name: str) -> Loader:
    def plant(folder: Path, payload: bytes):
        from replay_gym.results import load_runs

        run = folder / "run"
        run.mkdir()
        (run / "config.json").write_text(json.dumps(CONFIG))
        (run / "results.jsonl").write_text(json.dumps({"seed": 0, "day": 1}) + "\n")
        return _planted(run, payload, name), lambda: load_runs([run])

    return plant


def _sweep_file(folder: Path, payload: bytes):
    from replay_gym.sweep.grid import load_spec

    path = _planted(folder, payload, "sweep.toml")
    return path, lambda: load_spec(path)


def _image(folder: Path, payload: bytes):
    from replay_gym.data.folders import load_image

    path = _planted(folder, payload, "0.png")
    return path, lambda: load_image(path, 32)


def _idx_file(folder: Path, payload: bytes):
    from replay_gym.data.fashion_mnist import read_idx

    path = _planted(folder, payload, "train-images-idx3-ubyte")
    return path, lambda: read_idx(path)


LOADERS: dict[str, Loader] = {
    "env.load_state": _env_load_state,
    "env.reset(options=state)": _env_reset_with_state,
    "statefile.load_tree": _state_tree,
    "run --resume: checkpoint": _run_checkpoint,
    "run --resume: config.json": _run_config,
    "run --resume: results.jsonl": _run_results,
    "weights=PATH": _weights_file,
    "weights=imagenet (hub cache)": _hub_cache,
    "sb3 model file": _sb3_model_file,
    "sb3 policy.pth": _sb3_zip("policy.pth"),
    "sb3 policy.optimizer.pth": _sb3_zip("policy.optimizer.pth"),
    "sb3 sidecar": _sb3_sidecar,
    "sb3 replay buffer": _sb3_replay_buffer,
    "compare/plot: config.json": _compare("config.json"),
    "compare/plot: results.jsonl": _compare("results.jsonl"),
    "sweep --config": _sweep_file,
    "data folder image": _image,
    "fashion-mnist idx": _idx_file,
}
"""Every place replay-gym reads a file a user (or an attacker) could replace."""


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_every_loader_refuses_a_malicious_pickle_naming_the_file(
    loader, how, tmp_path, marker, evil_pickle, evil_torch_file, monkeypatch
):
    from replay_gym.learner import weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(weights, "imagenet_url", weights.imagenet_url)  # restored after
    folder = tmp_path / "files"
    folder.mkdir()
    path, load = LOADERS[loader](folder, evil_pickle if how == "pickle" else evil_torch_file)
    with pytest.raises(ValueError) as refused:  # StateFileError and the others are ValueErrors
        load()
    assert path.name in str(refused.value)
    assert not marker.exists()


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_the_pickles_in_an_sb3_data_entry_are_never_decoded(
    how, tmp_path, marker, evil_pickle, evil_torch_file
):
    _, load = _sb3_data(tmp_path, evil_pickle if how == "pickle" else evil_torch_file)
    assert load() == ["clip_range"]  # kept as SB3's text description
    assert not marker.exists()


def test_the_payload_runs_when_unpickled(marker, evil_pickle, evil_torch_file):
    import pickle

    pickle.loads(evil_pickle)
    assert marker.exists()
    marker.unlink()
    torch.load(__import__("io").BytesIO(evil_torch_file), weights_only=False)
    assert marker.exists()


SAFE_MODULES = {"json", "tomllib"}
"""Modules whose ``load``/``loads`` parse text and never build objects named in the file."""


def _deserialising_calls(path: Path) -> list[tuple[str, str]]:
    """``(callee, source)`` of every ``load``/``loads``/``safe_open`` call in ``path``."""
    tree = ast.parse(path.read_text())
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("load", "loads", "safe_open", "open") and not (
            name == "open"
            and not (isinstance(func, ast.Attribute) and ast.unparse(func.value) == "shelve")
        ):
            owner = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
            if owner not in SAFE_MODULES:
                calls.append((f"{owner}.{name}" if owner else name, ast.unparse(node)))
    return calls


def test_no_unsafe_deserialiser_in_the_code():
    """The only calls that could unpickle are the three safe ones, so LOADERS is complete."""
    found = {
        (str(path.relative_to(REPO)), source)
        for folder in ("replay_gym", "agents")
        for path in sorted((REPO / folder).rglob("*.py"))
        for _, source in _deserialising_calls(path)
    }
    assert found == {
        ("replay_gym/learner/weights.py",
         "torch.load(source, map_location='cpu', weights_only=True)"),
        ("agents/sb3/checkpoints.py", "np.load(path, allow_pickle=False)"),
        ("replay_gym/statefile.py", "safe_open(str(path), framework='pt')"),
    }  # fmt: skip


def test_the_code_check_would_see_an_unsafe_call(tmp_path):
    code = tmp_path / "x.py"
    code.write_text(
        "import pickle, torch\nfrom stable_baselines3 import PPO\n"
        "pickle.loads(b'')\ntorch.load(f)\nPPO.load(path)\njson.loads('1')\nshelve.open('s')\n"
    )
    assert [callee for callee, _ in _deserialising_calls(code)] == [
        "pickle.loads",
        "torch.load",
        "PPO.load",
        "shelve.open",
    ]
