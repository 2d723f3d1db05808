import numpy as np
import pytest
import scipy.stats

from replay_gym.metrics import (
    chi_square,
    class_accuracy,
    confusion_matrix,
    overall_accuracy,
    relative_gain,
)


def test_confusion_matrix_counts_true_by_predicted():
    cm = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="equally long"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 2)
    with pytest.raises(ValueError, match="predictions must lie in 0..1"):
        confusion_matrix(np.array([0, 1]), np.array([0, 2]), 2)


def test_accuracies_by_hand():
    cm = np.array([[3, 1], [2, 2]])
    np.testing.assert_allclose(class_accuracy(cm), [0.75, 0.5])
    assert overall_accuracy(cm) == pytest.approx(5 / 8)
    np.testing.assert_array_equal(class_accuracy(np.zeros((2, 2))), [0, 0])


def test_chi_square_by_hand():
    # class 0: 3 of 4 correct -> (3-4)^2/4 = 0.25; class 1: 2 of 4 -> (2-4)^2/4 = 1
    cm = np.array([[3, 1], [2, 2]])
    assert chi_square(cm) == pytest.approx(1.25)
    # equals sum n_c (1 - acc_c)^2
    assert chi_square(cm) == pytest.approx(4 * 0.25**2 + 4 * 0.5**2)
    assert chi_square(np.diag([5, 7])) == 0.0


def test_chi_square_is_the_authors_scipy_formula():
    cm = np.array([[10, 2, 1], [4, 6, 3], [0, 1, 12]])
    obs, exp = np.diag(cm).astype(float), cm.sum(1).astype(float)
    # scipy >= 1.7 refuses unequal sums; its statistic is the same sum of (o - e)^2 / e.
    with pytest.raises(ValueError):
        scipy.stats.chisquare(obs, exp)
    assert chi_square(cm) == pytest.approx(np.sum((obs - exp) ** 2 / exp))


def test_relative_gain_follows_the_paper_formula():
    acc = np.array([0.3, 0.5, 0.6, 0.6])
    # day n=2: (0.6-0.5)/(0.5-0.3) = 0.5 ; n=3: (0.6-0.6)/(0.6-0.3) = 0
    np.testing.assert_allclose(relative_gain(acc), [0.5, 0.0])
    assert np.isnan(relative_gain(np.array([0.3, 0.3, 0.4]))[0])
    with pytest.raises(ValueError, match="at least 3 days"):
        relative_gain(np.array([0.1, 0.2]))


def test_standard_error_by_hand():
    from replay_gym.metrics import standard_error

    # values 1, 2, 3: sample std 1, n = 3 -> 1 / sqrt(3)
    assert standard_error([1.0, 2.0, 3.0]) == pytest.approx(1 / np.sqrt(3))
    assert standard_error([0.5]) is None
    with pytest.raises(ValueError, match="non-empty 1-D"):
        standard_error([])


# -- continual-learning measures ------------------------------------------------------------

NAN = float("nan")
HAND = [
    [0.90, NAN, NAN],
    [0.95, 0.80, NAN],
    [0.30, 0.50, 0.70],
]
"""After task 2 the first task fell from its best 0.95 (not its first 0.90) to 0.30."""


def test_continual_metrics_of_a_hand_computed_matrix():
    from replay_gym.metrics import continual_metrics

    got = continual_metrics(np.array(HAND))
    assert got["acc"] == pytest.approx((0.30 + 0.50 + 0.70) / 3)  # 0.5
    # BWT: final minus just-learned accuracy, tasks 0 and 1
    assert got["bwt"] == pytest.approx(((0.30 - 0.90) + (0.50 - 0.80)) / 2)  # -0.45
    # forgetting: best earlier accuracy minus final accuracy
    assert got["forgetting"] == pytest.approx(((0.95 - 0.30) + (0.80 - 0.50)) / 2)  # 0.475


def test_continual_metrics_of_one_task_and_refusals():
    from replay_gym.metrics import continual_metrics

    assert continual_metrics(np.array([[0.4]])) == {"acc": 0.4, "bwt": None, "forgetting": None}
    with pytest.raises(ValueError, match="square"):
        continual_metrics(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="on and below the diagonal"):
        continual_metrics(np.array([[0.5, NAN], [NAN, 0.5]]))
    with pytest.raises(ValueError, match="on and below the diagonal"):
        continual_metrics(np.array([[1.5]]))


def test_early_class_accuracy_takes_the_first_classes_to_arrive():
    from replay_gym.metrics import early_class_accuracy

    acc = np.linspace(0.1, 1.0, 10)
    order = list(range(9, -1, -1))  # class 9 arrived first
    assert early_class_accuracy(acc, order, 0.2) == pytest.approx((1.0 + 0.9) / 2)
    assert early_class_accuracy(acc, order, 0.5) == pytest.approx(0.8)
    assert early_class_accuracy(acc, order, 1.0) == pytest.approx(acc.mean())
    assert early_class_accuracy([0.2, 0.4, 0.6, 0.8], [0, 1, 2, 3], 0.2) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="each of the 3 classes once"):
        early_class_accuracy([0.1, 0.2, 0.3], [0, 0, 1], 0.5)
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        early_class_accuracy([0.1, 0.2], [0, 1], 0.0)


def test_early_key_names_the_record_field_of_a_fraction():
    from replay_gym.scenarios.class_incremental import EARLY_FRACTIONS, early_key

    assert early_key(0.2) == "first_20pct_accuracy"
    assert early_key(0.5) == "first_50pct_accuracy"
    assert len({early_key(f) for f in EARLY_FRACTIONS}) == len(EARLY_FRACTIONS)
