"""The lab's arithmetic tasks: v1 sums and v2 additions with carries."""

import numpy as np
import pytest

from rewardkit_bench.tasks.arithmetic import (
    ArithmeticAnswer,
    make_carry_problems,
    sft_completion,
    task_problems,
)
from rewardkit_bench.warmstart import WarmStartSpec


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


def test_the_column_sums_of_every_problem_imply_its_answer():
    from rewardkit_bench.tasks.arithmetic import implied_answer, make_carry_problems

    problems = make_carry_problems(300, seed=3)
    assert all(implied_answer(p["partial_sums"]) == p["answer"] for p in problems)
    assert implied_answer(["1x"]) is None and implied_answer([]) is None


def test_the_step_check_follows_a_worked_completion_step_by_step():
    from rewardkit_bench.tasks.arithmetic import StepCheck, make_carry_problems, sft_completion

    problem = make_carry_problems(1, seed=0)[0]  # 964+494=: 8,15,14>1458
    text = sft_completion(problem, "steps")
    prefixes = [text[:i] for i in range(1, len(text) + 1)]
    batch = {
        "completion": prefixes,
        "partial_sums": [problem["partial_sums"]] * len(prefixes),
        "answer": [problem["answer"]] * len(prefixes),
        "partial": [True] * (len(prefixes) - 1) + [False],
    }
    scores = StepCheck()(batch).total
    assert np.all(np.diff(scores) >= 0) and scores[-1] == 1.0  # never falls on the right path
    wrong = dict(batch, completion=["8,16,", "8,15,14>15"], partial=[True, True])
    wrong = {k: v[:2] if isinstance(v, list) else v for k, v in wrong.items()}
    assert StepCheck()(wrong).total.tolist() == [pytest.approx(1 / 3), 0.0]
