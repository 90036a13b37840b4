"""Format exploits, length penalties, GRPO-λ, HDPO efficiency, repetition."""

import math

import numpy as np
import pytest

from rewardkit.core import ConfigurationError, column
from rewardkit.verify import (
    CosineLength,
    DapoOverlong,
    LengthLinear,
    RepetitionPenalty,
    ThinkAnswerFormat,
    ToolCallCost,
    efficiency_on_correct,
    grpo_lambda,
    regex_match,
)

FORMAT_EXPLOITS = [
    "<think>a</think><think>b</think><answer>4</answer>",  # several think blocks
    "<think></think><answer>4</answer>",  # empty think
    "<think>   \n </think><answer>4</answer>",  # whitespace-only think
    "<think>a</think><answer></answer>",  # empty answer
    "<think>a</think><answer>4</answer><answer>5</answer>",  # two answers
    "<answer>4</answer><think>a</think>",  # wrong order
    "The answer is 4 <think>a</think><answer>4</answer>",  # text outside the tags
    "<think>a</think><answer>4</answer> I also think 5",  # trailing text
    "<think>a<answer>4</answer></think>",  # answer nested inside think
    "<think>a</think>",  # no answer
    "",  # empty
]


@pytest.mark.parametrize("completion", FORMAT_EXPLOITS)
def test_format_exploits_score_zero(completion):
    assert ThinkAnswerFormat()({"completion": [completion]}).total[0] == 0.0


def test_format_accepts_multiline_content():
    # A regex without DOTALL would reject this legitimate completion.
    good = "<think>line one\nline two\n</think>\n\n<answer>\n4\n</answer>\n"
    assert ThinkAnswerFormat()({"completion": [good]}).total[0] == 1.0
    assert regex_match(r"<think>.+</think>\s*<answer>.+</answer>")({"completion": [good]}).total[0]


def test_linear_and_dapo_by_hand():
    batch = {"completion": ["x" * n for n in (0, 50, 80, 90, 100, 101, 500)]}
    np.testing.assert_allclose(LengthLinear(100)(batch).total, [0, -0.5, -0.8, -0.9, -1, -1, -1])
    # L_max=100, L_cache=20: free up to 80, then (80 - L)/20, then -1
    np.testing.assert_allclose(
        DapoOverlong(100, 20, unit="chars")(batch).total, [0, 0, 0, -0.5, -1, -1, -1]
    )
    tokens = {"completion_ids": [[0] * 90]}
    assert DapoOverlong(100, 20)(tokens).total[0] == -0.5
    with pytest.raises(ConfigurationError):
        DapoOverlong(10, 20)
    with pytest.raises(ConfigurationError, match="unit"):
        LengthLinear(10, unit="bytes")


def test_cosine_length_by_hand_and_ranking():
    reward = CosineLength(column("correct"), max_length=100, unit="chars")
    lengths = [0, 50, 100, 150]
    batch = {
        "completion": ["x" * n for n in lengths] * 2,
        "correct": [1.0] * 4 + [0.0] * 4,
    }
    out = reward(batch).total
    # correct: 1 + 1*(1+cos(pi L/100))/2 -> 2, 1.5, 1, exceed -10
    np.testing.assert_allclose(out[:4], [2.0, 1.5, 1.0, -10.0])
    # wrong: 0 + (-10)(1+cos)/2 -> -10, -5, 0, exceed -10
    np.testing.assert_allclose(out[4:], [-10.0, -5.0, 0.0, -10.0], atol=1e-12)
    within = [0, 1, 2]
    assert out[:4][within].min() >= out[4:][within].max()  # correct always above wrong
    with pytest.raises(ConfigurationError, match="correct_long must exceed"):
        CosineLength(column("correct"), 10, correct_long=0.0, wrong_long=0.0)


def test_naive_penalty_can_rank_wrong_above_correct_but_grpo_lambda_cannot():
    batch = {
        "correct": [1.0, 0.0, 1.0, 1.0],
        "completion": ["x" * 400, "x", "x" * 10, "x" * 20],
        "group": [0, 0, 1, 1],
    }
    naive = column("correct")(batch).total + 2.0 * LengthLinear(200)(batch).total
    assert naive[0] < naive[1]  # long correct (1 - 2 = -1) below short wrong (-0.01)
    gated = grpo_lambda(column("correct"), LengthLinear(200), threshold=0.75)(batch)
    # group 0: ratio 0.5 < 0.75 -> plain 0/1; group 1: ratio 1.0 -> penalty on correct samples
    np.testing.assert_allclose(gated.total, [1.0, 0.0, 1 - 10 / 200, 1 - 20 / 200])
    np.testing.assert_array_equal(gated.terms["switch_on"], [0, 0, 1, 1])


def test_efficiency_counts_only_on_correct_samples():
    batch = {
        "completion": ["<tool_call>x</tool_call>" * k for k in (3, 1, 0, 5)],
        "correct": [1.0, 1.0, 0.0, 0.0],
    }
    out = efficiency_on_correct(column("correct"), ToolCallCost(cost=0.1))(batch)
    np.testing.assert_allclose(out.total, [-0.3, -0.1, np.nan, np.nan])
    from_column = ToolCallCost(cost=1.0)({"completion": ["", ""], "tool_calls": [2, ["a"]]})
    np.testing.assert_allclose(from_column.total, [-2.0, -1.0])


def test_repetition_penalty():
    batch = {"completion": ["the cat sat on the mat", "go go go go go go", "short"]}
    out = RepetitionPenalty(n=2)(batch).total
    assert out[0] == 0.0 and out[2] == 0.0
    assert math.isclose(out[1], -(1 - 1 / 5))


def test_a_numeric_gold_answer_is_compared_as_a_number():
    from rewardkit.verify import exact_match

    term = exact_match(extract=r"<answer>(.*?)</answer>")
    batch = {
        "completion": [f"<answer>{a}</answer>" for a in ("42", "42.0", "43", "forty-two", "1")],
        "answer": [42.0, 42, 42.0, 42.0, True],  # as JSON gives them; a bool is not a number
    }
    assert term(batch).total.tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]
