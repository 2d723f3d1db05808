import dataclasses
import json
import re

import pytest
import torch

from replay_gym.config import LearnerConfig
from replay_gym.learner.pretrain import (
    DEFAULT_OUT,
    PRETRAIN_ADAM_EPS,
    PretrainArgs,
    pretrain,
)
from replay_gym.learner.weights import EMBEDDED_WEIGHTS, load_base_state

WIDTHS = (4, 4, 4, 4, 4)


def tiny(out, **changes) -> PretrainArgs:
    return PretrainArgs(out=out, widths=WIDTHS, n_classes=2, train_per_class=2, val_per_class=2,
                        epochs=1, **changes)


def test_the_default_out_is_a_new_path_not_the_shipped_base():
    assert PretrainArgs().out == DEFAULT_OUT
    assert DEFAULT_OUT.resolve() != EMBEDDED_WEIGHTS.resolve()


def test_the_shipped_base_is_replaced_only_with_overwrite():
    with pytest.raises(FileExistsError, match="shipped base of the embedded default; pass "
                                              "--overwrite"):
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
