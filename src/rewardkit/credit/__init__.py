"""Credit assignment: pure, shape-checked array functions, and token estimators over them."""

from rewardkit.credit.channels import (
    ChannelAdvantages,
    gdpo_advantages,
    hdpo_advantages,
    multi_channel_advantages,
)
from rewardkit.credit.delayed import OnlineRedistribution
from rewardkit.credit.group import (
    GroupStatistics,
    dr_grpo_advantages,
    group_advantages,
    group_statistics,
    grpo_advantages,
    rloo_advantages,
)
from rewardkit.credit.implicit_prm import (
    OPRLAdvantages,
    implicit_step_rewards,
    oprl_advantages,
    oprl_group_advantages,
    outcome_pairs,
    step_to_token_advantages,
    trajectory_dpo_loss,
)
from rewardkit.credit.oprl import OPRLEstimator, oprl_token_advantages
from rewardkit.credit.preference_reward import EpisodeFactors, OnlinePreferenceReward
from rewardkit.credit.process import (
    ProcessEstimator,
    ProcessStepRewards,
    check_step_layout,
    process_advantages,
    process_returns,
)
from rewardkit.credit.redistribution import information_gain_rewards, rudder_redistribution
from rewardkit.credit.returns import (
    bootstrap_values,
    discounted_returns,
    generalized_advantage_estimation,
    lambda_returns,
)
from rewardkit.credit.steps import (
    ProgressiveRetention,
    continuation_accumulated_reward,
    prefix_retention_lengths,
    turning_point_credit,
    turning_points,
)
from rewardkit.credit.token import (
    ESTIMATORS,
    ChannelEstimator,
    ChannelLoss,
    PPPOEstimator,
    TokenAdvantages,
    TurnEstimator,
    make_estimator,
)
from rewardkit.credit.token_estimators import (
    EntropyClipEstimator,
    PerplexityEstimator,
    PositionEstimator,
    RankEstimator,
)
from rewardkit.credit.token_signals import (
    effective_rank,
    entropy_discriminator,
    entropy_discriminator_keep,
    negative_only,
    perplexity_weights,
    position_bonus,
    rank_dynamics,
    rank_shaping,
)
from rewardkit.credit.tree import (
    PrefixTree,
    build_prefix_tree,
    sibling_advantages,
    tempo_advantages,
)
from rewardkit.credit.turns import turn_advantages, turn_token_advantages

__all__ = [
    "ESTIMATORS",
    "ChannelAdvantages",
    "ChannelEstimator",
    "ChannelLoss",
    "EntropyClipEstimator",
    "EpisodeFactors",
    "GroupStatistics",
    "OPRLAdvantages",
    "OPRLEstimator",
    "OnlinePreferenceReward",
    "OnlineRedistribution",
    "PPPOEstimator",
    "PerplexityEstimator",
    "PositionEstimator",
    "PrefixTree",
    "ProcessEstimator",
    "ProcessStepRewards",
    "ProgressiveRetention",
    "RankEstimator",
    "TokenAdvantages",
    "TurnEstimator",
    "bootstrap_values",
    "build_prefix_tree",
    "check_step_layout",
    "continuation_accumulated_reward",
    "discounted_returns",
    "dr_grpo_advantages",
    "effective_rank",
    "entropy_discriminator",
    "entropy_discriminator_keep",
    "gdpo_advantages",
    "generalized_advantage_estimation",
    "group_advantages",
    "group_statistics",
    "grpo_advantages",
    "hdpo_advantages",
    "implicit_step_rewards",
    "information_gain_rewards",
    "lambda_returns",
    "make_estimator",
    "multi_channel_advantages",
    "negative_only",
    "oprl_advantages",
    "oprl_group_advantages",
    "oprl_token_advantages",
    "outcome_pairs",
    "perplexity_weights",
    "position_bonus",
    "prefix_retention_lengths",
    "process_advantages",
    "process_returns",
    "rank_dynamics",
    "rank_shaping",
    "rloo_advantages",
    "rudder_redistribution",
    "sibling_advantages",
    "step_to_token_advantages",
    "tempo_advantages",
    "trajectory_dpo_loss",
    "turn_advantages",
    "turn_token_advantages",
    "turning_point_credit",
    "turning_points",
]
