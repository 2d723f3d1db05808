"""The classifier's loss on a replay batch: hard labels, soft targets, or a mix of both."""

import pytest
import torch
from torch.nn import functional as F

from replay_gym.learner.cortex import Learner, replay_loss
from replay_gym.samplers import ReplayTargets


def test_soft_rows_are_temperature_scaled_cross_entropy_and_hard_rows_plain():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 3, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 2, 1, 1])
    probs = torch.softmax(torch.randn(4, 3, generator=g, dtype=torch.float64), dim=1)
    t = 2.0
    soft = torch.tensor([True, False, True, False])
    got = replay_loss(logits, labels, ReplayTargets(probs, soft, t))
    by_hand = []
    for i in range(4):
        if soft[i]:
            log_q = torch.log_softmax(logits[i] / t, dim=0)
            by_hand.append(-t * t * (probs[i] * log_q).sum())
        else:
            by_hand.append(-torch.log_softmax(logits[i], dim=0)[labels[i]])
    torch.testing.assert_close(got, torch.stack(by_hand).mean())
    torch.testing.assert_close(replay_loss(logits, labels), F.cross_entropy(logits, labels))
    all_hard = ReplayTargets(probs, torch.zeros(4, dtype=torch.bool), t)
    hard = F.cross_entropy(logits, labels)
    torch.testing.assert_close(replay_loss(logits, labels, all_hard), hard)


def test_one_hot_targets_at_temperature_one_equal_the_labels():
    logits = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([3, 0, 1, 1, 2])
    one_hot = ReplayTargets(F.one_hot(labels, 4).float(), torch.ones(5, dtype=torch.bool), 1.0)
    hard = F.cross_entropy(logits, labels)
    torch.testing.assert_close(replay_loss(logits, labels, one_hot), hard)


def test_mismatched_targets_are_refused():
    targets = ReplayTargets(torch.full((2, 3), 1 / 3), torch.ones(2, dtype=torch.bool), 1.0)
    with pytest.raises(ValueError, match=r"replay targets are \(2, 3\) with mask \(2,\), but the"):
        replay_loss(torch.zeros(3, 3), torch.zeros(3, dtype=torch.int64), targets)


def test_train_above_learns_the_soft_targets():
    from replay_gym.config import LearnerConfig

    config = LearnerConfig(widths=(4, 4, 8, 8, 8), hidden=16, weights="none", augment=False,
                           adam_eps=1e-2, lr=1e-2)  # fmt: skip
    learner = Learner(config, 3, None, torch.Generator().manual_seed(0))
    x = torch.rand(12, *config.pool_shape(5), generator=torch.Generator().manual_seed(1))
    labels = torch.zeros(12, dtype=torch.int64)
    wanted = torch.tensor([0.1, 0.2, 0.7]).expand(12, 3)
    targets = ReplayTargets(wanted, torch.ones(12, dtype=torch.bool), 1.0)
    for _ in range(150):
        learner.train_above(x, labels, 5, torch.Generator().manual_seed(2), targets)
    learner.model.eval()
    with torch.no_grad():
        probs = torch.softmax(learner.model.forward_from(x, 5), dim=1).mean(0)
    torch.testing.assert_close(probs, wanted[0], atol=0.05, rtol=0)  # not the one-hot label
