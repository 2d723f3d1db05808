import ast
import dataclasses
import inspect
import json
import re
import textwrap

import pytest

from replay_gym.config import (
    PRESETS,
    DataConfig,
    EnvConfig,
    LearnerConfig,
    SamplerConfig,
    apply_overrides,
    comparable_env,
    config_from_dict,
    config_to_dict,
    preset,
)


def test_defaults_carry_the_papers_optimiser_numbers():
    learner = LearnerConfig()
    assert (learner.lr, learner.betas, learner.adam_eps, learner.batch_size) == (
        3e-4, (0.9, 0.999), 1.0, 36,
    )
    assert (learner.rotation, learner.shift, learner.zoom, learner.hflip) == (20.0, 0.2, 0.2, True)


def test_overrides_by_field_section_and_unique_leaf():
    base = preset("smoke")
    changed = apply_overrides(base, days=5, learner={"lr": 1e-3}, downsample=[2, 2, 2, 2, 1])
    assert changed.days == 5 and changed.learner.lr == 1e-3
    assert changed.sampler.downsample == (2, 2, 2, 2, 1)
    assert changed.learner.hidden == base.learner.hidden
    assert base.days == 3, "the preset itself is untouched"


def test_overrides_take_the_dotted_names_their_error_lists():
    """Regression: the error listed ``sampler.kind`` as a setting but refused it."""
    changed = apply_overrides(preset("smoke"), **{"sampler.kind": "cvae", "learner.lr": 1e-3})
    assert changed.sampler.kind == "cvae" and changed.learner.lr == 1e-3
    nested = apply_overrides(preset("smoke"), **{"sampler.cvae": {"epochs": 3}})
    assert nested.sampler.cvae.epochs == 3
    with pytest.raises(ValueError, match=r"sampler has no setting\(s\) \['kindd'\]"):
        apply_overrides(EnvConfig(), **{"sampler.kindd": "cvae"})
    with pytest.raises(ValueError, match="'nosection.kind' is not a setting"):
        apply_overrides(EnvConfig(), **{"nosection.kind": 1})


def test_overrides_reach_a_sampler_subsection_field_by_its_dotted_name():
    """Regression: ``sampler.cvae.soft_targets=false`` was refused (only one dot was split)."""
    changed = apply_overrides(
        preset("smoke"),
        **{"sampler.kind": "cvae", "sampler.cvae.soft_targets": False, "sampler.cvae.epochs": 3},
    )
    assert changed.sampler.cvae.soft_targets is False and changed.sampler.cvae.epochs == 3
    assert changed.sampler.cvae.latent == preset("smoke").sampler.cvae.latent
    both = apply_overrides(
        preset("smoke"), **{"sampler.cvae": {"epochs": 4}, "sampler.cvae.gating": False}
    )
    assert both.sampler.cvae.epochs == 4 and both.sampler.cvae.gating is False
    with pytest.raises(ValueError, match=r"sampler.cvae has no setting\(s\) \['nope'\]"):
        apply_overrides(EnvConfig(), **{"sampler.cvae.nope": 1})
    with pytest.raises(ValueError, match="'learner.lr.x' is not a setting"):
        apply_overrides(EnvConfig(), **{"learner.lr.x": 1})


def test_unknown_and_ambiguous_overrides_are_named():
    with pytest.raises(ValueError, match="'learnig_rate' is not a setting"):
        apply_overrides(EnvConfig(), learnig_rate=1.0)
    with pytest.raises(ValueError, match=r"learner has no setting\(s\) \['nope'\]"):
        apply_overrides(EnvConfig(), learner={"nope": 1})
    with pytest.raises(ValueError, match="must be a dict"):
        apply_overrides(EnvConfig(), learner=3)


@pytest.mark.parametrize(("plain_name", "samples"), [
    ("class-incremental", 180), ("fashion-mnist-class-incremental", 900),
])  # fmt: skip
def test_frozen_presets_differ_from_their_plain_ones_only_where_chosen(plain_name, samples):
    """Frozen blocks 1-4; on Fashion-MNIST also nights as long as days (chosen on validation)."""
    frozen, plain = preset(f"{plain_name}-frozen"), preset(plain_name)
    assert frozen.learner.frozen_blocks == frozen.replay_layer == 4
    assert plain.learner.frozen_blocks == 0
    assert dataclasses.replace(frozen.learner, frozen_blocks=0) == plain.learner
    assert frozen.sampler.samples_per_class == samples
    assert frozen.sampler.samples_per_class in (plain.sampler.samples_per_class,
                                                frozen.data.train_per_class)  # fmt: skip
    assert dataclasses.replace(frozen.sampler, samples_per_class=180) == plain.sampler
    assert (frozen.data, frozen.scenario) == (plain.data, plain.scenario)


def test_unknown_preset_lists_the_names():
    with pytest.raises(ValueError, match="choose one of"):
        preset("huge")


def test_night_length_resolves_like_the_paper():
    paper = preset("paper")
    assert paper.night_length == 1170 * 10 // 36 == 325
    assert preset("default").night_length == 50
    assert apply_overrides(paper, steps_per_night=7).night_length == 7


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_validate_and_round_trip_through_json(name):
    config = PRESETS[name]
    config.validate()
    again = config_from_dict(json.loads(json.dumps(config_to_dict(config))))
    assert again == config


def test_validation_names_the_field():
    with pytest.raises(ValueError, match="learner.dropout"):
        dataclasses.replace(EnvConfig(), learner=LearnerConfig(dropout=1.0)).validate()
    with pytest.raises(ValueError, match="weights='imagenet' needs VGG-16's widths"):
        LearnerConfig(weights="imagenet").validate()
    with pytest.raises(ValueError, match="paper_model must be 1-10"):
        apply_overrides(preset("paper"), paper_model=11).validate()


# -- every setting checked when the config is built ------------------------------------------


def test_configs_check_themselves_when_built_replaced_or_loaded():
    with pytest.raises(ValueError, match=r"days must be an integer \(int\), got 1.5"):
        EnvConfig(days=1.5)
    with pytest.raises(ValueError, match=r"learner.rotation must be a finite number"):
        dataclasses.replace(LearnerConfig(), rotation=float("nan"))
    data = config_to_dict(preset("smoke"))
    data["learner"]["batch_size"] = 12.5
    with pytest.raises(ValueError, match=r"learner.batch_size must be an integer"):
        config_from_dict(data)


def test_compatible_values_are_normalised_so_configs_stay_hashable_and_json_ready():
    import numpy as np

    config = apply_overrides(
        preset("smoke"), days=np.int64(2), lr=1, widths=[16, 32, 64, 128, 128], hflip=np.bool_(0)
    )
    assert type(config.days) is int and type(config.learner.lr) is float
    assert config.learner.widths == (16, 32, 64, 128, 128) and config.learner.hflip is False
    hash(config)
    assert config_from_dict(json.loads(json.dumps(config_to_dict(config)))) == config


# -- help texts: numbers come from the config -------------------------------------------------


def field_docstrings(cls):
    """{field: docstring} read from the source, as tyro reads them for ``--help``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body
    return {
        stmt.target.id: nxt.value.value
        for stmt, nxt in zip(body, body[1:], strict=False)
        if isinstance(stmt, ast.AnnAssign)
        and isinstance(nxt, ast.Expr)
        and isinstance(nxt.value, ast.Constant)
    }


SECTIONS = {"learner": LearnerConfig, "data": DataConfig, "sampler": SamplerConfig, "": EnvConfig}


def _numbers(text):
    return [float(n) for n in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]


def _flat(value):
    if isinstance(value, tuple):
        return [float(v) for v in value]
    return [] if value is None or isinstance(value, str | bool) else [float(value)]


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_paper_values_in_help_are_the_paper_presets(section):
    """A docstring's "(paper: X)" is checked against the ``paper`` preset, so it cannot drift."""
    paper = preset("paper")
    checked = 0
    for name, doc in field_docstrings(SECTIONS[section]).items():
        for claim in re.findall(r"\(paper: ([^;]*?)[;)]", " ".join(doc.split())):
            value = getattr(getattr(paper, section) if section else paper, name)
            if isinstance(value, bool):
                assert claim == ("yes" if value else "no"), (name, claim, value)
            elif value is None:
                assert claim == "None", (name, claim)
            else:
                assert _numbers(claim) == _flat(value), (name, claim, value)
            checked += 1
    assert checked, "each section names some of the paper's values"


@pytest.mark.parametrize("cls", [*SECTIONS.values(), "RunArgs"], ids=str)
def test_help_texts_reflow_as_paragraphs(cls):
    """tyro breaks a help line before a continuation line that starts with a non-letter."""
    if cls == "RunArgs":
        from replay_gym.runner import RunArgs as cls
    for name, doc in field_docstrings(cls).items():
        for line in doc.split("\n")[1:]:
            assert not line.strip() or line.strip()[0].isalpha(), (name, line)


def _help(capsys, monkeypatch, *argv):
    from replay_gym.__main__ import main

    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return " ".join(capsys.readouterr().out.replace("│", " ").split())


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_adam_eps_help_shows_the_presets_value_and_claims_no_other(name, capsys, monkeypatch):
    text = _help(capsys, monkeypatch, "run", "--preset", name)
    entry = re.search(r"--env\.learner\.adam-eps FLOAT (.*?)\(default: ([^)]*)\)", text)
    assert float(entry.group(2)) == PRESETS[name].learner.adam_eps
    assert "default here" not in entry.group(1) and "SPEC" not in text


def test_adam_eps_help_names_the_presets_values_not_constants(capsys, monkeypatch):
    from replay_gym.config import EMBEDDED_ADAM_EPS, FASHION_MNIST_ADAM_EPS

    text = _help(capsys, monkeypatch, "run")
    entry = re.search(r"--env\.learner\.adam-eps FLOAT (.*?)\(default: ", text).group(1)
    assert f"presets use {EMBEDDED_ADAM_EPS:g}" in entry.replace(" ", " ")
    assert f"fashion-mnist: {FASHION_MNIST_ADAM_EPS:g}" in entry
    assert "ADAM_EPS" not in entry and "METHOD" not in entry


def test_comparable_env_fills_new_settings_and_blanks_factors_of_other_layers():
    recorded = json.loads(json.dumps(config_to_dict(EnvConfig())))
    del recorded["sampler"]["kind"]  # a setting added after this record was written
    recorded["sampler"]["downsample"] = [9, 9, 9, 2, 9]
    out = comparable_env(recorded)
    assert out["sampler"]["kind"] == EnvConfig().sampler.kind
    assert out["sampler"]["downsample"] == [None, None, None, 2, None]  # replay_layer 4 only
    other = {**recorded, "sampler": {**recorded["sampler"], "downsample": [1, 1, 1, 2, 1]}}
    assert comparable_env(other) == out  # factors of unused layers do not change the course
    assert comparable_env({**recorded, "replay_layer": 3}) != out


def test_n_real_days_is_every_day_unless_real_days_cuts_it():
    assert EnvConfig(days=7).n_real_days == 7
    assert EnvConfig(days=7, real_days=3).n_real_days == 3


def test_an_unregistered_sampler_kind_is_refused_when_the_config_is_built():
    """Regression: ``sampler.kind="nope"`` passed construction and failed only in the env."""
    with pytest.raises(ValueError, match="unknown sampler kind 'nope'.*registered: cvae"):
        apply_overrides(preset("smoke"), **{"sampler.kind": "nope"})
    with pytest.raises(ValueError, match="unknown sampler kind"):
        EnvConfig(sampler=SamplerConfig(kind="nope"))
