"""Reward shaping: potential-based shaping (Ng, Harada & Russell 1999), PAR (Fu et al. 2025),
Clip / Delta refinements of process rewards (Gao et al. 2024), and CaRL's multiplicative
penalties (Jaeger et al. 2025)."""

from rewardkit.shaping.multiplicative import carl_reward, multiplicative_reward
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
from rewardkit.shaping.process import (
    REFINEMENTS,
    clip_step_rewards,
    delta_step_rewards,
    refine_step_rewards,
)

__all__ = [
    "POTENTIALS",
    "POTENTIAL_ENTRY_POINT_GROUP",
    "REFINEMENTS",
    "PotentialShaping",
    "PotentialValue",
    "PreferenceAsReward",
    "carl_reward",
    "clip_step_rewards",
    "delta_step_rewards",
    "make_potential",
    "multiplicative_reward",
    "par_transform",
    "preference_as_reward",
    "refine_step_rewards",
    "register_potential",
    "shaping_reward",
]
