#!/usr/bin/env bash
# The multi-seed experiments still to finish for issues 8 and 11, in the order they are needed.
# Every step resumes: finished cells are skipped, killed ones continue from their checkpoint, so
# a stopped session loses nothing and the next one runs this script again:
#
#   nohup bash benchmarks/run_remaining.sh > runs/remaining.log 2>&1 &
#
# Seeds are fixed in the sweep files (0-4). WORKERS (default 2) cells run at once, one thread
# each. A step that fails (a cell that fails is reported by the sweep with its error) does not
# stop the later steps; the script exits non-zero at the end if any failed.
set -u
cd "$(dirname "$0")/.."
WORKERS="${WORKERS:-2}"
PY="${PYTHON:-python}"
failed=()

step() {
  local name="$1"
  shift
  echo "=== $(date -u +%FT%TZ) start: $name"
  if "$@"; then
    echo "=== $(date -u +%FT%TZ) done: $name"
  else
    echo "=== $(date -u +%FT%TZ) FAILED ($?): $name"
    failed+=("$name")
  fi
}

sweep() { "$PY" -m replay_gym sweep --workers "$WORKERS" --threads 1 "$@"; }

R=benchmarks/results
mkdir -p runs
# One processor per comparison (benchmarks/audit_machines.py, RESULTS §6): rows whose day-1
# fingerprint showed another processor than the rows they are compared with were deleted
# (commit of 2026-11-27) and are rerun here; finished cells are skipped, so this is a no-op
# once they exist. In order of use: the default leaderboard's reference row, F1 on the default
# (beside the S and R sampler rows), the every-block Fashion-MNIST class-incremental Gaussian
# rows (beside its sampler grid), F1 on Fashion-MNIST (beside its R rows).
step "leaderboard default round-robin (same processor)" "$PY" benchmarks/leaderboard/leaderboard.py \
  run --presets default --rows round-robin --workers "$WORKERS"
for spec in f1_none f1_layers rectified; do
  step "paper default $spec (same processor)" sweep --config "benchmarks/paper/$spec.toml" \
    --out "$R/paper/default"
done
step "paper default analysis (same processor)" "$PY" benchmarks/paper/analyze.py --runs "$R/paper/default"
step "continual fashion-mnist Gaussian rows (same processor)" sweep \
  --config benchmarks/continual/fashion_mnist.toml --out "$R/continual/fashion-mnist"
for spec in f1_none f1_layers rectified; do
  step "paper fashion-mnist $spec (same processor)" sweep --config "benchmarks/paper/$spec.toml" \
    --preset fashion-mnist --out "$R/paper/fashion-mnist"
done
# Issue 11 §1: the night-level ceiling (oracle-night) on class-incremental-frozen and, for the
# comparison, in the paper scenario on the same seeds.
step "continual default-frozen oracle-night" sweep \
  --config benchmarks/continual/default_frozen_oracle_night.toml --out "$R/continual/default-frozen"
step "paper-scenario oracle-night (default)" sweep \
  --config benchmarks/continual/paper_oracle_night.toml --out "$R/calibration/runs"
# Issue 11 on the frozen presets (blocks 1-4 frozen, chosen on validation): Gaussian rows, then
# the seed samplers, on both data sets.
step "continual default-frozen samplers" sweep \
  --config benchmarks/continual/default_frozen_samplers.toml --out "$R/continual/default-frozen"
step "continual default-frozen cvae hard targets" sweep \
  --config benchmarks/continual/default_frozen_cvae_targets.toml --out "$R/continual/default-frozen"
step "continual default-frozen analysis" "$PY" benchmarks/continual/analyze.py \
  --runs "$R/continual/default-frozen" --paper-runs "$R/calibration/runs"
# Fashion-MNIST frozen: the rows the acceptance needs first (round-robin, the night-level
# ceiling), then the greedy oracle (its late nights probe every class: the slowest cells).
step "continual fashion-mnist-frozen (round-robin, oracle-night)" sweep \
  --config benchmarks/continual/fashion_mnist_frozen.toml --conditions round-robin oracle-night \
  --out "$R/continual/fashion-mnist-frozen"
step "paper-scenario oracle-night (fashion-mnist)" sweep \
  --config benchmarks/continual/paper_oracle_night.toml --preset fashion-mnist \
  --out "$R/calibration_fmnist/test/runs"
# The seed papers' claims need only the generative schedule: those cells before the grid's rest.
step "continual fashion-mnist-frozen samplers (generative)" sweep \
  --config benchmarks/continual/fashion_mnist_frozen_samplers.toml --conditions generative \
  --out "$R/continual/fashion-mnist-frozen"
step "continual default samplers (generative; cvae reruns)" sweep \
  --config benchmarks/continual/default_samplers.toml --conditions generative \
  --out "$R/continual/default"
step "continual fashion-mnist-frozen (all Gaussian rows)" sweep \
  --config benchmarks/continual/fashion_mnist_frozen.toml --out "$R/continual/fashion-mnist-frozen"
step "continual fashion-mnist-frozen analysis (Gaussian rows)" "$PY" benchmarks/continual/analyze.py \
  --runs "$R/continual/fashion-mnist-frozen" --paper-runs "$R/calibration_fmnist/test/runs"
# Issue 11: the night-level ceiling on the default class-incremental preset (every block trains),
# and its analysis with the generative cvae cells rerun after the soft-target fix of c1ba62d.
step "continual default (Gaussian, incl. oracle-night)" \
  sweep --config benchmarks/continual/default.toml --out "$R/continual/default"
step "continual default analysis" "$PY" benchmarks/continual/analyze.py \
  --runs "$R/continual/default" --paper-runs "$R/calibration/runs"
# Issue 8 §3 on Fashion-MNIST: the paper's findings F1-F5.
for spec in f1_none f1_layers days30; do
  step "paper fashion-mnist $spec" sweep --config "benchmarks/paper/$spec.toml" \
    --preset fashion-mnist --out "$R/paper/fashion-mnist"
done
step "paper fashion-mnist analysis" "$PY" benchmarks/paper/analyze.py --runs "$R/paper/fashion-mnist"
# Issue 8 §4: the selector leaderboard on both data sets, then the SB3 rows (trained with 2
# envs side by side whatever WORKERS is: the number of training envs is part of the row).
step "leaderboard selectors" "$PY" benchmarks/leaderboard/leaderboard.py run \
  --presets default fashion-mnist --workers "$WORKERS"
for algo in ppo dqn; do
  step "leaderboard sb3 $algo" "$PY" benchmarks/leaderboard/leaderboard.py add-sb3 \
    --algo "$algo" --timesteps 20000 --presets default fashion-mnist --workers 2
done

# Then the rest of the sampler x selector grids: the default's first (40 cells of 2-7 min),
# then Fashion-MNIST frozen (the oracle x recall cells are the slowest: recall optimises a batch
# for every class the oracle probes).
step "continual default samplers" \
  sweep --config benchmarks/continual/default_samplers.toml --out "$R/continual/default"
step "continual default analysis (full grid)" "$PY" benchmarks/continual/analyze.py \
  --runs "$R/continual/default" --paper-runs "$R/calibration/runs"
step "continual fashion-mnist-frozen samplers" sweep \
  --config benchmarks/continual/fashion_mnist_frozen_samplers.toml \
  --out "$R/continual/fashion-mnist-frozen"
step "continual fashion-mnist-frozen analysis" "$PY" benchmarks/continual/analyze.py \
  --runs "$R/continual/fashion-mnist-frozen" --paper-runs "$R/calibration_fmnist/test/runs"

# Issue 11 §2: the seed samplers in the paper's scenario (10 days, block 4, beside F1's
# Gaussian block-4 cells and its no-replay baseline), then the paper analysis that reports them.
step "paper-scenario samplers (default)" sweep --config benchmarks/paper/samplers.toml \
  --out "$R/paper/default"
step "paper default analysis (with samplers)" "$PY" benchmarks/paper/analyze.py --runs "$R/paper/default"

# Last: the seed samplers on Fashion-MNIST with every block training (the preset as the
# Gaussian rows of results/continual/fashion-mnist ran).
step "continual fashion-mnist (Gaussian, incl. oracle-night)" \
  sweep --config benchmarks/continual/fashion_mnist.toml --out "$R/continual/fashion-mnist"
step "continual fashion-mnist samplers" \
  sweep --config benchmarks/continual/fashion_mnist_samplers.toml --out "$R/continual/fashion-mnist"
step "continual fashion-mnist analysis" "$PY" benchmarks/continual/analyze.py \
  --runs "$R/continual/fashion-mnist" --paper-runs "$R/calibration_fmnist/test/runs"

# Issue 8 §3, F1 with the paper's down-sampling (F1p rows of findings.md), both data sets.
for preset in default fashion-mnist; do
  step "paper $preset F1 with the paper's down-sampling" sweep \
    --config benchmarks/paper/f1_paper_downsample.toml --preset "$preset" --out "$R/paper/$preset"
  step "paper $preset analysis (F1p)" "$PY" benchmarks/paper/analyze.py --runs "$R/paper/$preset"
done

# RESULTS §4: the bandits' discount, screened on validation seeds, then its rows on the boards.
D="$R/calibration/bandit_discount"
step "bandit discount screen (discount 1, references)" sweep \
  --config benchmarks/calibration/bandit_discount.toml --out "$D/discount=1"
for g in 0.98 0.9; do
  step "bandit discount screen ($g)" sweep --config benchmarks/calibration/bandit_discount.toml \
    --conditions ucb1 thompson --agent discount "$g" --out "$D/discount=$g"
done
for bandit in ucb1 thompson; do
  step "leaderboard $bandit discount 0.9" "$PY" benchmarks/leaderboard/leaderboard.py add \
    --name "$bandit" --agent discount 0.9 --row "$bandit-discount0.9" \
    --presets default fashion-mnist --workers "$WORKERS"
done
# The same for epsilon-greedy's step size (recency-weighted value estimates).
E="$R/calibration/epsilon_greedy_step"
step "epsilon-greedy step-size screen (sample means)" sweep \
  --config benchmarks/calibration/epsilon_greedy_step.toml --out "$E/sample_means"
for g in 0.5 0.1; do
  step "epsilon-greedy step-size screen ($g)" sweep \
    --config benchmarks/calibration/epsilon_greedy_step.toml --agent step_size "$g" \
    --out "$E/step_size=$g"
done
step "leaderboard epsilon-greedy step size 0.5" "$PY" benchmarks/leaderboard/leaderboard.py add \
  --name epsilon-greedy --agent step_size 0.5 --row epsilon-greedy-step0.5 \
  --presets default fashion-mnist --workers "$WORKERS"
# Issue 8 §3: F1 on the default with 10 seeds, as the paper's 10 models (seeds 5-9 added after
# the 5-seed result; analyze.py then tests F1 on all 10, the rows that pair with other cells on
# their common seeds).
for spec in f1_none f1_layers; do
  step "paper default $spec seeds 5-9" sweep --config "benchmarks/paper/$spec.toml" \
    --seeds 5 6 7 8 9 --out "$R/paper/default"
done
step "paper default analysis (F1 with 10 seeds)" "$PY" benchmarks/paper/analyze.py \
  --runs "$R/paper/default"

# Issue 8 §3, F5: what steers the regression agent (registered screen, calibration seeds), then
# its zero-start variant on the boards (the screen's winner by the registered rule).
Q="$R/calibration/regression_init"
step "regression init screen (plain)" sweep --config benchmarks/calibration/regression_init.toml \
  --out "$Q/plain"
step "regression init screen (zeros)" sweep --config benchmarks/calibration/regression_init.toml \
  --agent initial_weights zeros --out "$Q/zeros"
step "regression init screen (lr 6.5e-3)" sweep \
  --config benchmarks/calibration/regression_init.toml --agent learning_rate 0.0065 \
  --out "$Q/lr=6.5e-3"
step "regression init screen (zeros, lr 6.5e-3)" sweep \
  --config benchmarks/calibration/regression_init.toml \
  --agent initial_weights zeros learning_rate 0.0065 --out "$Q/zeros+lr=6.5e-3"
step "leaderboard regression zero start" "$PY" benchmarks/leaderboard/leaderboard.py add \
  --name regression --agent initial_weights zeros --row regression-zeros \
  --presets default fashion-mnist --workers "$WORKERS"
# Issue 8 §3: F1 on Fashion-MNIST with 10 seeds too (seeds 5-9 added after the 5-seed result).
for spec in f1_none f1_layers; do
  step "paper fashion-mnist $spec seeds 5-9" sweep --config "benchmarks/paper/$spec.toml" \
    --preset fashion-mnist --seeds 5 6 7 8 9 --out "$R/paper/fashion-mnist"
done
step "paper fashion-mnist analysis (F1 with 10 seeds)" "$PY" benchmarks/paper/analyze.py \
  --runs "$R/paper/fashion-mnist"

# Issue 8 §3, F5 with 10 seeds as the paper's 10 models (regression and generative, 30 days;
# seeds 5-9 added after the 5-seed result).
for preset in default fashion-mnist; do
  step "paper $preset F5 seeds 5-9" sweep --config benchmarks/paper/days30.toml \
    --conditions regression generative --preset "$preset" --seeds 5 6 7 8 9 \
    --out "$R/paper/$preset"
  step "paper $preset analysis (F5 with 10 seeds)" "$PY" benchmarks/paper/analyze.py \
    --runs "$R/paper/$preset"
done
# Issue 8 §3: F2 on Fashion-MNIST over 60 days (registered test of the F2 diagnosis).
step "paper fashion-mnist F2 over 60 days" sweep \
  --config benchmarks/paper/f2_long_fashion_mnist.toml --out "$R/paper/fashion-mnist-60days"
step "paper fashion-mnist-60days analysis" "$PY" benchmarks/paper/analyze.py \
  --runs "$R/paper/fashion-mnist-60days" --long 60
# Issue 11 §1: the choice gap (oracle-night − round-robin) with 10 seeds, class-incremental vs the
# paper scenario, all on one processor (registered in choice_gap_ten_seeds.toml).
C=benchmarks/continual/choice_gap_ten_seeds.toml
step "continual choice gap, frozen" sweep --config "$C" --out "$R/continual/choice-gap-frozen"
step "continual choice gap, every block" sweep --config "$C" --preset class-incremental \
  --out "$R/continual/default"
step "continual choice gap, paper scenario" sweep --config "$C" --preset default \
  --out "$R/continual/choice-gap-paper"
step "continual choice gap, frozen, every selector" sweep \
  --config benchmarks/continual/choice_gap_frozen_selectors.toml \
  --out "$R/continual/choice-gap-frozen"
step "continual choice gap analysis, frozen" "$PY" benchmarks/continual/analyze.py \
  --runs "$R/continual/choice-gap-frozen" --paper-runs "$R/continual/choice-gap-paper" \
  --seeds 0 1 2 3 4 5 6 7 8 9
step "continual choice gap analysis, every block" "$PY" benchmarks/continual/analyze.py \
  --runs "$R/continual/default" --paper-runs "$R/continual/choice-gap-paper" \
  --seeds 0 1 2 3 4 5 6 7 8 9 --out "$R/continual/default/choice_gap"
# ... and on Fashion-MNIST (choice_gap_ten_seeds_fmnist.toml), each preset in its own folder.
C=benchmarks/continual/choice_gap_ten_seeds_fmnist.toml
step "continual choice gap, Fashion-MNIST every block" sweep --config "$C" \
  --preset fashion-mnist-class-incremental --out "$R/continual/choice-gap-fmnist"
step "continual choice gap, Fashion-MNIST paper scenario" sweep --config "$C" \
  --preset fashion-mnist --out "$R/continual/choice-gap-paper-fmnist"
step "continual choice gap, Fashion-MNIST frozen" sweep --config "$C" \
  --out "$R/continual/choice-gap-fmnist-frozen"
for folder in choice-gap-fmnist choice-gap-fmnist-frozen; do
  step "continual choice gap analysis, $folder" "$PY" benchmarks/continual/analyze.py \
    --runs "$R/continual/$folder" --paper-runs "$R/continual/choice-gap-paper-fmnist" \
    --seeds 0 1 2 3 4 5 6 7 8 9
done
# Issue 11 §1: a night length on Fashion-MNIST-frozen where replay and its choice both matter?
# (validation screens, registered rule in the TOMLs: 180-900, then between 180 and 360).
for screen in choice_nights choice_nights_between; do
  O="$R/calibration_fmnist/class_incremental_frozen/$screen"
  step "fmnist frozen night-length screen $screen" sweep \
    --config "benchmarks/calibration/fmnist_frozen_$screen.toml" --out "$O"
  step "fmnist frozen night-length table $screen" "$PY" benchmarks/calibration/night_length.py \
    --runs "$O" --knob sampler.samples_per_class \
    --gaps generative:none oracle-night:round-robin round-robin:none --out "$O/choice_nights.md"
done
# Then the chosen 240 on the test split with the night-level and the greedy oracle (and the
# greedy oracle on the paper scenario's side), and every selector.
O="$R/continual/fashion-mnist-frozen-240-nights"
step "continual fmnist frozen, 240-sample nights" sweep \
  --config benchmarks/continual/fashion_mnist_frozen_240_nights.toml --out "$O"
step "continual fmnist frozen, 240-sample nights, greedy oracle" sweep \
  --config benchmarks/continual/fashion_mnist_frozen_240_nights_greedy.toml --out "$O"
step "continual choice gap, paper scenario fmnist, greedy oracle" sweep \
  --config benchmarks/continual/choice_gap_greedy_paper_fmnist.toml \
  --out "$R/continual/choice-gap-paper-fmnist"
step "continual fmnist frozen, 240-sample nights, every selector" sweep \
  --config benchmarks/continual/fashion_mnist_frozen_240_nights_selectors.toml --out "$O"
step "continual fmnist frozen, 240-sample nights, analysis" "$PY" benchmarks/continual/analyze.py \
  --runs "$O" --base sampler.samples_per_class=240 \
  --paper-runs "$R/continual/choice-gap-paper-fmnist" --seeds 0 1 2 3 4 5 6 7 8 9
step "continual fmnist frozen, 240-sample nights, analysis seeds 0-4" \
  "$PY" benchmarks/continual/analyze.py --runs "$O" --base sampler.samples_per_class=240 \
  --paper-runs "$R/continual/choice-gap-paper-fmnist" --seeds 0 1 2 3 4 --out "$O/seeds_0-4"
# Issue 8 §3: F2-F4 with 10 seeds (none, veridical, continuous, round-robin; seeds 5-9).
for preset in default fashion-mnist; do
  step "paper $preset F2-F4 seeds 5-9" sweep --config benchmarks/paper/days30_ten_seeds.toml \
    --preset "$preset" --out "$R/paper/$preset"
  step "paper $preset analysis (F2-F5 with 10 seeds)" "$PY" benchmarks/paper/analyze.py \
    --runs "$R/paper/$preset"
done

# Issue 8 §1: the greedy oracle's night-1 gain on held-out validation images (calibration seeds
# 100-109; registered in benchmarks/calibration/oracle_holdout_registration.md).
step "oracle night-1 gain on held-out validation images" "$PY" \
  benchmarks/calibration/oracle_holdout.py --branch-days 1
# Issue 8 §1: Adam epsilon 3e-3 as a recalibration candidate (registered in the TOML's header).
step "epsilon 3e-3 candidate: room to learn" sweep \
  --config benchmarks/calibration/eps_candidate_room.toml --out "$R/calibration/eps_candidate_room"
step "epsilon 3e-3 candidate: room to learn, table" "$PY" benchmarks/calibration/room_to_learn.py \
  --runs "$R/calibration/eps_candidate_room"
step "epsilon 3e-3 candidate: night 1 on held-out validation images" "$PY" \
  benchmarks/calibration/oracle_holdout.py --override learner.adam_eps=0.003 --probe-sizes 60 \
  --branch-days 1 --out "$R/calibration/oracle_holdout/adam_eps_3e-3" \
  --versus "$R/calibration/oracle_holdout"
# Issue 8 §1/§4: the paper's 130 validation images per class for weakest and regression (seeds 0-4).
step "validation size 130: weakest, regression, round-robin" sweep \
  --config benchmarks/acceptance/validation_size.toml --out "$R/acceptance/validation_size"
step "validation size 130: analysis" "$PY" benchmarks/acceptance/validation_size.py
step "validation size 60, the same processor's baseline" sweep \
  --config benchmarks/acceptance/validation_size_baseline.toml --out "$R/acceptance/validation_size"
step "validation size: analysis on one processor" "$PY" benchmarks/acceptance/validation_size.py \
  --baseline "$R/acceptance/validation_size" --baseline-variant data.val_per_class=60 \
  --out-name same_processor

if [ "${#failed[@]}" -gt 0 ]; then
  printf 'failed steps:\n'
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "all steps done"
