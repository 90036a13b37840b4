"""The BR-RM-style two-turn judge against a scripted server: turn 2 carries turn 1, strict
reading of both turns, failures as statuses, both orders, usage and the cache."""

from __future__ import annotations

import math
import pickle
import re
import time

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import Status
from rewardkit.judge import JudgeSettings, PromptTemplate
from rewardkit.judge.parse import UnparseableAnswerError
from rewardkit.judge.two_turn import (
    DIMENSIONS,
    BranchRethinkStyleJudge,
    parse_branches,
    parse_two_turn_verdict,
)
from tests.judge.conftest import chat, error, fake_settings

NOWHERE = JudgeSettings(model="m", base_url="http://127.0.0.1:9/v1")  # never called
RANK = {"great": 3, "fine": 2, "poor": 1}
TURN_ONE = "Dimensions: computation, logic\nResponse A: may misadd {a}\nResponse B: may skip {b}"


def _shown(body) -> tuple[str, str]:
    text = body["messages"][1]["content"]  # turn 1's user message, in both turns' requests
    found = re.search(r"Response A:\n(.*?)\n\nResponse B:\n(.*?)\n\n", text, re.S)
    assert found, text
    return found.group(1), found.group(2)


def _turn(body) -> int:
    return 1 if len(body["messages"]) == 2 else 2


def _fair(body, first: str = TURN_ONE):
    """Turn 1 names the pair it saw; turn 2 prefers the better response where it is shown."""
    a, b = _shown(body)
    if _turn(body) == 1:
        return chat(first.format(a=a, b=b))
    return chat("A is off.\nVerdict: [[A]]" if RANK[a] > RANK[b] else "Verdict: [[B]]")


def _group(*completions: str, prompt: str = "What is 2+2?") -> dict:
    return {"prompt": [prompt] * len(completions), "completion": list(completions)}


# -- the two turns ---------------------------------------------------------------------------


def test_turn_two_continues_the_conversation_with_turn_ones_answer(fake):
    fake.answer = _fair
    judge = BranchRethinkStyleJudge(fake_settings(fake))
    out = judge(_group("fine", "great"))
    np.testing.assert_array_equal(out.total, [0.0, 1.0])
    assert (out.status == Status.OK).all() and out.messages == (None, None)
    bodies = fake.bodies()
    firsts = [b for b in bodies if _turn(b) == 1]
    seconds = [b for b in bodies if _turn(b) == 2]
    assert len(firsts) == len(seconds) == 2  # both orders, two turns each
    for second in seconds:
        a, b = _shown(second)
        (first,) = [f for f in firsts if _shown(f) == (a, b)]
        assert second["messages"][:2] == first["messages"]
        assert second["messages"][2] == {"role": "assistant", "content": TURN_ONE.format(a=a, b=b)}
        rethink = second["messages"][3]
        assert rethink["role"] == "user" and "(computation, logic)" in rethink["content"]
        assert "Verdict: [[A]]" in rethink["content"]
    prompt = firsts[0]["messages"][1]["content"]
    assert "Question:\nWhat is 2+2?" in prompt and "at most 3 dimensions" in prompt
    assert all(f"- {name}: {text}" in prompt for name, text in DIMENSIONS.items())


def test_the_chosen_dimensions_are_logged_per_row(fake):
    def answer(body):
        a, _ = _shown(body)
        if _turn(body) == 2:
            return _fair(body)
        chosen = "computation" if a == "great" else "logic, Completeness"
        return chat(f"Dimensions: {chosen}\nResponse A: ?\nResponse B: ?")

    fake.answer = answer
    out = BranchRethinkStyleJudge(fake_settings(fake))(_group("fine", "great"))
    assert {k for k in out.terms if k.startswith("branch.")} == {f"branch.{d}" for d in DIMENSIONS}
    # one order chose computation, the other logic and completeness: half each, per row
    shares = {"computation": 0.5, "logic": 0.5, "completeness": 0.5, "safety": 0.0}
    for name, share in shares.items():
        np.testing.assert_array_equal(out.terms[f"branch.{name}"], [share, share])


def test_each_turn_gets_its_own_token_budget(fake):
    fake.answer = _fair
    BranchRethinkStyleJudge(fake_settings(fake), max_tokens=(96, 24))(_group("fine", "great"))
    budgets = {(_turn(b), b["max_tokens"]) for b in fake.bodies()}
    assert budgets == {(1, 96), (2, 24)}


def test_each_conversation_keeps_its_turns_dimensions_and_verdict(fake):
    def answer(body):
        return (
            chat("Verdict: maybe") if _shown(body)[1] == "?" and _turn(body) == 2 else _fair(body)
        )

    fake.answer = answer
    judge = BranchRethinkStyleJudge(fake_settings(fake))
    done, failed = judge.converse_all([("q", "great", "poor"), ("q", "fine", "?")])
    assert done.winner == "A" and done.failure is None
    assert done.dimensions == ("computation", "logic")
    assert done.turns == (TURN_ONE.format(a="great", b="poor"), "A is off.\nVerdict: [[A]]")
    assert failed.winner is None and failed.dimensions == ("computation", "logic")
    assert failed.failure.reason.startswith("unparseable turn 2") and len(failed.turns) == 2
    assert judge.converse_all([]) == []


# -- reading the answers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dimensions: computation", ("computation",)),
        ("Dimensions: Computation, LOGIC.\nResponse A: ...", ("computation", "logic")),
        (
            "**Dimensions:** instruction following; completeness",
            ("instruction_following", "completeness"),
        ),
        (
            "I look first.\n- Dimensions: logic (steps follow) and factuality",
            ("logic", "factuality"),
        ),
        ("Dimension: instruction-following, logic, logic", ("instruction_following", "logic")),
    ],
)
def test_turn_one_is_read_from_its_dimensions_line(text, expected):
    assert parse_branches(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Response A is wrong, B is right.", "no 'Dimensions:' line"),
        ("Dimensions: computation, style", "chose 'style', not one of the dimensions"),
        ("Dimensions: <names from the list, separated by commas>", "not one of the dimensions"),
        ("Dimensions: computation, logic, factuality, clarity", "4 dimensions, more than 3"),
        ("Dimensions: ", "named no dimension"),
        ("I'm sorry, I can't judge this.\nDimensions: logic", "the judge refused"),
    ],
)
def test_an_unreadable_turn_one_raises_with_the_reason(text, reason):
    with pytest.raises(UnparseableAnswerError, match=re.escape(reason)):
        parse_branches(text)


def test_turn_one_is_checked_against_the_judges_own_list():
    assert parse_branches("Dimensions: tone", ["tone", "facts"], most=1) == ("tone",)
    with pytest.raises(UnparseableAnswerError, match="more than 1"):
        parse_branches("Dimensions: tone, facts", ["tone", "facts"], most=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Verdict: [[A]]", "A"),
        ("[[b]]", "B"),
        ("A adds 2 and 2 to 5, which my hypothesis predicted.\n**Verdict:** [[ B ]]", "B"),
        ("Verdict: [[A]]. So [[A]] it is.", "A"),
    ],
)
def test_turn_two_verdicts_are_read(text, expected):
    assert parse_two_turn_verdict(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Response A is better.", "states no [[A]] or [[B]]"),
        ("A", "states no [[A]] or [[B]]"),
        ("Verdict: [[tie]]", "states no [[A]] or [[B]]"),
        ("Verdict: [[A]]... no, [[B]]", "states both [[A]] and [[B]]"),
        ("I'm sorry, I cannot judge this. [[A]]", "the judge refused"),
    ],
)
def test_an_unreadable_turn_two_raises_with_the_reason(text, reason):
    with pytest.raises(UnparseableAnswerError, match=re.escape(reason)):
        parse_two_turn_verdict(text)


# -- failures are statuses, never scores ---------------------------------------------------------


def test_a_malformed_turn_one_fails_the_pair_and_sends_no_turn_two(fake):
    fake.answer = lambda body: chat("Both look fine to me.")
    out = BranchRethinkStyleJudge(fake_settings(fake))(_group("fine", "great"))
    assert np.isnan(out.total).all() and (out.status == Status.ERROR).all()
    assert all(m.startswith("unparseable turn 1: no 'Dimensions:' line") for m in out.messages)
    assert fake.calls == 2 and all(_turn(b) == 1 for b in fake.bodies())
    assert np.isnan(out.terms["branch.logic"]).all() and np.isnan(out.terms["position_bias"]).all()


def test_a_malformed_turn_two_fails_the_pair_after_two_turns(fake):
    fake.answer = lambda body: _fair(body) if _turn(body) == 1 else chat("Response B is better.")
    judge = BranchRethinkStyleJudge(fake_settings(fake))
    out = judge(_group("fine", "great"))
    assert np.isnan(out.total).all() and (out.status == Status.ERROR).all()
    assert all(m.startswith("unparseable turn 2: turn 2 states no") for m in out.messages)
    assert fake.calls == 4
    np.testing.assert_array_equal(out.terms["branch.logic"], [1.0, 1.0])  # turn 1 was read
    assert judge.update({})["calls"] == 4 and judge.update({})["failures"] == 0


def test_a_failed_call_in_either_turn_is_that_turns_status(fake):
    fake.answer = lambda body: error(500) if _turn(body) == 1 else _fair(body)
    out = BranchRethinkStyleJudge(fake_settings(fake))(_group("fine", "great"))
    assert (out.status == Status.ERROR).all()
    assert all(m.startswith("turn 1: the server answered HTTP 500") for m in out.messages)

    fake.answer = lambda body: error(503) if _turn(body) == 2 else _fair(body)
    out = BranchRethinkStyleJudge(fake_settings(fake))(_group("fine", "great"))
    assert (out.status == Status.ERROR).all() and np.isnan(out.total).all()
    assert all(m.startswith("turn 2: the server answered HTTP 503") for m in out.messages)


def test_a_slow_turn_two_is_a_timeout(fake):
    def answer(body):
        if _turn(body) == 2:
            time.sleep(1.0)
        return _fair(body)

    fake.answer = answer
    out = BranchRethinkStyleJudge(fake_settings(fake, deadline_s=0.3))(_group("fine", "great"))
    assert (out.status == Status.TIMEOUT).all() and np.isnan(out.total).all()
    assert all(m.startswith("turn 2: no answer within deadline_s=0.3") for m in out.messages)


def test_one_failed_order_fails_the_pair_and_only_the_rows_it_involved(fake):
    def answer(body):
        a, b = _shown(body)
        if (a, b) == ("poor", "fine") and _turn(body) == 2:
            return chat("No idea.")
        return _fair(body)

    fake.answer = answer
    out = BranchRethinkStyleJudge(fake_settings(fake))(_group("fine", "great", "poor"))
    # great beat both; fine and poor lost their one comparison to a failed order
    assert out.total[1] == 1.0 and out.status[1] == Status.OK
    for row in (0, 2):
        assert math.isnan(out.total[row]) and out.status[row] == Status.ERROR
        assert out.messages[row].startswith("unparseable turn 2")


# -- positions -----------------------------------------------------------------------------------


def test_both_orders_are_judged_and_averaged(fake):
    fake.answer = _fair
    out = BranchRethinkStyleJudge(fake_settings(fake))(_group("fine", "great", "poor"))
    np.testing.assert_array_equal(out.total, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(out.terms["position_bias"], [0.0, 0.0, 0.0])
    orders = sorted(_shown(b) for b in fake.bodies() if _turn(b) == 1)
    assert orders == sorted((x, y) for x in RANK for y in RANK if x != y)
    assert fake.calls == 3 * 2 * 2  # three pairs, two orders, two turns


def test_a_judge_that_always_picks_the_first_shown_gives_no_signal(fake):
    fake.answer = lambda body: _fair(body) if _turn(body) == 1 else chat("Verdict: [[A]]")
    out = BranchRethinkStyleJudge(fake_settings(fake))(_group("fine", "great", "poor"))
    np.testing.assert_array_equal(out.total, [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(out.terms["position_bias"], [1.0, 1.0, 1.0])


def test_one_order_against_a_baseline_shows_the_completion_as_a(fake):
    fake.answer = _fair
    batch = {
        "prompt": ["p", "p", "p"],
        "completion": ["great", "poor", "fine"],
        "baseline": ["fine", "fine", None],
    }
    out = BranchRethinkStyleJudge(fake_settings(fake), swap=False)(batch)
    np.testing.assert_array_equal(out.total[:2], [1.0, 0.0])
    assert out.status[2] == Status.NOT_APPLICABLE and "no other completion" in out.messages[2]
    assert "position_bias" not in out.terms
    assert sorted(_shown(b) for b in fake.bodies() if _turn(b) == 1) == [
        ("great", "fine"),
        ("poor", "fine"),
    ]


# -- usage, cache, settings ---------------------------------------------------------------------


def test_usage_is_counted_and_both_turns_are_cached(fake, tmp_path):
    fake.answer = _fair
    judge = BranchRethinkStyleJudge(fake_settings(fake, cache_dir=str(tmp_path)))
    first = judge(_group("fine", "great"))
    usage = judge.update({})
    assert usage["calls"] == 4 and usage["cache_hits"] == 0 and usage["prompt_tokens"] == 40
    again = judge(_group("fine", "great"))
    np.testing.assert_array_equal(again.total, first.total)
    assert judge.update({})["cache_hits"] == 4 and fake.calls == 4


def test_the_judge_pickles_and_scores_the_same(fake):
    fake.answer = _fair
    judge = BranchRethinkStyleJudge(fake_settings(fake))
    clone = pickle.loads(pickle.dumps(judge))
    np.testing.assert_array_equal(clone(_group("fine", "great")).total, [0.0, 1.0])


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"most": 0}, "most must be between 1 and 8"),
        ({"most": 9}, "most must be between 1 and 8"),
        ({"dimensions": {"only": "one"}}, "at least two dimensions"),
        ({"dimensions": {"a b": "x", "c": "y"}}, "invalid term name"),
        ({"max_tokens": (64,)}, "max_tokens must be"),
        ({"max_tokens": (64, 0)}, "max_tokens must be"),
        ({"first": PromptTemplate("Is {response} right?")}, "response"),
        ({"second": PromptTemplate("Recheck {criteria}.")}, "criteria"),
    ],
)
def test_settings_that_cannot_work_fail_when_built(options, match):
    with pytest.raises(ConfigurationError, match=match):  # a bad name: its subclass
        BranchRethinkStyleJudge(NOWHERE, **options)
