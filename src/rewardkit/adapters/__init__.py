"""Adapters to the trainers users already run: Gymnasium, Stable-Baselines3, TRL,
verl, OpenRLHF and verifiers.

Each module imports its framework only when used, so every name here is
imported on first use (``from rewardkit.adapters import TRLReward`` needs TRL;
``import rewardkit.adapters`` needs nothing).

Example:
    >>> from rewardkit.adapters import VerlReward
    >>> from rewardkit.verify import exact_match
    >>> VerlReward(exact_match())(solution_str="4", ground_truth="4")["score"]
    1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rewardkit.core.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names' real types, for type checkers and IDEs
    from rewardkit.adapters.gymnasium import (
        DelayedReward,
        RewardkitVectorWrapper,
        RewardkitWrapper,
        collect_steps,
        select_observation,
    )
    from rewardkit.adapters.openrlhf import (
        COMMON_SPECIAL_TOKENS,
        OpenRLHFReward,
        reward_func,
        split_response,
    )
    from rewardkit.adapters.sb3 import RewardkitCallback, RewardkitVecEnvWrapper
    from rewardkit.adapters.trl import (
        AsyncTRLReward,
        TRLReward,
        async_trl_reward,
        split_parts,
        trl_groups,
    )
    from rewardkit.adapters.verifiers import (
        AnswerParser,
        VerifiersFunction,
        from_verifiers,
        rubric_functions,
        to_rubric,
    )
    from rewardkit.adapters.verifiers_v1 import V1Metrics, V1Reward, trace_row, v1_reward
    from rewardkit.adapters.verl import VerlReward
    from rewardkit.adapters.verl_manager import RewardkitRewardManager

#: name → the module (under rewardkit.adapters) it lives in
_LAZY: dict[str, str] = {
    "AnswerParser": "verifiers",
    "AsyncTRLReward": "trl",
    "COMMON_SPECIAL_TOKENS": "openrlhf",
    "DelayedReward": "gymnasium",
    "OpenRLHFReward": "openrlhf",
    "RewardkitCallback": "sb3",
    "RewardkitRewardManager": "verl_manager",
    "RewardkitVecEnvWrapper": "sb3",
    "RewardkitVectorWrapper": "gymnasium",
    "RewardkitWrapper": "gymnasium",
    "TRLReward": "trl",
    "V1Metrics": "verifiers_v1",
    "V1Reward": "verifiers_v1",
    "VerifiersFunction": "verifiers",
    "VerlReward": "verl",
    "async_trl_reward": "trl",
    "collect_steps": "gymnasium",
    "from_verifiers": "verifiers",
    "reward_func": "openrlhf",
    "rubric_functions": "verifiers",
    "select_observation": "gymnasium",
    "split_parts": "trl",
    "split_response": "openrlhf",
    "to_rubric": "verifiers",
    "trace_row": "verifiers_v1",
    "trl_groups": "trl",
    "v1_reward": "verifiers_v1",
}

__all__ = [
    "COMMON_SPECIAL_TOKENS",
    "AnswerParser",
    "AsyncTRLReward",
    "DelayedReward",
    "OpenRLHFReward",
    "RewardkitCallback",
    "RewardkitRewardManager",
    "RewardkitVecEnvWrapper",
    "RewardkitVectorWrapper",
    "RewardkitWrapper",
    "TRLReward",
    "V1Metrics",
    "V1Reward",
    "VerifiersFunction",
    "VerlReward",
    "async_trl_reward",
    "collect_steps",
    "from_verifiers",
    "reward_func",
    "rubric_functions",
    "select_observation",
    "split_parts",
    "split_response",
    "to_rubric",
    "trace_row",
    "trl_groups",
    "v1_reward",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, prefix=f"{__name__}.")
