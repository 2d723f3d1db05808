import numpy as np
import pytest

from replay_gym.results import (
    check_metric,
    class_table,
    curve_table,
    find_run_dirs,
    format_curve_table,
    is_run_dir,
    labels_in_order,
    load_runs,
    normalised_scores,
    numeric_metrics,
    per_seed,
)


def flat_run(make_run, path, condition, curves, **env):
    """A run whose two classes share each seed's accuracy ``curves[seed][day]``."""
    after = {seed: [[a, a] for a in curve] for seed, curve in curves.items()}
    before = {seed: [[a - 0.05, a - 0.05] for a in curve] for seed, curve in curves.items()}
    return make_run(path, condition, before, after, **env)


NONE = {0: [0.4, 0.5, 0.6], 1: [0.6, 0.7, 0.8]}


def test_load_one_run_dir(tmp_path, make_run):
    run = flat_run(make_run, tmp_path / "none", "none", NONE)
    table = load_runs([run])
    assert len(table) == 6 and set(table["label"]) == {"none"}
    assert list(table[["seed", "day"]].itertuples(index=False, name=None)) == [
        (0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)
    ]  # fmt: skip
    first = table.iloc[0]
    assert first["test_accuracy"] == pytest.approx(0.4)
    assert first["test_class_accuracy_after_day"] == pytest.approx([0.35, 0.35])
    assert first["run"] == str(run) and first["preset"] == "smoke"
    assert "test_accuracy" in numeric_metrics(table) and "real_images" not in numeric_metrics(table)


def test_sweep_folders_are_searched_and_labelled(tmp_path, make_run):
    sweep = tmp_path / "sweep"
    flat_run(make_run, sweep / "none", "none", NONE)
    flat_run(make_run, sweep / "layers" / "block1", "generative", NONE, replay_layer=1)
    flat_run(make_run, sweep / "layers" / "block4", "generative", NONE, replay_layer=4)
    flat_run(make_run, sweep / "old.partial", "oracle", NONE)  # unfinished: not a result
    # seeds of one setting split over two folders are one label
    flat_run(make_run, sweep / "rr" / "a", "round-robin", {0: NONE[0]})
    flat_run(make_run, sweep / "rr" / "b", "round-robin", {1: NONE[1]})
    assert len(find_run_dirs(sweep)) == 5
    table = load_runs([sweep])
    assert list(dict.fromkeys(table["label"])) == [
        "generative (layers/block1)",
        "generative (layers/block4)",
        "none",
        "round-robin",
    ]
    assert sorted(table.loc[table["label"] == "round-robin", "seed"].unique()) == [0, 1]


def test_sweep_command_layout(tmp_path, make_run):
    # python -m replay_gym sweep writes OUT/<condition>/<overrides>/seed_<k>, one seed a cell
    for layer in (1, 4):
        for seed in (0, 1):
            path = tmp_path / "out" / "generative" / f"replay_layer={layer}" / f"seed_{seed}"
            flat_run(make_run, path, "generative", {seed: NONE[seed]}, replay_layer=layer)
    table = load_runs([tmp_path / "out"])
    assert list(dict.fromkeys(table["label"])) == [
        "generative (replay_layer=1)",
        "generative (replay_layer=4)",
    ]
    assert table.groupby("label")["seed"].nunique().to_list() == [2, 2]


def test_runs_from_other_commits_or_thread_counts_share_a_label(tmp_path, make_run):
    # Regression: a sweep resumed in a later session records another commit (and a run may use
    # other threads); that is where a result came from, not a setting, so it must not split a
    # condition's seeds into "oracle (base)" and "oracle (base)'".
    import json

    for seed, commit, dirty, threads in ((0, "a" * 40, True, 1), (1, "b" * 40, False, 2)):
        run = flat_run(make_run, tmp_path / "out" / "oracle" / "base" / f"seed_{seed}", "oracle",
                       {seed: NONE[seed]})  # fmt: skip
        config = json.loads((run / "config.json").read_text())
        config.update(git={"commit": commit, "dirty": dirty}, threads=threads)
        (run / "config.json").write_text(json.dumps(config))
    flat_run(make_run, tmp_path / "out" / "none" / "base" / "seed_0", "none", {0: NONE[0]})
    table = load_runs([tmp_path / "out"])
    assert labels_in_order(table) == ["none", "oracle"]
    assert sorted(table.loc[table["label"] == "oracle", "seed"].unique()) == [0, 1]


def test_runs_recorded_before_a_setting_existed_share_a_label(tmp_path, make_run):
    # Regression: seeds added to a sweep months later record settings added since (at their
    # defaults, which is what older versions did) and the factors of blocks the course never
    # replays from; `plot` and `compare` split one condition into "none (days=30)" and
    # "none (days=30)'". They now compare settings as they bear on a course (comparable_env).
    old = {"replay_layer": 4, "sampler": {"downsample": [4, 4, 2, 1, 1]}}
    new = {"replay_layer": 4, "scenario": "paper", "learner": {"frozen_blocks": 0},
           "sampler": {"downsample": [1, 1, 1, 1, 1]}}  # fmt: skip
    for seed, env in ((0, old), (1, new)):
        flat_run(make_run, tmp_path / "out" / "none" / f"seed_{seed}", "none", {seed: NONE[seed]},
                 **env)  # fmt: skip
    frozen = {**new, "learner": {"frozen_blocks": 4}}
    flat_run(make_run, tmp_path / "out" / "none-frozen" / "seed_0", "none", {0: NONE[0]},
             **frozen)  # fmt: skip
    table = load_runs([tmp_path / "out"])
    assert labels_in_order(table) == ["none (none)", "none (none-frozen/seed_0)"]
    assert sorted(table.loc[table["label"] == "none (none)", "seed"].unique()) == [0, 1]


def test_labels_keep_the_order_runs_are_given(tmp_path, make_run):
    b = flat_run(make_run, tmp_path / "b", "weakest", NONE)
    a = flat_run(make_run, tmp_path / "a", "none", NONE)
    assert list(dict.fromkeys(load_runs([b, a])["label"])) == ["weakest", "none"]


def test_refuses_what_is_not_a_run_dir(tmp_path, make_run):
    with pytest.raises(FileNotFoundError, match="no such run directory"):
        load_runs([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="is not a run directory .* holds none below it"):
        load_runs([tmp_path / "empty"])
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a run directory"):
        load_runs([tmp_path / "file.txt"])
    partial = flat_run(make_run, tmp_path / "r.partial", "none", NONE)
    with pytest.raises(ValueError, match="unfinished run"):
        load_runs([partial])
    with pytest.raises(ValueError, match="no run directory given"):
        load_runs([])


def test_the_same_seed_twice_is_refused(tmp_path, make_run):
    flat_run(make_run, tmp_path / "x" / "a", "none", NONE)
    flat_run(make_run, tmp_path / "x" / "b", "none", NONE)
    with pytest.raises(ValueError, match="seed 0 of 'none' is in several run directories"):
        load_runs([tmp_path / "x"])


def test_curve_table_and_per_seed_by_hand(tmp_path, make_run):
    table = load_runs([flat_run(make_run, tmp_path / "none", "none", NONE)])
    curves = curve_table(table)
    assert curves["mean"].to_list() == pytest.approx([0.5, 0.6, 0.7])
    assert curves["sem"].to_list() == pytest.approx([0.1, 0.1, 0.1])  # (0.6 - 0.4) / 2
    assert curves["seeds"].to_list() == [2, 2, 2]
    before = curve_table(table, "test_accuracy_after_day")
    assert before["mean"].to_list() == pytest.approx([0.45, 0.55, 0.65])
    seeds = per_seed(table)
    assert seeds["final"].to_list() == pytest.approx([0.6, 0.8])
    assert seeds["mean_over_days"].to_list() == pytest.approx([0.5, 0.7])
    text = format_curve_table(curves, "test_accuracy")
    assert "none (n=2)" in text and "0.600 ± 0.100" in text
    with pytest.raises(ValueError, match="unknown metric 'accuracy'"):
        curve_table(table, "accuracy")


def test_class_table_by_hand(tmp_path, make_run):
    run = make_run(
        tmp_path / "reg",
        "regression",
        after_day={0: [[0.2, 0.8], [0.4, 0.8]]},
        after_night={0: [[0.3, 0.8], [0.6, 0.9]]},
        replays={0: [[30, 10], [20, 0]]},
    )
    classes = class_table(load_runs([run]))
    assert classes["acc_after_day1_before_night"].to_list() == pytest.approx([0.2, 0.8])
    assert classes["acc_after_night1"].to_list() == pytest.approx([0.3, 0.8])
    assert classes["final_acc"].to_list() == pytest.approx([0.6, 0.9])
    assert classes["gain"].to_list() == pytest.approx([0.4, 0.1])
    assert classes["replays"].to_list() == [50, 10]


def test_normalised_scores_pair_seeds_and_nights(tmp_path, make_run):
    flat_run(make_run, tmp_path / "rr", "round-robin", {0: [0.5, 0.6], 1: [0.4, 0.7]})
    flat_run(make_run, tmp_path / "or", "oracle", {0: [0.7, 0.8], 1: [0.6, 0.7]})
    flat_run(make_run, tmp_path / "w", "weakest", {0: [0.6, 0.65], 1: [0.5, 0.9]})
    table = load_runs([tmp_path])
    score = normalised_scores(table, "weakest")
    np.testing.assert_allclose(score.per_seed, [0.375, 0.5])  # as in test_stats, by hand
    np.testing.assert_array_equal(score.nights_scored, [2, 1])
    with pytest.raises(ValueError, match="no runs labelled 'ucb1'"):
        normalised_scores(table, "ucb1")
    flat_run(make_run, tmp_path / "short", "ucb1", {0: [0.6], 1: [0.5]})
    with pytest.raises(ValueError, match="pairs them night by night"):
        normalised_scores(load_runs([tmp_path]), "ucb1")


def test_is_run_dir_needs_results_and_config_and_a_finished_name(tmp_path, make_run):
    run = flat_run(make_run, tmp_path / "none", "none", NONE)
    assert is_run_dir(run)
    assert not is_run_dir(tmp_path)  # a folder holding runs is not one
    partial = tmp_path / "none.partial"
    run.rename(partial)
    assert not is_run_dir(partial)  # a killed run's staging folder
    (partial / "config.json").unlink()
    partial.rename(run)
    assert not is_run_dir(run)  # results without a config


def test_check_metric_accepts_numeric_per_day_columns_only(tmp_path, make_run):
    table = load_runs([flat_run(make_run, tmp_path / "none", "none", NONE)])
    check_metric(table, "test_accuracy")
    for bad in ("real_images", "label", "no_such_metric"):
        with pytest.raises(ValueError, match=f"unknown metric '{bad}'; choose one of"):
            check_metric(table, bad)
