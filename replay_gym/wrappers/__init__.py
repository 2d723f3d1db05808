"""Fixed-schedule wrappers for the paper's conditions."""

from replay_gym.wrappers.schedules import (
    ContinuousReplay,
    FixedSchedule,
    NoReplay,
    RoundRobin,
    ShuffledReplay,
    VeridicalReplay,
)

__all__ = [
    "ContinuousReplay",
    "FixedSchedule",
    "NoReplay",
    "RoundRobin",
    "ShuffledReplay",
    "VeridicalReplay",
]
