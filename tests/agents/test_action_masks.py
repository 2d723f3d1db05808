"""The mask helpers of every selector: ``valid_actions`` reads ``info``, ``mask_values`` uses it."""

import numpy as np
import pytest

from replay_gym.agents.base import mask_values, valid_actions


def test_valid_actions_is_none_without_a_mask_or_with_every_action_allowed() -> None:
    assert valid_actions({}, 4) is None
    assert valid_actions({"action_mask": [1, 1, 1, 1]}, 4) is None


def test_valid_actions_returns_the_mask_as_booleans() -> None:
    mask = valid_actions({"action_mask": np.array([1, 0, 1, 0], dtype=np.int8)}, 4)
    assert mask.dtype == bool
    assert mask.tolist() == [True, False, True, False]


@pytest.mark.parametrize(
    ("mask", "message"),
    [([1, 0, 1], "has 3 entries, expected 4"), ([0, 0, 0, 0], "allows no action")],
)
def test_valid_actions_refuses_a_bad_mask(mask: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        valid_actions({"action_mask": mask}, 4)


def test_mask_values_sets_invalid_actions_to_minus_infinity() -> None:
    out = mask_values(np.array([0.5, 2.0, -1.0]), np.array([True, False, True]))
    assert out.tolist() == [0.5, -np.inf, -1.0]
    assert int(np.argmax(out)) == 0  # the masked maximum is never chosen


def test_mask_values_without_a_mask_keeps_the_values() -> None:
    assert mask_values([1, 2, 3], None).tolist() == [1.0, 2.0, 3.0]
