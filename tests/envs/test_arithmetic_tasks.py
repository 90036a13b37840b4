"""The lab's arithmetic tasks: v1 sums and v2 additions with carries."""

import pytest

from rewardkit.bench.warmstart import WarmStartSpec
from rewardkit.envs.arithmetic import (
    ArithmeticAnswer,
    make_carry_problems,
    sft_completion,
    task_problems,
)


def test_carry_steps_are_the_column_sums_from_the_units_up():
    for problem in make_carry_problems(200, seed=3):
        a, b = (int(x) for x in problem["prompt"][:-1].split("+"))
        assert 100 <= a <= 999 and 100 <= b <= 999 and int(problem["answer"]) == a + b
        carry, digits = 0, []
        for index, column in enumerate(problem["partial_sums"]):
            x, y = (a // 10**index) % 10, (b // 10**index) % 10
            assert int(column) == x + y + carry
            digits.append(int(column) % 10)
            carry = int(column) // 10
        answer_from_steps = int(str(carry) + "".join(map(str, reversed(digits))))
        assert answer_from_steps == a + b  # the answer can be read off the steps


def test_every_style_is_scored_right():
    problem = make_carry_problems(1, seed=0)[0]
    completions = [sft_completion(problem, style) for style in ("direct", "steps", "restated")]
    out = ArithmeticAnswer()({"completion": completions, "answer": [problem["answer"]] * 3})
    assert out.total.tolist() == [1.0, 1.0, 1.0]


def test_tasks_by_name_and_warm_start_keys():
    assert task_problems("sums", 2, seed=0) == task_problems("sums", 2, seed=0)
    assert task_problems("carries", 1, seed=0)[0]["prompt"] == "964+494="
    with pytest.raises(ValueError, match="unknown task"):
        task_problems("calculus", 1, seed=0)
    # v1 warm starts keep their cache key; v2 gets its own
    assert WarmStartSpec().key() != WarmStartSpec(task="carries").key()
    assert WarmStartSpec(task="sums").key() == WarmStartSpec().key()
