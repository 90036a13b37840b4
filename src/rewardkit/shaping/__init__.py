"""Reward shaping: potential-based shaping (Ng, Harada & Russell 1999)."""

from rewardkit.shaping.potential import (
    POTENTIALS,
    PotentialShaping,
    PotentialValue,
    make_potential,
    shaping_reward,
)

__all__ = ["POTENTIALS", "PotentialShaping", "PotentialValue", "make_potential", "shaping_reward"]
