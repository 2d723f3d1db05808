"""Bad input and what the user gets: the tests behind the README's "Bad input" table."""

import math
import re

import gymnasium as gym
import numpy as np
import pytest
import torch
from PIL import Image

import replay_gym  # noqa: F401 - registers ReplaySelect-v0
from replay_gym.__main__ import main
from replay_gym.envs import replay_select
from replay_gym.samplers import LearnerDivergedError

# Every field of LearnerConfig, DataConfig, SamplerConfig and EnvConfig, given a bad value:
# (overrides on the smoke preset, the setting the message must name).
BAD_SETTINGS = [
    # LearnerConfig
    ({"widths": (16, 32, 64, 128)}, r"learner\.widths must be a tuple of 5 integers"),
    ({"widths": (16, 32, 64, 128, 0)}, r"learner\.widths must be 5 positive"),
    ({"widths": (16, 32, 64.5, 128, 128)}, r"learner\.widths\[2\] must be an integer"),
    ({"input_size": 48}, r"learner\.input_size must be a positive multiple of 32"),
    ({"input_size": 32.0}, r"learner\.input_size must be an integer \(int\), got 32\.0"),
    ({"hidden": 0}, r"learner\.hidden must be positive"),
    ({"dropout": 1.0}, r"learner\.dropout must be in \[0, 1\)"),
    ({"dropout": math.nan}, r"learner\.dropout must be a finite number"),
    ({"weights": ""}, r"learner\.weights must be imagenet, embedded, embedded-fashion-mnist, none"),
    ({"weights": 3}, r"learner\.weights must be a string \(str\), got 3 \(int\)"),
    ({"lr": math.inf}, r"learner\.lr must be a finite number \(float\), got inf"),
    ({"lr": 0.0}, r"learner\.lr must be positive"),
    ({"lr": "fast"}, r"learner\.lr must be a finite number \(float\), got 'fast' \(str\)"),
    ({"betas": (0.9,)}, r"learner\.betas must be a tuple of 2 finite numbers"),
    ({"betas": (0.9, 1.5)}, r"learner\.betas must both be in \[0, 1\)"),
    ({"adam_eps": math.nan}, r"learner\.adam_eps must be a finite number"),
    ({"adam_eps": math.inf}, r"learner\.adam_eps must be a finite number"),
    ({"adam_eps": -1.0}, r"learner\.adam_eps must be positive"),
    ({"batch_size": 12.5}, r"learner\.batch_size must be an integer \(int\), got 12\.5"),
    ({"batch_size": 0}, r"learner\.batch_size must be positive"),
    ({"batch_size": True}, r"learner\.batch_size must be an integer \(int\), got True"),
    ({"augment": "yes"}, r"learner\.augment must be True or False \(bool\)"),
    ({"rotation": math.nan}, r"learner\.rotation must be a finite number \(float\), got nan"),
    ({"rotation": 400.0}, r"learner\.rotation must be in \[0, 180\]"),
    ({"shift": 1.0}, r"learner\.shift must be in \[0, 1\)"),
    ({"zoom": -0.1}, r"learner\.zoom must be in \[0, 1\)"),
    ({"hflip": 1}, r"learner\.hflip must be True or False \(bool\), got 1 \(int\)"),
    ({"device": "cuda:64"}, r"learner\.device='cuda:64' .*; devices here: auto, cpu"),
    ({"device": "gpu"}, r"learner\.device='gpu' is not a device .*; devices here: auto, cpu"),
    ({"adam_fused": 1}, r"learner\.adam_fused must be True or False \(bool\), got 1 \(int\)"),
    ({"compile": "yes"}, r"learner\.compile must be True or False \(bool\), got 'yes'"),
    ({"frozen_blocks": 6}, r"learner\.frozen_blocks must be a number of blocks in 0\.\.5, got 6"),
    # DataConfig
    ({"source": "imagenet"}, r"data\.source must be one of 'prototypes', 'folders'"),
    ({"root": ""}, r"data\.root must be a folder or None"),
    ({"root": 3}, r"data\.root must be a string \(str\) or None"),
    ({"paper_model": 11, "source": "folders"}, r"data\.paper_model must be 1-10"),
    ({"paper_model": 1.5}, r"data\.paper_model must be an integer \(int\) or None"),
    ({"classes": "abcd"}, r"data\.classes must be a tuple of strings, got 'abcd'"),
    ({"classes": ("a", "b")}, r"data\.classes names 2 classes but data\.n_classes is 4"),
    ({"classes": ("a", "a", "b", "c")}, r"data\.classes must be distinct"),
    ({"n_classes": 1}, r"data\.n_classes must be at least 2"),
    ({"n_classes": "4"}, r"data\.n_classes must be an integer \(int\), got '4' \(str\)"),
    ({"train_per_class": 1}, r"data\.train_per_class must be at least 2"),
    ({"val_per_class": 0}, r"data\.val_per_class must be positive"),
    ({"test_per_class": 2.5}, r"data\.test_per_class must be an integer \(int\), got 2\.5"),
    ({"seed": -1}, r"data\.seed must be >= 0"),
    # SamplerConfig
    ({"kind": "nope"}, r"unknown sampler kind 'nope' \(sampler\.kind\); registered: cvae, cvae"),
    ({"kind": ""}, r"sampler\.kind must be a registered sampler name"),
    ({"downsample": (4, 4, 2, 2)}, r"sampler\.downsample must be a tuple of 5 integers"),
    ({"downsample": (4, 4, 3, 2, 1), "replay_layer": 3}, r"sampler\.downsample\[2\]=3 does not"),
    ({"samples_per_class": 0}, r"sampler\.samples_per_class must be positive"),
    ({"samples_per_class": 1.5}, r"sampler\.samples_per_class must be an integer \(int\) or"),
    ({"cvae": {"latent": 0}}, r"sampler\.cvae\.latent must be positive"),
    ({"cvae": {"nope": 1}}, r"sampler\.cvae has no setting\(s\) \['nope'\]"),
    ({"kind": "cvae-repulsion", "cvae": {"replay": False}}, r"sampler\.cvae\.repulsion needs"),
    ({"recall": {"steps": 2.5}}, r"sampler\.recall\.steps must be an integer \(int\)"),
    ({"recall": 3}, r"sampler\.recall must be a RecallConfig, got 3 \(int\)"),
    ({"kind": "recall", "replay_layer": 5, "recall": {"tv_weight": 1.0}},
     r"sampler\.recall\.tv_weight=1\.0 but the replay layer's map is 1x1"),
    ({"fit_on": "raw"}, r"sampler\.fit_on must be one of 'augmented', 'clean', got 'raw'"),
    # EnvConfig
    ({"days": 1.5}, r"days must be an integer \(int\), got 1\.5 \(float\)"),
    ({"days": 0}, r"days must be positive"),
    ({"replay_layer": 6}, r"replay_layer must be 1-5"),
    ({"replay_layer": "4"}, r"replay_layer must be an integer \(int\), got '4' \(str\)"),
    ({"steps_per_night": 2.5}, r"steps_per_night must be an integer \(int\) or None, got 2\.5"),
    ({"steps_per_night": 0}, r"steps_per_night must be positive"),
    ({"real_days": 5}, r"real_days must be in 1\.\.days=3"),
    ({"scenario": "nope"}, r"unknown scenario 'nope' \(scenario\); registered: class-incr"),
    ({"scenario": 3}, r"scenario must be a string \(str\), got 3 \(int\)"),
    ({"scenario": "class-incremental"}, r"days=3 must be a multiple of the 2 tasks"),
    ({"classes_per_task": 0}, r"classes_per_task must be positive"),
    (
        {"classes_per_task": 3, "scenario": "class-incremental"},
        r"classes_per_task=3 must divide data\.n_classes=4",
    ),
    ({"days_per_task": 0}, r"days_per_task must be positive"),
    (
        {"days_per_task": 2, "scenario": "class-incremental"},
        r"days=3 must equal 2 tasks x days_per_task=2 = 4",
    ),
    ({"learner": 3}, r"override 'learner' must be a dict or a learner config"),
    ({"learner": {"nope": 1}}, r"learner has no setting\(s\) \['nope'\]"),
    ({"learnig_rate": 1e-3}, r"override 'learnig_rate' is not a setting"),
]


@pytest.fixture
def nothing_loads(monkeypatch):
    """Fail the test if the environment starts loading data or weights."""

    def refuse(*args, **kwargs):
        raise AssertionError("data or weights were loaded before the settings were refused")

    monkeypatch.setattr(replay_select, "load_dataset", refuse)
    monkeypatch.setattr(replay_select, "load_base_state", refuse)


@pytest.mark.parametrize(("overrides", "message"), BAD_SETTINGS, ids=lambda x: repr(x)[:40])
def test_bad_setting_is_refused_by_gym_make_before_loading(nothing_loads, overrides, message):
    with pytest.raises(ValueError, match=message):
        gym.make("ReplaySelect-v0", preset="smoke", **overrides)


def test_settings_list_covers_every_field():
    from dataclasses import fields

    from replay_gym.config import DataConfig, EnvConfig, LearnerConfig, SamplerConfig

    named = {key for overrides, _ in BAD_SETTINGS for key in overrides}
    every = {f.name for cls in (LearnerConfig, DataConfig, SamplerConfig, EnvConfig)
             for f in fields(cls)}  # fmt: skip
    assert every - named == {"data", "sampler"}  # sections: refused like "learner" (one path)
    assert len(BAD_SETTINGS) >= 27


def said(exit_info, capsys):
    """What the CLI told the user: the exit message or tyro's boxed error, unwrapped."""
    text = f"{exit_info.value.code} {capsys.readouterr().err}"
    return " ".join(text.replace("│", " ").split())


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--env.learner.lr", "inf"], r"learner\.lr must be a finite number \(float\), got inf"),
        (["--env.learner.lr", "fast"], r"--env\.learner\.lr: could not convert string to float"),
        (["--env.learner.adam-eps", "nan"], r"learner\.adam_eps must be a finite number"),
        (["--env.learner.rotation", "nan"], r"learner\.rotation must be a finite number"),
        (["--env.learner.batch-size", "12.5"], r"--env\.learner\.batch-size INT"),
        (["--env.days", "1.5"], r"--env\.days INT"),
        (["--env.learner.device", "cuda:64"], r"learner\.device='cuda:64' .* devices here"),
        (["--env.learner.betas", "0.9", "2"], r"learner\.betas must both be in \[0, 1\)"),
        (["--env.data.classes", "a", "b"], r"data\.classes names 2 classes"),
        (["--env.sampler.samples-per-class", "0"], r"sampler\.samples_per_class must be pos"),
        (["--env.replay-layer", "7"], r"replay_layer must be 1-5"),
        (["--env.scenario", "nope"], r"unknown scenario 'nope' \(scenario\); registered: "),
        (["--env.scenario", "class-incremental"], r"days=3 must be a multiple of the 2 tasks"),
        (
            ["--env.scenario", "class-incremental", "--env.days", "2"]
            + ["--env.classes-per-task", "3"],
            r"classes_per_task=3 must divide data\.n_classes=4",
        ),
        (["--env.sampler.cvae.gating-prop", "1"], r"sampler\.cvae\.gating_prop must be in"),
        (["--env.sampler.recall.init", "zeros"], r"--env\.sampler\.recall\.init"),
    ],
)
def test_the_same_checks_reach_the_cli_flags(nothing_loads, tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--preset", "smoke", "--out", str(tmp_path / "x"), *flags])
    assert exit_info.value.code != 0
    assert re.search(message, said(exit_info, capsys))
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()


# -- data folders ----------------------------------------------------------------------------


def _image(path, value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)


@pytest.fixture
def folders(tmp_path):
    """Two class folders of six images each: enough for 4 train, 1 val, 1 test."""
    root = tmp_path / "data"
    for c, name in enumerate(("cat", "dog")):
        for i in range(6):
            _image(root / name / f"{i}.png", 40 * c + i)
    return root


def make_on(root, **overrides):
    settings = dict(source="folders", root=str(root), n_classes=2, train_per_class=4,
                    val_per_class=1, test_per_class=1, weights="none")  # fmt: skip
    return gym.make("ReplaySelect-v0", preset="smoke", **{**settings, **overrides})


def test_data_folders_that_are_fine_load(folders):
    assert make_on(folders).unwrapped.data.class_names == ("cat", "dog")


def test_missing_data_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data root .*absent does not exist"):
        make_on(tmp_path / "absent")


def test_empty_data_folder_says_it_has_no_class_folders(tmp_path):
    with pytest.raises(ValueError, match=r"has 0 class folders, data\.n_classes asks for 2"):
        make_on(tmp_path)


def test_more_classes_than_the_data_holds(folders):
    with pytest.raises(ValueError, match=r"has 2 class folders, data\.n_classes asks for 3"):
        make_on(folders, n_classes=3)


def test_empty_class_folder_is_named(folders):
    for image in (folders / "dog").iterdir():
        image.unlink()
    with pytest.raises(ValueError, match=r"class 'dog' has 0 images in .*dog; train\+val\+test"):
        make_on(folders)


def test_too_few_images_in_a_class(folders):
    (folders / "dog" / "0.png").unlink()
    with pytest.raises(ValueError, match=r"class 'dog' has 5 images in .*dog; .* needs 6"):
        make_on(folders)


def test_zero_byte_image_is_named(folders):
    for image in (folders / "cat").iterdir():
        image.write_bytes(b"")
    with pytest.raises(ValueError, match=r"cannot read image .*cat.*\.png"):
        make_on(folders)


def test_unreadable_image_is_named(folders, monkeypatch):
    from replay_gym.data import folders as folders_module

    real_open = folders_module.Image.open

    def denied(path, *args, **kwargs):
        # chmod 000 does not stop root, so the refusal of the operating system is simulated
        if "cat" in str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(folders_module.Image, "open", denied)
    with pytest.raises(ValueError, match=r"cannot read image .*cat.*Permission denied"):
        make_on(folders)


# -- a diverged learner ----------------------------------------------------------------------


def test_diverged_learner_is_an_error_not_nan_samples():
    """A learning rate this large drives the network to NaN on day 1 (a real divergence)."""
    env = gym.make("ReplaySelect-v0", preset="smoke", lr=1e4, n_classes=2, train_per_class=12,
                   val_per_class=2, test_per_class=2, hidden=16, augment=False)  # fmt: skip
    with pytest.raises(LearnerDivergedError, match=r"the learner diverged on day 1 .*NaN"):
        env.reset(seed=0)


def test_divergence_names_the_day_and_the_class(monkeypatch):
    env = gym.make("ReplaySelect-v0", preset="smoke", n_classes=3, train_per_class=6,
                   val_per_class=2, test_per_class=2, hidden=16, days=2)  # fmt: skip
    env.reset(seed=0)
    inner = env.unwrapped
    real = inner.learner.view_activations  # the sampler fits the day's augmented views

    def poisoned(images, labels, views, layer):
        acts, labels = real(images, labels, views, layer)
        acts[labels == 1] = torch.nan
        return acts, labels

    monkeypatch.setattr(inner.learner, "view_activations", poisoned)
    monkeypatch.setattr(inner.learner, "train_day", lambda *args: 0.0)  # speed: no training
    with pytest.raises(LearnerDivergedError, match=r"diverged on day 2 .*class\(es\) proto-001 "):
        inner.end_night()


def test_every_row_of_the_readme_table_names_tests_that_exist():
    """Each row of README's "Bad input" table names tests, and every one of them exists.

    A bare test name is in the file named before it in its row (a row that starts with "same":
    or in the previous row), else in this file.
    """
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    readme = (repo / "README.md").read_text()
    table = readme.split("## Bad input", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) > 15
    current = Path(__file__)
    for row in rows[1:]:  # the header row names the columns
        cell = row.rstrip(" |").rsplit(" | ", 1)[1]
        names = [n for n in re.findall(r"`([^`]+)`", cell) if n.startswith(("test_", "tests/"))]
        assert names or cell.startswith("same"), f"row without a test: {row}"
        if not cell.startswith("same"):
            current = Path(__file__)
        for name in names:
            path, _, test = name.partition("::")
            if path.endswith(".py"):
                current = repo / path
                assert current.is_file(), f"{path} (named in: {row})"
            else:
                test = name
            if test:
                assert re.search(rf"^def {re.escape(test)}\(", current.read_text(), re.M), (
                    f"{test} is not in {current.relative_to(repo)} (named in: {row})"
                )
