"""benchmarks/continual/analyze.py on synthetic class-incremental sweeps with known answers."""

import json

import numpy as np
import pytest

SEEDS = (0, 1, 2)
TASKS = 3


def _matrix(diagonal: float, kept: float) -> list[list[float | None]]:
    """After task t: ``diagonal`` on task t, ``kept`` on every earlier task, None later."""
    return [
        [diagonal if j == t else (kept if j < t else None) for j in range(TASKS)]
        for t in range(TASKS)
    ]


def _write_run(folder, condition, seed, kept, first_20=None, replace=False):
    """A finished class-incremental course (one day per task) keeping ``kept`` of old tasks."""
    folder.mkdir(parents=True, exist_ok=replace)
    (folder / "config.json").write_text(json.dumps({"condition": condition, "preset": "t"}))
    matrix = _matrix(0.9, kept)
    lines = []
    for day in range(1, TASKS + 1):
        record = {
            "condition": condition, "seed": seed, "day": day,
            "test_accuracy": float(np.mean([v for v in matrix[day - 1] if v is not None])),
            "task_test_accuracy": matrix[day - 1],
        }  # fmt: skip
        lines.append(record)
    final = matrix[-1]
    lines[-1].update({
        "accuracy_matrix": matrix, "acc": float(np.mean(final)), "bwt": kept - 0.9,
        "forgetting": 0.9 - kept, "first_20pct_accuracy": kept if first_20 is None else first_20,
        "first_50pct_accuracy": kept,
    })  # fmt: skip
    (folder / "results.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n")


def _sweep(root, conditions):
    for seed in SEEDS:
        for (condition, variant), kept in conditions.items():
            _write_run(root / condition / variant / f"seed_{seed}", condition, seed,
                       kept + 0.01 * seed * (condition == "generative"))  # fmt: skip


def test_acceptance_and_claims_on_known_courses(tmp_path, load_script):
    module = load_script("benchmarks/continual/analyze.py")
    runs = tmp_path / "ci"
    _sweep(runs, {
        ("none", "base"): 0.0, ("generative", "base"): 0.3, ("round-robin", "base"): 0.3,
        ("oracle", "base"): 0.6, ("generative", "sampler.kind=cvae"): 0.2,
    })  # fmt: skip
    paper = tmp_path / "paper"
    for seed in SEEDS:  # paper scenario: oracle 0.02 (± 0.001) above round-robin
        for condition, accuracy in (("oracle", 0.819 + 0.001 * seed), ("round-robin", 0.80)):
            folder = paper / condition / f"seed_{seed}"
            folder.mkdir(parents=True)
            (folder / "config.json").write_text("{}")
            (folder / "results.jsonl").write_text(json.dumps({"test_accuracy": accuracy}) + "\n")
    result = module.analyse(runs, paper, SEEDS)
    forgotten, generative, gap = result["acceptance"]
    assert forgotten["met"] and forgotten["details"]["per_seed"] == [0.0, 0.0, 0.0]
    # ACC = (kept + kept + 0.9) / 3, so generative - none = 2 x 0.3 / 3 (+ the seed drift)
    assert generative["met"]
    assert np.allclose(generative["details"]["difference"], [0.2, 0.2 + 0.02 / 3, 0.2 + 0.04 / 3])
    assert gap["met"] and np.allclose(gap["details"]["class_incremental"], 0.2)
    assert np.allclose(gap["details"]["paper"], [0.019, 0.020, 0.021]) and gap["details"]["p"] < .05
    assert "vs paper scenario 0.020 ± 0.001, t(2" in gap["ours"]
    claims = {c["name"].split(":")[0]: c for c in result["claims"]}
    assert claims["van de Ven et al."]["met"]  # cvae 0.2 kept > none 0
    assert claims["Ji et al."]["met"] is None  # recall not run
    # a comparison without a claim is measured but neither met nor missed
    comparison = claims["cvae minus the paper's Gaussian sampler (ACC)"]
    assert comparison["met"] is None and comparison["ours"].startswith("-0.067")
    assert "generative/sampler.kind=recall" in result["waiting"]
    table = (runs / "continual.md").read_text()
    assert "| gaussian | generative | 0." in table and "| – | none |" in table
    assert "(comparison asked for; no claim) | -0.067" in table and "| – (no claim) |" in table
    assert (runs / "accuracy_matrix.png").exists() and (runs / "first_task.png").exists()


def test_missing_seed_leaves_a_group_waiting_and_its_checks_not_run(tmp_path, load_script):
    module = load_script("benchmarks/continual/analyze.py")
    runs = tmp_path / "ci"
    _sweep(runs, {("none", "base"): 0.05, ("generative", "base"): 0.3})
    (runs / "generative" / "base" / "seed_2" / "results.jsonl").unlink()
    result = module.analyse(runs, None, SEEDS)
    assert "generative/base" in result["waiting"]
    forgotten, generative, gap = result["acceptance"]
    assert forgotten["met"] and generative["met"] is None and gap["ours"] == "not run"
    with pytest.raises(FileNotFoundError, match="no such sweep folder"):
        module.analyse(tmp_path / "absent")


def test_a_subset_of_seeds_is_analysed_into_its_own_folder(tmp_path, load_script):
    module = load_script("benchmarks/continual/analyze.py")
    runs = tmp_path / "ci"
    _sweep(runs, {("none", "base"): 0.05, ("generative", "base"): 0.3})
    module.analyse(runs, None, SEEDS)
    before = (runs / "continual.md").read_text()
    result = module.analyse(runs, None, (0, 1), out=tmp_path / "two_seeds")
    assert result["seeds"] == [0, 1] and (runs / "continual.md").read_text() == before
    assert "seeds [0, 1]" in (tmp_path / "two_seeds" / "continual.md").read_text()
    assert (tmp_path / "two_seeds" / "first_task.png").exists()


def test_night_oracle_gap_and_hard_target_ablation_when_run(tmp_path, load_script):
    module = load_script("benchmarks/continual/analyze.py")
    runs = tmp_path / "ci"
    hard = "sampler.cvae.soft_targets=False,sampler.kind=cvae"
    _sweep(runs, {
        ("none", "base"): 0.0, ("round-robin", "base"): 0.3, ("oracle", "base"): 0.15,
        ("oracle-night", "base"): 0.45, ("generative", "sampler.kind=cvae"): 0.1,
        ("generative", hard): 0.25,
    })  # fmt: skip
    paper = tmp_path / "paper"
    for seed in SEEDS:  # the acceptance layout for oracle and round-robin, a sweep's for the other
        for folder, accuracy in ((paper / "oracle" / f"seed_{seed}", 0.82 + 0.001 * seed),
                                 (paper / "round-robin" / f"seed_{seed}", 0.80),
                                 (paper / "oracle-night" / "base" / f"seed_{seed}",
                                  0.83 + 0.001 * (seed - 1))):
            folder.mkdir(parents=True)
            (folder / "config.json").write_text("{}")
            (folder / "results.jsonl").write_text(json.dumps({"test_accuracy": accuracy}) + "\n")
    result = module.analyse(runs, paper, SEEDS)
    gaps = {c["name"].split(" minus")[0]: c for c in result["acceptance"][2:]}
    assert set(gaps) == {"ACC oracle", "ACC oracle-night"}
    assert not gaps["ACC oracle"]["met"]  # (0.15 - 0.3) x 2 / 3 = -0.1 < 0.02
    assert gaps["ACC oracle-night"]["met"]
    assert np.allclose(gaps["ACC oracle-night"]["details"]["class_incremental"], 0.1)
    assert np.allclose(gaps["ACC oracle-night"]["details"]["paper"], [0.029, 0.03, 0.031])
    ablation = next(c for c in result["claims"] if c["name"].startswith("cvae with hard labels"))
    assert ablation["met"] is None and np.allclose(ablation["details"]["difference"], 0.1)
    assert not any("oracle-night" in w or "soft_targets" in w for w in result["waiting"])
    table = (runs / "continual.md").read_text()
    assert "| gaussian | oracle-night | " in table
    assert "| cvae-hard-targets | generative | " in table


def test_optional_groups_absent_are_neither_waiting_nor_checked(tmp_path, load_script):
    module = load_script("benchmarks/continual/analyze.py")
    runs = tmp_path / "ci"
    _sweep(runs, {("none", "base"): 0.0, ("round-robin", "base"): 0.3})
    result = module.analyse(runs, None, SEEDS)
    assert [c["name"].split(" minus")[0] for c in result["acceptance"]][2:] == ["ACC oracle"]
    assert "oracle/base" in result["waiting"] and "oracle-night/base" not in result["waiting"]


def test_sampler_by_schedule_grid_and_its_anova(tmp_path, load_script):
    module = load_script("benchmarks/continual/analyze.py")
    runs = tmp_path / "ci"
    rng = np.random.default_rng(0)
    kept = {}  # gaussian: round-robin best; cvae: every schedule alike (an interaction)
    for condition, gaussian in zip(module.REPLAYING, (0.5, 0.6, 0.3, 0.2, 0.4), strict=True):
        kept[(condition, "base")] = gaussian
        kept[(condition, "sampler.kind=cvae")] = 0.3
    kept[("none", "base")] = 0.0
    for seed in SEEDS:
        for (condition, variant), value in kept.items():
            noise = 0.0 if condition == "none" else rng.normal(scale=0.01)
            _write_run(runs / condition / variant / f"seed_{seed}", condition, seed, value + noise)
    result = module.analyse(runs, seeds=SEEDS)
    anova = result["sampler_schedule_anova"]
    assert anova["samplers"] == ["gaussian", "cvae"]  # the others have not run
    assert tuple(anova["schedule"]["df"]) == tuple(anova["interaction"]["df"]) == (4.0, 8.0)
    assert anova["interaction"]["p"] < 0.001 and anova["schedule"]["p"] < 0.001
    text = (runs / "continual.md").read_text()
    assert "| cvae-repulsion | – | – | – | – | – |" in text
    assert "interaction F(4,8)=" in text
    # round-robin's ACC keeping 0.6 of two old tasks, 0.9 on the last: (0.6 + 0.6 + 0.9) / 3
    gaussian_row = next(line for line in text.splitlines() if line.startswith("| gaussian | 0."))
    assert float(gaussian_row.split(" | ")[2].split()[0]) == pytest.approx(0.7, abs=0.02)


def test_sampler_schedule_anova_waits_for_two_complete_samplers(tmp_path, load_script):
    module = load_script("benchmarks/continual/analyze.py")
    runs = tmp_path / "ci"
    _sweep(runs, {(c, "base"): 0.3 for c in module.REPLAYING} | {("none", "base"): 0.0})
    result = module.analyse(runs, seeds=SEEDS)
    assert result["sampler_schedule_anova"] is None
    assert "ANOVA: not run" in (runs / "continual.md").read_text()


def test_a_gap_larger_on_the_means_alone_is_not_met(tmp_path, load_script):
    """Issue 11's "larger than the paper scenario's" needs Welch's p < .05, not a larger mean."""
    module = load_script("benchmarks/continual/analyze.py")
    runs = tmp_path / "ci"
    _sweep(runs, {("none", "base"): 0.0, ("generative", "base"): 0.3, ("round-robin", "base"): 0.3})
    for seed, kept in zip(SEEDS, (0.3, 0.6, 0.0), strict=True):  # gap 0, +0.2, -0.2: mean 0
        _write_run(runs / "oracle" / "base" / f"seed_{seed}", "oracle", seed, kept + 0.03)
    paper = tmp_path / "paper"
    for seed in SEEDS:  # paper gap -0.01 ± 0.001
        for condition, accuracy in (("oracle", 0.79 + 0.001 * seed), ("round-robin", 0.80)):
            folder = paper / condition / f"seed_{seed}"
            folder.mkdir(parents=True)
            (folder / "config.json").write_text("{}")
            (folder / "results.jsonl").write_text(json.dumps({"test_accuracy": accuracy}) + "\n")
    gap = module.analyse(runs, paper, SEEDS)["acceptance"][2]
    assert np.mean(gap["details"]["class_incremental"]) > np.mean(gap["details"]["paper"])
    assert gap["details"]["p"] > .05 and gap["met"] is False


def test_gaps_without_spread_in_either_scenario_are_compared_exactly(tmp_path, load_script):
    """Regression: a ceiling that ends where round-robin does on every seed, in both scenarios,
    left both gaps constant, and Welch's t (undefined then) stopped the whole analysis."""
    module = load_script("benchmarks/continual/analyze.py")
    runs = tmp_path / "ci"
    _sweep(runs, {("none", "base"): 0.0, ("generative", "base"): 0.3,
                  ("round-robin", "base"): 0.3, ("oracle", "base"): 0.3})  # fmt: skip
    paper = tmp_path / "paper"
    for seed in SEEDS:  # the paper gap is exactly 0.0 on every seed too
        for condition in ("oracle", "round-robin"):
            folder = paper / condition / f"seed_{seed}"
            folder.mkdir(parents=True)
            (folder / "config.json").write_text("{}")
            (folder / "results.jsonl").write_text(json.dumps({"test_accuracy": 0.8}) + "\n")
    gap = module.analyse(runs, paper, SEEDS)["acceptance"][2]
    assert gap["met"] is False and "no spread in either" in gap["ours"]
    assert np.allclose(gap["details"]["class_incremental"], 0.0)


def test_a_sweep_that_set_a_knob_for_every_cell_is_read_from_its_own_folder(tmp_path, load_script):
    """A sweep with ``[set]`` keeps the preset's sampler under the setting's folder, not
    ``base``: ``--base`` names it, and ``base`` alone would leave every group waiting."""
    module = load_script("benchmarks/continual/analyze.py")
    runs, variant = tmp_path / "ci", "sampler.samples_per_class=240"
    _sweep(runs, {("none", variant): 0.0, ("generative", variant): 0.3})
    assert "generative/base" in module.analyse(runs, None, SEEDS)["waiting"]
    result = module.analyse(runs, None, SEEDS, base=variant)
    assert f"generative/{variant}" not in result["waiting"]
    assert "generative/base" not in result["waiting"]
    forgotten, generative, _ = result["acceptance"]
    assert forgotten["met"] and generative["met"]
    kept = result["groups"]["generative/gaussian"]["first_50pct_accuracy"]
    assert np.allclose(kept, [0.3, 0.31, 0.32])
    assert "sampler.kind=cvae" in " ".join(result["waiting"])  # other samplers keep their names
    with pytest.raises(ValueError, match="base"):
        module.analyse(runs, None, SEEDS, base="")


def test_selectors_against_round_robin_and_the_night_level_ceiling(tmp_path, load_script):
    """Each selector's ACC against round-robin and oracle-night (paired t, Holm over the
    selectors), and its share of the ceiling's gain, on courses with known ACC."""
    from replay_gym.stats import holm

    module = load_script("benchmarks/continual/analyze.py")
    runs = tmp_path / "ci"
    _sweep(runs, {("none", "base"): 0.0, ("round-robin", "base"): 0.3,
                  ("oracle-night", "base"): 0.6})  # fmt: skip
    # ACC = (2 kept + 0.9) / 3: round-robin 0.5, oracle-night 0.7
    for name, kept in (("weakest", (0.44, 0.45, 0.46)), ("random", (0.32, 0.29, 0.29))):
        for seed, value in zip(SEEDS, kept, strict=True):
            _write_run(runs / name / "base" / f"seed_{seed}", name, seed, value)
    table = module.analyse(runs, None, SEEDS)["selectors"]
    rows = {row["condition"]: row for row in table["rows"]}
    assert list(rows) == ["weakest", "random"]  # registered order; absent selectors left out
    assert rows["weakest"]["share_of_ceiling"] == pytest.approx(0.5)
    assert rows["random"]["share_of_ceiling"] == pytest.approx(0.0, abs=1e-9)
    assert rows["weakest"]["vs_round_robin"]["p"] < 0.05
    raw = [rows[c]["vs_round_robin"]["p"] for c in rows]
    assert [rows[c]["vs_round_robin"]["p_holm"] for c in rows] == pytest.approx(holm(raw))
    assert all(rows[c]["vs_ceiling"]["difference"] < 0 for c in rows)
    text = (runs / "continual.md").read_text()
    assert "Selectors against round-robin and the night-level ceiling" in text
    assert "| weakest | 0.600 ± 0.004 |" in text  # s.e.m. of ACC 0.593, 0.600, 0.607
    # Holm p against the ceiling as the tables write it (weakest p = .0015, random's .0011
    # doubled: .002), then the share of the ceiling's gain
    assert "| .002 | +0.50 |" in text
    # a user's selector, run into the same folder, joins the table by name
    for seed, kept in zip(SEEDS, (0.5, 0.6, 0.55), strict=True):
        _write_run(runs / "my-selector" / "base" / f"seed_{seed}", "my-selector", seed, kept)
    assert "my-selector" not in {r["condition"] for r in module.analyse(runs, None, SEEDS)[
        "selectors"]["rows"]}  # fmt: skip
    table = module.analyse(runs, None, SEEDS, selectors=("my-selector",))["selectors"]
    assert [row["condition"] for row in table["rows"]] == ["weakest", "random", "my-selector"]
    with pytest.raises(FileNotFoundError, match="--selectors nobody: no folder"):
        module.analyse(runs, None, SEEDS, selectors=("nobody",))
    # a ceiling that does not beat round-robin leaves no gain to take a share of
    for seed, kept in zip(SEEDS, (0.29, 0.31, 0.30), strict=True):
        _write_run(runs / "oracle-night" / "base" / f"seed_{seed}", "oracle-night", seed, kept,
                   replace=True)  # fmt: skip
    table = module.analyse(runs, None, SEEDS)["selectors"]
    assert not table["ceiling_above_round_robin"]
    assert all(row["share_of_ceiling"] is None for row in table["rows"])
    assert "the ceiling does not beat round-robin" in (runs / "continual.md").read_text()
    # without the ceiling there is nothing to measure a share of
    (runs / "oracle-night").rename(tmp_path / "away")
    assert module.analyse(runs, None, SEEDS)["selectors"] is None
    assert "Selectors against round-robin: not run" in (runs / "continual.md").read_text()


def test_a_selector_identical_to_round_robin_on_every_seed_does_not_stop_the_table(
    tmp_path, load_script
):
    """Regression: a selector whose ACC equals round-robin's on every seed (both at chance, say)
    gave a paired t of NaN, and Holm's correction refused it, stopping the whole analysis."""
    module = load_script("benchmarks/continual/analyze.py")
    runs = tmp_path / "ci"
    _sweep(runs, {("round-robin", "base"): 0.3, ("oracle-night", "base"): 0.6,
                  ("random", "base"): 0.3})  # fmt: skip
    for seed, kept in zip(SEEDS, (0.44, 0.45, 0.46), strict=True):
        _write_run(runs / "weakest" / "base" / f"seed_{seed}", "weakest", seed, kept)
    rows = {r["condition"]: r for r in module.analyse(runs, None, SEEDS)["selectors"]["rows"]}
    same = rows["random"]["vs_round_robin"]
    assert same["difference"] == 0 and same["p"] == 1.0 and same["p_holm"] == 1.0
    assert "no spread" in same["text"]
    assert rows["weakest"]["vs_round_robin"]["p"] < 0.05
