"""ClassGroupSampler: per-group fits, routing by class, nights of the fitted classes, saving."""

import pytest
import torch

from replay_gym.config import SamplerConfig
from replay_gym.samplers import LearnerDivergedError, make_sampler
from replay_gym.scenarios import ClassGroupSampler
from replay_gym.statefile import load_tree, save_tree


def tagged(labels, start=0):
    """Activation i holds the value start + i everywhere, so every sample names its source."""
    n = len(labels)
    values = torch.arange(start, start + n, dtype=torch.float32).reshape(n, 1, 1, 1)
    return values.expand(n, 2, 2, 2).clone(), torch.tensor(labels)


def veridical():
    return ClassGroupSampler(lambda: make_sampler(SamplerConfig(kind="veridical"), 5))


def ids(x):
    return x[:, 0, 0, 0].long().tolist()


def test_a_fit_keeps_the_classes_it_does_not_cover():
    sampler = veridical()
    g = torch.Generator().manual_seed(0)
    sampler.fit(*tagged([0, 1, 0, 1]), n_classes=4)  # task 1: values 0-3
    with pytest.raises(ValueError, match="class 2 has no generator yet"):
        sampler.sample(2, 1, g)
    sampler.fit(*tagged([2, 3, 3, 2], start=100), n_classes=4)  # task 2: values 100-103
    assert sampler.fitted_classes == (0, 1, 2, 3) and sampler.n_classes == 4
    assert set(ids(sampler.sample(0, 10, g))) == {0, 2}  # still task 1's activations
    assert set(ids(sampler.sample(3, 10, g))) == {101, 102}
    sampler.fit(*tagged([1, 1], start=200), n_classes=4)  # class 1 again: only it moves
    assert set(ids(sampler.sample(1, 5, g))) == {200, 201}
    assert set(ids(sampler.sample(0, 5, g))) == {0, 2}


def test_night_holds_every_fitted_activation_once_with_course_labels():
    sampler = veridical()
    sampler.fit(*tagged([0, 1, 0, 1]), n_classes=4)
    sampler.fit(*tagged([2, 3, 3], start=100), n_classes=4)
    sampler.fit(*tagged([1], start=200), n_classes=4)  # class 1 leaves the first group
    samples, labels = sampler.sample_night(7, torch.Generator().manual_seed(1))
    pairs = sorted(zip(ids(samples), labels.tolist(), strict=True))
    assert pairs == [(0, 0), (2, 0), (100, 2), (101, 3), (102, 3), (200, 1)]


def test_gaussian_groups_draw_from_their_own_fit():
    sampler = ClassGroupSampler(
        lambda: make_sampler(SamplerConfig(kind="gaussian", downsample=(1,) * 5), 5)
    )
    g = torch.Generator().manual_seed(0)
    low = torch.randn(40, 2, 2, 2, generator=g)
    sampler.fit(low, torch.tensor([0, 1] * 20), n_classes=4)
    sampler.fit(low + 50.0, torch.tensor([2, 3] * 20), n_classes=4)
    assert sampler.sample(1, 30, g).mean() < 5 < sampler.sample(2, 30, g).mean()
    samples, labels = sampler.sample_night(6, g)
    assert samples.shape == (24, 2, 2, 2) and sorted(labels.tolist()) == sorted([0, 1, 2, 3] * 6)


def test_state_round_trip(tmp_path):
    sampler = veridical()
    sampler.fit(*tagged([0, 1, 0, 1]), n_classes=4)
    sampler.fit(*tagged([2, 3, 3, 1], start=100), n_classes=4)
    save_tree(tmp_path / "s", {"sampler": sampler.state_dict()}, "test")
    twin = veridical()
    twin.load_state_dict(load_tree(tmp_path / "s", "test")["sampler"])
    assert twin.fitted_classes == sampler.fitted_classes
    for c in range(4):
        a = sampler.sample(c, 9, torch.Generator().manual_seed(c))
        b = twin.sample(c, 9, torch.Generator().manual_seed(c))
        assert torch.equal(a, b)
    night = [s.sample_night(1, torch.Generator().manual_seed(3)) for s in (sampler, twin)]
    assert all(torch.equal(x, y) for x, y in zip(*night, strict=True))


def test_refusals():
    sampler = veridical()
    with pytest.raises(RuntimeError, match="not fitted"):
        sampler.sample_night(1, torch.Generator())
    with pytest.raises(ValueError, match="label 4 is outside"):
        sampler.fit(*tagged([0, 4]), n_classes=4)
    with pytest.raises(ValueError, match="non-empty"):
        sampler.fit(torch.zeros(0, 2, 2, 2), torch.zeros(0, dtype=torch.int64), 4)
    sampler.fit(*tagged([0, 1]), n_classes=4)
    with pytest.raises(ValueError, match="n_classes is 5, but earlier fits had 4"):
        sampler.fit(*tagged([2, 3]), n_classes=5)
    with pytest.raises(ValueError, match="earlier fits"):
        sampler.fit(torch.zeros(2, 3, 2, 2), torch.tensor([2, 3]), 4)
    with pytest.raises(TypeError, match="factory must be callable"):
        ClassGroupSampler(None)


def test_diverged_activations_name_the_course_classes():
    sampler = veridical()
    acts, labels = tagged([2, 3, 2, 3])
    acts[1] = float("nan")
    with pytest.raises(LearnerDivergedError) as caught:
        sampler.fit(acts, labels, 4)
    assert caught.value.classes == [3]
    assert not sampler.fitted
