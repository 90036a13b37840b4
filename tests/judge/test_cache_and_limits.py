"""The disk cache, the rate limits, the concurrency bound and the cost of a judge."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from rewardkit.core.output import Status
from rewardkit.judge import ChatRequest, JudgeClient, JudgeFailure, Reply, ScoreJudge, YesNoJudge
from tests.judge.conftest import chat, error, fake_settings

BATCH = {"prompt": ["What is 2+2?", "What is 3+3?"], "completion": ["4", "6"]}

# -- the disk cache ----------------------------------------------------------------------


def test_the_second_run_of_a_batch_is_answered_from_disk(fake, tmp_path):
    judge = ScoreJudge(fake_settings(fake, cache_dir=str(tmp_path)))
    first = judge(BATCH)
    second = judge(BATCH)
    np.testing.assert_array_equal(second.total, first.total)
    np.testing.assert_allclose(first.total, [0.7, 0.7])
    assert (second.status == Status.OK).all() and fake.calls == 2
    usage = judge.update(BATCH)
    assert (usage["calls"], usage["cache_hits"]) == (2.0, 2.0)
    assert usage["prompt_tokens"] == 20.0  # cached answers cost no tokens


def test_a_cached_reply_says_so_and_outlives_its_client(fake, tmp_path):
    settings = fake_settings(fake, cache_dir=str(tmp_path))
    request = ChatRequest.user("2+2?")
    (fresh,) = JudgeClient(settings).run([request])
    (cached,) = JudgeClient(settings).run([request])  # a new client, the same folder
    assert fresh == Reply("Score: 7", None, 10, 2, cached=False)
    assert cached == Reply("Score: 7", None, 0, 0, cached=True)
    assert fake.calls == 1


def test_a_change_of_model_messages_or_parameters_misses(fake, tmp_path):
    settings = fake_settings(fake, cache_dir=str(tmp_path))
    client = JudgeClient(settings)
    base = ChatRequest.user("2+2?")
    client.run([base])
    variants = [
        ChatRequest.user("2+3?"),  # messages
        ChatRequest.user("2+2?", system="Be strict."),
        ChatRequest.user("2+2?", temperature=0.5),  # parameters
        ChatRequest.user("2+2?", seed=1),
    ]
    client.run(variants)
    other_model = JudgeClient(replace(settings, model="another-judge"))
    other_model.run([base])
    more_tokens = JudgeClient(replace(settings, max_tokens=99))
    more_tokens.run([base])
    extra = JudgeClient(replace(settings, extra_body={"top_k": 3}))
    extra.run([base])
    assert fake.calls == 1 + 4 + 3
    assert client.usage.cache_hits == 0
    keys = {client.cache_key(r) for r in [base, *variants]}
    assert len(keys) == 5
    client.run([base])
    assert client.usage.cache_hits == 1 and fake.calls == 8


def test_failures_are_not_cached(fake, tmp_path):
    fake.script = [error(500), chat("", finish_reason="stop")]  # an error, then an empty answer
    judge = YesNoJudge(
        fake_settings(fake, cache_dir=str(tmp_path), max_concurrency=1), probability="text"
    )
    fake.answer = lambda body: chat("Yes")
    batch = {"prompt": ["q"], "completion": ["a"]}
    for expected in ("HTTP 500", "empty text"):
        out = judge(batch)
        assert out.status[0] == Status.ERROR and expected in out.messages[0]
    ok = judge(batch)  # asked again: the server's third answer
    assert ok.status[0] == Status.OK and ok.total[0] == 1.0
    judge(batch)  # now cached
    usage = judge.update(batch)
    assert fake.calls == 3
    assert (usage["failures"], usage["calls"], usage["cache_hits"]) == (2.0, 1.0, 1.0)


def test_a_cache_that_cannot_be_read_or_written_costs_calls_not_answers(fake, tmp_path):
    class Broken:
        def get(self, key):
            raise OSError("disk I/O error")

        def set(self, key, value):
            raise OSError("database or disk is full")

    client = JudgeClient(fake_settings(fake, cache_dir=str(tmp_path)))
    client._cache = Broken()
    replies = client.run([ChatRequest.user("a"), ChatRequest.user("a")])
    assert all(isinstance(r, Reply) and not r.cached for r in replies)
    assert client.usage.calls == 2 and client.usage.failures == 0 and fake.calls == 2


# -- limits ------------------------------------------------------------------------------


def test_requests_per_minute_hold_back_the_calls_past_the_bucket(fake):
    # the bucket holds a minute's budget (60 calls) and refills at 1 call/s: 62 calls
    # cannot all be sent before 2 s (the 61st waits 1 s, the 62nd 2 s)
    client = JudgeClient(fake_settings(fake, requests_per_minute=60, max_concurrency=16))
    start = time.monotonic()
    replies = client.run([ChatRequest.user(f"q{k}") for k in range(62)])
    elapsed = time.monotonic() - start
    assert all(isinstance(r, Reply) for r in replies) and fake.calls == 62
    assert elapsed >= 2.0 - 0.05, elapsed


def test_tokens_per_minute_count_the_prompt_and_max_tokens(fake):
    # each call counts 400 characters // 4 = 100 prompt tokens + max_tokens 100 = 200;
    # 6000 tokens a minute: a burst of 30 calls, then 100 tokens/s, one call per 2 s
    settings = fake_settings(fake, tokens_per_minute=6000, max_tokens=100, max_concurrency=16)
    client = JudgeClient(settings)
    start = time.monotonic()
    replies = client.run([ChatRequest.user(f"{k:03d}" + "x" * 397) for k in range(31)])
    elapsed = time.monotonic() - start
    assert all(isinstance(r, Reply) for r in replies)
    assert elapsed >= 2.0 - 0.05, elapsed


def test_the_deadline_counts_the_call_not_the_wait_for_a_slot():
    # one slot, 0.2 s a call, a 0.5 s deadline: the fourth request waits 0.6 s in the
    # queue and is still answered; a call slower than the deadline is not
    from tests.judge.conftest import FakeServer

    server = FakeServer(delay_s=0.2)
    try:
        client = JudgeClient(fake_settings(server, max_concurrency=1, deadline_s=0.5))
        replies = client.run([ChatRequest.user(f"q{k}") for k in range(4)])
        assert all(isinstance(r, Reply) for r in replies) and server.calls == 4
        assert all(r.seconds >= 0.2 for r in replies if isinstance(r, Reply))
        server.delay_s = 0.8
        (late,) = client.run([ChatRequest.user("slow")])
        assert late == JudgeFailure(Status.TIMEOUT, "no answer within deadline_s=0.5")
    finally:
        server.close()


@pytest.mark.parametrize("max_concurrency", [1, 3])
def test_no_more_than_max_concurrency_calls_are_in_flight(max_concurrency):
    from tests.judge.conftest import FakeServer

    server = FakeServer(delay_s=0.15)
    try:
        client = JudgeClient(fake_settings(server, max_concurrency=max_concurrency))
        replies = client.run([ChatRequest.user(f"q{k}") for k in range(9)])
        assert all(isinstance(r, Reply) for r in replies) and server.calls == 9
        assert server.max_in_flight == max_concurrency
    finally:
        server.close()


def test_usage_counts_tokens_and_their_cost_with_prices(fake, tmp_path):
    # 10 prompt and 2 completion tokens a call at $1.5 and $6 a million:
    # (10 * 1.5 + 2 * 6) / 1e6 = 27e-6 a call; a cached answer costs nothing
    settings = fake_settings(
        fake, price_in_per_mtok=1.5, price_out_per_mtok=6.0, cache_dir=str(tmp_path)
    )
    judge = ScoreJudge(settings)
    judge(BATCH)
    judge(BATCH)
    usage = judge.update(BATCH)
    assert usage["cost"] == pytest.approx(2 * 27e-6)
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (20.0, 4.0)
    assert "cost" not in ScoreJudge(fake_settings(fake)).update(BATCH)
    only_out = JudgeClient(fake_settings(fake, price_out_per_mtok=6.0))
    only_out.run([ChatRequest.user("q")])
    assert only_out.usage.cost == pytest.approx(2 * 6.0 / 1e6)


@pytest.mark.real_model
@pytest.mark.slow
def test_the_real_servers_answers_come_back_from_disk(real_settings, tmp_path):
    judge = ScoreJudge(replace(real_settings, cache_dir=str(tmp_path)))
    first = judge(BATCH)
    usage = judge.update(BATCH)
    assert usage["calls"] + usage["failures"] == 2
    second = judge(BATCH)
    # the same answers, read again: an answer the parser could not read is cached text
    # too (the server did answer), so the statuses repeat as well
    np.testing.assert_array_equal(second.total, first.total)
    np.testing.assert_array_equal(second.status, first.status)
    after = judge.update(BATCH)
    assert after["cache_hits"] == usage["calls"] and after["calls"] == usage["calls"]
    assert after["prompt_tokens"] == usage["prompt_tokens"]
