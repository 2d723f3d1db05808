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


def test_gradient_scale_ratios(tmp_path, load_script):
    result = load_script("benchmarks/calibration/gradient_scale.py").main(
        preset="smoke", seeds=1, out=tmp_path / "g.json"
    )
    low, high = result["weight_ratio_range"]
    assert 1 < low <= high  # caffe-scale inputs give larger weight gradients
    assert result["matching_eps"]["weights_only"] == pytest.approx([1 / high, 1 / low])


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
