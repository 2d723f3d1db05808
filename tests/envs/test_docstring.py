import doctest

import replay_gym.envs.replay_select as replay_select
from replay_gym.envs import ReplaySelectionEnv


def test_env_docstring_has_gymnasiums_sections():
    doc = ReplaySelectionEnv.__doc__
    for section in (
        "## Description",
        "## Action Space",
        "## Observation Space",
        "## Rewards",
        "## Starting State",
        "## Episode End",
        "## Arguments",
        "## Version History",
    ):
        assert section in doc, section


def test_env_docstring_example_runs():
    result = doctest.testmod(replay_select, raise_on_error=False)
    assert result.attempted >= 5 and result.failed == 0
