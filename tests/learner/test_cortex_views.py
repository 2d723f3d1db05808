"""The day's augmented views: drawn once, trained on, and shown again to fit the sampler."""

import dataclasses

import pytest
import torch

from replay_gym.config import LearnerConfig
from replay_gym.learner.augment import apply_affine
from replay_gym.learner.cortex import Learner

CONFIG = LearnerConfig(widths=(4, 4, 8, 8, 8), hidden=16, batch_size=5, weights="none")


def _learner(seed=0):
    return Learner(CONFIG, 3, None, torch.Generator().manual_seed(seed))


def _data(n=12):
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    return images, torch.arange(n) % 3


def test_train_day_with_drawn_views_equals_drawing_them_inside():
    images, labels = _data()
    a, b = _learner(), _learner()
    loss_a = a.train_day(images, labels, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    views = b.draw_views(len(images), g)
    loss_b = b.train_day(images, labels, g, views)
    assert loss_a == loss_b
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_views_cover_every_image_once_with_one_transform_per_batch():
    views = _learner().draw_views(12, torch.Generator().manual_seed(0))
    assert sorted(views.order.tolist()) == list(range(12))
    assert [len(p) for p in views.batches] == [5, 5, 2]


def test_view_activations_are_the_augmented_images_through_the_base():
    images, labels = _data()
    learner = _learner()
    views = learner.draw_views(len(images), torch.Generator().manual_seed(4))
    acts, act_labels = learner.view_activations(images, labels, views, 2)
    assert torch.equal(act_labels, labels[views.order])
    first = views.order[:5]
    expected = apply_affine(images[first].float() / 255.0, views.batches[0])
    model = learner.model.eval()
    with torch.no_grad():
        reference = model.below(2)(model.normalize(expected))
    torch.testing.assert_close(acts[:5], reference)


def test_without_augmentation_views_hold_no_transform():
    learner = Learner(
        dataclasses.replace(CONFIG, augment=False), 3, None, torch.Generator().manual_seed(0)
    )
    images, labels = _data()
    views = learner.draw_views(len(images), torch.Generator().manual_seed(0))
    assert views.batches == ()
    acts, _ = learner.view_activations(images, labels, views, 3)
    torch.testing.assert_close(acts, learner.activations(images[views.order], 3))


def test_views_of_another_size_are_refused():
    images, labels = _data()
    learner = _learner()
    views = learner.draw_views(7, torch.Generator())
    with pytest.raises(ValueError, match="views cover 7 images, but 12"):
        learner.train_day(images, labels, torch.Generator(), views)


def test_views_round_trip_through_their_state_and_train_the_same():
    from replay_gym.learner.cortex import DayViews

    images, labels = _data()
    views = _learner().draw_views(len(images), torch.Generator().manual_seed(4))
    again = DayViews.from_state(views.state_dict())
    assert torch.equal(again.order, views.order) and len(again.batches) == len(views.batches)
    a, b = _learner(), _learner()
    assert a.train_day(images, labels, torch.Generator().manual_seed(5), views) == b.train_day(
        images, labels, torch.Generator().manual_seed(5), again
    )
