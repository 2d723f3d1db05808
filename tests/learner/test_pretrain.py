import dataclasses
import json
import re

import numpy as np
import pytest
import torch

from replay_gym.config import LearnerConfig, preset
from replay_gym.data import FASHION_MNIST_CLASSES
from replay_gym.learner.pretrain import (
    DEFAULT_OUT,
    PRETRAIN_ADAM_EPS,
    RECIPES,
    PretrainArgs,
    pretrain,
    recipe,
    save_state,
)
from replay_gym.learner.weights import (
    EMBEDDED_WEIGHTS,
    SHIPPED_BASES,
    file_sha256,
    load_base_state,
    shipped_metadata,
)

WIDTHS = (4, 4, 4, 4, 4)


def tiny(out, **changes) -> PretrainArgs:
    return PretrainArgs(
        out=out, widths=WIDTHS, n_classes=2, train_per_class=2, val_per_class=2, epochs=1, **changes
    )


def test_the_default_out_is_a_new_path_not_the_shipped_base():
    assert PretrainArgs().out == DEFAULT_OUT
    assert DEFAULT_OUT.resolve() != EMBEDDED_WEIGHTS.resolve()


def test_the_shipped_base_is_replaced_only_with_overwrite():
    with pytest.raises(
        FileExistsError, match="shipped base of the embedded default; pass --overwrite"
    ):
        PretrainArgs(out=EMBEDDED_WEIGHTS).validate()
    PretrainArgs(out=EMBEDDED_WEIGHTS, overwrite=True).validate()


def test_cli_refuses_the_shipped_base_and_leaves_it_alone():
    from replay_gym.__main__ import main

    before = EMBEDDED_WEIGHTS.read_bytes()
    with pytest.raises(SystemExit, match="shipped base"):
        main(["pretrain", "--out", str(EMBEDDED_WEIGHTS), "--epochs", "1"])
    assert EMBEDDED_WEIGHTS.read_bytes() == before


def test_pretrain_writes_a_base_that_loads_and_refuses_to_replace_it(tmp_path):
    out = tmp_path / "base.pt"
    meta = pretrain(tiny(out), log=False)
    assert json.loads(out.with_suffix(".json").read_text()) == meta
    assert meta["widths"] == list(WIDTHS) and meta["out"] == "base.pt" and "overwrite" not in meta
    assert 0.0 <= meta["base_val_accuracy"] <= 1.0
    state = load_base_state(LearnerConfig(widths=WIDTHS, weights=str(out)))
    assert set(state) == set(torch.load(out, weights_only=True))
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files
    with pytest.raises(FileExistsError, match="already exists; pass --overwrite"):
        pretrain(tiny(out), log=False)
    dataclasses.replace(tiny(out), overwrite=True).validate()


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        PretrainArgs(out=tmp_path / "x.pt", epochs=0).validate()
    with pytest.raises(ValueError, match="is a folder"):
        tiny(tmp_path).validate()


def test_bad_types_are_refused_when_built(tmp_path):
    with pytest.raises(ValueError, match=r"lr must be a finite number \(float\), got inf"):
        PretrainArgs(lr=float("inf"))
    with pytest.raises(ValueError, match=r"epochs must be an integer \(int\), got 1.5"):
        PretrainArgs(epochs=1.5)
    with pytest.raises(ValueError, match="lr must be positive, got 0.0"):
        PretrainArgs(lr=0.0).validate()
    assert PretrainArgs(out=str(tmp_path / "b.pt")).out == tmp_path / "b.pt"


def test_an_unwritable_out_is_refused_before_training(tmp_path, monkeypatch):
    import replay_gym.learner.pretrain as module

    def no_work(*args, **kwargs):
        raise AssertionError("pretraining started")

    monkeypatch.setattr(module, "prototype_splits", no_work)
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "base.pt"
    with pytest.raises(ValueError, match=f"out {out}: {tmp_path / 'file'} is a file, not a folder"):
        pretrain(PretrainArgs(out=out), log=False)


def test_help_quotes_the_epsilon_it_uses(capsys):
    from replay_gym.__main__ import main

    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", capsys.readouterr().out).split())
    assert f"ordinary epsilon {PRETRAIN_ADAM_EPS:g}" in text
    assert str(DEFAULT_OUT) in text


# -- bases pretrained on Fashion-MNIST classes ------------------------------------------------


def fake_fashion_mnist(root, per_class: int = 6):
    """Idx files of random 28x28 images, ``per_class`` of each label 0-9 in train and t10k."""
    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(10, dtype=np.uint8), per_class)
    images = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
    for part in ("train", "t10k"):
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            dims = np.array(array.shape, dtype=">u4").tobytes()
            header = bytes([0, 0, 8, array.ndim]) + dims
            (root / f"{part}-{kind}-ubyte").write_bytes(header + array.tobytes())
    return root


def test_recipes_name_every_shipped_base_and_unknown_names_are_listed():
    assert set(RECIPES) == set(SHIPPED_BASES)
    assert RECIPES["embedded"] == PretrainArgs()
    with pytest.raises(ValueError, match=r"unknown base 'x'; choose one of \['embedded', "):
        recipe("x")


@pytest.mark.parametrize("name", sorted(SHIPPED_BASES))
def test_the_shipped_metadata_is_what_the_recipe_sets(name):
    meta = shipped_metadata(name)
    args = recipe(name)
    settings = {
        k: v
        for k, v in dataclasses.asdict(args).items()
        if k not in ("overwrite", "root", "out", "base", "threads", "source", "classes")
    }
    for key, value in settings.items():
        assert meta[key] == (list(value) if isinstance(value, tuple) else value), key
    assert meta["out"] == SHIPPED_BASES[name].file
    if name != "embedded":  # made since the recipe records its base, source and threads
        assert (meta["base"], meta["source"], meta["threads"]) == (name, args.source, args.threads)
        assert meta["classes"] == list(args.classes)


def test_the_fashion_mnist_base_never_saw_the_presets_new_classes():
    config = preset("fashion-mnist")
    assert config.learner.weights == "embedded-fashion-mnist"
    base = shipped_metadata("embedded-fashion-mnist")
    assert base["source"] == "fashion-mnist"
    new = {int(c) for c in config.data.classes}
    assert new.isdisjoint(base["classes"]) and len(new) == config.data.n_classes
    assert base["class_names"] == [FASHION_MNIST_CLASSES[c] for c in base["classes"]]


def test_pretrain_on_fashion_mnist_classes_is_deterministic(tmp_path):
    root = fake_fashion_mnist(tmp_path)
    args = tiny(
        tmp_path / "a.pt",
        source="fashion-mnist",
        classes=(3, 1),
        root=str(root),
        threads=1,
    )
    meta = pretrain(args, log=False)
    assert meta["class_names"] == ["Dress", "Trouser"] and meta["classes"] == [3, 1]
    assert meta["sha256"] == file_sha256(args.out) and meta["bytes"] == args.out.stat().st_size
    assert "root" not in meta and "first_class" not in meta
    # the same bytes again, under another name (the archive inside is not named after the file)
    again = pretrain(dataclasses.replace(args, out=tmp_path / "other.pt"), log=False)
    assert again["sha256"] == meta["sha256"]


def test_saved_bytes_depend_on_the_tensors_alone(tmp_path):
    state = {"features.0.weight": torch.arange(6.0).reshape(2, 3)}
    save_state(state, tmp_path / "a.pt")
    save_state(state, tmp_path / "longer_name.pt")
    assert file_sha256(tmp_path / "a.pt") == file_sha256(tmp_path / "longer_name.pt")
    assert torch.equal(torch.load(tmp_path / "a.pt", weights_only=True)["features.0.weight"],
                       state["features.0.weight"])  # fmt: skip


def test_bad_fashion_mnist_settings_are_named(tmp_path):
    out = tmp_path / "x.pt"
    with pytest.raises(ValueError, match=r"classes must be distinct labels 0-9, got \(3, 10\)"):
        tiny(out, source="fashion-mnist", classes=(3, 10)).validate()
    with pytest.raises(ValueError, match="classes names 1 Fashion-MNIST labels but n_classes is 2"):
        tiny(out, source="fashion-mnist", classes=(3,)).validate()
    with pytest.raises(ValueError, match="classes is for source='fashion-mnist'"):
        tiny(out, classes=(3, 4)).validate()
    with pytest.raises(ValueError, match="base must be one of"):
        tiny(out, base="mnist").validate()
    with pytest.raises(ValueError, match="threads must be at least 1"):
        tiny(out, threads=0).validate()


def test_cli_base_takes_its_recipe_as_defaults(capsys):
    from replay_gym.__main__ import main

    with pytest.raises(SystemExit):
        main(["pretrain", "--base", "embedded-fashion-mnist", "--help"])
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", capsys.readouterr().out).split())
    fm = RECIPES["embedded-fashion-mnist"]
    assert f"(default: {fm.train_per_class})" in text and "(default: 0 1 2 3 4)" in text
    with pytest.raises(SystemExit, match="unknown base 'mnist'"):
        main(["pretrain", "--base", "mnist"])


def test_a_shipped_fashion_mnist_base_is_replaced_only_with_overwrite():
    path = SHIPPED_BASES["embedded-fashion-mnist"].path
    with pytest.raises(FileExistsError, match="shipped base of the fashion-mnist preset; pass"):
        dataclasses.replace(recipe("embedded-fashion-mnist"), out=path).validate()
