"""Sweep grids: expansion into cells, TOML files, refusals that name the problem."""

import pytest

from replay_gym.sweep import Cell, SweepArgs, SweepSpec, load_spec, parse_assignment


def test_cells_are_conditions_x_variants_x_seeds():
    spec = SweepSpec(
        conditions=("none", "generative"), seeds=(0, 1), preset="smoke",
        fixed={"days": 1}, grid={"adam_eps": [1e-2, 1e-3]},
    )
    cells = spec.cells()
    assert len(cells) == 8
    dirs = [str(c.relative_dir()) for c in cells]
    assert dirs[0] == "none/adam_eps=0.01,days=1/seed_0"
    assert dirs[-1] == "generative/adam_eps=0.001,days=1/seed_1"
    assert len(set(dirs)) == 8
    config = cells[2].env_config()
    assert config.learner.adam_eps == 1e-3 and config.days == 1


def test_dotted_keys_reach_their_section_and_lists_become_tuples():
    cell = Cell("none", 0, "smoke", (("downsample", (4, 4, 2, 1, 1)), ("learner.lr", 1e-3)))
    config = cell.env_config()
    assert config.learner.lr == 1e-3
    assert config.sampler.downsample == (4, 4, 2, 1, 1)
    assert cell.variant == "downsample=4-4-2-1-1,learner.lr=0.001"
    assert Cell("none", 3, "smoke").relative_dir().as_posix() == "none/base/seed_3"


def test_a_sampler_kinds_own_setting_is_a_grid_key():
    """Regression: ``sampler.cvae.soft_targets`` was nested one level only and then refused."""
    spec = SweepSpec(
        conditions=("generative",), seeds=(0,), preset="smoke",
        grid={"sampler.kind": ["cvae"], "sampler.cvae.soft_targets": [True, False]},
    )
    cells = spec.cells()
    assert [c.variant for c in cells] == [
        "sampler.cvae.soft_targets=True,sampler.kind=cvae",
        "sampler.cvae.soft_targets=False,sampler.kind=cvae",
    ]
    config = cells[1].env_config()
    assert config.sampler.kind == "cvae" and config.sampler.cvae.soft_targets is False
    assert config.sampler.cvae.latent == cells[0].env_config().sampler.cvae.latent


def test_toml_file_with_sub_tables(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        'preset = "smoke"\nconditions = ["none"]\nseeds = [0, 2]\n'
        "[set]\ndays = 1\n[set.learner]\nlr = 0.001\n[grid]\nreplay_layer = [4, 5]\n"
    )
    args = SweepArgs(out=tmp_path / "o", config=path, set=("steps_per_night=2",))
    spec = args.spec()
    assert spec.preset == "smoke" and spec.seeds == (0, 2)
    assert spec.fixed == {"days": 1, "learner.lr": 0.001, "steps_per_night": 2}
    assert [c.env_config().replay_layer for c in spec.cells()] == [4, 4, 5, 5]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"conditions": ()}, "at least one condition"),
        ({"conditions": ("nope",)}, "unknown condition"),
        ({"conditions": ("sb3",)}, "needs a model"),
        ({"seeds": ()}, "at least one seed"),
        ({"seeds": (1, 1)}, "seeds repeat"),
        ({"seeds": (-1,)}, "non-negative"),
        ({"preset": "huge"}, "unknown preset"),
        ({"grid": {"days": 3}}, "non-empty list"),
        ({"grid": {"days": []}}, "non-empty list"),
        ({"grid": {"days": [1]}, "fixed": {"days": 2}}, "both as fixed"),
        ({"grid": {"no_such_setting": [1]}}, "is not a setting"),
        ({"fixed": {"days": 0}}, "days"),
        # Regression: an unregistered sampler kind passed the sweep's checks and failed in
        # every cell instead.
        ({"grid": {"sampler.kind": ["gaussian", "nope"]}}, "unknown sampler kind 'nope'"),
        ({"fixed": {"scenario": "nope"}}, "unknown scenario 'nope'"),
    ],
)
def test_bad_grids_are_refused_before_running(kwargs, message):
    base = {"conditions": ("none",), "seeds": (0,), "preset": "smoke"}
    with pytest.raises(ValueError, match=message):
        SweepSpec(**{**base, **kwargs}).cells()


def test_bad_files_and_flags_are_named(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("conditions = [")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_spec(bad)
    odd = tmp_path / "odd.toml"
    odd.write_text("colours = 3\n")
    with pytest.raises(ValueError, match="unknown key"):
        load_spec(odd)
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_assignment("days")
    with pytest.raises(ValueError, match="JSON list"):
        SweepArgs(out=tmp_path, conditions=("none",), seeds=(0,), grid=("days=3",)).spec()
    assert parse_assignment("source=fashion-mnist") == ("source", "fashion-mnist")
    assert parse_assignment("lr=1e-3") == ("lr", 1e-3)


def test_selector_arguments_from_a_file_or_flags_reach_every_cell_as_the_runner_takes_them(
    tmp_path,
):
    """Regression: a number in a file's [agent] table (``discount = 0.9``, natural in TOML)
    passed the sweep's checks and then failed in every cell, since the runner takes strings."""
    path = tmp_path / "s.toml"
    path.write_text('conditions = ["ucb1"]\nseeds = [0]\n[agent]\ndiscount = 0.9\nc = "2"\n')
    spec = SweepArgs(out=tmp_path / "o", config=path, preset="smoke").spec()
    assert dict(spec.cells()[0].agent) == {"c": "2", "discount": "0.9"}
    flags = SweepArgs(out=tmp_path / "o", config=path, preset="smoke", agent={"discount": "0.5"})
    assert dict(flags.spec().cells()[0].agent) == {"c": "2", "discount": "0.5"}


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        # Regression: both failed in every cell instead of before the sweep started.
        (("ucb1", "none"), "do not apply to fixed condition 'none'"),
        (("ucb1", "weakest"), "condition 'weakest'.*discount"),
    ],
)
def test_selector_arguments_a_condition_cannot_take_are_refused_before_running(
    conditions, message
):
    spec = SweepSpec(conditions=conditions, seeds=(0,), preset="smoke",
                     agent={"discount": "0.9"})  # fmt: skip
    with pytest.raises(ValueError, match=message):
        spec.cells()


def test_check_selector_arguments_builds_each_selector_with_them():
    from replay_gym.sweep.grid import check_selector_arguments

    check_selector_arguments(("ucb1", "thompson"), {"discount": "0.5"})
    check_selector_arguments(("none",), {})  # no arguments: nothing to check
    with pytest.raises(ValueError, match="must be a string"):
        check_selector_arguments(("ucb1",), {"discount": 0.5})
    with pytest.raises(ValueError, match="do not fit condition 'ucb1'.*discount"):
        check_selector_arguments(("ucb1",), {"discount": "2"})  # a forgetting factor is <= 1
