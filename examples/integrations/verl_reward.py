"""verl: the file verl's custom reward points at.

    custom_reward_function.path=examples/integrations/verl_reward.py
    custom_reward_function.name=compute_score
    reward_model.reward_manager=batch   # or naive; both call compute_score

Run it directly to score three samples the way verl's batch manager calls it.
"""

from pathlib import Path

import numpy as np

from rewardkit.adapters.verl import VerlReward
from rewardkit.core import load_spec

SPEC = Path(__file__).resolve().parents[1] / "math_verifier.toml"
compute_score = VerlReward(load_spec(SPEC))

if __name__ == "__main__":
    results = compute_score(
        data_sources=np.array(["math", "math", "openai/gsm8k"], dtype=object),
        solution_strs=[
            "<think>2+2</think> \\boxed{4}",
            "no idea",
            "2+2 is 4.\n#### 4\n\nOne step.",
        ],
        ground_truths=["4", "4", "4"],
        extra_infos=np.array([{"index": i} for i in range(3)], dtype=object),
    )
    for result in results:
        print({k: v for k, v in result.items() if k in ("score", "acc", "applicable", "status")})
