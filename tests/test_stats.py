import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from replay_gym.stats import (
    Interval,
    LinearFit,
    StatResult,
    holm,
    iqm,
    iqm_ci,
    linear_regression,
    mean_sem,
    mean_sem_text,
    mixed_anova,
    normalised_score,
    paired_t,
    paper_style,
    probability_of_improvement,
    probability_of_improvement_ci,
    rm_anova,
    rm_anova_two_way,
    welch_t,
)


def test_mean_sem_by_hand():
    assert mean_sem([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1 / math.sqrt(3)))
    assert mean_sem([0.5]) == (0.5, None)


def test_mean_sem_text_by_hand():
    assert mean_sem_text([1.0, 2.0, 3.0]) == "2.000 ± 0.577"
    assert mean_sem_text([0.5]) == "0.500"


def test_paired_t_by_hand():
    # differences 2, 3, 1, 3: mean 2.25, sd sqrt(2.75 / 3), t = 2.25 / (sd / 2) = 4.7001, df 3
    result = paired_t([5, 7, 6, 9], [3, 4, 5, 6], effect="a vs b")
    assert result.statistic_name == "t" and result.df == (3,)
    assert result.statistic == pytest.approx(2.25 / (math.sqrt(2.75 / 3) / 2))
    assert result.statistic == pytest.approx(4.70010, abs=1e-5)
    assert result.p == pytest.approx(2 * scipy.stats.t.sf(4.700097, 3), rel=1e-5)
    assert result.effect == "a vs b"


def test_paired_t_rejects_bad_input():
    with pytest.raises(ValueError, match="equal length"):
        paired_t([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2 pairs"):
        paired_t([1], [2])
    with pytest.raises(ValueError, match="NaN"):
        paired_t([1, np.nan], [2, 3])


def test_welch_t_by_hand():
    # a: mean 2, var 1 (n 3); b: mean 5, var 4/3 (n 4). se² = 1/3 + 1/3, t = −3 / sqrt(2/3);
    # df = (2/3)² / ((1/3)²/2 + (1/3)²/3) = (4/9) / (5/54) = 4.8
    result = welch_t([1, 2, 3], [4, 4, 6, 6], effect="scenario gap")
    assert result.statistic_name == "t" and result.effect == "scenario gap"
    assert result.statistic == pytest.approx(-3 / math.sqrt(2 / 3))
    assert result.df[0] == pytest.approx(4.8)
    assert result.p == pytest.approx(2 * scipy.stats.t.sf(3 / math.sqrt(2 / 3), 4.8))
    assert paper_style(result).startswith("t(4.80)=\u22123.67")


def test_welch_t_rejects_bad_input():
    with pytest.raises(ValueError, match="b needs at least 2"):
        welch_t([1, 2, 3], [1])
    with pytest.raises(ValueError, match="a contains NaN"):
        welch_t([1, np.nan], [2, 3])
    with pytest.raises(ValueError, match="1-D"):
        welch_t([[1, 2], [3, 4]], [2, 3])
    with pytest.raises(ValueError, match="both constant"):
        welch_t([0.2, 0.2, 0.2], [0.02, 0.02])


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 (m = 3): 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> 0.06
    # (never below the one before); reported in the input order
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.02]) == pytest.approx([0.02])


def test_holm_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        holm([])
    with pytest.raises(ValueError, match="between 0 and 1"):
        holm([0.2, 1.5])
    with pytest.raises(ValueError, match="NaN"):
        holm([0.2, np.nan])


def long_table(values: dict, columns: tuple[str, ...]) -> pd.DataFrame:
    """{(subject, group...): [y per level]} to long format with a 'level' column."""
    rows = []
    for key, ys in values.items():
        for level, y in enumerate(ys):
            rows.append({**dict(zip(columns, key, strict=True)), "level": f"L{level}", "y": y})
    return pd.DataFrame(rows)


def test_rm_anova_by_hand():
    # 4 subjects x 3 conditions. Condition means 3, 5.5, 8 (grand mean 5.5):
    # SS_cond = 4 (2.5² + 0 + 2.5²) = 50, df 2. Subject means 5, 5, 6, 6: SS_subj = 3. SS_total
    # = 59, so SS_error = 59 - 50 - 3 = 6 on df 3 x 2 = 6. F = 25 / 1 = 25, and for F(2, 6)
    # p = (1 + 2F/6)^(-3) = 0.0012300.
    data = long_table(
        {(1,): [3, 5, 7], (2,): [2, 4, 9], (3,): [4, 6, 8], (4,): [3, 7, 8]}, ("seed",)
    )
    result = rm_anova(data, dv="y", within="level", subject="seed")
    assert result.statistic_name == "F" and result.df == (2, 6)
    assert result.statistic == pytest.approx(25.0)
    assert result.p == pytest.approx((1 + 50 / 6) ** -3)
    assert result.p < result.p_gg < 0.01  # Greenhouse-Geisser correction only raises p
    assert paper_style(result) == "F(2,6)=25.00, p=.001"


def test_rm_anova_matches_statsmodels():
    from statsmodels.stats.anova import AnovaRM

    rng = np.random.default_rng(0)
    data = long_table({(s,): rng.normal(size=4) + np.arange(4) * 0.3 for s in range(8)}, ("seed",))
    ours = rm_anova(data, dv="y", within="level", subject="seed")
    theirs = AnovaRM(data, depvar="y", subject="seed", within=["level"]).fit().anova_table
    assert ours.statistic == pytest.approx(theirs["F Value"].iloc[0])
    assert ours.p == pytest.approx(theirs["Pr > F"].iloc[0])
    assert ours.df == (theirs["Num DF"].iloc[0], theirs["Den DF"].iloc[0])


def test_mixed_anova_by_hand():
    # Two groups of two subjects, two times. Cell means G1: 2, 4; G2: 3, 7; grand mean 4.
    # SS_group = 4 (1 + 1) = 8; subject means 2.5, 3.5, 4, 6 give SS_subjects = 13, so
    # SS_subjects-within-groups = 5 on df 2: F_group = 8 / 2.5 = 3.2.
    # SS_time = 4 (1.5² + 1.5²) = 18; SS_cells = 28 so SS_interaction = 28 - 8 - 18 = 2.
    # SS_total = 34; within subjects 34 - 13 = 21, error 21 - 18 - 2 = 1 on df 2 (MS 0.5):
    # F_time = 36, F_interaction = 4. For F(1, 2), p = 1 - sqrt(F / (F + 2)).
    data = long_table(
        {(1, "G1"): [1, 4], (2, "G1"): [3, 4], (3, "G2"): [2, 6], (4, "G2"): [4, 8]},
        ("seed", "group"),
    )
    result = mixed_anova(data, dv="y", within="level", between="group", subject="seed")
    assert set(result) == {"group", "level", "interaction"}
    for name, f in (("group", 3.2), ("level", 36.0), ("interaction", 4.0)):
        assert result[name].df == (1, 2)
        assert result[name].statistic == pytest.approx(f)
        assert result[name].p == pytest.approx(1 - math.sqrt(f / (f + 2)))


def test_mixed_anova_needs_unique_subjects():
    data = long_table({(1, "G1"): [1, 4], (1, "G2"): [3, 4]}, ("seed", "group"))
    with pytest.raises(ValueError, match="several 'group' groups"):
        mixed_anova(data, dv="y", within="level", between="group", subject="seed")
    with pytest.raises(ValueError, match="no column"):
        rm_anova(data, dv="accuracy", within="level", subject="seed")


def test_linear_regression_by_hand():
    # x̄ = 1.5, ȳ = 2.75; Sxx = 5, Sxy = 5.5, Syy = 8.75: slope 1.1, intercept 1.1,
    # R² = 5.5² / (5 x 8.75) = 0.691429, F(1, 2) = R² x 2 / (1 - R²) = 4.48148, and with 2
    # error df p = 1 - sqrt(F / (F + 2)) = 1 - |r|.
    fit = linear_regression([0, 1, 2, 3], [1, 3, 2, 5])
    assert isinstance(fit, LinearFit)
    assert (fit.slope, fit.intercept) == pytest.approx((1.1, 1.1))
    assert fit.r2 == pytest.approx(30.25 / 43.75)
    assert fit.f_test.df == (1, 2) and fit.f_test.statistic == pytest.approx(4.481481, rel=1e-6)
    assert fit.f_test.p == pytest.approx(1 - math.sqrt(30.25 / 43.75))
    assert paper_style(fit) == "R²=0.69, F(1,2)=4.48, p=.168, slope 1.10"


def test_linear_regression_rejects_degenerate_input():
    with pytest.raises(ValueError, match="x is constant"):
        linear_regression([1, 1, 1], [1, 2, 3])
    with pytest.raises(ValueError, match="at least 3 points"):
        linear_regression([1, 2], [1, 2])


def test_paper_style_formats_the_papers_numbers():
    assert paper_style(StatResult("F", 7.23, (5, 45), 0.00004)) == "F(5,45)=7.23, p<.001"
    assert paper_style(StatResult("t", -4.31, (9,), 0.0019)) == "t(9)=\u22124.31, p=.002"
    assert paper_style(StatResult("F", 0.16, (1, 18), 0.696)) == "F(1,18)=0.16, p=.696"
    assert paper_style(StatResult("F", 0.0, (1, 18), 1.0)) == "F(1,18)=0.00, p>.999"
    assert paper_style(StatResult("F", 2.0, (1.5, 13.62), 0.2)) == "F(1.50,13.62)=2.00, p=.200"


def test_normalised_score_by_hand():
    round_robin = np.array([[0.5, 0.6], [0.4, 0.7]])
    oracle = np.array([[0.7, 0.8], [0.6, 0.7]])  # seed 1, night 2: no room, left out
    selector = np.array([[0.6, 0.65], [0.5, 0.9]])
    score = normalised_score(selector, round_robin, oracle)
    # seed 0: (0.1/0.2 + 0.05/0.2) / 2 = 0.375; seed 1: 0.1/0.2 = 0.5
    np.testing.assert_allclose(score.per_seed, [0.375, 0.5])
    np.testing.assert_array_equal(score.nights_scored, [2, 1])
    assert score.mean == pytest.approx(0.4375) and score.sem == pytest.approx(0.0625)


def test_normalised_score_with_no_room_anywhere():
    same = np.full((2, 3), 0.5)
    score = normalised_score(same + 0.1, same, same)
    assert np.isnan(score.per_seed).all() and math.isnan(score.mean) and score.sem is None
    with pytest.raises(ValueError, match="one shape"):
        normalised_score(same, same, same[:1])


def test_iqm_and_probability_of_improvement_by_hand():
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    # task 0: x = 1, 3 vs y = 2, 2 -> 2 of 4 pairs; task 1: x = 5, 5 vs y = 5, 4 -> (0.5 +
    # 1 + 0.5 + 1) / 4 = 0.75. Mean over tasks 0.625.
    x, y = np.array([[1, 5], [3, 5]]), np.array([[2, 5], [2, 4]])
    assert probability_of_improvement(x, y) == pytest.approx(0.625)
    assert probability_of_improvement(np.ones((3, 2)), np.ones((3, 2))) == 0.5


def test_iqm_ci_is_stratified_and_reproducible():
    # Task 0 always scores 0 and task 1 always 1: a bootstrap within tasks keeps the halves, so
    # every resample has IQM 0.5; pooling the tasks would not.
    halves = np.array([[0.0, 1.0]] * 6)
    assert iqm_ci(halves, np.random.default_rng(0), reps=200) == Interval(0.5, 0.5, 0.5)
    scores = np.random.default_rng(1).normal(size=(8, 2))
    first = iqm_ci(scores, np.random.default_rng(7), reps=500)
    assert first == iqm_ci(scores, np.random.default_rng(7), reps=500)
    assert first.low < first.estimate < first.high
    with pytest.raises(ValueError, match="at least 2 runs"):
        iqm_ci(np.ones((1, 3)), np.random.default_rng(0))


def test_probability_of_improvement_ci():
    rng = np.random.default_rng(3)
    x, y = rng.normal(2.0, 1.0, size=(10, 2)), rng.normal(0.0, 1.0, size=(10, 2))
    interval = probability_of_improvement_ci(x, y, np.random.default_rng(0), reps=500)
    assert interval.estimate == probability_of_improvement(x, y)
    assert 0.5 < interval.low < interval.estimate < interval.high <= 1.0
    tied = probability_of_improvement_ci(np.ones((3, 1)), np.ones((3, 1)), rng)
    assert tied == Interval(0.5, 0.5, 0.5)


def _rliable():
    """rliable's modules, or a skip: rliable 1.2 needs arch < 8, which fails under pandas 3."""
    try:
        from rliable import library, metrics
    except Exception as error:  # ImportError, or arch's TypeError under pandas 3
        pytest.skip(f"rliable not usable here ({type(error).__name__}: {error})")
    return library, metrics


def test_aggregates_match_rliable():
    library, metrics = _rliable()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 3)) + 0.5
    assert iqm(x) == pytest.approx(metrics.aggregate_iqm(x))
    assert probability_of_improvement(x, y) == pytest.approx(
        metrics.probability_of_improvement(x, y)
    )
    # rliable's bootstrap draws from numpy's global RNG, so its interval is compared loosely
    _, theirs = library.get_interval_estimates(
        {"x": x}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=4000
    )
    ours = iqm_ci(x, np.random.default_rng(0), reps=4000)
    assert (ours.low, ours.high) == pytest.approx(tuple(theirs["x"][:, 0]), abs=0.05)


def test_rm_anova_two_way_by_hand():
    # 5 subjects x factor a (3 levels) x factor b (2 levels); sums of squares by their textbook
    # definitions, each effect tested against its own subject interaction.
    rng = np.random.default_rng(3)
    y = rng.normal(size=(5, 3, 2)) + np.array([0.0, 1.0, 0.5])[None, :, None]
    y[:, 1, 0] += 0.8  # an interaction
    rows = [{"seed": s, "a": f"a{i}", "b": f"b{j}", "y": y[s, i, j]}
            for s in range(5) for i in range(3) for j in range(2)]  # fmt: skip
    result = rm_anova_two_way(pd.DataFrame(rows), dv="y", within=("a", "b"), subject="seed")
    g = y.mean()
    m_s, m_a, m_b = y.mean(axis=(1, 2)), y.mean(axis=(0, 2)), y.mean(axis=(0, 1))
    m_as, m_bs, m_ab = y.mean(axis=2), y.mean(axis=1), y.mean(axis=0)
    ss_a = 5 * 2 * ((m_a - g) ** 2).sum()
    ss_as = 2 * ((m_as - m_a[None, :] - m_s[:, None] + g) ** 2).sum()
    ss_b = 5 * 3 * ((m_b - g) ** 2).sum()
    ss_bs = 3 * ((m_bs - m_b[None, :] - m_s[:, None] + g) ** 2).sum()
    ss_ab = 5 * ((m_ab - m_a[:, None] - m_b[None, :] + g) ** 2).sum()
    residual = (y - m_ab[None] - m_as[:, :, None] - m_bs[:, None, :]
                + m_a[None, :, None] + m_b[None, None, :] + m_s[:, None, None] - g)  # fmt: skip
    ss_abs = (residual**2).sum()
    expected = {
        "a": ((ss_a / 2) / (ss_as / 8), (2, 8)),
        "b": ((ss_b / 1) / (ss_bs / 4), (1, 4)),
        "interaction": ((ss_ab / 2) / (ss_abs / 8), (2, 8)),
    }
    assert set(result) == set(expected)
    for name, (f, df) in expected.items():
        assert result[name].statistic == pytest.approx(f), name
        assert result[name].df == df
        assert result[name].p == pytest.approx(scipy.stats.f.sf(f, *df))


def test_rm_anova_two_way_refuses_an_incomplete_design():
    rows = [{"seed": s, "a": a, "b": b, "y": 1.0 * s}
            for s in range(3) for a in ("x", "y") for b in ("p", "q")]  # fmt: skip
    with pytest.raises(ValueError, match="needs one row per"):
        rm_anova_two_way(pd.DataFrame(rows[:-1]), dv="y", within=("a", "b"), subject="seed")
    with pytest.raises(ValueError, match="needs one row per"):
        rm_anova_two_way(pd.DataFrame(rows + rows[:1]), dv="y", within=("a", "b"), subject="seed")
    with pytest.raises(ValueError, match="no column"):
        rm_anova_two_way(pd.DataFrame(rows), dv="z", within=("a", "b"), subject="seed")
