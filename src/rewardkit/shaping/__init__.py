"""Reward shaping: potential-based shaping (Ng, Harada & Russell 1999) and PAR (Fu et al. 2025)."""

from rewardkit.shaping.par import PreferenceAsReward, par_transform, preference_as_reward
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
    "PreferenceAsReward",
    "make_potential",
    "par_transform",
    "preference_as_reward",
    "register_potential",
    "shaping_reward",
]
