"""Reward shaping: potential-based shaping (Ng, Harada & Russell 1999)."""

from rewardkit.shaping.potential import (
    POTENTIAL_ENTRY_POINT_GROUP,
    POTENTIALS,
    PotentialShaping,
    PotentialValue,
    make_potential,
    register_potential,
    shaping_reward,
)

__all__ = [
    "POTENTIALS",
    "POTENTIAL_ENTRY_POINT_GROUP",
    "PotentialShaping",
    "PotentialValue",
    "make_potential",
    "register_potential",
    "shaping_reward",
]
