"""train-sb3 --algo maskable-ppo: sb3-contrib's MaskablePPO on a course that masks actions.

The course is the tiny one of sb3_helpers in the class-incremental scenario: 2 tasks of 2 classes
(the smoke preset's 4), one day each, so night 1 may replay classes 0 and 1 only and night 2 every
class. The environment refuses an unseen class as action (ValueError), so a run that finishes
chose valid classes only; the tests also record every action with the mask it was taken under.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import signal
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from sb3_helpers import TINY, TINY_FLAGS, evil_data, rewrite_zip, tensorboard_scalars

sb3_contrib = pytest.importorskip("sb3_contrib")

from sb3_contrib import MaskablePPO  # noqa: E402
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy  # noqa: E402
from sb3_contrib.common.maskable.utils import (  # noqa: E402
    get_action_masks,
    is_masking_supported,
)

from replay_gym.__main__ import main  # noqa: E402
from replay_gym.agents.sb3 import (  # noqa: E402
    ReplayLogCallback,
    SB3Selector,
    TrainSB3Args,
    action_preferences,
    list_checkpoints,
    make_vec_env,
    read_model,
    read_sidecar,
    sidecar_path,
    train_sb3,
)
from replay_gym.agents.sb3.checkpoints import MODEL_FILE  # noqa: E402
from replay_gym.config import apply_overrides  # noqa: E402
from replay_gym.envs.replay_select import ReplaySelectionEnv  # noqa: E402
from replay_gym.envs.vector import make_vector_env  # noqa: E402
from replay_gym.rundir import RunInterrupted  # noqa: E402

CI = apply_overrides(TINY, scenario="class-incremental")
"""TINY (2 days, 4-step nights, 4 classes) as 2 tasks of 2 classes, a day each."""
CI_FLAGS = [*TINY_FLAGS, "--env.scenario", "class-incremental"]
"""The same as command-line flags (with --preset smoke)."""
FIRST_TASK = np.array([True, True, False, False])
SETTINGS = {"n_steps": 8, "batch_size": 8, "n_epochs": 2}
"""8-step rollouts: one course per update."""
OBSERVATIONS = np.random.default_rng(0).uniform(0, 2, (6, 14)).astype(np.float32)


def mppo_args(tmp: Path, name: str = "mppo.zip", **kwargs) -> TrainSB3Args:
    settings = {**SETTINGS, "total_timesteps": 16, **kwargs}
    return TrainSB3Args(
        algo="maskable-ppo", preset="smoke", env=CI, out=tmp / name, verbose=0, **settings
    )


@pytest.fixture
def taken(monkeypatch) -> list[tuple[int, np.ndarray]]:
    """Every action any env of this process steps with, and the valid actions at that step."""
    record: list[tuple[int, np.ndarray]] = []
    original = ReplaySelectionEnv.step

    def step(self, action):
        record.append((int(action), self.action_masks().copy()))
        return original(self, action)

    monkeypatch.setattr(ReplaySelectionEnv, "step", step)
    return record


def assert_valid(record: list[tuple[int, np.ndarray]], steps: int) -> None:
    assert len(record) == steps
    assert all(mask[action] for action, mask in record), record
    # the check means something: part of the steps had classes masked
    assert any(not mask.all() for _, mask in record)


@pytest.fixture(scope="module")
def mppo_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16-step maskable-ppo model on the class-incremental course, trained once."""
    folder = tmp_path_factory.mktemp("mppo")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_sb3(mppo_args(folder))
    finally:
        torch.set_num_threads(threads)


# -- arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn"])
def test_algorithms_without_masks_are_refused_on_class_incremental(tmp_path, monkeypatch, algo):
    import replay_gym.agents.sb3.train as train

    def no_work(args):
        raise AssertionError("an environment was built")

    monkeypatch.setattr(train, "make_vec_env", no_work)
    args = TrainSB3Args(algo=algo, preset="smoke", env=CI, out=tmp_path / "m.zip", verbose=0)
    message = (
        f"algo '{algo}' cannot train on scenario 'class-incremental': .* use --algo maskable-ppo"
    )
    with pytest.raises(ValueError, match=message):
        train_sb3(args)
    with pytest.raises(SystemExit, match=message):
        main(
            [
                "train-sb3",
                "--algo",
                algo,
                "--preset",
                "smoke",
                "--out",
                str(tmp_path / "m.zip"),
                *CI_FLAGS,
            ]
        )
    assert list(tmp_path.iterdir()) == []
    # the paper's scenario masks nothing: every algorithm may train there, maskable-ppo too
    for name in (algo, "maskable-ppo"):
        dataclasses.replace(args, algo=name, env=TINY).validate()


def test_maskable_ppo_takes_ppos_settings_and_defaults():
    for env in (TINY, CI):
        assert (
            TrainSB3Args(algo="maskable-ppo", env=env).hyperparameters()
            == TrainSB3Args(algo="ppo", env=env).hyperparameters()
        )
    given = TrainSB3Args(algo="maskable-ppo", env=CI, n_steps=6, n_epochs=3, ent_coef=0.0)
    assert given.hyperparameters()["batch_size"] == 6
    with pytest.raises(
        ValueError, match="buffer_size is a setting of dqn, not of algo 'maskable-ppo'"
    ):
        TrainSB3Args(algo="maskable-ppo", env=CI, buffer_size=64).validate()
    with pytest.raises(ValueError, match="batch_size must be at least 2 for maskable-ppo"):
        TrainSB3Args(algo="maskable-ppo", env=CI, n_steps=8, batch_size=1).validate()
    assert TrainSB3Args(algo="maskable-ppo", preset="smoke").model_path == Path(
        "runs/sb3-maskable-ppo-smoke.zip"
    )


# -- training -------------------------------------------------------------------------------


def test_training_takes_only_valid_classes_and_saves_the_model(tmp_path, taken):
    path = train_sb3(mppo_args(tmp_path))
    assert_valid(taken, 16)
    assert [mask.tolist() for _, mask in taken[:8]] == [FIRST_TASK.tolist()] * 4 + [[True] * 4] * 4
    meta = read_sidecar(path)
    assert meta["algo"] == "maskable-ppo" and meta["complete"] and meta["num_timesteps"] == 16
    assert meta["env"]["scenario"] == "class-incremental"
    for key, value in SETTINGS.items():
        assert meta["hyperparameters"][key] == value
    model = MaskablePPO.load(path, device="cpu")  # SB3's load: a file this test wrote
    assert model.num_timesteps == 16 and isinstance(model.policy, MaskableActorCriticPolicy)
    scalars = tensorboard_scalars(tmp_path / "mppo.tb")
    assert [step for step, _ in scalars["night/test_accuracy"]] == [4, 8, 12, 16]
    for step in range(4):
        values = [scalars[f"night/preference/class_{c}"][step][1] for c in range(4)]
        assert sum(values) == pytest.approx(1.0, abs=1e-5)


def test_night_preferences_are_those_under_the_next_nights_mask(tmp_path):
    # 2 days per task: night 1 ends (step 4) before night 2, which still has task 1's classes.
    env = apply_overrides(CI, days=4)
    train_sb3(dataclasses.replace(mppo_args(tmp_path), env=env, total_timesteps=8))
    scalars = tensorboard_scalars(tmp_path / "mppo.tb")
    first = [scalars[f"night/preference/class_{c}"][0] for c in range(4)]
    assert [step for step, _ in first] == [4, 4, 4, 4]
    values = [value for _, value in first]
    assert values[2] == values[3] == 0.0 and sum(values) == pytest.approx(1.0, abs=1e-5)


def test_cli_trains_and_run_plays_only_valid_classes(tmp_path, taken):
    model = tmp_path / "mppo.zip"
    main([
        "train-sb3", "--algo", "maskable-ppo", "--preset", "smoke", "--total-timesteps", "8",
        "--n-steps", "8", "--batch-size", "8", "--verbose", "0", "--out", str(model), *CI_FLAGS,
    ])  # fmt: skip
    assert read_sidecar(model)["algo"] == "maskable-ppo"
    assert_valid(taken, 8)
    taken.clear()
    out = tmp_path / "run"
    main([
        "run", "--condition", "sb3", "--model", str(model), "--preset", "smoke", "--seeds", "2",
        "--out", str(out), "--threads", "1", "--no-progress", *CI_FLAGS,
    ])  # fmt: skip
    assert_valid(taken, 16)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["seed"], r["task"]) for r in rows] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    assert all(r["replay_counts"][2:] == [0, 0] for r in rows if r["task"] == 1)


# -- the selector and safe loading ----------------------------------------------------------


def test_selector_passes_the_mask_to_maskable_ppos_predict(mppo_model, monkeypatch):
    agent = SB3Selector(mppo_model)
    assert agent.algo == "maskable-ppo" and isinstance(agent.policy, MaskableActorCriticPolicy)
    seen = []
    predict = agent.policy.predict

    def spy(*args, **kwargs):
        seen.append(kwargs.get("action_masks"))
        return predict(*args, **kwargs)

    monkeypatch.setattr(agent.policy, "predict", spy)
    for obs in OBSERVATIONS:
        assert agent.select(obs, {"action_mask": FIRST_TASK}) in (0, 1)
        values = agent.preferences()
        assert values[2] == values[3] == 0.0 and values.sum() == pytest.approx(1.0)
    assert len(seen) == len(OBSERVATIONS)
    assert all(np.array_equal(mask, FIRST_TASK) for mask in seen)
    agent.select(OBSERVATIONS[0], {"action_mask": np.ones(4, bool)})  # nothing masked: no mask
    assert seen[-1] is None


@pytest.mark.parametrize("sidecar", [True, False], ids=["sidecar", "no-sidecar"])
def test_safe_loading_computes_what_maskable_ppos_load_gives(mppo_model, tmp_path, sidecar):
    path = tmp_path / "model.zip"
    shutil.copy(mppo_model, path)
    if sidecar:
        shutil.copy(sidecar_path(mppo_model), sidecar_path(path))
    # MaskablePPO.load unpickles: acceptable here, on a file this test session wrote itself.
    reference = MaskablePPO.load(path, device="cpu")
    agent = SB3Selector(path)
    assert agent.algo == "maskable-ppo"  # without a sidecar: from the saved policy class
    assert (agent.metadata is not None) == sidecar
    saved, rebuilt = reference.policy.state_dict(), agent.policy.state_dict()
    assert saved.keys() == rebuilt.keys()
    assert all(torch.equal(saved[k].cpu(), rebuilt[k]) for k in saved)
    rng = np.random.default_rng(1)
    masks = [None, FIRST_TASK, np.array([False, False, True, True])]
    masks += [(rng.random(4) < 0.5) | (np.arange(4) == i) for i in range(4)]
    for obs in OBSERVATIONS:
        for mask in masks:
            np.testing.assert_allclose(
                action_preferences(agent.policy, obs, mask),
                action_preferences(reference.policy, obs, mask),
                rtol=1e-6,
            )
            expected, _ = reference.predict(obs, deterministic=True, action_masks=mask)
            info = {} if mask is None else {"action_mask": mask}
            assert agent.select(obs, info) == int(expected)
            if mask is not None:
                assert mask[int(expected)]


@pytest.mark.parametrize("sidecar", [True, False], ids=["sidecar", "no-sidecar"])
def test_nothing_pickled_is_decoded_to_play_or_resume(
    mppo_model, tmp_path, marker, evil_pickle, sidecar, taken
):
    evil = rewrite_zip(mppo_model, tmp_path / "evil.zip",
                       {"data": evil_data(mppo_model, evil_pickle)})  # fmt: skip
    if sidecar:
        shutil.copy(sidecar_path(mppo_model), sidecar_path(evil))
    assert "policy_class" in read_model(evil).pickled()  # every pickle now holds the payload
    agent = SB3Selector(evil)
    assert agent.algo == "maskable-ppo" and agent.select(OBSERVATIONS[0], {}) in range(4)
    args = mppo_args(tmp_path, resume=evil, total_timesteps=8)
    assert read_model(train_sb3(args)).data["num_timesteps"] == 24
    assert not marker.exists()
    assert_valid(taken, 8)


def test_a_sampling_selector_draws_valid_classes_from_the_episode_rng(mppo_model):
    def draws(seed):
        agent = SB3Selector(mppo_model, deterministic=False)
        agent.rng = np.random.default_rng(seed)
        return [agent.select(obs, {"action_mask": FIRST_TASK}) for obs in OBSERVATIONS]

    first = draws(3) + draws(4)
    assert set(first) <= {0, 1}
    assert draws(3) + draws(4) == first


# -- checkpoints, resume, signals -----------------------------------------------------------


def test_checkpoint_and_resume_round_trip(tmp_path, taken, monkeypatch):
    args = mppo_args(tmp_path, checkpoint_every=8)
    train_sb3(args)
    folder = tmp_path / "mppo.ckpt"
    assert [step for step, _ in list_checkpoints(folder)] == [8, 16]
    latest = folder / "step-000000016" / MODEL_FILE
    meta = read_sidecar(latest)
    assert meta["algo"] == "maskable-ppo" and "rng" in meta
    saved = read_model(latest)

    seen = {}

    def capture(self):
        policy = self.model.policy
        seen["policy"] = {k: v.clone() for k, v in policy.state_dict().items()}
        seen["optimizer"] = copy.deepcopy(policy.optimizer.state_dict()["state"])
        seen["model"] = self.model

    monkeypatch.setattr(ReplayLogCallback, "_on_training_start", capture)
    path = train_sb3(dataclasses.replace(args, resume=folder, total_timesteps=8))
    assert isinstance(seen["model"], MaskablePPO)
    assert all(torch.equal(seen["policy"][k], v) for k, v in saved.policy_state.items())
    assert all(
        torch.equal(seen["optimizer"][i]["exp_avg"], saved.optimizer_state["state"][i]["exp_avg"])
        for i in seen["optimizer"]
    )
    meta = read_sidecar(path)
    assert meta["num_timesteps"] == 24 and meta["resumed_from"] == str(folder)
    assert meta["hyperparameters"]["n_steps"] == 8
    assert [step for step, _ in list_checkpoints(folder)] == [16, 24]
    assert_valid(taken, 24)


def test_resume_refuses_another_algorithm(mppo_model, tmp_path):
    args = TrainSB3Args(
        algo="ppo",
        preset="smoke",
        env=TINY,
        out=tmp_path / "m.zip",
        resume=mppo_model,
        total_timesteps=8,
        verbose=0,
        **SETTINGS,
    )
    with pytest.raises(ValueError, match="trained with algo 'maskable-ppo'.*--algo maskable-ppo"):
        train_sb3(args)


def test_sigterm_stops_at_the_rollout_start_and_resume_finishes(tmp_path, stop_at_replay, taken):
    args = mppo_args(tmp_path, checkpoint_every=100)
    folder = tmp_path / "mppo.ckpt"
    stop_at_replay(11)  # the third step of the second rollout
    with pytest.raises(RunInterrupted, match="stopped by SIGTERM at step 8 of 16") as stopped:
        train_sb3(args)
    assert stopped.value.exit_code == 128 + signal.SIGTERM
    assert [step for step, _ in list_checkpoints(folder)] == [8]
    stop_at_replay(10**9)  # disarmed
    path = train_sb3(dataclasses.replace(args, total_timesteps=None, resume=folder))
    meta = read_sidecar(path)
    assert meta["num_timesteps"] == meta["target_timesteps"] == 16 and meta["complete"]
    assert all(mask[action] for action, mask in taken)


# -- vector envs ----------------------------------------------------------------------------


def test_gymnasium_vector_env_hands_out_the_masks():
    envs = make_vector_env(CI, n_envs=2, mode="sync")
    try:
        envs.reset(seed=0)
        np.testing.assert_array_equal(np.stack(envs.call("action_masks")), [FIRST_TASK] * 2)
    finally:
        envs.close()


@pytest.mark.slow
def test_subprocess_workers_hand_their_masks_to_maskable_ppo(tmp_path):
    args = mppo_args(tmp_path, n_envs=2, vec_env="subproc", n_steps=4, total_timesteps=16)
    venv = make_vec_env(args)
    try:
        venv.reset()
        assert is_masking_supported(venv)
        np.testing.assert_array_equal(get_action_masks(venv), [FIRST_TASK] * 2)
    finally:
        venv.close()
    # An unseen class would raise in a worker: the run finishing means every action was valid.
    path = train_sb3(args)
    meta = read_sidecar(path)
    assert meta["n_envs"] == 2 and meta["num_timesteps"] == 16 and meta["complete"]
    assert meta["threads"]["per_env"] == [1, 1]


def test_masks_reach_maskable_ppo_through_the_wrapper_chain():
    env = gym.make("ReplaySelect-v0", config=CI)
    try:
        env.reset(seed=0)
        assert is_masking_supported(env)
        np.testing.assert_array_equal(get_action_masks(env), FIRST_TASK)
    finally:
        env.close()
