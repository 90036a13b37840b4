"""Pairwise (both orders) and group judges: hand-computed win rates, mechanics on a real server."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import Status
from rewardkit.judge import GroupJudge, JudgeSettings, PairwiseJudge, PromptTemplate
from rewardkit.judge.comparative import groups_of
from tests.judge.conftest import chat, error, fake_settings

RANK = {"great": 3, "fine": 2, "poor": 1}


def _shown(body) -> tuple[str, str]:
    text = body["messages"][-1]["content"]
    found = re.search(r"Response A:\n(.*?)\n\nResponse B:\n(.*?)\n\n", text, re.S)
    assert found, text
    return found.group(1), found.group(2)


def _fair(body):
    """Prefers the better response wherever it is shown."""
    a, b = _shown(body)
    return chat("[[A]]" if RANK[a] > RANK[b] else "[[B]]" if RANK[b] > RANK[a] else "[[tie]]")


def _group(*completions: str, prompt: str = "Write a haiku.") -> dict:
    return {"prompt": [prompt] * len(completions), "completion": list(completions)}


# -- pairwise --------------------------------------------------------------------------------


def test_pairwise_is_the_mean_win_rate_within_the_group(fake):
    fake.answer = _fair
    judge = PairwiseJudge(fake_settings(fake))
    out = judge(_group("fine", "great", "poor"))
    # great beats both (1.0), fine beats poor and loses to great (0.5), poor loses both (0.0)
    np.testing.assert_array_equal(out.total, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(out.terms["position_bias"], [0.0, 0.0, 0.0])
    assert (out.status == Status.OK).all() and set(out.terms) == {"judge_pairwise", "position_bias"}
    assert fake.calls == 3 * 2  # three pairs, both orders
    orders = sorted(_shown(body) for body in fake.bodies())
    assert orders == sorted([(x, y) for x in RANK for y in RANK if x != y])


def test_a_judge_that_always_prefers_the_first_shown_gives_no_reward_signal(fake):
    fake.answer = lambda body: chat("[[A]]")
    out = PairwiseJudge(fake_settings(fake))(_group("fine", "great", "poor"))
    np.testing.assert_array_equal(out.total, [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(out.terms["position_bias"], [1.0, 1.0, 1.0])


def test_ties_are_half_a_win_and_not_position_bias(fake):
    fake.answer = lambda body: chat("[[tie]]")
    out = PairwiseJudge(fake_settings(fake))(_group("fine", "great"))
    np.testing.assert_array_equal(out.total, [0.5, 0.5])
    np.testing.assert_array_equal(out.terms["position_bias"], [0.0, 0.0])


def test_without_swap_one_order_decides(fake):
    fake.answer = lambda body: chat("[[A]]")
    out = PairwiseJudge(fake_settings(fake), swap=False)(_group("poor", "great"))
    # the pair is shown once, poor as A: poor wins 1.0 and great 0.0
    np.testing.assert_array_equal(out.total, [1.0, 0.0])
    assert "position_bias" not in out.terms and fake.calls == 1


def test_groups_come_from_the_group_column_else_from_the_prompts():
    assert groups_of({"prompt": ["p", "q", "p"], "completion": ["a", "b", "c"]}) == [[0, 2], [1]]
    batch = {"prompt": ["p", "p", "p", "p"], "group": np.array([7, 8, 7, 8])}
    assert groups_of(batch) == [[0, 2], [1, 3]]


def test_a_baseline_column_is_the_opponent_of_each_row(fake):
    fake.answer = _fair
    batch = {
        "prompt": ["p", "p", "p"],
        "completion": ["great", "poor", "fine"],
        "baseline": ["fine", "fine", "fine"],
    }
    out = PairwiseJudge(fake_settings(fake))(batch)
    np.testing.assert_array_equal(out.total, [1.0, 0.0, 0.5])
    assert fake.calls == 3 * 2  # each row against its baseline only, both orders


def test_a_completion_alone_in_its_group_is_not_applicable(fake):
    fake.answer = _fair
    batch = {"prompt": ["p", "p", "q"], "completion": ["great", "poor", "fine"]}
    out = PairwiseJudge(fake_settings(fake))(batch)
    np.testing.assert_array_equal(out.total[:2], [1.0, 0.0])
    assert math.isnan(out.total[2]) and out.status[2] == Status.NOT_APPLICABLE
    assert "no other completion" in out.messages[2]
    assert math.isnan(out.terms["position_bias"][2])


def test_a_failed_comparison_fails_both_rows_it_involved(fake):
    def answer(body):
        return error(500) if set(_shown(body)) == {"fine", "poor"} else _fair(body)

    fake.answer = answer
    out = PairwiseJudge(fake_settings(fake))(_group("fine", "great", "poor"))
    # great's two comparisons were both read: 1.0; fine and poor lost the one between them
    assert out.total[1] == 1.0 and out.status[1] == Status.OK and out.messages[1] is None
    for row in (0, 2):
        assert math.isnan(out.total[row]) and out.status[row] == Status.ERROR
        assert "HTTP 500" in out.messages[row]


def test_an_unreadable_verdict_is_an_error_not_a_loss(fake):
    fake.answer = lambda body: chat("Both have their charms.")
    out = PairwiseJudge(fake_settings(fake))(_group("fine", "great"))
    assert np.isnan(out.total).all() and (out.status == Status.ERROR).all()
    assert all("names no winner" in m for m in out.messages)


def test_a_pairwise_template_must_use_only_its_fields():
    settings = JudgeSettings(model="m", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigurationError, match="response"):
        PairwiseJudge(settings, template=PromptTemplate("Is {response} better than {response_b}?"))


# -- group (RULER) -----------------------------------------------------------------------------


def test_group_judge_scores_every_group_in_one_call(fake):
    def answer(body):
        text = body["messages"][-1]["content"]
        shown = re.findall(r"Response \d+:\n(\w+)", text)
        return chat("\n".join(f"{k}: {2 * RANK[s]}" for k, s in enumerate(shown, start=1)))

    fake.answer = answer
    batch = {
        "prompt": ["p", "q", "p", "q", "p"],
        "completion": ["poor", "great", "great", "fine", "fine"],
    }
    out = GroupJudge(fake_settings(fake), low=0, high=10)(batch)
    # group p: poor 2, great 6, fine 4 of 10; group q: great 6, fine 4
    np.testing.assert_allclose(out.total, [0.2, 0.6, 0.6, 0.4, 0.4])
    assert (out.status == Status.OK).all() and list(out.terms) == ["judge_group"]
    assert fake.calls == 2
    texts = sorted(b["messages"][-1]["content"] for b in fake.bodies())
    assert "3 responses follow." in texts[0] and "from 0 (worst) to 10 (best)" in texts[0]


def test_a_failed_group_call_fails_only_that_group(fake):
    def answer(body):
        text = body["messages"][-1]["content"]
        return chat('{"scores": [0.9, 0.1]}') if "Question:\np" in text else chat("All good!")

    fake.answer = answer
    out = GroupJudge(fake_settings(fake))(_group("a", "b", prompt="p"))
    np.testing.assert_allclose(out.total, [0.9, 0.1])
    batch = {"prompt": ["p", "p", "q", "q"], "completion": ["a", "b", "c", "d"]}
    mixed = GroupJudge(fake_settings(fake))(batch)
    np.testing.assert_allclose(mixed.total[:2], [0.9, 0.1])
    assert (mixed.status[2:] == Status.ERROR).all() and np.isnan(mixed.total[2:]).all()
    assert all("one score for each of responses 1..2" in m for m in mixed.messages[2:])


def test_group_judge_fails_groups_larger_than_it_may_show_without_a_call(fake):
    out = GroupJudge(fake_settings(fake), max_group=2)(_group("a", "b", "c"))
    assert (out.status == Status.ERROR).all() and np.isnan(out.total).all()
    assert all("exceeds max_group=2" in m for m in out.messages)
    assert fake.calls == 0


def test_a_group_of_one_is_not_scored_relative_to_nothing(fake):
    fake.answer = lambda body: chat('{"scores": [1.0]}')
    out = GroupJudge(fake_settings(fake))({"prompt": ["p"], "completion": ["a"]})
    assert out.status[0] == Status.NOT_APPLICABLE and fake.calls == 0


def test_a_pairwise_row_without_a_baseline_is_not_compared(fake):
    fake.answer = lambda body: chat("[[A]]")
    batch = {"prompt": ["p", "p"], "completion": ["a", "b"], "baseline": ["x", None]}
    out = PairwiseJudge(fake_settings(fake))(batch)
    assert out.total[0] == 0.5 and out.status[1] == Status.NOT_APPLICABLE
    assert fake.calls == 2  # the one pair, in both orders
    with pytest.raises(ConfigurationError, match="low < high"):
        GroupJudge(fake_settings(fake), low=1.0, high=0.0)


# -- against a real server ---------------------------------------------------------------------


def _assert_mechanics(out, n: int) -> None:
    assert out.total.shape == (n,) and len(out.messages) == n
    assert set(out.status.tolist()) <= {Status.OK, Status.ERROR}
    ok = out.status == Status.OK
    assert np.all((out.total[ok] >= 0.0) & (out.total[ok] <= 1.0))
    assert np.isnan(out.total[~ok]).all()
    for row in range(n):
        assert (out.messages[row] is None) == bool(ok[row]), out.messages[row]


@pytest.mark.real_model
@pytest.mark.slow
def test_pairwise_against_a_real_server(real_settings):
    judge = PairwiseJudge(real_settings)
    out = judge(_group("An old pond, a frog jumps in.", "Frogs are green.", prompt="A haiku?"))
    _assert_mechanics(out, 2)
    assert set(out.terms) == {"judge_pairwise", "position_bias"}
    bias = out.terms["position_bias"]
    assert all(math.isnan(b) or b in (0.0, 1.0) for b in bias)  # one pair: biased or not
    if (out.status == Status.OK).all():
        assert out.total.sum() == pytest.approx(1.0)  # the two sides of one comparison
    usage = judge.update({})
    assert usage["calls"] + usage["failures"] == 2


@pytest.mark.real_model
@pytest.mark.slow
def test_group_judge_against_a_real_server(real_settings):
    judge = GroupJudge(real_settings, low=0, high=10)
    batch = {"prompt": ["2+2?", "2+2?", "3+3?", "3+3?"], "completion": ["4", "5", "6", "9"]}
    out = judge(batch)
    _assert_mechanics(out, 4)
    assert list(out.terms) == ["judge_group"]
    # one call per group: a group's rows share their status
    assert out.status[0] == out.status[1] and out.status[2] == out.status[3]
    usage = judge.update(batch)
    assert usage["calls"] + usage["failures"] == 2
