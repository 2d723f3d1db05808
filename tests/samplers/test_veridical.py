import pytest
import torch

from replay_gym.samplers import VeridicalSampler


def _tagged(
    labels: list[int], shape: tuple[int, int, int] = (2, 3, 3)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Activation i is filled with the value i, so every output row names its source."""
    n = len(labels)
    acts = torch.arange(n, dtype=torch.float32).reshape(n, 1, 1, 1).expand(n, *shape).clone()
    return acts, torch.tensor(labels)


def _ids(x: torch.Tensor) -> list[int]:
    return x[:, 0, 0, 0].long().tolist()


LABELS = [2, 0, 1, 0, 2, 2, 1, 0, 0, 2, 1, 2]  # class 0: 4, class 1: 3, class 2: 5


def _fitted() -> tuple[VeridicalSampler, torch.Tensor, torch.Tensor]:
    acts, labels = _tagged(LABELS)
    sampler = VeridicalSampler()
    sampler.fit(acts, labels, n_classes=3)
    return sampler, acts, labels


def test_sample_without_replacement_from_the_class() -> None:
    sampler, _, labels = _fitted()
    g = torch.Generator().manual_seed(0)
    for c in range(3):
        count = sampler.count(c)
        ids = _ids(sampler.sample(c, count, g))
        assert sorted(ids) == sorted(i for i, y in enumerate(LABELS) if y == c)
        part = _ids(sampler.sample(c, count - 1, g))
        assert len(set(part)) == count - 1 and all(LABELS[i] == c for i in part)


def test_sample_with_replacement_when_more_than_stored() -> None:
    sampler, _, _ = _fitted()
    ids = _ids(sampler.sample(1, 40, torch.Generator().manual_seed(0)))
    assert len(ids) == 40 and all(LABELS[i] == 1 for i in ids)
    assert set(ids) == {i for i, y in enumerate(LABELS) if y == 1}  # 40 draws of 3 hit all


def test_samples_are_unmodified_activations() -> None:
    g = torch.Generator().manual_seed(0)
    acts = torch.randn(10, 4, 6, 6, generator=g)
    labels = torch.tensor([0, 1] * 5)
    sampler = VeridicalSampler()
    sampler.fit(acts, labels, 2)
    x = sampler.sample(0, 5, g)
    assert x.shape == (5, 4, 6, 6)  # not down-sampled
    for row in x:
        assert any(torch.equal(row, a) for a in acts[labels == 0])


def test_sample_night_returns_all_exactly_once_in_class_order() -> None:
    sampler, _, _ = _fitted()
    x, y = sampler.sample_night(1000, torch.Generator().manual_seed(0))  # count ignored
    ids = _ids(x)
    assert sorted(ids) == list(range(len(LABELS)))
    assert [LABELS[i] for i in ids] == y.tolist()
    assert y.tolist() == sorted(y.tolist()) and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [4, 3, 5]


def test_sample_night_of_class_ordered_input_shares_storage() -> None:
    acts, labels = _tagged([0, 0, 1, 1, 1])
    sampler = VeridicalSampler()
    sampler.fit(acts, labels, 2)
    x, y = sampler.sample_night(1, torch.Generator())
    assert x is acts and y.tolist() == [0, 0, 1, 1, 1]


def test_seeded() -> None:
    acts = torch.arange(50, dtype=torch.float32).reshape(50, 1, 1, 1)
    labels = torch.zeros(50, dtype=torch.int64)
    sampler = VeridicalSampler()
    sampler.fit(acts, labels, 1)
    a = sampler.sample(0, 20, torch.Generator().manual_seed(1))
    b = sampler.sample(0, 20, torch.Generator().manual_seed(1))
    c = sampler.sample(0, 20, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_errors() -> None:
    sampler = VeridicalSampler()
    with pytest.raises(RuntimeError, match="not fitted"):
        sampler.sample(0, 1, torch.Generator())
    with pytest.raises(RuntimeError, match="not fitted"):
        sampler.sample_night(1, torch.Generator())
    sampler, _, _ = _fitted()
    with pytest.raises(ValueError, match=r"label 3 is outside \[0, n_classes=3\)"):
        sampler.sample(3, 1, torch.Generator())
    with pytest.raises(ValueError, match="n"):
        sampler.sample(0, -1, torch.Generator())
    assert sampler.sample(0, 0, torch.Generator()).shape == (0, 2, 3, 3)
    acts, labels = _tagged([0, 0, 2])
    with pytest.raises(ValueError, match="class 1 has no activations"):
        VeridicalSampler().fit(acts, labels, 3)
