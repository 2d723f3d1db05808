import dataclasses
import json

import pytest

from replay_gym.config import (
    PRESETS,
    EnvConfig,
    LearnerConfig,
    apply_overrides,
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


def test_unknown_and_ambiguous_overrides_are_named():
    with pytest.raises(ValueError, match="'learnig_rate' is not a setting"):
        apply_overrides(EnvConfig(), learnig_rate=1.0)
    with pytest.raises(ValueError, match=r"learner has no setting\(s\) \['nope'\]"):
        apply_overrides(EnvConfig(), learner={"nope": 1})
    with pytest.raises(ValueError, match="must be a dict"):
        apply_overrides(EnvConfig(), learner=3)


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
