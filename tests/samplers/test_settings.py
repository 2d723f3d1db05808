"""The seed samplers' settings: nested sections of SamplerConfig, each field checked and named."""

from __future__ import annotations

import dataclasses
import json

import pytest

from replay_gym.config import (
    CVAEConfig,
    RecallConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    preset,
)

# A bad value for every field of both sections, and the message that must name it.
BAD = [
    ("cvae", {"latent": 0}, r"sampler\.cvae\.latent must be positive"),
    ("cvae", {"hidden": 2.5}, r"sampler\.cvae\.hidden must be an integer \(int\)"),
    ("cvae", {"layers": 0}, r"sampler\.cvae\.layers must be positive"),
    ("cvae", {"epochs": -1}, r"sampler\.cvae\.epochs must be positive"),
    ("cvae", {"batch_size": True}, r"sampler\.cvae\.batch_size must be an integer"),
    ("cvae", {"lr": float("nan")}, r"sampler\.cvae\.lr must be a finite number"),
    ("cvae", {"replay": "yes"}, r"sampler\.cvae\.replay must be True or False"),
    ("cvae", {"gating": 1}, r"sampler\.cvae\.gating must be True or False"),
    ("cvae", {"gating_prop": 1.0}, r"sampler\.cvae\.gating_prop must be in \[0, 1\)"),
    ("cvae", {"soft_targets": None}, r"sampler\.cvae\.soft_targets must be True or False"),
    ("cvae", {"temperature": 0.0}, r"sampler\.cvae\.temperature must be positive"),
    ("cvae", {"repulsion": True, "replay": False}, r"sampler\.cvae\.repulsion needs sampler"),
    ("cvae", {"repulsion_factor": 0.5}, r"sampler\.cvae\.repulsion_factor must be >= 1"),
    ("cvae", {"repulsion_weight": -1e-6}, r"sampler\.cvae\.repulsion_weight must be >= 0"),
    ("cvae", {"attraction_weight": float("inf")}, r"sampler\.cvae\.attraction_weight must be a"),
    ("recall", {"steps": 0}, r"sampler\.recall\.steps must be positive"),
    ("recall", {"lr": -0.3}, r"sampler\.recall\.lr must be positive"),
    ("recall", {"init": "zeros"}, r"sampler\.recall\.init must be one of 'batch', 'noise'"),
    ("recall", {"init_pool": 0}, r"sampler\.recall\.init_pool must be positive"),
    ("recall", {"divergence_weight": -1.0}, r"sampler\.recall\.divergence_weight must be >= 0"),
    ("recall", {"notlocal_weight": -1.0}, r"sampler\.recall\.notlocal_weight must be >= 0"),
    ("recall", {"notlocal_new_weight": -1.0}, r"sampler\.recall\.notlocal_new_weight must be"),
    ("recall", {"diversity_weight": -1.0}, r"sampler\.recall\.diversity_weight must be >= 0"),
    ("recall", {"sharpen_weight": -1.0}, r"sampler\.recall\.sharpen_weight must be >= 0"),
    ("recall", {"class_weight": -1.0}, r"sampler\.recall\.class_weight must be >= 0"),
    ("recall", {"l2_weight": -1.0}, r"sampler\.recall\.l2_weight must be >= 0"),
    ("recall", {"tv_weight": -1.0}, r"sampler\.recall\.tv_weight must be >= 0 or None"),
    ("recall", {"nonnegative": 0}, r"sampler\.recall\.nonnegative must be True or False"),
    ("recall", {"soft_targets": "no"}, r"sampler\.recall\.soft_targets must be True or False"),
    ("recall", {"temperature": -2.0}, r"sampler\.recall\.temperature must be positive"),
]


@pytest.mark.parametrize(("section", "change", "message"), BAD, ids=lambda x: str(x)[:30])
def test_every_bad_setting_is_refused_naming_it(section, change, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(preset("smoke"), **{section: change})


def test_the_list_covers_every_field():
    for section, cls in (("cvae", CVAEConfig), ("recall", RecallConfig)):
        named = {key for s, change, _ in BAD if s == section for key in change}
        assert named == {f.name for f in dataclasses.fields(cls)}, section


def test_nested_overrides_change_one_setting_and_keep_the_others():
    base = apply_overrides(preset("smoke"), cvae={"latent": 5, "epochs": 3})
    changed = apply_overrides(base, cvae={"hidden": 8}, sampler={"recall": {"steps": 2}})
    assert (changed.sampler.cvae.latent, changed.sampler.cvae.epochs) == (5, 3)
    assert changed.sampler.cvae.hidden == 8 and changed.sampler.recall.steps == 2
    assert base.sampler.cvae.hidden == CVAEConfig().hidden, "the base config is untouched"


def test_a_section_is_saved_when_its_kind_reads_it_or_it_was_changed():
    gaussian = config_to_dict(preset("default"))["sampler"]
    assert "cvae" not in gaussian and "recall" not in gaussian  # as before the sections existed
    for kind, section in (("cvae", "cvae"), ("cvae-repulsion", "cvae"), ("recall", "recall")):
        saved = config_to_dict(apply_overrides(preset("smoke"), kind=kind))["sampler"]
        assert section in saved and ({"cvae", "recall"} - {section}).isdisjoint(saved)
    changed = apply_overrides(preset("smoke"), recall={"steps": 2})
    for config in (changed, apply_overrides(preset("smoke"), kind="recall", recall={"steps": 9})):
        again = config_from_dict(json.loads(json.dumps(config_to_dict(config))))
        assert again == config


def test_smoothness_applies_where_the_map_has_neighbours():
    assert RecallConfig().smoothness(2) == 1.0 and RecallConfig().smoothness(1) == 0.0
    assert RecallConfig(tv_weight=0.5).smoothness(4) == 0.5
    at_block5 = apply_overrides(preset("smoke"), kind="recall", replay_layer=5)  # 1x1 map
    assert at_block5.sampler.recall.tv_weight is None
    with pytest.raises(ValueError, match=r"tv_weight=2\.0 but the replay layer's map is 1x1"):
        apply_overrides(at_block5, recall={"tv_weight": 2.0})
    apply_overrides(at_block5, kind="gaussian", recall={"tv_weight": 2.0})  # not read: accepted


@pytest.mark.parametrize("cls", [CVAEConfig, RecallConfig])
def test_help_texts_reflow_as_paragraphs(cls):
    from test_config import field_docstrings

    for name, doc in field_docstrings(cls).items():
        for line in doc.split("\n")[1:]:
            assert not line.strip() or line.strip()[0].isalpha(), (name, line)
