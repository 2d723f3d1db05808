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
