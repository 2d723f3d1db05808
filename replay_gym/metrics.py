"""Pure metric functions: arrays in, numbers out.

The reward of the environment is built from these, so each one is checked in the tests against
hand-computed values.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``[true class, predicted class]`` as an ``int64`` matrix of shape (n, n)."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise ValueError(
            f"labels and predictions must be 1-D and equally long, got {labels.shape} and "
            f"{predictions.shape}"
        )
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.size and (values.min() < 0 or values.max() >= n_classes):
            raise ValueError(f"{name} must lie in 0..{n_classes - 1}")
    flat = labels * n_classes + predictions
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Per-class accuracy (recall): the diagonal over the row sums; 0 for an empty class."""
    confusion = np.asarray(confusion)
    totals = confusion.sum(axis=1)
    return np.divide(
        np.diag(confusion), totals, out=np.zeros(len(totals), dtype=np.float64), where=totals > 0
    )


def overall_accuracy(confusion: np.ndarray) -> float:
    """Correct predictions over all predictions."""
    confusion = np.asarray(confusion)
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total else 0.0


def chi_square(confusion: np.ndarray) -> float:
    """The paper's statistic: sum over classes of (correct_c - n_c)^2 / n_c.

    Observed counts are the confusion matrix's diagonal, expected counts its row sums (the
    number of images of each class), as the authors' ``scipy.stats.chisquare(obs, exp)`` call.
    scipy >= 1.7 refuses that call because the two sums differ, so it is computed directly; it
    equals sum_c n_c (1 - acc_c)^2. Classes without images are left out.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    expected = confusion.sum(axis=1)
    observed = np.diag(confusion)
    present = expected > 0
    return float(np.sum((observed[present] - expected[present]) ** 2 / expected[present]))


def standard_error(values: np.ndarray | list[float]) -> float | None:
    """Standard error of the mean over seeds, std(ddof=1) / sqrt(n); None for a single value."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"need a non-empty 1-D array of values, got shape {values.shape}")
    if len(values) == 1:
        return None
    return float(values.std(ddof=1) / np.sqrt(len(values)))


def relative_gain(accuracy: np.ndarray) -> np.ndarray:
    """Day-over-day gain relative to room for improvement (METHOD §6).

    ``(acc[n+1] - acc[n]) / (acc[n] - acc[1])`` for days n = 2..N-1 (1-based), following the
    paper's formula literally; entries whose denominator is 0 are NaN.
    """
    acc = np.asarray(accuracy, dtype=np.float64)
    if acc.ndim != 1 or len(acc) < 3:
        raise ValueError(f"need a 1-D accuracy curve of at least 3 days, got shape {acc.shape}")
    gain = acc[2:] - acc[1:-1]
    room = acc[1:-1] - acc[0]
    return np.divide(gain, room, out=np.full(len(gain), np.nan), where=room != 0)
