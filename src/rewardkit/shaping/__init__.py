"""Reward shaping: potential-based shaping (Ng, Harada & Russell 1999), PAR (Fu et al. 2025),
Clip / Delta refinements of process rewards (Gao et al. 2024), CaRL's multiplicative
penalties (Jaeger et al. 2025), Lucy-SKG's KRC reward shapes (Moschopoulos et al. 2023),
and teacher-driven shaping from an expert's value function (Devidze 2025)."""

from rewardkit.shaping.blend import (
    RewardBlend,
    blend_rewards,
    blend_weights,
)
from rewardkit.shaping.krc import (
    KRC,
    DistanceShape,
    distance_reward,
    krc,
    krc_reward,
    signed_distance_reward,
)
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
from rewardkit.shaping.teacher import (
    TeacherShaping,
    ValueTable,
    lookahead_informativeness,
    most_informative_reward,
    policy_evaluation,
    shaped_reward_table,
    teacher_shaping_reward,
    value_iteration,
)

__all__ = [
    "KRC",
    "POTENTIALS",
    "POTENTIAL_ENTRY_POINT_GROUP",
    "REFINEMENTS",
    "DistanceShape",
    "PotentialShaping",
    "PotentialValue",
    "PreferenceAsReward",
    "RewardBlend",
    "TeacherShaping",
    "ValueTable",
    "blend_rewards",
    "blend_weights",
    "carl_reward",
    "clip_step_rewards",
    "delta_step_rewards",
    "distance_reward",
    "krc",
    "krc_reward",
    "lookahead_informativeness",
    "make_potential",
    "most_informative_reward",
    "multiplicative_reward",
    "par_transform",
    "policy_evaluation",
    "preference_as_reward",
    "refine_step_rewards",
    "register_potential",
    "shaped_reward_table",
    "shaping_reward",
    "signed_distance_reward",
    "teacher_shaping_reward",
    "value_iteration",
]
