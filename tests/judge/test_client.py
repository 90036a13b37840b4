"""``JudgeClient`` and ``JudgeSettings``: what is sent, retries, the deadline, pickling, the key."""

from __future__ import annotations

import json
import pickle
import signal
import time

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import Status
from rewardkit.judge import (
    ChatRequest,
    JudgeClient,
    JudgeFailure,
    JudgeSettings,
    Reply,
    ScoreJudge,
    Usage,
)
from rewardkit.judge.base import as_client
from tests.judge.conftest import chat, error, fake_settings

# -- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"model": ""}, "model must name"),
        ({"max_concurrency": 0}, "max_concurrency must be at least 1"),
        ({"deadline_s": 0.0}, "deadline_s must be a positive number"),
        ({"deadline_s": float("inf")}, "deadline_s must be a positive number"),
        ({"retries": -1}, "retries must be 0 or more"),
        ({"requests_per_minute": 0.0}, "requests_per_minute must be a positive number"),
        ({"tokens_per_minute": 100.0, "max_tokens": 256}, "no call could ever fit"),
        ({"temperature": -0.1}, "temperature must be 0 or more"),
        ({"max_tokens": 0}, "max_tokens must be at least 1"),
        ({"price_in_per_mtok": -1.0}, "price_in_per_mtok must be 0 or more"),
    ],
)
def test_settings_refuse_what_cannot_work(changes, says):
    with pytest.raises(ConfigurationError, match=says):
        JudgeSettings(**{"model": "m", **changes})


def test_settings_read_the_key_and_address_from_the_environment(monkeypatch):
    monkeypatch.delenv("RK_JUDGE_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://example.invalid/v1")
    settings = JudgeSettings(model="m", api_key_env="RK_JUDGE_KEY")
    assert settings.api_key() == "EMPTY"  # what local servers accept
    assert settings.resolved_base_url() == "http://example.invalid/v1"
    monkeypatch.setenv("RK_JUDGE_KEY", "sk-test")
    assert settings.api_key() == "sk-test"
    assert JudgeSettings(model="m", base_url="http://x/v1").resolved_base_url() == "http://x/v1"


def test_a_client_comes_from_settings_or_their_fields():
    settings = JudgeSettings(model="m", base_url="http://127.0.0.1:9/v1")
    client = JudgeClient(settings)
    assert as_client(client) is client
    assert as_client(settings).settings == settings
    assert as_client({"model": "m", "base_url": "http://127.0.0.1:9/v1"}).settings == settings
    with pytest.raises(ConfigurationError, match="JudgeSettings or a JudgeClient"):
        as_client("gpt-4")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="takes JudgeSettings"):
        JudgeClient({"model": "m"})  # type: ignore[arg-type]


# -- what is sent -------------------------------------------------------------------------


def test_a_request_carries_the_settings_then_its_own_parameters(fake):
    client = JudgeClient(
        fake_settings(fake, temperature=0.3, max_tokens=7, seed=11, extra_body={"top_k": 5})
    )
    request = ChatRequest.user("2+2?", system="Be brief.", seed=99, logprobs=True)
    assert client.call_parameters(request) == {
        "temperature": 0.3,
        "max_tokens": 7,
        "seed": 99,  # the request's own wins
        "logprobs": True,
    }
    (reply,) = client.run([request])
    assert reply == Reply("Score: 7", None, 10, 2, cached=False)
    ((path, body),) = fake.requests
    assert path == "/v1/chat/completions"
    assert body["model"] == "fake-judge" and body["top_k"] == 5
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
    ]
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.3, 7, 99)


def test_no_seed_is_sent_when_the_settings_have_none(fake):
    client = JudgeClient(fake_settings(fake, seed=None))
    client.run([ChatRequest.user("hi")])
    assert "seed" not in fake.bodies()[0]


def test_structured_output_sends_the_answer_schema(fake):
    ScoreJudge(fake_settings(fake, structured_output=True))({"prompt": ["q"], "completion": ["a"]})
    schema = fake.bodies()[0]["response_format"]
    assert schema["type"] == "json_schema" and schema["json_schema"]["name"] == "ScoreAnswer"
    assert "score" in schema["json_schema"]["schema"]["properties"]


def test_first_token_log_probabilities_come_back(fake):
    fake.answer = lambda body: chat("Yes", top_logprobs={"Yes": -0.1, "No": -2.4})
    (reply,) = JudgeClient(fake_settings(fake)).run([ChatRequest.user("ok?")])
    assert reply.top_logprobs == {"Yes": -0.1, "No": -2.4}


def test_an_empty_list_sends_nothing(fake):
    client = JudgeClient(fake_settings(fake))
    assert client.run([]) == [] and client.post_all("/systemone", []) == []
    assert fake.calls == 0


# -- retries and the deadline -------------------------------------------------------------


@pytest.mark.parametrize(("retries", "status", "calls"), [(1, Status.OK, 2), (0, Status.ERROR, 1)])
def test_a_503_is_retried_once_when_retries_allow(fake, retries, status, calls):
    fake.script = [error(503, "warming up", **{"retry-after-ms": "10"})]
    judge = ScoreJudge(fake_settings(fake, retries=retries))
    out = judge({"prompt": ["q"], "completion": ["a"]})
    assert out.status[0] == status and fake.calls == calls
    if status == Status.OK:
        assert out.total[0] == pytest.approx(0.7) and out.messages[0] is None
    else:
        assert np.isnan(out.total[0]) and "HTTP 503" in out.messages[0]
    assert judge.update({})["calls"] == float(status == Status.OK)


def test_a_400_is_not_retried(fake):
    fake.script = [error(400, "bad request")]
    (reply,) = JudgeClient(fake_settings(fake, retries=3)).run([ChatRequest.user("q")])
    assert isinstance(reply, JudgeFailure) and "HTTP 400" in reply.reason and fake.calls == 1


def test_the_deadline_includes_the_wait_between_retries(fake):
    # the server asks for 5 s before a retry; the sample's deadline is 0.5 s
    fake.script = [error(429, "later", **{"retry-after": "5"})]
    client = JudgeClient(fake_settings(fake, retries=2, deadline_s=0.5))
    (reply,) = client.run([ChatRequest.user("q")])
    assert reply == JudgeFailure(Status.TIMEOUT, "no answer within deadline_s=0.5")
    assert fake.calls == 1 and client.usage.timeouts == 1


# -- the client's life: close, pickle, the key ------------------------------------------


def test_a_closed_client_starts_again_on_the_next_call(fake):
    client = JudgeClient(fake_settings(fake))
    client.run([ChatRequest.user("a")])
    client.close()
    client.close()  # twice is harmless
    (reply,) = client.run([ChatRequest.user("b")])
    assert isinstance(reply, Reply) and client.usage.calls == 2


def test_a_pickled_judge_term_reconnects_and_keeps_its_usage(fake):
    judge = ScoreJudge(fake_settings(fake), low=1, high=5)
    fake.answer = lambda body: chat("Score: 4")
    batch = {"prompt": ["q1", "q2"], "completion": ["a1", "a2"]}
    first = judge(batch)  # the loop, its thread and the connection now exist
    copy = pickle.loads(pickle.dumps(judge))
    assert copy.client is not judge.client and copy.client._loop is None
    again = copy(batch)
    np.testing.assert_array_equal(again.total, first.total)
    np.testing.assert_allclose(again.total, [0.75, 0.75])  # (4 - 1) / (5 - 1)
    assert copy.update(batch)["calls"] == 4.0 and judge.update(batch)["calls"] == 2.0
    assert fake.calls == 4


def test_the_api_key_is_sent_but_never_shown_or_pickled(fake, monkeypatch):
    secret = "sk-rewardkit-test-0123456789abcdef"
    monkeypatch.setenv("RK_JUDGE_TEST_KEY", secret)
    settings = fake_settings(fake, api_key_env="RK_JUDGE_TEST_KEY")
    judge = ScoreJudge(settings)
    judge({"prompt": ["q"], "completion": ["a"]})  # the SDK client, holding the key, exists now
    assert fake.authorizations == [f"Bearer {secret}"]
    for shown in (repr(judge), repr(judge.client), repr(settings), str(settings)):
        assert secret not in shown
    data = pickle.dumps(judge)
    assert secret.encode() not in data and b"0123456789abcdef" not in data


def test_usage_as_a_dict_names_cost_only_with_prices():
    assert Usage(calls=2, prompt_tokens=5).as_dict() == {
        "calls": 2.0,
        "cache_hits": 0.0,
        "failures": 0.0,
        "timeouts": 0.0,
        "prompt_tokens": 5.0,
        "completion_tokens": 0.0,
    }
    assert Usage(cost=0.25).as_dict()["cost"] == 0.25


# -- every kind, from a spec's table ------------------------------------------------------


def _any_kind(body):
    """A plausible answer to each default template."""
    text = body["messages"][-1]["content"]
    if "[[A]], [[B]] or [[tie]]" in text:
        return chat("[[A]]")
    if '{"scores"' in text:
        count = int(text.split(" responses follow.")[0].rsplit("\n", 1)[-1])
        return chat(json.dumps({"scores": [0.5] * count}))
    if "Score: <number>" in text:
        return chat("Score: 7")
    if "Classify the response" in text:
        return chat("correct")
    return chat("Yes")


SPECS = {
    "judge_score": {},
    "judge_label": {"labels": ["correct", "wrong"], "passing": ["correct"]},
    "judge_yes_no": {"probability": "text"},
    "judge_reference": {"probability": "text"},
    "judge_rubric": {"criteria": [{"name": "right", "description": "It is right."}]},
    "judge_pairwise": {},
    "judge_group": {},
}


@pytest.mark.parametrize("name", SPECS)
def test_every_judge_kind_builds_from_a_spec_scores_and_pickles(fake, name):
    from rewardkit.core import build_reward

    fake.answer = _any_kind
    judge = {"model": "fake-judge", "base_url": fake.base_url, "retries": 0}
    term = build_reward({"term": name, "judge": judge, **SPECS[name]})
    batch = {
        "prompt": ["2+2?", "2+2?", "3+3?"],
        "completion": ["4", "5", [{"role": "assistant", "content": "6"}]],
        "answer": ["4", "4", "6"],
    }
    out = term(batch)
    assert out.total.dtype == np.float64 and out.total.shape == (3,) and name in out.terms
    ok = out.status == Status.OK
    assert ok[:2].all()  # the third row is alone in its group for the pairwise judge
    assert np.isfinite(out.total[ok]).all() and np.isnan(out.total[~ok]).all()
    assert (out.total[ok] >= 0).all() and (out.total[ok] <= 1).all()
    again = pickle.loads(pickle.dumps(term))(batch)
    np.testing.assert_array_equal(again.total, out.total)
    np.testing.assert_array_equal(again.status, out.status)


def test_an_empty_batch_sends_nothing(fake):
    from rewardkit.judge import GroupJudge, PairwiseJudge, YesNoJudge

    empty = {"prompt": [], "completion": []}
    settings = fake_settings(fake)
    for term in (ScoreJudge(settings), YesNoJudge(settings, probability="systemone")):
        assert term(empty).total.shape == (0,)
    for term in (PairwiseJudge(settings), GroupJudge(settings)):
        assert term(empty).total.shape == (0,)
    assert fake.calls == 0


def test_a_forked_child_gets_its_own_loop_and_is_answered(fake):
    import os

    client = JudgeClient(fake_settings(fake))
    assert isinstance(client.run([ChatRequest.user("parent")])[0], Reply)  # the loop runs
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            signal.alarm(10)  # a hang would kill the child: the parent then sees no "ok"
            (reply,) = client.run([ChatRequest.user("child")])
            code = 0 if isinstance(reply, Reply) else 2
        finally:
            os.write(write, b"ok" if code == 0 else b"no")
            os._exit(code)
    os.close(write)
    answer = os.read(read, 2)
    os.close(read)
    _, status = os.waitpid(child, 0)
    assert answer == b"ok" and os.WEXITSTATUS(status) == 0


def test_closing_the_client_during_a_batch_ends_the_wait():
    import threading

    from tests.judge.conftest import FakeServer

    server = FakeServer(delay_s=2.0)
    try:
        client = JudgeClient(fake_settings(server, deadline_s=30.0))
        outcome: list[object] = []

        def call() -> None:
            try:
                outcome.append(client.run([ChatRequest.user("slow")]))
            except BaseException as exc:  # the cancellation reaches the caller
                outcome.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(0.3)
        client.close()
        caller.join(timeout=5)
        assert not caller.is_alive() and outcome
    finally:
        server.close()
