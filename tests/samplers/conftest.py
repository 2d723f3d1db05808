"""Fixtures of the sampler tests."""

import numpy as np
import pytest
import torch


@pytest.fixture
def global_rng_is_untouched():
    """Fail the test if it changes torch's or numpy's global RNG state."""
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()  # noqa: NPY002 - the legacy global state is checked
    yield
    assert torch.equal(torch.get_rng_state(), torch_state), "torch's global RNG was used"
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == numpy_state[0] and (after[1] == numpy_state[1]).all(), "numpy's RNG"
