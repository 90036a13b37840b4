"""reasoning-gym's chain_sum as a lab task: the problems are reasoning-gym's, the running results
are computed right, and the gold is reasoning-gym's own scorer."""

import pickle

import numpy as np
import pytest
import reasoning_gym

from rewardkit_bench.tasks.arithmetic import StepCheck, task_alphabet, task_problems
from rewardkit_bench.tasks.chain_sum import ReasoningGymAnswer, _running_results


def test_problems_are_reasoning_gyms_in_compact_form():
    problems = task_problems("chain_sum", 50, seed=5)
    settings = {"min_terms": 3, "max_terms": 3, "min_digits": 1, "max_digits": 2}
    entries = list(reasoning_gym.create_dataset("chain_sum", size=50, seed=5, **settings))
    for problem, entry in zip(problems, entries, strict=True):
        assert problem["prompt"] == entry["metadata"]["expression"].replace(" ", "") + "="
        assert problem["answer"] == entry["answer"] == problem["partial_sums"][-1]
        assert set(problem["prompt"]) <= set(task_alphabet("chain_sum"))
    # the running results, by hand
    assert _running_results("98 + 93 - 77") == ["191", "114"]
    assert _running_results("4 - 1 - 7") == ["3", "-4"]
    with pytest.raises(ValueError, match="unknown operator"):
        _running_results("4 * 2")


def test_the_gold_is_reasoning_gyms_scorer():
    problems = task_problems("chain_sum", 30, seed=1)
    score = reasoning_gym.get_score_answer_fn("chain_sum")
    gold = ReasoningGymAnswer()
    completions, expected = [], []
    for index, problem in enumerate(problems):
        answer = problem["answer"] if index % 2 == 0 else str(int(problem["answer"]) + 1)
        completions.append(",".join(problem["partial_sums"]) + ">" + answer)
        expected.append(score(answer, problem["entry"]))
    batch = {"completion": completions, "entry": [p["entry"] for p in problems]}
    out = gold(batch).total
    np.testing.assert_array_equal(out, expected)
    assert out[0] == 1.0 and out[1] == 0.0
    assert gold({"completion": ["12,13"], "entry": [problems[0]["entry"]]}).total[0] == 0.0
    clone = pickle.loads(pickle.dumps(gold))
    np.testing.assert_array_equal(clone(batch).total, out)


def test_the_step_check_reads_negative_running_results():
    batch = {"completion": ["3,-4>-4", "3,-", "3,-5,", "3,-4>-"],
             "partial_sums": [["3", "-4"]] * 4, "answer": ["-4"] * 4,
             "partial": [False, True, True, True]}  # fmt: skip
    assert StepCheck()(batch).total.tolist() == [1.0, 0.5, 0.5, 1.0]
