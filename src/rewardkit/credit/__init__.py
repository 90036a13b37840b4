"""Credit assignment: pure, shape-checked array functions."""

from rewardkit.credit.group import (
    GroupStatistics,
    dr_grpo_advantages,
    gdpo_advantages,
    group_advantages,
    group_statistics,
    grpo_advantages,
    rloo_advantages,
)
from rewardkit.credit.returns import (
    bootstrap_values,
    discounted_returns,
    generalized_advantage_estimation,
    lambda_returns,
)

__all__ = [
    "GroupStatistics",
    "bootstrap_values",
    "discounted_returns",
    "dr_grpo_advantages",
    "gdpo_advantages",
    "generalized_advantage_estimation",
    "group_advantages",
    "group_statistics",
    "grpo_advantages",
    "lambda_returns",
    "rloo_advantages",
]
