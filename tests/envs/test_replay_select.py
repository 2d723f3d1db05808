import pickle

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env, data_equivalence

import replay_gym
from replay_gym.config import preset
from replay_gym.envs import ReplaySelectionEnv
from replay_gym.metrics import chi_square, confusion_matrix


def make(**overrides):
    return ReplaySelectionEnv(preset="smoke", **overrides)


@pytest.fixture(scope="module")
def env():
    env = make()
    env.reset(seed=0)
    return env


def test_registered_and_made_with_preset_and_overrides():
    env = gym.make("ReplaySelect-v0", preset="smoke", days=2, adam_eps=1e-8)
    inner = env.unwrapped
    assert isinstance(inner, ReplaySelectionEnv)
    assert inner.config.days == 2
    assert inner.config.learner.adam_eps == 1e-8
    assert inner.config.data == preset("smoke").data
    assert env.action_space == gym.spaces.Discrete(4)
    assert env.observation_space.shape == (14,)


def test_default_preset_is_embedded_and_paper_preset_has_paper_numbers():
    default = preset("default")
    assert default.data.source == "prototypes" and default.learner.weights == "embedded"
    paper = preset("paper")
    assert paper.learner.widths == (64, 128, 256, 512, 512)
    assert (paper.learner.input_size, paper.learner.hidden) == (224, 4096)
    assert (paper.learner.lr, paper.learner.adam_eps, paper.learner.batch_size) == (3e-4, 1.0, 36)
    assert (paper.data.train_per_class, paper.data.val_per_class, paper.data.test_per_class) == (
        1170,
        130,
        50,
    )
    assert paper.replay_layer == 4 and paper.night_length == 325


@pytest.mark.slow
def test_gymnasium_check_env():
    check_env(make(days=1), skip_render_check=True)


@pytest.mark.slow
def test_sb3_check_env():
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    sb3_check_env(make(days=1), warn=True)


def rollout(env, seed, steps):
    obs, info = env.reset(seed=seed)
    trace = [(obs, info)]
    for t in range(steps):
        obs, reward, terminated, truncated, info = env.step(t * 7 % env.n_classes)
        trace.append((obs, reward, terminated, info))
        if terminated:
            break
    return trace


def assert_same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, tuple | list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_same_seed_same_trajectory_across_a_night_boundary():
    steps = make().night_length + 3
    first, second = rollout(make(), 3, steps), rollout(make(), 3, steps)
    assert any("day_end" in step[-1] for step in first[1:]), "rollout must cross into day 2"
    assert_same(first, second)
    third = rollout(make(), 4, steps)
    assert not all(np.array_equal(x[0], y[0]) for x, y in zip(first, third, strict=True))


def independent_chi2(env):
    """chi2 from the whole network on validation images (not the cached activations)."""
    inner = env.unwrapped
    predictions = inner.learner.predict(inner.data.val_images)
    confusion = confusion_matrix(inner.data.val_labels.numpy(), predictions, inner.n_classes)
    n = confusion.sum(1)
    by_hand = float(np.sum(n * (1 - np.diag(confusion) / n) ** 2))
    assert chi_square(confusion) == pytest.approx(by_hand)
    return by_hand


def test_reward_is_the_chi2_drop_from_the_confusion_matrix():
    env = make()
    _, info = env.reset(seed=1)
    before = independent_chi2(env)
    assert info["chi2"] == pytest.approx(before)
    for action in (0, 3, 1):
        _, reward, _, _, info = env.step(action)
        after = independent_chi2(env)
        assert reward == pytest.approx(before - after)
        assert info["chi2"] == pytest.approx(after)
        before = after


def state_of(env):
    inner = env.unwrapped
    params = [p.detach().clone() for p in inner.learner.model.parameters()]
    adam = [
        {k: v.clone() for k, v in inner.learner.optimizer.state[p].items()}
        for p in inner.learner.model.parameters()
    ]
    return params, adam, inner._night_gen.get_state().clone(), inner._chi2, inner.night_step


def test_probe_changes_nothing_and_predicts_the_step(env):
    env.step(0)  # give Adam some state above the layer
    before = state_of(env)
    predicted = env.probe(2)
    after = state_of(env)
    for p, q in zip(before[0], after[0], strict=True):
        assert torch.equal(p, q)
    for s, t in zip(before[1], after[1], strict=True):
        assert s.keys() == t.keys() and all(torch.equal(s[k], t[k]) for k in s)
    assert torch.equal(before[2], after[2]) and before[3:] == after[3:]
    _, reward, *_ = env.step(2)
    assert reward == pytest.approx(predicted)


def test_info_and_observation_contents(env):
    obs, reward, terminated, truncated, info = env.step(1)
    assert env.observation_space.contains(obs)
    assert {"chi2", "class_accuracy", "day", "night_step"} <= info.keys()
    n = env.n_classes
    np.testing.assert_allclose(obs[:n], info["class_accuracy"], atol=1e-6)
    assert obs[2 * n : 3 * n].sum() == pytest.approx(1.0, abs=1e-6)
    assert obs[3 * n] == pytest.approx(info["night_step"] / env.night_length)
    assert truncated is False


def test_night_end_and_day_end_infos_and_termination():
    env = make(days=2)
    obs, info = env.reset(seed=2)
    assert {"test_accuracy", "test_class_accuracy", "day_end"} <= info.keys()
    ends = []
    for t in range(2 * env.night_length):
        obs, reward, terminated, truncated, info = env.step(t % env.n_classes)
        if "night_end" in info:
            ends.append(info)
        assert terminated == (t == 2 * env.night_length - 1)
    first, last = ends
    assert first["night_end"]["steps"] == env.night_length
    assert first["night_end"]["replay_counts"].sum() == env.night_length * 12
    assert first["day_end"]["day"] == 2 and first["day"] == 2 and first["night_step"] == 0
    drop = first["night_end"]["chi2"] - first["day_end"]["chi2"]
    assert first["day_end"]["chi2_drop"] == pytest.approx(drop)
    assert "day_end" not in last and last["test_accuracy"] == last["night_end"]["test_accuracy"]
    with pytest.raises(gym.error.ResetNeeded, match="course is over"):
        env.step(0)


def test_end_night_replays_nothing_and_trains_the_next_day():
    env = make(days=2)
    env.reset(seed=0)
    _, reward, terminated, _, info = env.end_night()
    assert reward == 0.0 and not terminated
    assert info["night_end"]["steps"] == 0 and info["night_end"]["replay_counts"].sum() == 0
    assert info["day"] == 2


def test_replay_batch_takes_mixed_classes_and_checks_shapes(env):
    x = env.sampler.sample(0, 6, torch.Generator().manual_seed(0))
    x = torch.cat([x, env.sampler.sample(1, 6, torch.Generator().manual_seed(1))])
    labels = torch.tensor([0] * 6 + [1] * 6)
    step = env.night_step
    env.replay_batch(x, labels)
    assert env.night_step == (step + 1) % env.night_length
    with pytest.raises(ValueError, match="activations must be"):
        env.replay_batch(x[:, :1], labels)
    with pytest.raises(ValueError, match="one label per activation"):
        env.replay_batch(x, labels[:3])
    with pytest.raises(ValueError, match="labels must lie in"):
        env.replay_batch(x, labels + 10)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (-1, r"action -1 is not a class index in 0\.\.3"),
        (4, r"action 4 is not a class index in 0\.\.3"),
        (1.5, r"action must be an integer class index, got 1\.5"),
        (np.float64(1.0), r"action must be an integer class index, got np\.float64\(1\.0\)"),
        ("2", r"action must be an integer class index, got '2'"),
        (None, r"action must be an integer class index, got None"),
        (True, r"action must be an integer class index, got True"),
        (np.array([1]), r"action must be an integer class index, got array\(\[1\]\)"),
        (np.array([[0, 1]]), r"action must be an integer class index, got array"),
    ],
)
def test_invalid_action_is_named(env, action, message):
    with pytest.raises(ValueError, match=message):
        env.step(action)
    with pytest.raises(ValueError, match=message):
        env.unwrapped.probe(action)


def test_numpy_actions_are_accepted(env):
    env.step(np.int64(1))
    env.step(np.array(2))


def test_step_before_reset_is_an_error():
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        make().step(0)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"replay_layer": 0}, "replay_layer must be 1-5"),
        ({"replay_layer": 6}, "replay_layer must be 1-5"),
        ({"downsample": (3, 4, 2, 2, 1), "replay_layer": 1}, r"downsample\[0\]=3 does not divide"),
        ({"n_classes": 0}, "n_classes must be at least 2"),
        ({"steps_per_night": 0}, "steps_per_night must be positive"),
        ({"days": 0}, "days must be positive"),
        ({"real_days": 5, "days": 3}, "real_days must be in"),
        ({"input_size": 48}, "input_size must be a positive multiple of 32"),
        ({"adam_eps": -1.0}, "adam_eps must be positive"),
        ({"kind": "nope"}, "nope"),
        ({"learning_rate": 1.0}, "'learning_rate' is not a setting"),
        ({"source": "imagenet"}, "data.source"),
        ({"weights": "/no/such/file.pt"}, "no such file"),
    ],
)
def test_bad_config_is_named_at_construction(override, message):
    with pytest.raises((ValueError, RuntimeError), match=message):
        make(**override)


def test_config_must_be_an_env_config():
    with pytest.raises(ValueError, match="config must be an EnvConfig, got dict"):
        ReplaySelectionEnv(config={"days": 2})


def test_same_seed_rollouts_are_data_equivalent_for_gymnasium():
    """Regression: day 1's chi2_drop was NaN, and NaN != NaN made Gymnasium see a difference."""
    a, b = make(), make()
    (obs_a, info_a), (obs_b, info_b) = a.reset(seed=7), b.reset(seed=7)
    assert info_a["day_end"]["chi2_drop"] is None, "day 1 has no earlier chi2 to drop from"
    assert data_equivalence((obs_a, info_a), (obs_b, info_b), exact=True)
    for action in (0, 3):
        assert data_equivalence(a.step(action), b.step(action), exact=True)


def nan_paths(value, where="info"):
    """Where ``value`` (an info, nested) holds a NaN."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nan_paths(v, f"{where}[{k!r}]")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in nan_paths(v, f"{where}[{i}]")]
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return [where] if np.isnan(value).any() else []
    return [where] if isinstance(value, float) and np.isnan(value) else []


def test_no_info_of_a_whole_course_holds_nan_and_same_seed_courses_are_equivalent():
    small = {
        "days": 2,
        "steps_per_night": 3,
        "train_per_class": 12,
        "val_per_class": 4,
        "test_per_class": 4,
        "weights": "none",
    }
    a, b = make(**small), make(**small)
    first, second = a.reset(seed=3), b.reset(seed=3)
    assert nan_paths(first[1]) == [] and data_equivalence(first, second, exact=True)
    terminated, action = False, 0
    while not terminated:
        step = a.step(action)
        assert nan_paths(step[-1]) == [], step[-1]
        assert data_equivalence(step, b.step(action), exact=True)
        terminated, action = step[2], (action + 1) % a.n_classes


def test_paper_preset_without_data_says_what_is_missing():
    with pytest.raises((ValueError, FileNotFoundError, RuntimeError), match="root"):
        ReplaySelectionEnv(preset="paper", weights="none", device="cpu")


def test_all_randomness_comes_from_the_seed():
    torch.manual_seed(123)
    np.random.seed(123)  # noqa: NPY002 - the env must not depend on the legacy global state
    a = rollout(make(), 5, 4)
    torch.manual_seed(999)
    np.random.seed(999)  # noqa: NPY002
    global_state = torch.get_rng_state().clone()
    b = rollout(make(), 5, 4)
    assert torch.equal(torch.get_rng_state(), global_state), "env must not touch torch's RNG"
    assert_same(a, b)


def test_pickle_round_trip_continues_identically(env):
    clone = pickle.loads(pickle.dumps(env))
    a = env.step(3)
    b = clone.step(3)
    assert_same(a, b)


def test_package_exports():
    assert replay_gym.ReplaySelectionEnv is ReplaySelectionEnv
    assert "ReplaySelect-v0" in gym.registry
