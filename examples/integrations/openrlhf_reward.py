"""OpenRLHF: a remote reward file.

    --reward.remote_url examples/integrations/openrlhf_reward.py   (OpenRLHF >= 0.10.2)
    --remote_rm_url examples/integrations/openrlhf_reward.py       (OpenRLHF <= 0.10.1)

``reward_func`` is a plain function, as ``ray.remote`` needs (v0.8-v0.9.0).
The shipped ``rewardkit/adapters/openrlhf.py`` is such a file too, reading
the spec path from ``REWARDKIT_SPEC``.

Run it directly to score two queries the way OpenRLHF passes them.
"""

from pathlib import Path

from rewardkit.adapters.openrlhf import OpenRLHFReward
from rewardkit.core import load_spec

SPEC = Path(__file__).resolve().parents[1] / "math_reward.toml"
reward_func = OpenRLHFReward(load_spec(SPEC)).as_function()

if __name__ == "__main__":
    prompt = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    out = reward_func(
        [prompt + "<think>2+2</think><answer>4</answer><|im_end|>", prompt + "no idea<|im_end|>"],
        [prompt, prompt],
        ["4", "4"],
    )
    print("rewards:", out["rewards"].tolist())
    print("applicable:", out["extra_logs"]["applicable"].tolist())
