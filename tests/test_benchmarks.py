"""The benchmark scripts run on a tiny budget (their numbers are not checked here)."""

import json

import pytest


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
        override=("steps_per_night=3",),
    )
    names = [c["criterion"] for c in result["criteria"]]
    assert names[0] == "none: test accuracy after day 1"
    assert any("oracle minus round-robin" in n for n in names)
    assert "| criterion | target |" in (tmp_path / "acceptance.md").read_text()
    fidelity = json.loads((tmp_path / "branches" / "seed_0.json").read_text())["fidelity"]
    assert [entry["layer"] for entry in fidelity[0]["layers"]] == [1, 2, 3, 4, 5]


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
