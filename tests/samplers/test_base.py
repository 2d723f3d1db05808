import pytest
import torch

from replay_gym.samplers import GaussianSampler, LearnerDivergedError, VeridicalSampler


def _activations(n: int, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % n_classes
    return torch.randn(n, 2, 2, 2, generator=g), labels


SAMPLERS = [lambda: GaussianSampler(1), VeridicalSampler]


@pytest.mark.parametrize("make", SAMPLERS, ids=["gaussian", "veridical"])
@pytest.mark.parametrize("bad", [torch.nan, torch.inf, -torch.inf])
def test_fit_refuses_non_finite_activations_naming_the_classes(make, bad):
    acts, labels = _activations(600, 3)  # more rows than one checking chunk
    acts[550, 1, 0, 1] = bad  # row 550 is class 550 % 3 = 1
    acts[4, 0, 0, 0] = bad  # class 1 again
    sampler = make()
    message = r"2 of 600 activations \(classes \[1\]\) hold NaN or infinity"
    with pytest.raises(LearnerDivergedError, match=message) as err:
        sampler.fit(acts, labels, 3)
    assert err.value.classes == [1] and isinstance(err.value, ValueError)
    assert not sampler.fitted, "no NaN samples can be drawn from a refused fit"


def test_finite_activations_fit():
    acts, labels = _activations(600, 3)
    sampler = GaussianSampler(1)
    sampler.fit(acts, labels, 3)
    assert torch.isfinite(sampler.sample(2, 5, torch.Generator().manual_seed(1))).all()
