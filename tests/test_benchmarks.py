"""The benchmark scripts run on a tiny budget (their numbers are not checked here)."""

import json

import pytest
import torch


@pytest.mark.slow
def test_bench_speed_writes_its_ratios(tmp_path, load_script):
    result = load_script("benchmarks/bench_speed.py").main(
        preset="smoke",
        repeats=1,
        n_samples=12,
        scaling_dims=(8, 64),
        dense_max=8,
        out=tmp_path / "s.json",
    )
    assert json.loads((tmp_path / "s.json").read_text()) == result
    assert result["validation"]["speedup"] > 0
    assert result["sampler"]["dense_over_exact_memory"] > 0
    small, large = result["sampler_scaling"]
    assert "dense_fit_and_batch_s" in small and "dense_fit_and_batch_s" not in large
    assert large["dense_over_exact_memory"] == pytest.approx((64 * 64 + 64) / (1170 * 64 + 64))


def test_compare_selectors_table_and_fig3c(tmp_path, load_script):
    module = load_script("benchmarks/compare_selectors.py")
    rows = module.main(
        conditions=("none", "weakest"), preset="smoke", seeds=1, days=1, out=tmp_path
    )
    assert [r["condition"] for r in rows] == ["none", "weakest"]
    table = (tmp_path / "selectors.md").read_text()
    assert "| weakest |" in table and "| none |" in table
    assert rows[0]["r_replays_vs_day1"] is None  # no replays: no correlation
    # reused without rerunning when the settings match
    mtime = (tmp_path / "runs" / "none" / "results.jsonl").stat().st_mtime
    module.main(conditions=("none",), preset="smoke", seeds=1, days=1, out=tmp_path)
    assert (tmp_path / "runs" / "none" / "results.jsonl").stat().st_mtime == mtime


def test_replay_layers_table(tmp_path, load_script):
    rows = load_script("benchmarks/replay_layers.py").main(
        layers=(4, 5), preset="smoke", seeds=1, days=1, out=tmp_path, baseline=tmp_path / "none"
    )
    assert [r["replay"] for r in rows] == ["none", "block 4", "block 5"]
    config = json.loads((tmp_path / "runs" / "block5" / "config.json").read_text())
    assert config["condition"] == "generative" and config["env"]["replay_layer"] == 5
    assert "| block 5 |" in (tmp_path / "layers.md").read_text()


@pytest.mark.slow
def test_bench_sweep_writes_its_ratios(tmp_path, load_script):
    result = load_script("benchmarks/bench_sweep.py").main(
        cells=2, days=1, ray=False, out=tmp_path / "sweep.json"
    )
    assert json.loads((tmp_path / "sweep.json").read_text()) == result
    assert set(result["seconds"]) == {"localx1", "localx2"}
    assert result["speedup_2_workers_over_1"] > 0


@pytest.mark.slow
def test_calibration_acceptance_runs_and_judges_every_criterion(tmp_path, load_script):
    module = load_script("benchmarks/calibration/acceptance.py")
    result = module.main(
        preset="smoke", seeds=(0,), days=1, branch_days=(1,), out=tmp_path,
        override=("samples_per_class=6",),  # short nights (fixed conditions refuse a step count)
    )
    names = [c["criterion"] for c in result["criteria"]]
    assert names[0] == "none: test accuracy after day 1"
    assert any("oracle minus round-robin" in n for n in names)
    assert "| criterion | target |" in (tmp_path / "acceptance.md").read_text()
    fidelity = json.loads((tmp_path / "fidelity" / "seed_0.json").read_text())["records"]
    assert [(r["day"], r["layer"]) for r in fidelity] == [(1, k) for k in range(1, 6)]
    ratio = next(c for c in result["criteria"] if c["criterion"].startswith("sample/real"))
    assert set(ratio["per_layer"]) == {f"block{k}" for k in range(1, 6)}


@pytest.mark.slow
def test_calibration_acceptance_on_some_courses_lists_the_rest_as_not_run(tmp_path, load_script):
    module = load_script("benchmarks/calibration/acceptance.py")
    with pytest.raises(ValueError, match=r"--courses: unknown \['best'\]"):
        module.main(preset="smoke", courses=("best",), out=tmp_path)
    result = module.main(
        preset="smoke", seeds=(0,), days=1, branch_days=(1,), out=tmp_path, split="validation",
        override=("steps_per_night=2",), courses=("none",),
    )  # fmt: skip
    assert result["courses"] == ["none"] and not (tmp_path / "runs" / "generative").exists()
    by_name = {c["criterion"]: c for c in result["criteria"]}
    assert by_name["none: validation accuracy after day 1"]["passed"] is not None
    skipped = by_name["1-day mean accuracy: generative minus none"]
    assert skipped["passed"] is None and skipped["not_run"] == "needs the course(s) generative"
    assert "| not run (needs the course(s) regression) | – |" in (
        tmp_path / "acceptance.md"
    ).read_text()


def test_gradient_scale_ratios(tmp_path, load_script):
    result = load_script("benchmarks/calibration/gradient_scale.py").main(
        preset="smoke", seeds=1, out=tmp_path / "g.json"
    )
    low, high = result["weight_ratio_range"]
    assert 1 < low <= high  # caffe-scale inputs give larger weight gradients
    assert result["matching_eps"]["weights_only"] == pytest.approx([1 / high, 1 / low])


def test_fidelity_screen_judges_every_block_and_factor(tmp_path, load_script):
    screen = load_script("benchmarks/calibration/fidelity_screen.py")
    screen.main(preset="smoke", seeds=(7,), days=1, out=tmp_path)
    result = json.loads((tmp_path / "fidelity_screen.json").read_text())
    pairs = {(row["layer"], row["factor"]) for row in result["rows"]}
    # 32 px input: block k's map is 32 / 2**k, and only factors dividing it are tried
    assert pairs == {(1, 1), (1, 2), (1, 4), (2, 1), (2, 2), (2, 4), (3, 1), (3, 2), (3, 4),
                     (4, 1), (4, 2), (5, 1)}  # fmt: skip
    assert (tmp_path / "seed_7.json").exists() and "| 5 | 1 |" in (
        tmp_path / "fidelity_screen.md"
    ).read_text()


def test_fidelity_screen_chooses_the_largest_passing_factor(load_script):
    screen = load_script("benchmarks/calibration/fidelity_screen.py")
    results = [{"records": [
        {"layer": 1, "factor": 1, "ratio": 0.95}, {"layer": 1, "factor": 2, "ratio": 0.91},
        {"layer": 1, "factor": 4, "ratio": 0.5}, {"layer": 2, "factor": 1, "ratio": 0.8},
        {"layer": 1, "factor": 2, "ratio": 0.89},  # a second day: factor 2's minimum fails
    ]}]  # fmt: skip
    rows = screen.summarise(results)
    assert [(r["layer"], r["factor"], r["passes"]) for r in rows] == [
        (1, 1, True), (1, 2, False), (1, 4, False), (2, 1, False)
    ]
    assert screen.choose(rows) == {1: 1, 2: None}


@pytest.mark.slow
def test_bench_throughput_writes_every_section(tmp_path, load_script, monkeypatch):
    module = load_script("benchmarks/bench_throughput.py")
    # Compiling is tested in tests/learner; here the compiled variant is dropped, as on a
    # machine without a C++ compiler, and the run says why.
    monkeypatch.setattr(module, "compile_unavailable", lambda device: "no compiler (test)")
    tiny = ("steps_per_night=6", "weights=none", "augment=false", "train_per_class=8",
            "val_per_class=4", "test_per_class=4")  # fmt: skip
    result = module.main(
        preset="smoke", override=tiny, nights=1, layers=(4,), layer_steps=2, matmul_size=64,
        matmul_repeats=2, variants=("eager", "compiled", "adam_fused"), out=tmp_path,
    )  # fmt: skip
    assert json.loads((tmp_path / "throughput.json").read_text()) == result
    assert result["settings"]["override"] == list(tiny) and result["matmul_gflops"] > 0
    assert set(result["single"]) == {"eager", "adam_fused"}
    assert result["settings"]["compile_unavailable"] == "no compiler (test)"
    runs = [(1, run) for run in result["single"].values()]
    runs += [(2, run) for run in result["vector"].values()]
    for n_envs, run in runs:  # one night each: every env's last step ended it
        assert run["steps"] == run["night_steps"] + n_envs == n_envs * 6
        assert run["steps_per_s"] > 0 and run["median_night_step_ms"] > 0
    assert {"sync2", "async2"} <= set(result["vector"])
    assert result["vector"]["async2"]["worker_threads"] == [1, 1]
    assert result["speedups_over_one_eager_env"]["single_eager"] == 1.0
    (row,) = result["layers"]
    assert row["layer"] == 4 and row["flops"] > 0
    assert row["limit_ms"] == pytest.approx(1e3 * row["flops"] / (result["matmul_gflops"] * 1e9))
    for variant in row["variants"].values():
        ratio = variant["median_step_ms"] / row["limit_ms"]
        assert variant["ratio_to_limit"] == pytest.approx(ratio)
    assert result["targets"][0]["target"].startswith("AsyncVectorEnv(2)")
    assert result["ppo"] is None
    table = (tmp_path / "throughput.md").read_text()
    assert "| one env, adam_fused |" in table and "| AsyncVectorEnv(2), 1 thread each |" in table
    assert "| 4 | " in table


def test_bench_throughput_refuses_bad_settings(tmp_path, load_script):
    module = load_script("benchmarks/bench_throughput.py")
    with pytest.raises(ValueError, match="variants must start with 'eager'"):
        module.main(preset="smoke", variants=("compiled",), out=tmp_path)
    with pytest.raises(ValueError, match=r"nights must be in 1\.\.2"):
        module.main(preset="smoke", nights=3, out=tmp_path)
    with pytest.raises(ValueError, match="layer_steps=18 does not fit a night of 20 steps"):
        module.main(preset="smoke", layer_steps=18, out=tmp_path)
    assert not (tmp_path / "throughput.json").exists()


def test_bench_samplers_writes_ratios_to_the_gaussian_sampler(tmp_path, load_script):
    result = load_script("benchmarks/bench_samplers.py").main(
        preset="smoke", kinds=("recall",), nights=1, isolate=False, out=tmp_path
    )
    assert json.loads((tmp_path / "samplers.json").read_text()) == result
    gaussian, recall = result["rows"]
    assert (gaussian["kind"], recall["kind"]) == ("gaussian", "recall")  # the base comes first
    assert gaussian["summary"]["night_ratio"] == 1.0
    summary = recall["summary"]
    assert summary["night_ratio"] == recall["night_s"][0] / gaussian["night_s"][0] > 0
    assert summary["sample_per_step_ratio"] > 1  # recall optimises, the Gaussian draws
    assert recall["sampler_parts_bytes"]["model_copy"] == 0  # night 1: no copy yet
    assert len(recall["fit_s"]) == 1 and len(recall["night_s"]) == 1
    assert "| recall |" in (tmp_path / "samplers.md").read_text()
    paper = result["paper_preset_memory"]  # ARM's account at the paper's scale, computed
    assert [m["layer"] for m in paper] == [1, 2, 3, 4, 5]
    head = (512 * 7 * 7 + 1) * 4096 + (4096 + 1) * 4096 + (4096 + 1) * 10  # above block 5
    assert paper[4]["model_copy_bytes"] == 4 * head
    assert paper[3]["day_buffer_bytes"] == 4 * 512 * 14 * 14 * 11_700


@pytest.mark.slow
def test_bench_samplers_measures_each_kind_in_its_own_process(tmp_path, load_script):
    result = load_script("benchmarks/bench_samplers.py").main(
        preset="smoke", kinds=("gaussian",), nights=1, out=tmp_path
    )
    assert result["isolated"] and result["rows"][0]["peak_rss_bytes"] > 0


@pytest.mark.slow
def test_class_incremental_screen_judges_candidates_on_validation(tmp_path, load_script):
    screen = load_script("benchmarks/calibration/class_incremental_screen.py")
    with pytest.raises(ValueError, match="scenario='paper'"):
        screen.main(preset="smoke", candidates=("days=2",), out=tmp_path)
    candidate = 'scenario="class-incremental";days=2;samples_per_class=6'
    result = screen.main(preset="smoke", candidates=(candidate,), seeds=(7,), out=tmp_path)
    (row,) = result["rows"]
    (matrix,) = row["validation_matrices"]["none"]
    assert len(matrix) == 2 and matrix[0][1] is None and matrix[1][1] is not None
    records = [
        json.loads(line)
        for line in (tmp_path / screen.slug(candidate) / "none" / "seed_7" / "results.jsonl")
        .read_text()
        .splitlines()
    ]
    first_task_at_end = sum(records[-1]["val_class_accuracy"][:2]) / 2  # validation, classes 0-1
    assert row["summary"]["first_task_after_last_none"]["mean"] == pytest.approx(
        first_task_at_end
    )
    assert result["chosen"] in (None, candidate) and (tmp_path / "screen.md").exists()


def test_class_incremental_screen_parses_candidates(load_script):
    screen = load_script("benchmarks/calibration/class_incremental_screen.py")
    assert screen.parse_candidate('a=1; b="x";c=[1, 2]') == {"a": 1, "b": "x", "c": [1, 2]}
    assert screen.parse_candidate("") == {}
    with pytest.raises(ValueError, match="'b' is not KEY=VALUE"):
        screen.parse_candidate("a=1;b")


def test_rectified_fidelity_judges_both_kinds_per_block_and_refuses_another_course(
    tmp_path, load_script
):
    script = load_script("benchmarks/calibration/rectified_fidelity.py")
    text = script.main(preset="smoke", seeds=(7,), days=1, out=tmp_path)
    result = json.loads((tmp_path / "rectified_fidelity.json").read_text())
    assert [(r["layer"], r["kind"]) for r in result["rows"]] == [
        (k, kind) for k in range(1, 6) for kind in ("gaussian", "gaussian-rectified")
    ]
    rectified = [r for r in result["rows"] if r["kind"] == "gaussian-rectified"]
    assert all(r["sample_below_zero"] == 0 for r in rectified)
    assert all(0 < r["real_at_zero"] < 1 for r in result["rows"])
    assert "| 5 | gaussian-rectified |" in text and (tmp_path / "seed_7.json").exists()
    assert script.main(preset="smoke", seeds=(7,), days=1, out=tmp_path) == text  # reused
    with pytest.raises(SystemExit, match="another preset, number of days"):
        script.main(preset="smoke", seeds=(7,), days=2, out=tmp_path)
    with pytest.raises(SystemExit, match="layers or number of samples"):
        script.main(preset="smoke", seeds=(7,), days=1, out=tmp_path, samples_per_class=30)
    five = script.main(preset="smoke", seeds=(7,), days=1, out=tmp_path / "b5", layers=(5,),
                       samples_per_class=30)  # fmt: skip
    assert "| 5 | gaussian |" in five and "| 4 |" not in five
    assert json.loads((tmp_path / "b5" / "seed_7.json").read_text())["samples_per_class"] == 30


def _audit_run(root, row, seed, day1, learner=None, machine=None):
    run = root / row / f"seed_{seed}"
    run.mkdir(parents=True)
    config = {"condition": row.split("/")[1], "preset": "default",
              "env": {"learner": learner or {"adam_eps": 0.01}, "data": {"n": 10}}}  # fmt: skip
    if machine:
        config["machine"] = {"cpu": machine}
    (run / "config.json").write_text(json.dumps(config))
    (run / "results.jsonl").write_text(json.dumps(
        {"day": 1, "seed": seed, "test_accuracy_after_day": day1}) + "\n")  # fmt: skip


def test_machine_audit_groups_rows_by_their_day1_fingerprints(tmp_path, load_script):
    audit = load_script("benchmarks/audit_machines.py")
    folder = tmp_path / "paper" / "default"
    for seed, (here, there) in enumerate([(0.40, 0.39), (0.35, 0.36)]):
        _audit_run(folder, "sweep/none", seed, here)
        _audit_run(folder, "sweep/generative", seed, here, machine="Intel")
        _audit_run(folder, "sweep/oracle", seed, there)
    # a later config spelling out a setting older ones lack (at its old value) is the same day 1
    _audit_run(folder, "sweep/random", 0, 0.40, learner={"adam_eps": 0.01, "frozen_blocks": 0})
    # other day-1 settings: its own block, not a mix
    _audit_run(folder, "sweep/other-eps", 0, 0.20, learner={"adam_eps": 0.03})
    text = audit.main(roots=(tmp_path / "paper",), out=tmp_path / "audit.md")
    report = json.loads((tmp_path / "audit.json").read_text())
    mixed = [entry for entry in report if entry["mixed"]]
    assert len(report) == 2 and len(mixed) == 1
    groups = mixed[0]["groups"]
    assert [g["rows"] for g in groups] == [
        ["sweep/generative", "sweep/none", "sweep/random"], ["sweep/oracle"]]
    assert groups[0]["machines"] == ["Intel"] and groups[1]["machines"] == []
    assert "| paper/default | default | A: 3 rows, B: 1 rows | **yes** |" in text
    assert "- B (seed 0 day 1: 0.3900; processor not recorded): sweep/oracle" in text


def test_machine_audit_splits_a_row_whose_seeds_ran_on_two_processors(tmp_path, load_script):
    # Regression: seeds added to a row later, on another processor, made the whole row one
    # group under the old seeds' fingerprint, labelled with the new seeds' processor.
    audit = load_script("benchmarks/audit_machines.py")
    folder = tmp_path / "paper" / "default"
    for seed, (here, there) in enumerate([(0.40, 0.39), (0.35, 0.36), (0.30, 0.31)]):
        _audit_run(folder, "sweep/none", seed, here, machine="EPYC")
        if seed < 2:
            _audit_run(folder, "sweep/regression", seed, there)  # earlier, not recorded
        else:
            _audit_run(folder, "sweep/regression", seed, here, machine="EPYC")  # added later
    audit.main(roots=(tmp_path / "paper",), out=tmp_path / "audit.md")
    (entry,) = json.loads((tmp_path / "audit.json").read_text())
    assert [(g["rows"], g["machines"]) for g in entry["groups"]] == [
        (["sweep/none", "sweep/regression [EPYC]"], ["EPYC"]),
        (["sweep/regression [processor not recorded]"], []),
    ]


def test_night_length_screen_pairs_seeds_per_night_length_on_validation(tmp_path, load_script):
    module = load_script("benchmarks/calibration/night_length.py")

    def course(condition, steps, seed, values, finished=True):
        run = tmp_path / condition / f"steps_per_night={steps}" / f"seed_{seed}"
        run.mkdir(parents=True)
        lines = [json.dumps({"day": d + 1, "val_accuracy": v, "test_accuracy": 0.0})
                 for d, v in enumerate(values)]  # fmt: skip
        (run / "results.jsonl").write_text("\n".join(reversed(lines)) + "\n")  # day order
        if finished:
            (run / "summary.json").write_text("{}")

    course("none", 20, 0, [0.3] * 5)
    course("round-robin", 20, 0, [0.4, 0.5, 0.5, 0.5, 0.6])
    course("round-robin", 20, 1, [0.2] * 5)
    course("oracle", 20, 0, [0.5, 0.5, 0.5, 0.5, 0.8])
    course("oracle", 20, 1, [0.3] * 5)
    course("oracle", 50, 0, [0.9] * 5, finished=False)  # still running: left out
    rows = module.gap_rows(module.course_values(tmp_path, "val_accuracy"))
    assert [(r["setting"], r["gap"], r["seeds"]) for r in rows] == [
        (20, "round-robin − none", [0]), (20, "oracle − round-robin", [0, 1])]
    assert rows[0]["night 1"] == "0.100" and rows[0]["mean over days"] == "0.200"
    assert rows[1]["night 1"] == "0.100 ± 0.000" and rows[1]["night 5"] == "0.150 ± 0.050"
    text = module.main(module.Args(runs=tmp_path))
    assert "| 20 | oracle − round-robin | 0, 1 |" in text
    assert (tmp_path / "night_length.md").read_text() == text
    subset = module.gap_rows(module.course_values(tmp_path, "val_accuracy", seeds=(1,)))
    assert [(r["gap"], r["seeds"]) for r in subset] == [("oracle − round-robin", [1])]
    module.main(module.Args(runs=tmp_path, seeds=(1,), out=tmp_path / "seed_1.md"))
    assert "| 20 | oracle − round-robin | 1 |" in (tmp_path / "seed_1.md").read_text()
    with pytest.raises(ValueError, match="no 'test_acc' in"):
        module.course_values(tmp_path, "test_acc")
    with pytest.raises(SystemExit, match="no such folder"):
        module.main(module.Args(runs=tmp_path / "missing"))


def test_paper_timing_writes_stand_in_class_folders_of_paper_model_1(tmp_path, load_script):
    from replay_gym.data.folders import list_images, paper_model_classes

    module = load_script("benchmarks/gpu/paper_timing.py")
    classes = module.make_class_folders(tmp_path, 3)
    assert classes == list(paper_model_classes(1))
    assert all(len(list_images(tmp_path / c)) == 3 for c in classes)
    with pytest.raises(ValueError, match="images must be positive"):
        module.make_class_folders(tmp_path / "none", 0)


def test_night_length_screen_reads_another_knob_and_other_gaps(tmp_path, load_script):
    module = load_script("benchmarks/calibration/night_length.py")
    knob = "sampler.samples_per_class"

    def course(condition, setting, seed, values):
        run = tmp_path / condition / f"{knob}={setting}" / f"seed_{seed}"
        run.mkdir(parents=True)
        (run / "results.jsonl").write_text("\n".join(
            json.dumps({"day": d + 1, "val_accuracy": v}) for d, v in enumerate(values)) + "\n")
        (run / "summary.json").write_text("{}")

    for seed in (100, 101):
        for setting in (900, 180):  # sorted by value, not by folder name
            course("none", setting, seed, [0.5] * 6)
            course("generative", setting, seed, [0.5] * 5 + [0.5 + setting / 1800])
            course("round-robin", setting, seed, [0.5] * 6)
            course("oracle-night", setting, seed, [0.5] * 5 + [0.5 + 0.01 * (seed - 99)])
    gaps = ("generative:none", "oracle-night:round-robin")
    rows = module.gap_rows(module.course_values(tmp_path, "val_accuracy", knob=knob), gaps)
    assert [(r["setting"], r["gap"]) for r in rows] == [
        (180, "generative − none"), (180, "oracle-night − round-robin"),
        (900, "generative − none"), (900, "oracle-night − round-robin")]
    assert rows[2]["last day"] == "0.500 ± 0.000" and rows[0]["last day"] == "0.100 ± 0.000"
    assert rows[1]["last day"] == "0.015 ± 0.005" and rows[1]["night 1"] == "0.000 ± 0.000"
    text = module.main(module.Args(runs=tmp_path, knob=knob, gaps=gaps))
    assert f"| {knob} | gap | seeds | night 1 | night 5 | last day |" in text
    assert "| 900 | generative − none | 100, 101 | " in text
    with pytest.raises(SystemExit, match="BETTER:WORSE"):
        module.main(module.Args(runs=tmp_path, knob=knob, gaps=("generative-none",)))
    (tmp_path / "none" / f"{knob}=lots" / "seed_1").mkdir(parents=True)
    (tmp_path / "none" / f"{knob}=lots" / "seed_1" / "summary.json").write_text("{}")
    (tmp_path / "none" / f"{knob}=lots" / "seed_1" / "results.jsonl").write_text(
        "\n".join(json.dumps({"day": d, "val_accuracy": 0.5}) for d in range(1, 7)) + "\n")
    with pytest.raises(SystemExit, match="'lots' is not a number"):
        module.main(module.Args(runs=tmp_path, knob=knob, gaps=gaps))


def _splits_with_val(n_classes, val_per_class):
    from replay_gym.data.splits import assemble_splits

    def images(n, c, offset):  # pixel value = position in the class's stream (+ offset)
        return torch.stack([torch.full((3, 8, 8), offset + i + 10 * c, dtype=torch.uint8)
                            for i in range(n)])  # fmt: skip

    per_class = [(images(2, c, 0), images(val_per_class, c, 0), images(1, c, 200))
                 for c in range(n_classes)]  # fmt: skip
    return assemble_splits([f"c{c}" for c in range(n_classes)], per_class)


def test_oracle_holdout_scores_the_first_images_and_holds_out_a_disjoint_range(load_script):
    module = load_script("benchmarks/calibration/oracle_holdout.py")
    data = _splits_with_val(n_classes=2, val_per_class=8)
    split = module.probe_and_held_out(data, probe=3, held_out=(5, 8))
    assert split.val_labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert split.val_images[:, 0, 0, 0].tolist() == [0, 1, 2, 10, 11, 12]
    assert split.test_labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert split.test_images[:, 0, 0, 0].tolist() == [5, 6, 7, 15, 16, 17]
    assert torch.equal(split.train_images, data.train_images)
    with pytest.raises(ValueError, match="probe <= held-out start"):
        module.probe_and_held_out(data, probe=6, held_out=(5, 8))
    with pytest.raises(ValueError, match="class 0 has 8 validation images, needs 9"):
        module.probe_and_held_out(data, probe=3, held_out=(5, 9))


def test_oracle_holdout_pairs_the_gaps_over_seeds(load_script):
    module = load_script("benchmarks/calibration/oracle_holdout.py")

    def cell(seed, probe, oracle_probe, oracle_held):
        night = {"none": {"probe": 0.3, "held_out": 0.3},
                 "round-robin": {"probe": 0.4, "held_out": 0.4},
                 "weakest": {"probe": 0.4, "held_out": 0.4},
                 "oracle": {"probe": oracle_probe, "held_out": oracle_held}}  # fmt: skip
        return {"seed": seed, "probe": probe, "branches": {"1": night}}

    cells = [cell(0, 60, 0.5, 0.45), cell(1, 60, 0.6, 0.42),
             cell(0, 130, 0.5, 0.48), cell(1, 130, 0.55, 0.47)]  # fmt: skip
    result = module.evaluate(cells, [0, 1], [60, 130])
    oracle60 = next(r for r in result["rows"] if r["policy"] == "oracle" and r["probe"] == 60)
    assert oracle60["probe_gap"]["per_seed"] == pytest.approx([0.1, 0.2])
    assert oracle60["held_out_gap"]["per_seed"] == pytest.approx([0.05, 0.02])
    assert oracle60["probe_minus_held_out"]["mean"] == pytest.approx(0.115)
    assert oracle60["probe_minus_held_out"]["df"] == 1
    weakest = next(r for r in result["rows"] if r["policy"] == "weakest")
    assert weakest["probe_minus_held_out"]["p"] is None  # no spread: no t
    larger = next(c for c in result["comparisons"] if c["policy"] == "oracle")
    assert (larger["larger"], larger["smaller"]) == (130, 60)
    assert larger["per_seed"] == pytest.approx([0.03, 0.05])
    text = module.markdown(result, "header")
    assert "| 1 | oracle − round-robin | 60 | +0.150 ± 0.050 | +0.035 ± 0.015 |" in text
    replay = next(r for r in result["rows"] if r["policy"] == "round-robin")
    assert replay["reference"] == "none" and replay["held_out_gap"]["mean"] == pytest.approx(0.1)
    assert [c["policy"] for c in result["comparisons"]] == ["weakest", "oracle"]
    assert result["versus"] == []
    other = [cell(0, 60, 0.5, 0.40), cell(1, 60, 0.6, 0.40)]  # the same seeds, another setting
    against = module.evaluate(cells[:2], [0, 1], [60], versus=other)["versus"]
    oracle = next(v for v in against if v["policy"] == "oracle")
    assert oracle["per_seed"] == pytest.approx([0.05, 0.02]) and oracle["probe"] == 60
    result["versus"], result["versus_folder"] = against, "elsewhere"
    assert "| 1 | oracle − round-robin | 60 | +0.035 ± 0.015 |" in module.markdown(result, "h")


@pytest.mark.slow
def test_oracle_holdout_runs_resumes_and_refuses_bad_ranges(tmp_path, load_script, monkeypatch):
    module = load_script("benchmarks/calibration/oracle_holdout.py")
    args = dict(preset="smoke", seeds=(0,), probe_sizes=(5, 10), held_out=(10, 20),
                branch_days=(1,), out=tmp_path, override=("samples_per_class=6",))  # fmt: skip
    result = module.main(**args)
    cell = json.loads((tmp_path / "seed_0_probe_5.json").read_text())
    assert set(cell["branches"]["1"]) == {"none", "round-robin", "weakest", "oracle"}
    assert [(r["policy"], r["probe"]) for r in result["rows"]] == [
        ("round-robin", 5), ("round-robin", 10), ("weakest", 5), ("weakest", 10),
        ("oracle", 5), ("oracle", 10)]  # fmt: skip
    table = (tmp_path / "oracle_holdout.md").read_text()
    assert "held-out: validation-stream images 10-19" in table

    def fail(*_):
        raise AssertionError("a finished cell was run again")

    monkeypatch.setattr(module, "branches", fail)
    assert module.main(**args) == result  # every cell reused
    with pytest.raises(ValueError, match="two numbers"):
        module.main(**{**args, "held_out": (10,)})
    with pytest.raises(ValueError, match="--versus: no cell .*seed_0_probe_5.json"):
        module.main(**{**args, "versus": tmp_path / "other"})
    assert module.main(**{**args, "versus": tmp_path})["versus"][0]["mean"] == 0  # itself


def test_validation_size_pairs_each_condition_with_its_baseline_seed_by_seed(
    tmp_path, load_script
):
    module = load_script("benchmarks/acceptance/validation_size.py")

    def course(root, condition, variant, seed, values):
        run = root / condition / variant / f"seed_{seed}"
        run.mkdir(parents=True)
        lines = [json.dumps({"day": d + 1, "test_accuracy": v}) for d, v in enumerate(values)]
        (run / "results.jsonl").write_text("\n".join(reversed(lines)) + "\n")
        (run / "summary.json").write_text("{}")

    new, old = tmp_path / "new", tmp_path / "old"
    for seed, (a, b) in enumerate([((0.5, 0.7), (0.4, 0.6)), ((0.6, 0.9), (0.6, 0.7))]):
        course(new, "weakest", "v", seed, a)
        course(old, "weakest", "base", seed, b)
        course(new, "round-robin", "v", seed, (0.3, 0.5))
        course(old, "round-robin", "base", seed, (0.3, 0.5))
    args = module.Args(runs=new, variant="v", baseline=old,
                       conditions=("weakest", "round-robin"), seeds=(0, 1))  # fmt: skip
    result = module.main(args)
    weakest, robin = result["rows"]
    assert not weakest["identical"] and robin["identical"]
    assert weakest["mean_over_days"]["change"]["per_seed"] == pytest.approx([0.1, 0.1])
    assert weakest["mean_over_days"]["t"] is None  # no spread in the change: no t
    assert weakest["final"]["change"]["per_seed"] == pytest.approx([0.1, 0.2])
    assert weakest["final"]["df"] == 1 and weakest["final"]["p"] is not None
    text = (new / "validation_size.md").read_text()
    assert "| round-robin | mean over days | 0.400 ± 0.000 | 0.400 ± 0.000 | identical" in text
    assert "against `base`" in text
    assert "| weakest | final | 0.650 ± 0.050 | 0.800 ± 0.100 | +0.150 ± 0.050 (t(1)=3.00" in text
    with pytest.raises(ValueError, match="no finished course in .*seed_2"):
        module.compare(module.Args(runs=new, variant="v", baseline=old,
                                   conditions=("weakest",), seeds=(2,)))  # fmt: skip
    course(new, "weakest", "v0", 0, (0.4, 0.6))  # a baseline beside the runs, another name
    course(new, "weakest", "v0", 1, (0.6, 0.7))
    same = module.main(module.Args(
        runs=new, variant="v", baseline=new, baseline_variant="v0", conditions=("weakest",),
        seeds=(0, 1), out_name="same",
    ))
    assert same["rows"][0]["final"] == result["rows"][0]["final"]
    assert (new / "same.md").exists() and (new / "same.json").exists()


def test_room_to_learn_tabulates_day_1_day_n_and_the_room_after_it(tmp_path, load_script):
    module = load_script("benchmarks/calibration/room_to_learn.py")

    def course(setting, seed, values, finished=True):
        run = tmp_path / "none" / setting / f"seed_{seed}"
        run.mkdir(parents=True)
        lines = [json.dumps({"day": d + 1, "val_accuracy": v}) for d, v in enumerate(values)]
        (run / "results.jsonl").write_text("\n".join(reversed(lines)) + "\n")
        if finished:
            (run / "summary.json").write_text("{}")

    course("eps=0.01", 100, [0.3, 0.5, 0.6, 0.8])
    course("eps=0.01", 101, [0.4, 0.6, 0.7, 0.7])
    course("eps=0.01", 102, [0.9, 0.9, 0.9, 0.9], finished=False)  # running: left out
    rows = module.room_rows(module.Args(runs=tmp_path, day=2))
    assert [(r["setting"], r["seeds"]) for r in rows] == [("eps=0.01", [100, 101])]
    assert rows[0]["day 1"]["per_seed"] == [0.3, 0.4]
    assert rows[0]["day 2"]["mean"] == pytest.approx(0.55)
    assert rows[0]["day 4 − day 2"]["per_seed"] == pytest.approx([0.3, 0.1])
    text = module.main(module.Args(runs=tmp_path, day=2))
    assert "| eps=0.01 | 100, 101 | 0.350 ± 0.050 (0.300, 0.400) |" in text
    assert (tmp_path / "room_to_learn.md").read_text() == text
    with pytest.raises(ValueError, match="3 days, needs 4"):
        course("short", 100, [0.3, 0.4, 0.5])
        module.room_rows(module.Args(runs=tmp_path, day=2))
    with pytest.raises(ValueError, match="no 'test_accuracy'"):
        module.room_rows(module.Args(runs=tmp_path, metric="test_accuracy", day=2))
    with pytest.raises(ValueError, match="no finished 'generative' course"):
        module.room_rows(module.Args(runs=tmp_path, condition="generative"))
