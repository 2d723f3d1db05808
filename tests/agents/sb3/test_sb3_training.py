"""Stable-Baselines3 training, saving, resuming and logging on tiny budgets (see sb3_helpers)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from sb3_helpers import (
    ALGO_SETTINGS,
    CLASSES,
    TINY,
    TINY_FLAGS,
    tensorboard_scalars,
    tiny_args,
)
from stable_baselines3 import A2C, PPO

from replay_gym.agents.sb3 import (
    ReplayLogCallback,
    TrainSB3Args,
    read_model,
    read_sidecar,
    sidecar_path,
    train_sb3,
)
from replay_gym.config import apply_overrides, preset

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


def test_the_environment_defaults_to_the_named_presets():
    # Regression: built in Python (as the leaderboard builds it), TrainSB3Args(preset="default")
    # trained on EnvConfig()'s bare defaults (Adam eps 1.0, 360 images, the paper's
    # down-sampling; prototypes even for preset="fashion-mnist"), while the sidecar said
    # "default"; only the command line filled env from --preset.
    for name in ("default", "fashion-mnist", "smoke"):
        assert TrainSB3Args(algo="ppo", preset=name).env == preset(name)
    assert TrainSB3Args(algo="ppo", preset="smoke", env=TINY).env == TINY  # given: kept
    with pytest.raises(ValueError, match="nope"):
        TrainSB3Args(algo="ppo", preset="nope")


def test_default_paths():
    args = TrainSB3Args(algo="dqn", preset="smoke", env=TINY)
    assert args.model_path == Path("runs/sb3-dqn-smoke.zip")
    assert args.tensorboard_dir == Path("runs/sb3-dqn-smoke.tb")
    assert sidecar_path(args.model_path) == Path("runs/sb3-dqn-smoke.zip.json")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"total_timesteps": 0}, "total_timesteps"),
        ({"n_envs": 0}, "n_envs"),
        ({"checkpoint_every": -1}, "checkpoint_every"),
        ({"keep_checkpoints": 0}, "keep_checkpoints"),
        ({"threads": 0}, "threads"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"gamma": 1.5}, "gamma"),
        ({"n_steps": 0}, "n_steps"),
        ({"batch_size": 1}, "batch_size"),
        ({"buffer_size": 100}, "buffer_size is a setting of dqn"),
        ({"algo": "dqn", "n_epochs": 3}, "n_epochs is a setting of ppo"),
        ({"algo": "dqn", "exploration_fraction": 2.0}, "exploration_fraction"),
        ({"net_arch": ()}, "net_arch"),
        ({"out": Path("model.pt")}, "out must be a .zip"),
        ({"resume": Path("/nonexistent/model.zip")}, "resume: no saved model or checkpoint .*"
                                                     "at /nonexistent"),
    ],
)
def test_bad_arguments_name_the_field(tmp_path, changes, message):
    base = TrainSB3Args(preset="smoke", env=TINY, out=tmp_path / "m.zip", verbose=0)
    args = dataclasses.replace(base, **changes)
    with pytest.raises(ValueError, match=message):
        args.validate()
    with pytest.raises(ValueError, match=message):
        train_sb3(args)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"learning_rate": float("inf")}, "learning_rate must be a finite number"),
        ({"ent_coef": float("nan")}, "ent_coef must be a finite number"),
        ({"total_timesteps": 1.5}, r"total_timesteps must be an integer .*got 1.5"),
        ({"n_envs": "2"}, r"n_envs must be an integer \(int\), got '2' \(str\)"),
        ({"seed": True}, "seed must be an integer"),
        ({"algo": "sac"}, "algo must be one of 'ppo', 'a2c', 'dqn'"),
        ({"vec_env": "ray"}, "vec_env must be one of 'dummy', 'subproc'"),
        ({"net_arch": (64, 0.5)}, r"net_arch\[1\] must be an integer \(int\), got 0.5"),
    ],
)
def test_bad_types_are_refused_when_the_arguments_are_built(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainSB3Args(preset="smoke", env=TINY, **changes)


def test_paths_may_be_given_as_strings(tmp_path):
    args = TrainSB3Args(preset="smoke", env=TINY, out=str(tmp_path / "m.zip"))
    assert args.model_path == tmp_path / "m.zip" and args.checkpoints == tmp_path / "m.ckpt"


@pytest.mark.parametrize(
    ("where", "flag"),
    [
        ({"out": "file/m.zip"}, "out"),
        ({"tensorboard": "file/tb"}, "tensorboard"),
        ({"checkpoint_dir": "file/sub/ckpt", "checkpoint_every": 4}, "checkpoint_dir"),
    ],
)
def test_unwritable_outputs_are_refused_before_any_work(tmp_path, monkeypatch, where, flag):
    import replay_gym.agents.sb3.train as train

    def no_work(args):
        raise AssertionError("an environment was built")

    monkeypatch.setattr(train, "make_vec_env", no_work)
    (tmp_path / "file").write_text("x")
    given = {k: tmp_path / v if isinstance(v, str) else v for k, v in where.items() if k != "out"}
    args = tiny_args(tmp_path, name=where.get("out"), **given)
    message = f"{flag} {tmp_path / where[flag]}: {tmp_path / 'file'} is a file, not a folder"
    with pytest.raises(ValueError, match=message):
        train_sb3(args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_bad_env_setting_is_refused_before_train_sb3_sees_it():
    # Settings are checked when the config is built (tests/test_bad_input.py covers them all).
    with pytest.raises(ValueError, match="days"):
        dataclasses.replace(TINY, days=0)


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


def test_cli_interrupt_prints_one_line_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    from replay_gym.__main__ import main

    def interrupt(self):
        if self.num_timesteps >= 3:
            raise KeyboardInterrupt
        return True

    monkeypatch.setattr(ReplayLogCallback, "_on_step", interrupt)
    model = tmp_path / "m.zip"
    with pytest.raises(SystemExit) as exit_info:
        main([
            "train-sb3", "--preset", "smoke", "--total-timesteps", "16", "--n-steps", "8",
            "--batch-size", "8", "--verbose", "0", "--out", str(model), *TINY_FLAGS,
        ])
    assert exit_info.value.code == 130
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"interrupted: model after 3 steps saved to {model}; continue with "
                     f"--resume {model} (without --total-timesteps it trains up to the 16 "
                     "steps planned)"]


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


def test_resume_restores_weights_optimiser_and_counters(trained, tmp_path, monkeypatch):
    seen = {}

    def capture(self):
        policy = self.model.policy
        seen["policy"] = {k: v.clone() for k, v in policy.state_dict().items()}
        seen["optimizer"] = copy.deepcopy(policy.optimizer.state_dict())
        seen["counters"] = (self.model.num_timesteps, self.model._n_updates)

    monkeypatch.setattr(ReplayLogCallback, "_on_training_start", capture)
    saved = read_model(trained["ppo"])
    train_sb3(tiny_args(tmp_path, resume=trained["ppo"], total_timesteps=8))
    assert seen["policy"].keys() == saved.policy_state.keys()
    for key, value in saved.policy_state.items():
        assert torch.equal(seen["policy"][key], value), key
    state = seen["optimizer"]["state"]
    assert state and all(
        torch.equal(state[i]["exp_avg"], saved.optimizer_state["state"][i]["exp_avg"])
        for i in state
    )
    assert seen["counters"] == (16, saved.data["_n_updates"]) and saved.data["_n_updates"] > 0


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


# -- command line ---------------------------------------------------------------------------


def help_text(capsys, command: str) -> str:
    from replay_gym.__main__ import main

    with pytest.raises(SystemExit):
        main([command, "--help"])
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", capsys.readouterr().out).split())


def test_help_numbers_come_from_the_presets_and_sb3(capsys):
    from stable_baselines3 import DQN

    sb3_train_freq = inspect.signature(DQN).parameters["train_freq"].default
    text = help_text(capsys, "train-sb3")
    default, paper = preset("default"), preset("paper")
    night = default.night_length
    assert f"({1 - 1 / night:.3g} for the default preset's {night}-step nights)" in text
    assert f"{10_000 / (default.days * night):g} courses of the default preset" in text
    assert f"under one paper night of {paper.night_length} steps" in text
    assert f"(SB3: {sb3_train_freq})" in text
    assert "100-step" not in text and "ten courses" not in text


def test_help_values_follow_the_presets(monkeypatch):
    import replay_gym.agents.sb3.args as args_module

    longer = dataclasses.replace(preset("default"), steps_per_night=80, days=5)
    monkeypatch.setattr(args_module, "preset", lambda name: longer)
    values = args_module._help_values()
    assert (values["night"], values["course"], values["paper_night"]) == (80, 400, 80)
    assert values["gamma"] == pytest.approx(1 - 1 / 80)


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
    assert meta["threads"] == {"main": 1, "workers": 1, "per_env": [1, 1]}  # one per worker
    scalars = tensorboard_scalars(tmp_path / "ppo.tb")
    assert [step for step, _ in scalars["replay/reward"]] == list(range(2, 18, 2))
    assert [step for step, _ in scalars["night/test_accuracy"]] == [8, 16]
