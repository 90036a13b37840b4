"""verl 0.9: the file verl's custom reward function points at.

    reward.custom_reward_function.path=examples/integrations/verl_reward.py
    reward.custom_reward_function.name=compute_score
    reward.reward_manager.name=naive        # or dapo, gdpo, rate_limited, remote

Group terms need the samples of a group together: use rewardkit's manager,

    reward.reward_manager.source=importlib
    reward.reward_manager.module.path=pkg://rewardkit.adapters.verl_manager
    reward.reward_manager.name=RewardkitRewardManager

(verl 0.7-0.8: custom_reward_function.path=... and reward_model.reward_manager=naive|batch;
verl 0.9 has no batch manager.) Keep rewardkit's own timeouts below verl's reward.timeout.

Run it directly to score three samples the way verl 0.9's reward loop calls it:
one keyword call per sample, in threads, extra keys taken from the first sample.
"""

import asyncio
from pathlib import Path

import numpy as np

from rewardkit.adapters.verl import VerlReward
from rewardkit.core import load_spec

SPEC = Path(__file__).resolve().parents[1] / "math_verifier.toml"
compute_score = VerlReward(load_spec(SPEC))


async def reward_loop(samples):
    """verl/experimental/reward_loop/reward_manager/naive.py: run_in_executor per sample."""
    loop = asyncio.get_running_loop()
    return await asyncio.gather(
        *(loop.run_in_executor(None, lambda s=s: compute_score(**s)) for s in samples)
    )


if __name__ == "__main__":
    samples = [
        {"data_source": "math", "solution_str": "<think>2+2</think> \\boxed{4}",
         "ground_truth": "4", "extra_info": {"index": 0, "num_turns": None}},
        {"data_source": "math", "solution_str": "no idea",
         "ground_truth": np.array(["4", "4.0"], dtype=object), "extra_info": {"index": 1}},
        {"data_source": "openai/gsm8k", "solution_str": "2+2 is 4.\n#### 4\n\nOne step.",
         "ground_truth": "4", "extra_info": {"index": 2}},
    ]  # fmt: skip
    results = asyncio.run(reward_loop(samples))
    keys = list(results[0])  # verl keeps the first sample's keys
    assert all(list(r) == keys for r in results)
    for result in results:
        print({k: v for k, v in result.items() if k in ("score", "acc", "applicable", "status")})
