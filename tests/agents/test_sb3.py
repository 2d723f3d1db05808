"""Stable-Baselines3 training, saving, resuming, logging and the SB3 selector, on tiny budgets.

The environment is the smoke preset shrunk further (4-step nights, 2 days: 8-step courses, few
images, no augmentation) with random conv weights, so the tests need no pretrained asset and
a 16-step training run takes about a second.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, DQN, PPO

import replay_gym  # noqa: F401 - registers ReplaySelect-v0
from replay_gym.agents.sb3 import (
    ReplayLogCallback,
    SB3Selector,
    TrainSB3Args,
    read_sidecar,
    sidecar_path,
    train_sb3,
)
from replay_gym.config import apply_overrides, preset

TINY_OVERRIDES = {
    "days": 2,
    "steps_per_night": 4,
    "weights": "none",
    "augment": False,
    "train_per_class": 12,
    "val_per_class": 4,
    "test_per_class": 4,
}
TINY = apply_overrides(preset("smoke"), **TINY_OVERRIDES)
"""Smoke preset, 8-step courses of two 4-step nights; 4 classes: Box(14,) / Discrete(4)."""

TINY_FLAGS = [
    "--env.days", "2", "--env.steps-per-night", "4", "--env.learner.weights", "none",
    "--env.learner.no-augment", "--env.data.train-per-class", "12",
    "--env.data.val-per-class", "4", "--env.data.test-per-class", "4",
]
"""The same settings as command-line flags."""

ALGO_SETTINGS = {
    "ppo": {"n_steps": 8, "batch_size": 8, "n_epochs": 2},
    "a2c": {"n_steps": 4},
    "dqn": {"learning_starts": 4, "batch_size": 4, "buffer_size": 64},
}
CLASSES = {"ppo": PPO, "a2c": A2C, "dqn": DQN}


def tiny_args(tmp: Path, algo: str = "ppo", name: str | None = None, **kwargs) -> TrainSB3Args:
    settings = {**ALGO_SETTINGS[algo], **kwargs}
    settings.setdefault("total_timesteps", 16)
    return TrainSB3Args(
        algo=algo, preset="smoke", env=TINY, out=tmp / (name or f"{algo}.zip"), verbose=0,
        **settings,
    )


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on a shared 2-core machine, two threads that wait for each other
    while another process holds a core make these tiny workloads tens of times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One 16-step model per algorithm, trained once for the module."""
    folder = tmp_path_factory.mktemp("models")
    return {algo: train_sb3(tiny_args(folder, algo)) for algo in ALGO_SETTINGS}


def tensorboard_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(folder.rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return out


def tiny_env(**overrides) -> gym.Env:
    config = apply_overrides(TINY, **overrides) if overrides else TINY
    return gym.make("ReplaySelect-v0", config=config)


# -- arguments ------------------------------------------------------------------------------


def test_default_hyperparameters_follow_the_environment():
    night, course = TINY.night_length, TINY.days * TINY.night_length
    ppo = TrainSB3Args(algo="ppo", env=TINY).hyperparameters()
    assert ppo["n_steps"] == night and ppo["gamma"] == pytest.approx(1 - 1 / night)
    dqn = TrainSB3Args(algo="dqn", env=TINY).hyperparameters()
    assert (dqn["buffer_size"], dqn["learning_starts"], dqn["target_update_interval"]) == (
        3 * course, night, night,
    )
    assert dqn["train_freq"] == 1
    assert 5 <= TrainSB3Args(algo="a2c", env=TINY).hyperparameters()["n_steps"] <= 20
    paper = TrainSB3Args(algo="ppo", env=preset("paper"), n_envs=2).hyperparameters()
    assert paper["n_steps"] == 325 and (325 * 2) % paper["batch_size"] == 0
    assert paper["gamma"] == pytest.approx(1 - 1 / 325)
    assert TrainSB3Args(algo="ppo", env=TINY, n_steps=50, gamma=0.9).hyperparameters()[
        "batch_size"
    ] == 50
    assert TrainSB3Args(algo="dqn", env=TINY, gamma=0.9).hyperparameters()["gamma"] == 0.9


def test_default_paths():
    args = TrainSB3Args(algo="dqn", preset="smoke", env=TINY)
    assert args.model_path == Path("runs/sb3-dqn-smoke.zip")
    assert args.tensorboard_dir == Path("runs/sb3-dqn-smoke.tb")
    assert sidecar_path(args.model_path) == Path("runs/sb3-dqn-smoke.zip.json")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"algo": "sac"}, "algo must be one of"),
        ({"total_timesteps": 0}, "total_timesteps"),
        ({"n_envs": 0}, "n_envs"),
        ({"vec_env": "ray"}, "vec_env"),
        ({"save_every": -1}, "save_every"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"gamma": 1.5}, "gamma"),
        ({"n_steps": 0}, "n_steps"),
        ({"batch_size": 1}, "batch_size"),
        ({"buffer_size": 100}, "buffer_size is a setting of dqn"),
        ({"algo": "dqn", "n_epochs": 3}, "n_epochs is a setting of ppo"),
        ({"algo": "dqn", "exploration_fraction": 2.0}, "exploration_fraction"),
        ({"net_arch": ()}, "net_arch"),
        ({"out": Path("model.pt")}, "out must be a .zip"),
        ({"resume": Path("/nonexistent/model.zip")}, "resume: no saved model at /nonexistent"),
        ({"env": dataclasses.replace(TINY, days=0)}, "days"),
    ],
)
def test_bad_arguments_name_the_field(tmp_path, changes, message):
    base = TrainSB3Args(preset="smoke", env=TINY, out=tmp_path / "m.zip", verbose=0)
    args = dataclasses.replace(base, **changes)
    with pytest.raises(ValueError, match=message):
        args.validate()
    with pytest.raises(ValueError, match=message):
        train_sb3(args)


def test_existing_model_is_not_overwritten_without_asking(tmp_path):
    out = tmp_path / "ppo.zip"
    out.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="--overwrite"):
        train_sb3(tiny_args(tmp_path, total_timesteps=8))
    assert out.read_bytes() == b"precious"
    train_sb3(tiny_args(tmp_path, total_timesteps=8, overwrite=True))
    assert PPO.load(out, device="cpu").num_timesteps == 8


# -- training and saving --------------------------------------------------------------------


@pytest.mark.parametrize("algo", sorted(ALGO_SETTINGS))
def test_training_saves_model_sidecar_and_tensorboard(trained, algo):
    path = trained[algo]
    assert path.is_file() and sidecar_path(path).is_file()
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    meta = read_sidecar(path)
    assert meta is not None
    assert (meta["algo"], meta["preset"], meta["seed"]) == (algo, "smoke", 0)
    assert meta["total_timesteps"] == meta["num_timesteps"] == 16 and meta["complete"]
    assert meta["env"]["days"] == 2 and meta["env"]["resolved"]["night_length"] == 4
    assert meta["observation_space"] == "Box(14,)" and meta["action_space"] == "Discrete(4)"
    for key, value in ALGO_SETTINGS[algo].items():
        assert meta["hyperparameters"][key] == value
    assert meta["sb3_version"]
    model = CLASSES[algo].load(path, device="cpu")
    assert model.num_timesteps == 16

    scalars = tensorboard_scalars(path.with_name(f"{algo}.tb"))
    assert [step for step, _ in scalars["replay/reward"]] == list(range(1, 17))
    assert len(scalars["replay/chi2"]) == 16
    # 16 steps of 4-step nights: nights end at steps 4, 8, 12, 16.
    assert [step for step, _ in scalars["night/test_accuracy"]] == [4, 8, 12, 16]
    assert all(0 <= v <= 1 for _, v in scalars["night/val_accuracy"])
    counts = [scalars[f"night/replays/class_{c}"][0][1] for c in range(4)]
    assert sum(counts) == 4 * TINY.learner.batch_size
    name = "q_value" if algo == "dqn" else "preference"
    values = [scalars[f"night/{name}/class_{c}"][0][1] for c in range(4)]
    if algo != "dqn":
        assert sum(values) == pytest.approx(1.0, abs=1e-5)


def test_same_seed_same_model(tmp_path):
    first = train_sb3(tiny_args(tmp_path, name="a.zip", total_timesteps=8))
    second = train_sb3(tiny_args(tmp_path, name="b.zip", total_timesteps=8))
    a, b = PPO.load(first, device="cpu"), PPO.load(second, device="cpu")
    for (key, x), (_, y) in zip(
        a.policy.state_dict().items(), b.policy.state_dict().items(), strict=True
    ):
        assert np.array_equal(x.numpy(), y.numpy()), key


def test_interrupted_training_saves_what_it_has(tmp_path, monkeypatch):
    def interrupt(self):
        if self.num_timesteps >= 5:
            raise KeyboardInterrupt
        return True

    monkeypatch.setattr(ReplayLogCallback, "_on_step", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_sb3(tiny_args(tmp_path))
    meta = read_sidecar(tmp_path / "ppo.zip")
    assert meta is not None and not meta["complete"] and meta["num_timesteps"] == 5


def test_periodic_save(tmp_path, monkeypatch):
    import replay_gym.agents.sb3.callbacks as callbacks
    import replay_gym.agents.sb3.train as train

    saved: list[int] = []
    real_save = callbacks._save

    def spy(model, args, complete):
        saved.append(int(model.num_timesteps))
        return real_save(model, args, complete)

    monkeypatch.setattr(callbacks, "_save", spy)
    monkeypatch.setattr(train, "_save", spy)
    train_sb3(tiny_args(tmp_path, save_every=6))
    assert saved == [6, 12, 16]


# -- resuming -------------------------------------------------------------------------------


def test_resume_continues_counting_and_applies_given_settings(trained, tmp_path):
    args = TrainSB3Args(
        algo="ppo", preset="smoke", env=TINY, out=tmp_path / "more.zip", resume=trained["ppo"],
        total_timesteps=8, learning_rate=1e-3, seed=1, verbose=0,
    )
    path = train_sb3(args)
    model = PPO.load(path, device="cpu")
    assert model.num_timesteps == 24
    meta = read_sidecar(path)
    assert meta is not None
    assert meta["num_timesteps"] == 24 and meta["resumed_from"] == str(trained["ppo"])
    assert meta["hyperparameters"]["learning_rate"] == 1e-3
    assert meta["hyperparameters"]["n_steps"] == 8  # kept from the saved model


def test_resume_in_place(trained, tmp_path):
    path = tmp_path / "a2c.zip"
    shutil.copy(trained["a2c"], path)
    shutil.copy(sidecar_path(trained["a2c"]), sidecar_path(path))
    args = dataclasses.replace(tiny_args(tmp_path, "a2c"), resume=path, total_timesteps=4)
    assert train_sb3(args) == path
    assert A2C.load(path, device="cpu").num_timesteps == 20


def test_resume_refuses_another_algorithm_or_environment(trained, tmp_path):
    args = tiny_args(tmp_path, "dqn", resume=trained["ppo"], total_timesteps=4)
    with pytest.raises(ValueError, match="trained with algo 'ppo'"):
        train_sb3(args)
    bare = tmp_path / "bare.zip"
    shutil.copy(trained["a2c"], bare)  # no sidecar: the saved attributes tell
    with pytest.raises(ValueError, match="saved attributes are those of algo 'a2c'"):
        train_sb3(dataclasses.replace(args, resume=bare))
    other = apply_overrides(TINY, n_classes=3)
    args = dataclasses.replace(
        tiny_args(tmp_path, "ppo", total_timesteps=4), resume=trained["ppo"], env=other
    )
    with pytest.raises(ValueError, match=r"trained for Box\(14,\) / Discrete\(4\)"):
        train_sb3(args)


# -- the selector ---------------------------------------------------------------------------


@pytest.mark.parametrize("algo", sorted(ALGO_SETTINGS))
def test_selector_plays_a_course(trained, run, algo):
    env = tiny_env()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same settings as in training: no warning
        agent = SB3Selector(trained[algo], env)
    assert agent.name == "sb3" and agent.algo == algo and agent.preferences() is None
    actions = run(env, agent, seed=3)
    assert len(actions) == 8 and all(0 <= a < 4 for a in actions)
    values = agent.preferences()
    assert values is not None and values.shape == (4,)
    if algo != "dqn":
        assert values.sum() == pytest.approx(1.0, abs=1e-5)
        assert actions[-1] == int(np.argmax(values))  # deterministic: the likeliest class
    assert run(env, SB3Selector(trained[algo], env), seed=3) == actions
    env.close()


def test_stochastic_selector_draws_from_the_episode_rng(trained, run):
    env = tiny_env()
    first = run(env, SB3Selector(trained["ppo"], env, deterministic=False), seed=5)
    second = run(env, SB3Selector(trained["ppo"], env, deterministic=False), seed=5)
    assert first == second
    env.close()


def test_selector_without_sidecar_guesses_the_algorithm(trained, tmp_path):
    for algo in ("a2c", "dqn"):
        path = tmp_path / f"bare-{algo}.zip"
        shutil.copy(trained[algo], path)
        agent = SB3Selector(path)
        assert agent.algo == algo and agent.metadata is None


def test_selector_refuses_another_observation_or_action_space(trained):
    env = gym.make("ReplaySelect-v0", config=apply_overrides(TINY, n_classes=3))
    with pytest.raises(ValueError) as error:
        SB3Selector(trained["ppo"], env)
    message = str(error.value)
    assert str(trained["ppo"]) in message
    assert "trained for Box(14,) / Discrete(4) but the environment has Box(11,) / Discrete(3)" in (
        message
    )


def test_selector_warns_about_other_settings(trained):
    with pytest.warns(UserWarning, match=r"learner\.lr: 0\.0003 -> 0\.001"):
        SB3Selector(trained["dqn"], tiny_env(lr=1e-3))


def test_selector_missing_or_broken_file(tmp_path):
    missing = tmp_path / "nothing.zip"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        SB3Selector(missing)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="loads as none of"):
        SB3Selector(broken)
    sidecar_path(broken).write_text(json.dumps({"algo": "sac"}))
    with pytest.raises(ValueError, match="names algo 'sac'"):
        SB3Selector(broken)
    sidecar_path(broken).write_text(json.dumps({"algo": "ppo"}))
    with pytest.raises(ValueError, match="cannot load .*broken.zip as a ppo model"):
        SB3Selector(broken)


# -- command line ---------------------------------------------------------------------------


def test_cli_trains_then_runs_the_model(tmp_path):
    from replay_gym.__main__ import main

    model = tmp_path / "m.zip"
    main([
        "train-sb3", "--algo", "ppo", "--preset", "smoke", "--total-timesteps", "8",
        "--n-steps", "8", "--batch-size", "8", "--verbose", "0", "--out", str(model),
        *TINY_FLAGS,
    ])
    assert model.is_file() and read_sidecar(model)["preset"] == "smoke"
    assert (tmp_path / "m.tb").is_dir()
    with pytest.raises(SystemExit, match="already exists"):
        main(["train-sb3", "--preset", "smoke", "--out", str(model), *TINY_FLAGS])
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="days: 2 -> 1"):
        main([
            "run", "--condition", "sb3", "--preset", "smoke", "--model", str(model), "--out",
            str(out), "--no-progress", *TINY_FLAGS, "--env.days", "1",
        ])
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["day"] for r in rows] == [1]
    assert rows[0]["condition"] == "sb3" and sum(rows[0]["replay_counts"]) > 0


@pytest.mark.slow
def test_subprocess_vector_env(tmp_path):
    args = tiny_args(tmp_path, n_envs=2, vec_env="subproc", total_timesteps=16)
    path = train_sb3(args)
    meta = read_sidecar(path)
    assert meta is not None and meta["n_envs"] == 2 and meta["num_timesteps"] == 16
    scalars = tensorboard_scalars(tmp_path / "ppo.tb")
    assert [step for step, _ in scalars["replay/reward"]] == list(range(2, 18, 2))
    assert [step for step, _ in scalars["night/test_accuracy"]] == [8, 16]
