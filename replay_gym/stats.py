"""Statistics for comparing replay conditions: the paper's tests and few-seed RL aggregates.

Pure functions (arrays or tidy DataFrames in, numbers out), each checked in the tests against
hand-computed or textbook values. The tests themselves come from maintained libraries:

- paired t-test and linear regression: ``scipy.stats`` (``ttest_rel``, ``linregress``);
- one-way repeated-measures and mixed ANOVA: pingouin (``rm_anova``, ``mixed_anova``); two-way
  repeated-measures ANOVA: statsmodels (``AnovaRM``), since pingouin's two-way ``rm_anova``
  fails to reshape its data under pandas 3;
- the rliable aggregates of Agarwal et al. (2021), interquartile mean and probability of
  improvement with stratified-bootstrap confidence intervals: the same statistics as rliable's
  ``metrics.aggregate_iqm`` and ``metrics.probability_of_improvement``, bootstrapped by
  ``scipy.stats.bootstrap`` with an explicit generator. rliable's own bootstrap draws its
  indices from numpy's global RNG (its ``random_state`` is not used for them), which this
  project never touches, and rliable 1.2 needs ``arch<8``, which does not import under
  pandas 3; the optional extra ``replay-gym[rliable]`` installs it for cross-checks.

:func:`paper_style` writes any result as the paper does, e.g. ``F(5,45)=7.23, p<.001``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.stats

from replay_gym.metrics import standard_error

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class StatResult:
    """One significance test: its statistic, degrees of freedom and p-value."""

    statistic_name: str
    """``"t"`` or ``"F"``."""
    statistic: float
    df: tuple[float, ...]
    """Degrees of freedom: ``(n - 1,)`` for t, ``(effect, error)`` for F."""
    p: float
    """Two-sided, uncorrected p-value."""
    effect: str = ""
    """What was tested, e.g. the factor of an ANOVA."""
    p_gg: float | None = None
    """Greenhouse-Geisser-corrected p of a within-subject effect with more than two levels."""


@dataclass(frozen=True)
class LinearFit:
    """A least-squares line ``y = slope * x + intercept`` and its F-test against slope 0."""

    slope: float
    intercept: float
    r: float
    """Pearson correlation."""
    r2: float
    """Share of variance explained, r squared."""
    n: int
    f_test: StatResult
    """``F(1, n - 2) = r² (n - 2) / (1 - r²)``; its p equals the slope's two-sided t-test p."""


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class NormalisedScore:
    """Per-seed normalised scores of a selector between round-robin (0) and oracle (1)."""

    per_seed: np.ndarray
    """Mean over the seed's scored nights; NaN for a seed with none."""
    nights_scored: np.ndarray
    """How many nights of each seed had oracle above round-robin (the others are left out)."""
    mean: float
    sem: float | None


def mean_sem(values: Sequence[float] | np.ndarray) -> tuple[float, float | None]:
    """Mean and standard error of the mean (None for a single value)."""
    values = np.asarray(values, dtype=np.float64)
    sem = standard_error(values)
    return float(values.mean()), sem


def mean_sem_text(values: Sequence[float] | np.ndarray) -> str:
    """``"mean ± s.e.m."`` to three decimals (the mean alone for a single value)."""
    mean, sem = mean_sem(values)
    return f"{mean:.3f}" + ("" if sem is None else f" ± {sem:.3f}")


def _paired(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> tuple:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"need two 1-D arrays of equal length, got {a.shape} and {b.shape}")
    if len(a) < 2:
        raise ValueError(f"need at least 2 pairs, got {len(a)}")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("values contain NaN")
    return a, b


def paired_t(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, effect: str = ""
) -> StatResult:
    """Paired two-sided t-test of ``a - b`` (e.g. two conditions over the same seeds)."""
    a, b = _paired(a, b)
    result = scipy.stats.ttest_rel(a, b)
    return StatResult(
        "t", float(result.statistic), (float(result.df),), float(result.pvalue), effect
    )


def welch_t(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, effect: str = ""
) -> StatResult:
    """Welch's two-sided t-test of mean ``a`` against mean ``b``.

    For two sets of different courses (e.g. one gap measured in two scenarios), where a paired
    test has nothing to pair; degrees of freedom by Welch-Satterthwaite.
    """
    groups = []
    for name, values in (("a", a), ("b", b)):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or len(values) < 2:
            raise ValueError(f"{name} needs at least 2 values in a 1-D array, got {values.shape}")
        if np.isnan(values).any():
            raise ValueError(f"{name} contains NaN")
        groups.append(values)
    if all(np.ptp(values) == 0 for values in groups):
        raise ValueError("a and b are both constant: Welch's t is undefined without variance")
    result = scipy.stats.ttest_ind(*groups, equal_var=False)
    return StatResult(
        "t", float(result.statistic), (float(result.df),), float(result.pvalue), effect
    )


def holm(pvalues: Sequence[float] | np.ndarray) -> list[float]:
    """Holm-Bonferroni adjusted p-values (statsmodels' ``multipletests``), in the input order.

    For a family of comparisons against one reference (e.g. every selector against
    round-robin): an adjusted p below alpha keeps the family-wise error rate at alpha.
    """
    from statsmodels.stats.multitest import multipletests

    values = np.asarray(pvalues, dtype=np.float64)
    if values.ndim != 1 or len(values) < 1:
        raise ValueError(f"need at least one p-value in a 1-D array, got shape {values.shape}")
    if np.isnan(values).any():
        raise ValueError("p-values contain NaN")
    if ((values < 0) | (values > 1)).any():
        raise ValueError(f"p-values must lie between 0 and 1, got {values.tolist()}")
    return [float(v) for v in multipletests(values, method="holm")[1]]


def _check_columns(data: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"data has no column {missing}; it has {list(data.columns)}")


def rm_anova(data: pd.DataFrame, dv: str, within: str, subject: str) -> StatResult:
    """One-way repeated-measures ANOVA (pingouin's ``rm_anova``).

    Args:
        data: Long format, one row per subject and level of ``within``.
        dv: Column of the dependent variable (e.g. final test accuracy).
        within: Column of the within-subject factor (e.g. replay layer).
        subject: Column naming the subject (e.g. the seed: one model per seed).

    Returns:
        The factor's F test; ``p_gg`` is Greenhouse-Geisser corrected when it has > 2 levels.
    """
    import pingouin

    _check_columns(data, (dv, within, subject))
    table = pingouin.rm_anova(
        data=data, dv=dv, within=within, subject=subject, detailed=True, correction=True
    )
    effect, error = table.iloc[0], table.iloc[1]
    p_gg = effect.get("p_GG_corr")
    return StatResult(
        "F",
        float(effect["F"]),
        (float(effect["DF"]), float(error["DF"])),
        float(effect["p_unc"]),
        str(within),
        None if p_gg is None or np.isnan(p_gg) else float(p_gg),
    )


def rm_anova_two_way(
    data: pd.DataFrame, dv: str, within: tuple[str, str], subject: str
) -> dict[str, StatResult]:
    """Two-way repeated-measures ANOVA, both factors within subjects (statsmodels' ``AnovaRM``).

    E.g. sampler x selector over seeds: does the selector's effect depend on the sampler?

    Args:
        data: Long format, exactly one row per subject and combination of the two factors.
        dv: Column of the dependent variable.
        within: The two within-subject factors.
        subject: Subject column (the seed).

    Returns:
        ``{within[0]: ..., within[1]: ..., "interaction": ...}``, uncorrected F tests.

    Raises:
        ValueError: A column is missing, or the design is not complete and balanced (the
            message names the missing or repeated cells).
    """
    import pandas as pd
    from statsmodels.stats.anova import AnovaRM

    first, second = within
    _check_columns(data, (dv, first, second, subject))
    counts = data.groupby([subject, first, second]).size()
    full = counts.reindex(
        pd.MultiIndex.from_product(
            [data[subject].unique(), data[first].unique(), data[second].unique()],
            names=[subject, first, second],
        ),
        fill_value=0,
    )
    bad = full[full != 1]
    if len(bad):
        shown = ", ".join(f"{key}: {n} rows" for key, n in list(bad.items())[:5])
        raise ValueError(
            f"a two-way repeated-measures ANOVA needs one row per ({subject}, {first}, "
            f"{second}); {len(bad)} cells are not (e.g. {shown})"
        )
    table = AnovaRM(data, depvar=dv, subject=subject, within=[first, second]).fit().anova_table
    names = {first: first, second: second, f"{first}:{second}": "interaction"}
    return {
        names[source]: StatResult(
            "F",
            float(row["F Value"]),
            (float(row["Num DF"]), float(row["Den DF"])),
            float(row["Pr > F"]),
            names[source],
        )
        for source, row in table.iterrows()
    }


def mixed_anova(
    data: pd.DataFrame, dv: str, within: str, between: str, subject: str
) -> dict[str, StatResult]:
    """Two-way mixed ANOVA (pingouin's ``mixed_anova``), as the paper's condition x day tests.

    Args:
        data: Long format, one row per subject and level of ``within``.
        dv: Column of the dependent variable.
        within: Within-subject factor (e.g. day).
        between: Between-subject factor (e.g. condition; each subject in one condition).
        subject: Subject column; subjects must be unique across ``between`` groups.

    Returns:
        ``{between: ..., within: ..., "interaction": ...}``.
    """
    import pingouin

    _check_columns(data, (dv, within, between, subject))
    groups = data.groupby(subject)[between].nunique()
    if (groups > 1).any():
        raise ValueError(
            f"subjects {list(groups.index[groups > 1])} appear in several {between!r} groups; "
            "in a mixed ANOVA each subject belongs to one group (label subjects uniquely, e.g. "
            "condition and seed)"
        )
    table = pingouin.mixed_anova(data=data, dv=dv, within=within, between=between, subject=subject)
    out = {}
    for _, row in table.iterrows():
        name = "interaction" if row["Source"] == "Interaction" else str(row["Source"])
        out[name] = StatResult(
            "F",
            float(row["F"]),
            (float(row["DF1"]), float(row["DF2"])),
            float(row["p_unc"]),
            name,
        )
    return out


def linear_regression(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray
) -> LinearFit:
    """Least-squares line of ``y`` on ``x`` (``scipy.stats.linregress``) with R² and F(1, n-2).

    Raises:
        ValueError: For fewer than 3 points or a constant ``x`` or ``y`` (no line to test).
    """
    x, y = _paired(x, y)
    if len(x) < 3:
        raise ValueError(f"need at least 3 points for an F(1, n-2) test, got {len(x)}")
    for name, values in (("x", x), ("y", y)):
        if np.ptp(values) == 0:
            raise ValueError(f"{name} is constant ({values[0]}): no regression to fit")
    fit = scipy.stats.linregress(x, y)
    r2 = float(fit.rvalue**2)
    df_error = len(x) - 2
    f = np.inf if r2 == 1 else r2 * df_error / (1 - r2)
    return LinearFit(
        slope=float(fit.slope),
        intercept=float(fit.intercept),
        r=float(fit.rvalue),
        r2=r2,
        n=len(x),
        f_test=StatResult("F", float(f), (1.0, float(df_error)), float(fit.pvalue), "slope"),
    )


def normalised_score(
    selector: np.ndarray, round_robin: np.ndarray, oracle: np.ndarray
) -> NormalisedScore:
    """Where a selector lands between round-robin (0) and the privileged oracle (1).

    Each array holds test accuracy after each night, shape (seeds, nights), row i of all three
    from the same seed (so day 1 before its first night is the same network). Per night,
    ``(selector - round_robin) / (oracle - round_robin)``; a seed's score is the mean over its
    nights. Nights where the oracle is not above round-robin (``oracle <= round_robin``) have
    no room to normalise by and are left out (counted in ``nights_scored``); a seed with no
    scored night is NaN and left out of the mean.
    """
    selector, round_robin, oracle = (
        np.asarray(a, dtype=np.float64) for a in (selector, round_robin, oracle)
    )
    if selector.ndim != 2 or not selector.shape == round_robin.shape == oracle.shape:
        raise ValueError(
            "selector, round_robin and oracle must be (seeds, nights) arrays of one shape, got "
            f"{selector.shape}, {round_robin.shape} and {oracle.shape}"
        )
    room = oracle - round_robin
    scored = room > 0
    ratio = np.divide(selector - round_robin, room, out=np.full(room.shape, np.nan), where=scored)
    counts = scored.sum(axis=1)
    per_seed = np.full(len(counts), np.nan)
    per_seed[counts > 0] = np.nanmean(ratio[counts > 0], axis=1)
    valid = per_seed[~np.isnan(per_seed)]
    if len(valid) == 0:
        return NormalisedScore(per_seed, counts, float("nan"), None)
    mean, sem = mean_sem(valid)
    return NormalisedScore(per_seed, counts, mean, sem)


def _scores_matrix(scores: np.ndarray, name: str = "scores") -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or scores.shape[0] < 2:
        raise ValueError(
            f"{name} must be (runs, tasks) with at least 2 runs, got shape {scores.shape}"
        )
    if np.isnan(scores).any():
        raise ValueError(f"{name} contain NaN")
    return scores


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean over all runs and tasks: the 25 % trimmed mean (rliable's IQM)."""
    return float(scipy.stats.trim_mean(np.asarray(scores, dtype=np.float64), 0.25, axis=None))


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y), ties counting half, per task and averaged over tasks (rliable's definition).

    ``x`` and ``y`` are (runs, tasks) score matrices; per task this is the Mann-Whitney U of
    ``x`` over ``y`` divided by the number of pairs.
    """
    x, y = _scores_matrix(x, "x"), _scores_matrix(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y need the same tasks, got {x.shape[1]} and {y.shape[1]}")
    u = scipy.stats.mannwhitneyu(x, y, axis=0, method="asymptotic").statistic
    return float(np.mean(u / (len(x) * len(y))))


def _bootstrap(samples: list[np.ndarray], statistic, rng, reps: int, confidence: float):
    """Percentile CI resampling each sample (a task's runs) on its own: a stratified bootstrap."""
    result = scipy.stats.bootstrap(
        samples,
        statistic,
        n_resamples=reps,
        vectorized=True,
        paired=False,
        axis=-1,
        confidence_level=confidence,
        method="percentile",
        rng=rng,
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def iqm_ci(
    scores: np.ndarray, rng: np.random.Generator, reps: int = 2000, confidence: float = 0.95
) -> Interval:
    """IQM with a stratified-bootstrap confidence interval (runs resampled within each task).

    Args:
        scores: (runs, tasks) matrix, e.g. seeds x data sets; a 1-D array is one task.
        rng: The bootstrap's generator (the only randomness).
        reps: Bootstrap resamples.
        confidence: Coverage of the interval.
    """
    scores = _scores_matrix(scores)
    point = iqm(scores)
    if np.ptp(scores) == 0:
        return Interval(point, point, point)

    def statistic(*tasks: np.ndarray, axis: int = -1) -> np.ndarray:
        return scipy.stats.trim_mean(np.concatenate(tasks, axis=axis), 0.25, axis=axis)

    low, high = _bootstrap(list(scores.T), statistic, rng, reps, confidence)
    return Interval(point, low, high)


def probability_of_improvement_ci(
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    reps: int = 2000,
    confidence: float = 0.95,
) -> Interval:
    """P(X > Y) with a stratified-bootstrap CI: each task's runs of X and of Y resampled apart."""
    x, y = _scores_matrix(x, "x"), _scores_matrix(y, "y")
    point = probability_of_improvement(x, y)
    tasks = x.shape[1]
    if y.shape[1] != tasks:
        raise ValueError(f"x and y need the same tasks, got {tasks} and {y.shape[1]}")

    def statistic(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        per_task = [
            scipy.stats.mannwhitneyu(xs, ys, axis=axis, method="asymptotic").statistic
            / (xs.shape[-1] * ys.shape[-1])
            for xs, ys in zip(samples[:tasks], samples[tasks:], strict=True)
        ]
        return np.mean(per_task, axis=0)

    if np.ptp(np.concatenate([x.ravel(), y.ravel()])) == 0:
        return Interval(point, point, point)
    low, high = _bootstrap([*x.T, *y.T], statistic, rng, reps, confidence)
    return Interval(point, low, high)


def _p_text(p: float) -> str:
    if np.isnan(p):
        return "p=n/a"
    if p < 0.001:
        return "p<.001"
    if p > 0.999:
        return "p>.999"
    return "p=" + f"{p:.3f}".lstrip("0")


def _number(value: float) -> str:
    return f"{value:.2f}".replace("-", "\u2212")


def _df_text(df: tuple[float, ...]) -> str:
    return ",".join(f"{d:.0f}" if float(d).is_integer() else f"{d:.2f}" for d in df)


def paper_style(result: StatResult | LinearFit) -> str:
    """A result as the paper writes it: ``F(5,45)=7.23, p<.001`` or ``t(9)=−4.31, p=.002``.

    A :class:`LinearFit` reads ``R²=0.24, F(1,98)=31.15, p<.001, slope −0.52``.
    """
    if isinstance(result, LinearFit):
        return f"R²={result.r2:.2f}, {paper_style(result.f_test)}, slope {_number(result.slope)}"
    return (
        f"{result.statistic_name}({_df_text(result.df)})={_number(result.statistic)}, "
        f"{_p_text(result.p)}"
    )
