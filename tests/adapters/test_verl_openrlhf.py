import inspect

import pytest
import torch

from rewardkit.adapters.openrlhf import OpenRLHFReward
from rewardkit.adapters.verl import VerlReward
from rewardkit.core import weighted_sum
from rewardkit.verify import MathVerifier, ThinkAnswerFormat


@pytest.fixture(scope="module")
def reward():
    # no_answer="skip": a completion without an answer is not applicable, the path under test
    verifier = MathVerifier(timeout=5.0, no_answer="skip", name="correct")
    return weighted_sum(
        [verifier, ThinkAnswerFormat(name="format")],
        [1.0, 0.5],
        name="reward",
    )


def test_verl_signature_and_dict(reward):
    compute_score = VerlReward(reward)
    params = list(inspect.signature(compute_score).parameters)
    assert params[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    good = compute_score("math", "<think>x</think><answer>\\boxed{3}</answer>", "3", {"idx": 1})
    assert good["score"] == 1.5 and good["applicable"] == 1.0 and good["status"] == "OK"
    assert good["correct"] == 1.0 and good["format"] == 1.0
    missing = compute_score("math", "I give up", "3", None)
    assert missing["score"] == 0.0 and missing["applicable"] == 0.0
    assert missing["status"] == "NOT_APPLICABLE" and missing["correct"] == 0.0
    assert missing["correct_applicable"] == 0.0 and missing["format_applicable"] == 1.0
    assert set(good) == set(missing)  # verl needs the same keys for every sample
    gave_up = VerlReward(MathVerifier(timeout=5.0))("math", "I give up", "3", None)
    assert gave_up["score"] == 0.0 and gave_up["applicable"] == 1.0  # the default scores it 0


def test_verl_batch_mode(reward):
    compute_score = VerlReward(reward, not_applicable_score=-1.0)
    results = compute_score(
        data_sources=["a", "b"],
        solution_strs=["\\boxed{1}", "none"],
        ground_truths=["1", "2"],
        extra_infos=[None, {"split": "train"}],
    )
    assert [r["score"] for r in results] == [1.0, -1.0]


def test_openrlhf_reward_func(reward):
    reward_func = OpenRLHFReward(reward)
    out = reward_func(
        queries=["Q1 <think>x</think><answer>\\boxed{3}</answer>", "Q2 nothing"],
        prompts=["Q1 ", "Q2 "],
        labels=["3", "4"],
    )
    assert isinstance(out["rewards"], torch.Tensor)
    assert out["rewards"].tolist() == [1.5, 0.0]
    assert out["extra_logs"]["applicable"].tolist() == [1.0, 0.0]
    assert set(out["extra_logs"]) == {
        "correct", "correct/applicable", "format", "format/applicable",
        "applicable", "timeout", "error",
    }  # fmt: skip
