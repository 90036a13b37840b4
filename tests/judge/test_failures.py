"""A judge's failure is never a number: one test per failure kind.

Every kind leaves the sample NaN with status ``error`` (or ``timeout``) and its
reason in ``RewardOutput.messages``; the other rows of the batch are scored as
usual, the client counts the failure, and nothing is cached.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardkit.core.output import Status
from rewardkit.judge import JudgeSettings, ScoreJudge, YesNoJudge
from rewardkit.lm import free_port
from tests.judge.conftest import Answer, FakeServer, chat, error, fake_settings

BATCH = {"prompt": ["What is 2+2?", "What is 3+3?"], "completion": ["4", "bad 6"]}


def _score_where_bad(failure: Answer):
    """Answer ``Score: 7`` except for the row whose response says "bad"."""

    def answer(body):
        return failure if "bad" in body["messages"][-1]["content"] else chat("Score: 7")

    return answer


def _assert_failed(out, row: int, status: Status, reason: str) -> None:
    assert math.isnan(out.total[row]) and out.status[row] == status
    assert out.messages is not None and reason in out.messages[row], out.messages[row]
    others = [i for i in range(len(out.total)) if i != row]
    np.testing.assert_allclose(out.total[others], 0.7)  # Score: 7 on [0, 10]
    assert all(out.status[i] == Status.OK and out.messages[i] is None for i in others)


FAILURES = {
    "http_500": (error(500, "upstream exploded"), "HTTP 500"),
    "http_404": (error(404, "no such model"), "HTTP 404"),
    "http_429_without_retries": (error(429, "slow down"), "HTTP 429"),
    "refusal_text": (chat("I'm sorry, but I can't help with that."), "refused"),
    "refusal_field": (chat(None, refusal="I can't judge this."), "the judge refused"),
    "empty_answer": (chat(""), "empty text"),
    "whitespace_answer": (chat("  \n "), "empty text"),
    "null_content": (chat(None), "empty text"),
    "unparseable_answer": (chat("Hmm, it is hard to say."), "unparseable: no score"),
    "content_filter": (chat("Score: 9", finish_reason="content_filter"), "content_filter"),
    "no_choices": (Answer(200, {**chat("x").body, "choices": []}), "no choices"),
    "not_json": (Answer(200, "<html>gateway</html>"), "JSONDecodeError"),
}

READ_BY_THE_TERM = {"refusal_text", "unparseable_answer"}


@pytest.mark.parametrize("kind", FAILURES)
def test_each_failure_kind_is_an_error_status_not_a_score(kind):
    failure, reason = FAILURES[kind]
    server = FakeServer(_score_where_bad(failure))
    try:
        judge = ScoreJudge(fake_settings(server))
        out = judge(BATCH)
        _assert_failed(out, 1, Status.ERROR, reason)
        usage = judge.update(BATCH)
        if kind in READ_BY_THE_TERM:  # the server answered; the term could not read it
            assert (usage["calls"], usage["failures"]) == (2.0, 0.0)
        else:
            assert (usage["calls"], usage["failures"]) == (1.0, 1.0)
    finally:
        server.close()


def test_a_connection_refused_is_an_error():
    port = free_port()  # nothing listens there
    settings = JudgeSettings(model="m", base_url=f"http://127.0.0.1:{port}/v1", retries=0)
    out = YesNoJudge(settings, probability="text")(BATCH)
    assert np.isnan(out.total).all() and (out.status == Status.ERROR).all()
    assert all(m.startswith("connection failed") for m in out.messages)


def test_a_wrong_path_is_an_http_error(fake):
    settings = fake_settings(fake, base_url=fake.base_url.replace("/v1", "/nope/v1"))
    out = ScoreJudge(settings)(BATCH)
    assert (out.status == Status.ERROR).all() and np.isnan(out.total).all()
    assert all("HTTP 404" in m for m in out.messages)
    assert fake.requests[0][0] == "/nope/v1/chat/completions"


def test_a_slow_server_past_the_deadline_is_a_timeout():
    server = FakeServer(delay_s=1.5)
    try:
        judge = ScoreJudge(fake_settings(server, deadline_s=0.2))
        out = judge(BATCH)
        assert np.isnan(out.total).all() and (out.status == Status.TIMEOUT).all()
        assert all("deadline" in m or "in time" in m for m in out.messages), out.messages
        usage = judge.update(BATCH)
        assert usage["timeouts"] == 2.0 and usage["failures"] == 2.0 and usage["calls"] == 0.0
    finally:
        server.close()


@pytest.mark.real_model
@pytest.mark.slow
def test_a_tiny_deadline_against_the_real_server_is_a_timeout(real_settings):
    from dataclasses import replace

    settings = replace(real_settings, deadline_s=0.01, max_tokens=2)
    out = YesNoJudge(settings, probability="text")({"prompt": ["2+2?"], "completion": ["4"]})
    assert math.isnan(out.total[0]) and out.status[0] == Status.TIMEOUT
    assert "deadline_s=0.01" in out.messages[0] or "in time" in out.messages[0]


def test_systemone_on_a_server_without_the_endpoint_is_an_error(fake):
    judge = YesNoJudge(fake_settings(fake), probability="systemone")
    out = judge(BATCH)
    assert np.isnan(out.total).all() and (out.status == Status.ERROR).all()
    assert all("HTTP 404" in m for m in out.messages)
    assert [path for path, _ in fake.requests] == ["/v1/systemone"] * 2


def test_systemone_answers_without_a_probability_are_errors(fake):
    fake.script = [
        Answer(200, {"answers": {"verdict": {"type": "noul", "noul": 0.25}}}),
        Answer(200, {"answers": {"verdict": {"type": "noul", "noul": 1.7}}}),
    ]
    out = YesNoJudge(fake_settings(fake, max_concurrency=1), probability="systemone")(BATCH)
    assert out.total[0] == 0.25 and out.status[0] == Status.OK
    assert math.isnan(out.total[1]) and out.status[1] == Status.ERROR
    assert "not in [0, 1]" in out.messages[1]


def test_logprobs_only_without_log_probabilities_is_an_error(fake):
    fake.answer = lambda body: chat("Yes")  # no logprobs in the answer
    out = YesNoJudge(fake_settings(fake), probability="logprobs")(BATCH)
    assert (out.status == Status.ERROR).all()
    assert all("no yes/no log-probabilities" in m for m in out.messages)


def test_one_failed_part_fails_the_whole_rubric_row(fake):
    from rewardkit.judge import Criterion, RubricJudge

    def answer(body):
        text = body["messages"][-1]["content"]
        return error(500) if "short" in text and "bad" in text else chat("Yes")

    fake.answer = answer
    judge = RubricJudge(
        fake_settings(fake),
        [Criterion("right", "It is right."), Criterion("brief", "It is short.")],
    )
    out = judge(BATCH)
    assert out.total[0] == 1.0 and out.status[0] == Status.OK
    assert math.isnan(out.total[1]) and out.status[1] == Status.ERROR
    assert "HTTP 500" in out.messages[1]
    assert math.isnan(out.terms["right"][1]) and math.isnan(out.terms["brief"][1])


@pytest.mark.real_model
@pytest.mark.slow
def test_a_wrong_path_on_the_real_server_is_an_http_error(real_settings, judge_server):
    from dataclasses import replace

    settings = replace(real_settings, base_url=judge_server.base_url.replace("/v1", "/nope/v1"))
    out = ScoreJudge(settings)(BATCH)
    assert np.isnan(out.total).all() and (out.status == Status.ERROR).all()
    assert all("HTTP 404" in m for m in out.messages)
