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


def continual_metrics(accuracy: np.ndarray) -> dict[str, float | None]:
    """Average accuracy, backward transfer and forgetting of an accuracy matrix.

    ``accuracy[t, j]`` (R in the papers) is the test accuracy on task ``j`` after training on
    task ``t`` (0-based, T tasks); only the lower triangle with the diagonal (``j <= t``) is
    read, so entries above it may be NaN. The definitions are the standard ones:

    * ``acc`` -- average accuracy after the last task, (1/T) sum_j R[T-1, j] (Lopez-Paz &
      Ranzato 2017, "Gradient Episodic Memory for Continual Learning", ACC);
    * ``bwt`` -- backward transfer, (1/(T-1)) sum_{j<T-1} (R[T-1, j] - R[j, j]) (same paper,
      BWT; negative when learning later tasks lowered earlier ones);
    * ``forgetting`` -- average forgetting, (1/(T-1)) sum_{j<T-1} f_j with
      f_j = max_{j<=l<=T-2} R[l, j] - R[T-1, j]: the drop from the best accuracy a task ever had
      to its final one (Chaudhry et al. 2018, "Riemannian Walk for Incremental Learning",
      eq. 5; the maximum runs over the rows where task j had been learned, those this matrix
      holds).

    Args:
        accuracy: Square array [T, T], T >= 1; the lower triangle finite and in [0, 1].

    Returns:
        ``{"acc": float, "bwt": float | None, "forgetting": float | None}``; BWT and forgetting
        are None for a single task (nothing came after it).

    Raises:
        ValueError: If the array is not square or a read entry is missing or outside [0, 1].
    """
    r = np.asarray(accuracy, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] != r.shape[1] or r.shape[0] < 1:
        raise ValueError(f"the accuracy matrix must be square [T, T] with T >= 1, got {r.shape}")
    lower = r[np.tril_indices(len(r))]
    if not np.all(np.isfinite(lower)) or lower.min() < 0 or lower.max() > 1:
        raise ValueError(
            "the accuracy matrix's entries on and below the diagonal must lie in [0, 1]"
        )
    last = len(r) - 1
    acc = float(r[last].mean())
    if last == 0:
        return {"acc": acc, "bwt": None, "forgetting": None}
    bwt = float(np.mean([r[last, j] - r[j, j] for j in range(last)]))
    forgetting = float(np.mean([r[j:last, j].max() - r[last, j] for j in range(last)]))
    return {"acc": acc, "bwt": bwt, "forgetting": forgetting}


def early_class_accuracy(
    class_accuracy: np.ndarray, order: list[int] | np.ndarray, fraction: float
) -> float:
    """Mean accuracy of the first ``fraction`` of the classes to arrive.

    Millichamp & Chen ("Feature exaggeration in generative replay") report precision on the
    first 20 % and 50 % of classes seen, where forgetting is worst. The first
    ``ceil(fraction * n)`` classes of ``order`` are taken (at least one), and their per-class
    accuracies averaged (equal weight per class).

    Args:
        class_accuracy: Per-class accuracy, indexed by class, shape [n].
        order: Every class index once, in order of arrival.
        fraction: In (0, 1].

    Raises:
        ValueError: If ``order`` is not a permutation of the classes or ``fraction`` is not in
            (0, 1].
    """
    acc = np.asarray(class_accuracy, dtype=np.float64)
    order = np.asarray(order, dtype=np.int64)
    if acc.ndim != 1 or sorted(order.tolist()) != list(range(len(acc))):
        raise ValueError(
            f"order must hold each of the {len(acc)} classes once, got {order.tolist()}"
        )
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    count = max(1, int(np.ceil(fraction * len(acc) - 1e-9)))
    return float(acc[order[:count]].mean())
