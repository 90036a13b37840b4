"""CALM: subgoal proposals and achievement judgments from scripted replies, and the bonus."""

from __future__ import annotations

import asyncio
import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from rewardkit.author.parameters import AuthoringFailure
from rewardkit.author.subgoals import (
    Judgment,
    SubgoalBonus,
    Subgoals,
    judge_achievements,
    parse_subgoals,
    propose_subgoals,
    transition_caption,
)
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import Status
from rewardkit.judge import JudgeClient, JudgeFailure, JudgeSettings, Reply
from rewardkit.judge.parse import UnparseableAnswerError

TASK = "open the door"
KEY, DOOR = "pick up the key", "open the door"


def field(request, name: str) -> str:
    """The line ``name: ...`` of the request's user message."""
    text = request.messages[-1]["content"]
    return next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith(name))


def caption(request) -> str:
    """The transition the request asks about."""
    text = request.messages[-1]["content"]
    return text.split("Transition:\n", 1)[1].split("\n\nWas the subgoal", 1)[0]


class ScriptedClient(JudgeClient):
    """Answers with ``answer(request)`` on the real background loop; a later request may
    be answered first (``delay``). ``systemone`` answers ``/v1/systemone`` bodies."""

    def __init__(self, answer=None, delay=None, systemone=None) -> None:
        super().__init__(JudgeSettings(model="scripted"))
        self.answer, self.delay, self.systemone = answer, delay, systemone
        self.requests: list = []
        self.bodies: list = []

    async def complete(self, request):
        self.requests.append(request)
        await asyncio.sleep(self.delay(request) if self.delay else 0)
        out = self.answer(request)
        return Reply(out) if isinstance(out, str) else out

    async def post_json(self, path, body):
        assert path == "/systemone"
        self.bodies.append(body)
        return self.systemone(body)


def achieved_when(caption_word: str, subgoal: str | None = None):
    """Yes when the caption holds ``caption_word`` (and the subgoal is ``subgoal``)."""

    def answer(request):
        goal, text = field(request, "Subgoal"), caption(request)
        hit = caption_word in text and (subgoal is None or goal == subgoal)
        return "Yes." if hit else "No, it was not."

    return answer


@pytest.mark.parametrize(
    ("text", "items"),
    [
        (
            "1. Get the key.\n2) open it\n- Reach the goal",
            ("Get the key", "open it", "Reach the goal"),
        ),
        ("Steps:\n* **Find the key**\n* find the key\n\u2022 Go", ("Find the key", "Go")),
        ("1. a\n2. Walk\n3. 4. 5.", ("Walk",)),
    ],
)
def test_numbered_or_bulleted_lines_become_subgoals(text, items):
    assert parse_subgoals(text) == items


def test_subgoals_are_cut_at_the_maximum_and_an_answer_without_lines_is_an_error():
    assert parse_subgoals("1. go up\n2. cd\n3. ef", max_subgoals=2) == ("go up", "cd")
    with pytest.raises(UnparseableAnswerError, match="no numbered or bulleted"):
        parse_subgoals("1. 2. 3. 4. 5. 6. 7.")
    with pytest.raises(UnparseableAnswerError, match="refused"):
        parse_subgoals("I'm sorry, I can't help with that.\n1. Nothing")


def test_propose_subgoals_reads_the_list_or_says_why_not():
    good = ScriptedClient(lambda r: "1. Get the key\n2. Open the door")
    proposal = propose_subgoals(good, TASK, max_subgoals=3)
    assert proposal == Subgoals(TASK, ("Get the key", "Open the door"), proposal.text)
    prompt = good.requests[0].messages[-1]["content"]
    assert TASK in prompt and "at most 3" in prompt and good.requests[0].params["max_tokens"] == 64
    bad = propose_subgoals(ScriptedClient(lambda r: "Just do it."), TASK)
    assert isinstance(bad, AuthoringFailure) and bad.status == Status.ERROR
    assert bad.text == "Just do it." and "no numbered" in bad.reason
    slow = ScriptedClient(lambda r: JudgeFailure(Status.TIMEOUT, "no answer within 1 s"))
    assert propose_subgoals(slow, TASK) == AuthoringFailure(Status.TIMEOUT, "no answer within 1 s")
    for client in (good, slow):
        client.close()


def test_the_caption_shows_state_action_and_next_state():
    assert transition_caption("a", "b", "c") == "Before: a\nAction: b\nAfter: c"


def test_judgments_come_back_per_transition_and_subgoal_in_order_whatever_answers_first():
    captions = [transition_caption("", "", c) for c in ("holds the key", "door opens", "nothing")]
    order = {c: len(captions) - i for i, c in enumerate(captions)}  # the last answers first
    client = ScriptedClient(achieved_when("holds", KEY), delay=lambda r: 0.01 * order[caption(r)])
    try:
        table = judge_achievements(client, TASK, [KEY, DOOR], captions)
    finally:
        client.close()
    assert [[j.achieved for j in row] for row in table] == [
        [True, False],
        [False, False],
        [False, False],
    ]
    assert table[0][0] == Judgment(True, text="Yes.") and len(client.requests) == 6


def test_unreadable_answers_and_failures_are_judgments_without_a_verdict():
    answers = {"a": "Maybe?", "b": JudgeFailure(Status.TIMEOUT, "too slow")}
    client = ScriptedClient(lambda r: answers[caption(r)])
    try:
        (unread,), (late,) = judge_achievements(client, TASK, [KEY], ["a", "b"])
    finally:
        client.close()
    assert unread.achieved is None and unread.status == Status.ERROR and unread.text == "Maybe?"
    assert late == Judgment(None, Status.TIMEOUT, "too slow")


def test_systemone_judgments_are_p_yes_over_a_threshold():
    def decide(body):
        if "broken" in body["state"]:
            return {"answers": {}}
        if "down" in body["state"]:
            return JudgeFailure(Status.ERROR, "the server answered HTTP 404: no route")
        p = 0.8 if "key" in body["state"] else 0.3
        return {"answers": {"verdict": {"type": "noul", "noul": p}}}

    client = ScriptedClient(systemone=decide)
    try:
        rows = judge_achievements(
            client, TASK, [DOOR], ["key", "wall", "broken", "down"], systemone=True, threshold=0.6
        )
    finally:
        client.close()
    key, wall, broken, down = (row[0] for row in rows)
    assert key == Judgment(True, probability=0.8) and wall == Judgment(False, probability=0.3)
    assert broken.status == Status.ERROR and "no yes/no probability" in broken.reason
    assert down.status == Status.ERROR and "404" in down.reason
    question = client.bodies[0]["questions"]["verdict"]
    assert question["type"] == "noul" and "achieved" in question["instructions"]
    assert client.bodies[0]["model"] == "scripted" and not client.requests


def batch(captions, ended=(), env=None):
    n = len(captions)
    out = {
        "caption": list(captions),
        "terminated": [i in ended for i in range(n)],
        "truncated": [False] * n,
    }
    if env is not None:
        out["env"] = env
    return out


def test_the_bonus_pays_each_subgoal_once_per_episode():
    client = ScriptedClient(achieved_when("key", KEY))
    bonus = SubgoalBonus(client, TASK, [KEY, DOOR], beta=0.5)
    try:
        first = batch(["key", "key", "wall", "key"], ended={1})
        out = bonus(first)
        bonus.update(first)  # commits: the episode of the last row goes on
        again = bonus(batch(["key"]))
    finally:
        client.close()
    np.testing.assert_allclose(out.total, [0.5, 0.0, 0.0, 0.5])
    np.testing.assert_allclose(out.terms["subgoal_0"], [1, 0, 0, 1])
    np.testing.assert_allclose(out.terms["subgoal_1"], [0, 0, 0, 0])
    np.testing.assert_allclose(again.total, [0.0])
    assert len(client.requests) == 4  # two distinct captions, two subgoals: cached after
    assert bonus.update({}) == {"judge_calls": 4.0, "cached_judgments": 4.0}


def test_scoring_is_pure_and_only_update_commits_the_episode():
    client = ScriptedClient(achieved_when("key", KEY))
    bonus = SubgoalBonus(client, TASK, [KEY])
    rows = batch(["wall", "key"])
    try:
        scores = [bonus(rows).total.tolist() for _ in range(3)]  # an audit, a log, a trainer
        bonus.update(rows)
        after = bonus(rows).total.tolist()
        bonus.update(batch(["wall"], ended={0}))  # the episode ends
        fresh = bonus(rows).total.tolist()
    finally:
        client.close()
    assert scores == [[0.0, 1.0]] * 3
    assert after == [0.0, 0.0] and fresh == [0.0, 1.0]
    assert len(client.requests) == 2  # update asks nothing: it reads the cache


def test_update_commits_nothing_for_a_row_that_was_not_judged():
    state = {"fail": True}

    def answer(request):
        if state["fail"]:
            return JudgeFailure(Status.ERROR, "connection failed: refused")
        return "Yes"

    client = ScriptedClient(answer)
    bonus = SubgoalBonus(client, TASK, [KEY])
    rows = batch(["key"])
    try:
        failed = bonus(rows)
        state["fail"] = False
        bonus.update(rows)  # the row's judgment failed: nothing is committed, nothing asked
        asked = len(client.requests)
        later = bonus(rows)
    finally:
        client.close()
    assert failed.status.tolist() == [Status.ERROR] and asked == 1
    np.testing.assert_allclose(later.total, [1.0])  # still the first time in this episode


def test_vector_envs_keep_their_own_episodes_and_reset_forgets_them():
    client = ScriptedClient(achieved_when("key"))
    bonus = SubgoalBonus(client, TASK, Subgoals(TASK, (KEY,), ""))
    try:
        rows = batch(["key", "key", "key"], env=[0, 1, 0])
        out = bonus(rows)
        bonus.update(rows)
        committed = bonus(batch(["key"], env=[0]))
        bonus.reset()
        after_reset = bonus(batch(["key"], env=[0]))
    finally:
        client.close()
    np.testing.assert_allclose(out.total, [1.0, 1.0, 0.0])
    np.testing.assert_allclose(committed.total, [0.0])
    np.testing.assert_allclose(after_reset.total, [1.0])


def test_concurrent_scoring_and_updates_keep_the_episodes_whole():
    client = ScriptedClient(achieved_when("key", KEY))
    bonus = SubgoalBonus(client, TASK, [KEY, DOOR])
    rows = [batch(["key", "wall", "door"], ended={2}, env=[e, e, e]) for e in range(8)]

    def work(part):
        for _ in range(5):
            bonus(part)
            bonus.update(part)

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(work, rows))
        final = bonus(batch(["key"] * 8, env=list(range(8))))
    finally:
        client.close()
    assert bonus._achieved == {} and final.total.tolist() == [1.0] * 8


def test_a_row_with_a_failed_judgment_has_no_reward_and_remembers_nothing():
    state = {"fail": True}

    def answer(request):
        if caption(request) == "key" and state["fail"]:
            return JudgeFailure(Status.TIMEOUT, "no answer within deadline_s=1")
        return "Yes" if caption(request) == "key" else "No"

    client = ScriptedClient(answer)
    bonus = SubgoalBonus(client, TASK, [KEY])
    try:
        out = bonus(batch(["key", "wall"]))
        state["fail"] = False
        later = bonus(batch(["key"]))  # not cached: asked again, and now achieved first
    finally:
        client.close()
    assert out.status.tolist() == [Status.TIMEOUT, Status.OK]
    assert np.isnan(out.total[0]) and out.total[1] == 0.0
    assert np.isnan(out.terms["subgoal_0"][0]) and out.terms["subgoal_0"][1] == 0.0
    assert out.messages == ("no answer within deadline_s=1", None)
    np.testing.assert_allclose(later.total, [1.0])


def test_the_bonus_pickles_and_needs_a_subgoal():
    client = ScriptedClient(achieved_when("key"))
    bonus = SubgoalBonus(client, TASK, [KEY])
    copy = pickle.loads(pickle.dumps(bonus))
    assert copy.subgoals == (KEY,) and copy.client.settings.model == "scripted"
    copy.reset()  # its lock is a new one
    with pytest.raises(ConfigurationError, match="at least one subgoal"):
        SubgoalBonus(client, TASK, [])
    client.close()
