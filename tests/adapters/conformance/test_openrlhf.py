"""OpenRLHF loads and calls rewardkit's reward function as its own code does.

OpenRLHF (and Ray) do not install here without CUDA pieces, so the calling
code is reproduced from the pinned sources (OpenRLHF/OpenRLHF):

- v0.8.x-v0.9.0, ``openrlhf/utils/remote_rm_utils.py`` (``RemoteRewardModel``,
  l.42-49): ``spec_from_file_location("reward_func", path)``, then
  ``ray.remote(reward_module.reward_func)``, called with
  ``(queries, prompts, labels)`` in chunks; results concatenated with
  ``torch.cat([torch.as_tensor(info["rewards"]) ...])``;
- v0.9.1-v0.11.0, ``openrlhf/utils/agent.py`` (``SingleTurnAgentExecutor``):
  ``asyncio.to_thread(self.reward_func, queries[i:i+1], prompts[i:i+1],
  labels[i:i+1])``, one sample per call;
- ``query`` = prompt + response decoded with ``skip_special_tokens=False``
  (v0.7.5-v0.9.0 ``experience_maker.py``; v0.9.1+ ``utils/agent.py``);
- flags: ``--remote_rm_url`` up to v0.10.1, ``--reward.remote_url`` from
  v0.10.2 (``openrlhf/cli/train_ppo_ray.py``).

Ray's ``ray.remote(f)`` accepts only a function or a class
(``inspect.isfunction`` / ``inspect.isclass`` in ``ray/_private/worker.py``).
"""

import asyncio
import importlib.util
import inspect
from pathlib import Path

import pytest
import torch

import rewardkit.adapters.openrlhf as openrlhf_module
from rewardkit.adapters.openrlhf import OpenRLHFReward
from rewardkit.core import ConfigurationError
from rewardkit.verify import MathVerifier

ROOT = Path(__file__).resolve().parents[3]
SPEC = ROOT / "examples" / "math_reward.toml"
PROMPT = "Solve. Example: <think>1+1</think><answer>2</answer>\nQ: 3+4?\n"
QUERIES = [
    PROMPT + "<think>3+4=7</think><answer>7</answer><|im_end|>",
    PROMPT + "I don't know</s>",
    "<s>" + PROMPT + "<think>3+4</think><answer>8</answer><|endoftext|>",
]
LABELS = ["7", "7", "7"]
# correct + 0.2 format + 0.1 x brevity (-length/200, counted only when correct)
EXPECTED = [1.2 - 0.1 * len("<think>3+4=7</think><answer>7</answer>") / 200, 0.0, 0.2]


def ray_remote_accepts(obj):
    """The check ray.remote makes before wrapping (ray/_private/worker.py)."""
    return inspect.isfunction(obj) or inspect.isclass(obj)


def load_like_openrlhf(path):
    spec = importlib.util.spec_from_file_location("reward_func", path)
    reward_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reward_module)
    return reward_module.reward_func


@pytest.fixture
def spec_in_environment(monkeypatch):
    monkeypatch.setenv("REWARDKIT_SPEC", str(SPEC))
    monkeypatch.setattr(openrlhf_module, "_loaded", None)


def test_the_shipped_file_is_a_remote_reward_for_v08_to_v090(spec_in_environment):
    reward_func = load_like_openrlhf(openrlhf_module.__file__)
    assert ray_remote_accepts(reward_func)
    chunks = [
        reward_func(QUERIES[i : i + 2], [PROMPT] * len(QUERIES[i : i + 2]), LABELS[i : i + 2])
        for i in (0, 2)
    ]
    rewards = torch.cat([torch.as_tensor(chunk["rewards"]) for chunk in chunks])
    assert rewards.tolist() == pytest.approx(EXPECTED)


def test_one_sample_at_a_time_in_a_thread_for_v091_and_later(spec_in_environment):
    reward_func = load_like_openrlhf(openrlhf_module.__file__)

    async def fetch(i):
        info = await asyncio.to_thread(reward_func, QUERIES[i : i + 1], [PROMPT], LABELS[i : i + 1])
        return torch.tensor([info["rewards"]]).flatten()[0].item()

    async def all_samples():
        return await asyncio.gather(*(fetch(i) for i in range(3)))

    assert asyncio.run(all_samples()) == pytest.approx(EXPECTED)


def test_an_answer_followed_by_an_eos_token_is_read():
    reward = OpenRLHFReward(MathVerifier(timeout=5.0, name="correct")).as_function()
    assert ray_remote_accepts(reward)
    out = reward([PROMPT + "The answer is \\boxed{7}<eos>"], [PROMPT], ["7"])
    assert out["rewards"].tolist() == [1.0]


def test_a_query_that_does_not_start_with_its_prompt_is_not_scored():
    reward = OpenRLHFReward(MathVerifier(timeout=5.0, name="correct"))
    # the prompt holds an example answer: scoring the whole query would give 1.0
    out = reward(["Other text " + PROMPT + "I don't know"], [PROMPT], ["2"])
    assert out["rewards"].tolist() == [0.0] and out["extra_logs"]["applicable"].tolist() == [0.0]


def test_the_tokenizers_special_tokens_can_be_given():
    from rewardkit.models.tiny import build_char_tokenizer

    tokenizer = build_char_tokenizer("0123456789")
    reward = OpenRLHFReward(MathVerifier(timeout=5.0), special_tokens=tokenizer)
    assert set(tokenizer.all_special_tokens) <= set(reward.special_tokens)
    with pytest.raises(ConfigurationError, match="special_tokens"):
        OpenRLHFReward(MathVerifier(), special_tokens="</s>")


def test_without_a_spec_the_entry_point_says_what_to_set(monkeypatch):
    monkeypatch.delenv("REWARDKIT_SPEC", raising=False)
    monkeypatch.setattr(openrlhf_module, "_loaded", None)
    with pytest.raises(ConfigurationError, match="REWARDKIT_SPEC"):
        openrlhf_module.reward_func(["q"], ["q"], ["1"])


def test_special_tokens_inside_an_answer_stay():
    from rewardkit.adapters.openrlhf import split_response

    assert split_response("Q: A: use <s>old</s> new</s>", "Q: A: ") == "use <s>old</s> new"
