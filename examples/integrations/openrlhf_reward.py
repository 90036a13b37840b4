"""OpenRLHF: a remote reward file.

    --reward.remote_url examples/integrations/openrlhf_reward.py   (OpenRLHF >= 0.10.2, 0.11)
    --remote_rm_url examples/integrations/openrlhf_reward.py       (OpenRLHF <= 0.10.1)

with ``--data.label_key`` naming the dataset's answer column. ``reward_func``
is a plain function, as ``ray.remote`` needs (v0.8-v0.9.0). The shipped
``rewardkit/adapters/openrlhf.py`` is such a file too, reading the spec path
from ``REWARDKIT_SPEC``.

Run it directly to score a rollout the way OpenRLHF 0.11 calls it: one sample
per call, every sample at once from the event loop's threads.
"""

import asyncio
from pathlib import Path

from rewardkit.adapters.openrlhf import OpenRLHFReward
from rewardkit.core import load_spec

SPEC = Path(__file__).resolve().parents[1] / "math_reward.toml"
reward_func = OpenRLHFReward(load_spec(SPEC)).as_function()


async def rollout(queries, prompts, labels):
    """openrlhf/utils/agent.py, _fetch_rewards_via_func: asyncio.to_thread per sample."""
    calls = [
        asyncio.to_thread(reward_func, [q], [p], [label])
        for q, p, label in zip(queries, prompts, labels, strict=True)
    ]
    return await asyncio.gather(*calls)


if __name__ == "__main__":
    prompt = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    outs = asyncio.run(
        rollout(
            [
                prompt + "<think>2+2</think><answer>4</answer><|im_end|>",
                prompt + "no idea<|im_end|>",
            ],
            [prompt, prompt],
            ["4", "4"],
        )
    )
    print("rewards:", [round(o["rewards"].item(), 4) for o in outs])
    print("applicable:", [o["extra_logs"]["applicable"].item() for o in outs])
