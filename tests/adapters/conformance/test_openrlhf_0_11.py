"""OpenRLHF 0.11.x loads and calls rewardkit's reward file as its own code does (0.11.2).

From OpenRLHF 0.11.2's wheel, ``openrlhf/utils/agent.py``:

- ``SingleTurnAgentExecutor.__init__`` (l.191-205): ``--reward.remote_url`` names
  a ``.py`` file, loaded with ``spec_from_file_location("reward_func", path)``
  in each rollout actor, not put in ``sys.modules``;
- ``_fetch_rewards_via_func`` (l.308-325): ``asyncio.to_thread(reward_func,
  [query], [prompt], [label])``, one sample per call, every sample of the
  rollout at once, no semaphore; ``execute`` (l.286-304) catches an exception,
  logs it at INFO and leaves the reward ``None`` (training then crashes);
- ``trainer/ppo_utils/samples_generator.py`` l.283-293: ``extra_logs`` values
  become ``flatten()[0].item()``, and every sample needs the same keys.

Where OpenRLHF is installed (``make conformance``: ``openrlhf==0.11.2
--no-deps`` in ``.venv-verl``), the first test drives its own executor.
"""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rewardkit.adapters.openrlhf import OpenRLHFReward
from rewardkit.core import ConfigurationError, RewardTerm, weighted_sum
from rewardkit.verify import MathVerifier, ThinkAnswerFormat

ROOT = Path(__file__).resolve().parents[3]
SPEC = ROOT / "examples" / "math_reward.toml"

FIRST_CALLS = r"""
import asyncio, importlib.util, sys
import rewardkit.adapters.openrlhf as adapter
path = adapter.__file__
PROMPT = "<|im_start|>user\nWhat is 3+4?<|im_end|>\n<|im_start|>assistant\n"
answers = ["<think>3+4</think><answer>7</answer>", "<think>3+4</think><answer>8</answer>",
           "no idea"] * 6
try:
    from openrlhf.utils.agent import SingleTurnAgentExecutor
except ImportError:
    SingleTurnAgentExecutor = None
if SingleTurnAgentExecutor is not None:  # OpenRLHF's own loader and caller
    executor = SingleTurnAgentExecutor([path])
    async def one(answer):
        return (await executor._fetch_rewards_via_func([PROMPT + answer + "<|im_end|>"],
                                                       [PROMPT], ["7"]))[0]
    print("caller: openrlhf", flush=True)
else:  # the same steps, reproduced
    spec = importlib.util.spec_from_file_location("reward_func", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    async def one(answer):
        return await asyncio.to_thread(module.reward_func, [PROMPT + answer + "<|im_end|>"],
                                       [PROMPT], ["7"])
    print("caller: reproduced", flush=True)
async def rollout():
    return await asyncio.gather(*(one(a) for a in answers), return_exceptions=True)
results = asyncio.run(rollout())
failed = [repr(r)[:120] for r in results if isinstance(r, BaseException)]
print("failed", len(failed), failed[:2])
rewards = [round(float(r["rewards"].flatten()[0]), 4) for r in results if isinstance(r, dict)]
print("rewards", rewards[:3])
keys = {tuple(sorted(r["extra_logs"])) for r in results if isinstance(r, dict)}
print("key sets", len(keys))
sys.exit(1 if failed or len(keys) != 1 else 0)
"""


def test_the_first_calls_from_many_threads_in_a_fresh_process_all_score():
    """Before: 5 of 6 rewards None (SpecError: no term named 'math_correct')."""
    pytest.importorskip("math_verify")  # the fresh process verifies math (the llm extra)
    env = {**os.environ, "REWARDKIT_SPEC": str(SPEC)}
    done = subprocess.run(
        [sys.executable, "-c", FIRST_CALLS], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    correct = 1.2 - 0.1 * len("<think>3+4</think><answer>7</answer>") / 200
    assert f"rewards [{round(correct, 4)}, 0.2, 0.0]" in done.stdout, done.stdout


class Explodes(RewardTerm):
    columns = ("completion",)

    def _compute(self, batch):
        if any("boom" in c for c in batch["completion"]):
            raise RuntimeError("boom")
        return [1.0] * len(batch["completion"])


def test_a_failing_batch_is_an_error_per_sample_never_a_raise():
    reward = OpenRLHFReward(weighted_sum([Explodes(name="part")], [1.0]), coalesce=False)
    good = reward(["Q: A: fine"], ["Q: A: "], ["x"])
    with pytest.warns(UserWarning, match="scoring 1 samples failed"):
        bad = reward(["Q: A: boom"], ["Q: A: "], ["x"])
    assert bad["rewards"].tolist() == [0.0]
    assert bad["extra_logs"]["error"].tolist() == [1.0]
    assert bad["extra_logs"]["applicable"].tolist() == [0.0]
    assert sorted(bad["extra_logs"]) == sorted(good["extra_logs"])  # OpenRLHF needs the same keys


def test_missing_is_flagged_beside_the_filled_value():
    reward = OpenRLHFReward(
        weighted_sum(
            [MathVerifier(timeout=5.0, no_answer="skip", name="correct"), ThinkAnswerFormat()],
            [1.0, 0.2],
        )
    )
    out = reward(["Q: A: no idea</s>"], ["Q: A: "], ["7"])
    logs = {k: v.tolist() for k, v in out["extra_logs"].items()}
    assert logs["correct"] == [0.0] and logs["correct/applicable"] == [0.0]
    assert logs["timeout"] == [0.0] and logs["error"] == [0.0]


def test_concurrent_one_sample_calls_are_scored_in_few_batches():
    reward = OpenRLHFReward(MathVerifier(timeout=5.0, name="correct"))

    async def rollout():
        def call(i):
            return reward([f"Q: A: \\boxed{{{i}}}</s>"], ["Q: A: "], [str(i % 2)])

        return await asyncio.gather(*(asyncio.to_thread(call, i) for i in range(64)))

    results = asyncio.run(rollout())
    assert [r["rewards"].tolist() for r in results] == [[float(i in (0, 1))] for i in range(64)]
    assert reward._coalescer is not None and reward._coalescer.batches < 64


def test_a_term_may_not_take_openrlhfs_own_log_keys():
    with pytest.raises(ConfigurationError, match="reward"):
        OpenRLHFReward(weighted_sum([MathVerifier(name="reward")], [1.0]))


def test_the_docs_name_the_current_flag():
    for path in [ROOT / "README.md", *sorted((ROOT / "examples").rglob("*.py")),
                 ROOT / "src" / "rewardkit" / "adapters" / "openrlhf.py"]:  # fmt: skip
        for line in path.read_text().splitlines():
            if "--remote_rm_url" in line:
                assert "0.10.1" in line, f"{path.name}: {line.strip()}"


def test_a_sample_without_a_gold_is_flagged_not_scored_zero():
    out = OpenRLHFReward(MathVerifier(timeout=5.0, name="correct"))(
        ["Q: A: \\boxed{1}"], ["Q: A: "], [None]
    )
    assert out["extra_logs"]["applicable"].tolist() == [0.0]
    assert np.isfinite(out["rewards"].numpy()).all()


def test_one_bad_request_in_a_merged_call_fails_only_itself():
    reward = OpenRLHFReward(weighted_sum([Explodes(name="part")], [1.0]))
    requests = [(["Q: A: fine"], ["Q: A: "], ["x"]), (["Q: A: boom"], ["Q: A: "], ["x"])]
    results = reward._score_requests(requests)
    assert [r["extra_logs"]["error"].tolist() for r in results] == [[0.0], [1.0]]
    assert results[0]["rewards"].tolist() == [1.0]
