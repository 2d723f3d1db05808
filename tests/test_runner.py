import json
import re

import numpy as np
import pytest

from replay_gym.__main__ import main
from replay_gym.conditions import FIXED_CONDITIONS
from replay_gym.runner import condition_names, selector_names

FAST = ["--preset", "smoke", "--env.days", "1", "--threads", "1", "--no-progress"]


def run_cli(tmp_path, condition, *extra, name=None):
    out = tmp_path / (name or condition)
    main(["run", "--condition", condition, "--out", str(out), *FAST, *extra])
    return out, [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("condition", sorted(FIXED_CONDITIONS) + selector_names())
def test_every_condition_and_selector_runs_through_the_cli(tmp_path, condition):
    extra = ["--env.days", "2"] if condition == "continuous" else []
    out, rows = run_cli(tmp_path, condition, *extra)
    assert {p.name for p in out.iterdir()} >= {
        "config.json",
        "results.jsonl",
        "steps.jsonl",
        "summary.json",
        "tb",
    }
    assert rows and all(r["condition"] == condition for r in rows)
    required = {
        "day",
        "condition",
        "seed",
        "test_accuracy",
        "test_class_accuracy",
        "val_accuracy",
        "replay_counts",
        "reward_sum",
        "wall_time",
    }
    assert required <= rows[0].keys()
    steps = (out / "steps.jsonl").read_text().splitlines()
    if condition == "none":
        assert steps == [] and all(sum(r["replay_counts"]) == 0 for r in rows)
    else:
        assert len(steps) == sum(r["night_steps"] for r in rows) > 0


@pytest.mark.slow
def test_results_lines_per_seed_and_day_and_config(tmp_path):
    out, rows = run_cli(tmp_path, "round-robin", "--seeds", "2", "--env.days", "2")
    assert [(r["seed"], r["day"]) for r in rows] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    config = json.loads((out / "config.json").read_text())
    assert config["condition"] == "round-robin" and config["seeds"] == [0, 1]
    assert config["env"]["days"] == 2 and config["env"]["resolved"]["night_length"] == 20
    summary = json.loads((out / "summary.json").read_text())
    assert summary["final_test_accuracy_mean"] == pytest.approx(
        np.mean([r["test_accuracy"] for r in rows if r["day"] == 2])
    )


def test_same_seed_same_results(tmp_path):
    _, first = run_cli(tmp_path, "exp3s", name="a")
    _, second = run_cli(tmp_path, "exp3s", name="b")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_time"} for r in rows]  # noqa: E731
    assert strip(first) == strip(second)


def test_existing_run_is_not_overwritten_without_asking(tmp_path):
    out, rows = run_cli(tmp_path, "none")
    before = (out / "results.jsonl").read_text()
    with pytest.raises(SystemExit, match="already holds another run"):
        run_cli(tmp_path, "none")
    assert (out / "results.jsonl").read_text() == before
    run_cli(tmp_path, "random", "--overwrite", name="none")
    assert json.loads((out / "config.json").read_text())["condition"] == "random"
    assert not (tmp_path / "none.partial").exists()


def test_run_failing_before_any_checkpoint_leaves_nothing(tmp_path, monkeypatch):
    import replay_gym.runner as runner

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(runner, "run_course", explode)
    with pytest.raises(RuntimeError, match="boom"):
        run_cli(tmp_path, "random")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--condition", "sometimes"], "unknown condition 'sometimes'"),
        (["--condition", "sb3"], "needs --model"),
        (["--condition", "sb3", "--model", "missing.zip"], "missing.zip: no such file"),
        (["--condition", "random", "--model", __file__], "only used with --condition sb3"),
        (["--condition", "none", "--agent", "eta", "1"], "do not apply to fixed condition"),
        (["--condition", "random", "--seeds", "0"], "seeds must be at least 1"),
        (["--condition", "random", "--env.replay-layer", "7"], "replay_layer must be 1-5"),
    ],
)
def test_bad_arguments_are_named(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", *args, "--out", str(tmp_path / "x"), *FAST])
    assert re.search(message, said(exit_info, capsys))


def said(exit_info, capsys):
    """What the CLI told the user: the exit message, or tyro's boxed error, unwrapped."""
    text = f"{exit_info.value.code} {capsys.readouterr().err}"
    return " ".join(text.replace("│", " ").split())


def test_unknown_command_and_preset():
    with pytest.raises(SystemExit, match="unknown command"):
        main(["fly"])
    with pytest.raises(SystemExit, match="unknown preset"):
        main(["run", "--preset", "huge"])


def test_condition_names_cover_fixed_selectors_and_sb3():
    names = condition_names()
    assert {"none", "generative", "regression", "exp3s", "oracle", "weakest", "sb3"} <= set(names)


def test_agent_arguments_reach_the_selector(tmp_path):
    out, rows = run_cli(tmp_path, "epsilon-greedy", "--agent", "epsilon", "1.0")
    assert json.loads((out / "config.json").read_text())["agent"] == {"epsilon": 1.0}
    with pytest.raises(SystemExit, match="epsilon must be"):
        run_cli(tmp_path, "epsilon-greedy", "--agent", "epsilon", "7", name="bad")


def test_agent_kwargs_parse_json_values():
    from replay_gym.runner import agent_kwargs

    assert agent_kwargs({"eta": "0.1", "flag": "true", "name": "x"}) == {
        "eta": 0.1,
        "flag": True,
        "name": "x",
    }


def test_summary_and_replay_table_by_hand():
    from replay_gym.runner import replay_table, summarise

    day = {
        "condition": "c",
        "seed": 0,
        "replay_counts": [2, 0],
        "test_class_accuracy_after_day": [0.2, 0.9],
    }
    records = [
        {
            **day,
            "day": 1,
            "test_accuracy_after_day": 0.55,
            "test_class_accuracy": [0.4, 0.9],
            "test_accuracy": 0.65,
        },
        {
            **day,
            "day": 2,
            "test_accuracy_after_day": 0.6,
            "test_class_accuracy": [0.6, 0.8],
            "test_accuracy": 0.7,
        },
    ]
    summary = summarise(records, ["weak", "strong"])
    assert summary["final_test_accuracy"] == [0.7] and summary["final_test_accuracy_sem"] is None
    # day 1's accuracies, each named by when it was measured (the paper's Fig. 3C/D x-axis is
    # after day 1's training, before its night)
    assert summary["test_accuracy_after_day1_before_night"] == [0.55]
    assert summary["test_accuracy_after_night1"] == [0.65]
    weak = summary["classes"][0]
    assert weak == {
        "class": "weak",
        "replayed_samples_per_course": 4.0,
        "test_accuracy_after_day1_before_night": 0.2,
        "test_accuracy_after_night1": 0.4,
        "final_test_accuracy": 0.6,
    }
    table = replay_table(summary)
    assert "weak" in table and "4.0" in table and "0.200" in table and "0.400" in table
    assert "after day 1, before its night" in table


def test_run_args_without_env_take_the_presets_settings():
    from replay_gym.config import apply_overrides, preset
    from replay_gym.runner import RunArgs

    args = RunArgs(preset="smoke")
    assert args.env is None and args.env_config == preset("smoke")
    assert (args.env_config.days, args.env_config.data.n_classes) == (3, 4)
    given = apply_overrides(preset("smoke"), days=1)
    assert RunArgs(preset="smoke", env=given).env_config is given


def test_run_args_take_paths_as_strings(tmp_path):
    from replay_gym.runner import RunArgs

    args = RunArgs(out=str(tmp_path / "r"))
    assert args.out == tmp_path / "r" and args.run_dir == tmp_path / "r"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seeds": 1.5}, r"seeds must be an integer \(int\), got 1.5"),
        ({"first_seed": "0"}, r"first_seed must be an integer \(int\), got '0'"),
        ({"out": 3}, r"out must be a path \(str or Path\) or None, got 3"),
        ({"preset": "huge"}, r"unknown preset 'huge'; choose one of"),
        ({"env": {"days": 2}}, r"env must be an EnvConfig or None, got \{'days': 2\} \(dict\)"),
    ],
)
def test_run_args_refuse_bad_values_when_built(changes, message):
    from replay_gym.runner import RunArgs

    with pytest.raises(ValueError, match=message):
        RunArgs(**changes)


def test_cli_preset_with_single_flags_on_top(monkeypatch):
    import replay_gym.runner as runner

    seen = []
    monkeypatch.setattr(runner, "run", seen.append)
    main(["run", "--preset", "smoke", "--env.days", "2"])
    (args,) = seen
    assert args.env_config.days == 2 and args.env_config.data.n_classes == 4
    assert args.env_config.learner == runner.preset("smoke").learner


def _continual_record(seed, day, acc, matrix, tasks):
    return {"seed": seed, "day": day, "acc": acc, "bwt": -acc / 2, "forgetting": acc / 2,
            "first_20pct_accuracy": None if seed else 0.5, "accuracy_matrix": matrix,
            "task_test_accuracy": tasks}


def test_continual_summary_averages_course_measures_and_matrices_over_seeds():
    from replay_gym.runner import continual_summary

    records = [
        _continual_record(1, 2, 0.6, [[1.0, None], [0.4, 0.8]], [0.4, 0.8]),
        _continual_record(0, 1, 0.9, [[0.9, None]], [0.9, None]),  # out of order on purpose
        _continual_record(0, 2, 0.4, [[0.8, None], [0.2, 0.6]], [0.2, 0.6]),
        _continual_record(1, 1, 1.0, [[1.0, None]], [1.0, None]),
    ]
    out = continual_summary(records)
    assert out["acc"] == [0.4, 0.6]  # each seed's last day
    assert out["acc_mean"] == pytest.approx(0.5) and out["acc_sem"] == pytest.approx(0.1)
    assert out["first_20pct_accuracy"] == [0.5, None]
    assert out["first_20pct_accuracy_mean"] == 0.5  # the seed without a value is left out
    approx = pytest.approx
    assert out["accuracy_matrix_mean"] == [[approx(0.9), None], [approx(0.3), approx(0.7)]]
    assert out["days"] == [1, 2]
    assert out["task_test_accuracy_by_day"] == [
        [pytest.approx(0.95), pytest.approx(0.3)], [None, pytest.approx(0.7)]
    ]


def test_continual_summary_is_none_for_the_paper_scenario():
    from replay_gym.runner import continual_summary

    assert continual_summary([{"seed": 0, "day": 1, "test_accuracy": 0.5}]) is None


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_flag_given_twice_is_refused_not_half_dropped(tmp_path, command):
    # Regression: `--agent a 1 --agent b 2` kept only b (the parser's last flag wins), so a
    # course silently ran without a; `--set x=1 --set y=2` likewise.
    argv = [command, "--out", str(tmp_path / "out"), "--conditions" if command == "sweep"
            else "--condition", "regression", "--agent", "initial_weights", "zeros",
            "--agent", "learning_rate", "0.0065"]  # fmt: skip
    with pytest.raises(SystemExit, match="--agent is given twice.*--agent initial_weights zeros"):
        main(argv)
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit, match="--set is given twice"):
        main(["sweep", "--out", str(tmp_path / "out"), "--set", "days=1", "--set=seed=2"])


def test_a_course_selector_starts_from_selector_rng(tmp_path, monkeypatch):
    # benchmarks/paper/regression_init.py redraws a course's initial regression weights from
    # selector_rng(seed); this checks that the runner hands the selector exactly that generator.
    from replay_gym.agents.regression import RegressionSelector, glorot_uniform
    from replay_gym.runner import selector_rng

    started = []
    begin = RegressionSelector.begin_episode

    def spy(self, env, obs, info, rng):
        begin(self, env, obs, info, rng)
        started.append(self.weights)

    monkeypatch.setattr(RegressionSelector, "begin_episode", spy)
    _, rows = run_cli(tmp_path, "regression", "--seeds", "2", "--agent", "initial_probe", "false")
    seeds = sorted({row["seed"] for row in rows})
    assert len(started) == len(seeds) == 2
    for weights, seed in zip(started, seeds, strict=True):
        np.testing.assert_array_equal(weights, glorot_uniform(len(weights), selector_rng(seed)))
