"""The answer of a chat completion is the assistant's; terms that score tool turns opt out."""

import threading

import numpy as np
import pytest

from rewardkit.core import term, weighted_sum
from rewardkit.core.coalesce import Coalescer
from rewardkit.core.messages import answer_text, mark_unanswered, unanswered_reason
from rewardkit.core.output import RewardOutput
from rewardkit.verify import MathVerifier, ThinkAnswerFormat
from rewardkit.verify.efficiency import ToolCallCost

CUT = [
    {"role": "assistant", "content": "", "tool_calls": [{"id": "c1"}, {"id": "c2"}]},
    {"role": "tool", "content": "42"},
]


def test_the_answer_is_the_last_assistant_message_and_a_tool_result_is_none():
    assert (
        answer_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
        == "a"
    )
    assert answer_text(CUT) == ""
    assert "'tool' message" in unanswered_reason(CUT)
    assert unanswered_reason([{"content": "4"}]) is None  # no role: the model's own text


def test_marking_keeps_timeouts_and_errors_and_blanks_every_part():
    out = RewardOutput(np.array([1.0, np.nan]), {"p": np.array([1.0, 2.0])},
                       np.array([0, 2], np.int8))  # fmt: skip
    marked = mark_unanswered(out, [CUT, CUT])
    assert marked.status.tolist() == [1, 2] and np.isnan(marked.terms["p"]).all()


def test_a_term_that_counts_tool_calls_scores_a_cut_off_rollout():
    assert ToolCallCost(cost=0.5)({"completion": [CUT]}).total.tolist() == [-1.0]

    @term(per_sample=True, needs_answer=False)
    def tool_messages(completion):
        return sum(m["role"] == "tool" for m in completion)

    @term(per_sample=True)
    def answer_length(completion):
        return len(answer_text(completion))

    assert tool_messages({"completion": [CUT]}).total.tolist() == [1.0]
    assert np.isnan(answer_length({"completion": [CUT]}).total[0])
    mixed = weighted_sum([MathVerifier(timeout=5.0), ToolCallCost()], [1.0, 1.0], skip_missing=True)
    out = mixed({"completion": [CUT], "answer": ["42"]})
    assert np.isnan(out.terms["math_correct"][0]) and out.terms["tool_call_cost"][0] == -0.2
    both = weighted_sum([MathVerifier(timeout=5.0), ThinkAnswerFormat()], [1.0, 0.2])
    assert np.isnan(both({"completion": [CUT], "answer": ["42"]}).total[0])


def test_a_gsm8k_marker_never_overrides_a_boxed_answer():
    verifier = MathVerifier(timeout=5.0)
    batch = {"completion": ["\\boxed{5}.\n#### 2. Check\nDone", "so\n#### 5\nDone"],
             "answer": ["5", "5"], "data_source": ["math", None]}  # fmt: skip
    assert verifier(batch).total.tolist() == [1.0, 1.0]


def test_an_interrupt_in_the_scorer_fails_every_waiter():
    entered, release = threading.Event(), threading.Event()

    def run(requests):
        entered.set()
        release.wait(5)
        raise KeyboardInterrupt

    coalescer = Coalescer(run)
    errors = []

    def call():
        try:
            coalescer(1)
        except BaseException as exc:
            errors.append(type(exc).__name__)

    leader = threading.Thread(target=call)
    leader.start()
    entered.wait(5)
    follower = threading.Thread(target=call)
    follower.start()
    while not coalescer._waiting:
        pass
    release.set()
    leader.join(5)
    follower.join(5)
    assert not follower.is_alive() and errors == ["KeyboardInterrupt", "KeyboardInterrupt"]


def test_term_needs_answer_survives_pickling():
    import pickle

    tool_only = term(lambda completion: [0.0] * len(completion), name="t", needs_answer=False)
    assert pickle.loads(pickle.dumps(ToolCallCost())).needs_answer is False
    assert tool_only.needs_answer is False


@pytest.mark.parametrize("gold", [("1", "2"), ["1", "2"]])
def test_lists_and_tuples_of_golds_are_accepted_answers(gold):
    assert (
        MathVerifier(timeout=5.0)({"completion": ["\\boxed{2}"], "answer": [gold]}).total[0] == 1.0
    )
