"""The reward server in process: schemas, the auth matrix, every limit, deadlines, errors,
idempotency, backpressure, OpenRLHF's JSON and the metrics."""

import concurrent.futures
import math
import time

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from rewardkit.adapters.openrlhf import OpenRLHFReward
from rewardkit.core import term
from rewardkit.serve import ServeError, ServeSettings, create_app
from tests.serve.conftest import Slow, live_server

TOKEN = "correct-horse-battery-staple"


def _client(term, **settings):
    return TestClient(create_app(term, ServeSettings(**settings)))


def test_score_returns_totals_terms_and_statuses_with_nan_as_null():
    with _client(Slow(0.0)) as client:
        reply = client.post("/v1/score", json={"batch": {"completion": ["abc", ""]}})
    assert reply.status_code == 200
    body = reply.json()
    assert body["total"] == [3.0, None] and body["status"] == ["ok", "not_applicable"]
    assert body["terms"] == {"slow": [3.0, None]} and len(body["messages"]) == 2


def test_the_auth_matrix():
    with _client(Slow(0.0), token=TOKEN) as client:
        batch = {"batch": {"completion": ["a"]}}
        missing = client.post("/v1/score", json=batch)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        wrong = client.post("/v1/score", json=batch, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        basic = client.post("/v1/score", json=batch, headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401
        right = client.post("/v1/score", json=batch, headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200
        assert client.get("/healthz").status_code == 200  # health needs no token
        assert client.get("/metrics").status_code == 401
        assert client.post("/get_reward", json={"query": ["a"]}).status_code == 401
        assert "access-control-allow-origin" not in right.headers  # CORS is off


def test_a_public_address_needs_a_token():
    with pytest.raises(ServeError, match="without a token"):
        ServeSettings(host="0.0.0.0")
    assert ServeSettings(host="0.0.0.0", token=TOKEN).token == TOKEN


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ({"batch": {"completion": ["a"] * 5}}, 413, "max_batch"),
        ({"batch": {"completion": ["a" * 50]}}, 422, "max_string_chars"),
        ({"batch": {"completion": ["a"], "answer": [{"deep": ["b" * 50]}]}}, 422,
         "body.batch.answer.0.deep.0"),
        ({"batch": {"completion": "not a list"}}, 422, "batch.completion"),
        ({"batch": {"completion": ["a", "b"], "answer": ["a"]}}, 422, "as many values"),
        ({"batch": {}}, 422, "batch"),
        ({"batch": {"completion": ["a"]}, "deadline_s": -1}, 422, "deadline_s"),
        ({"batch": {"completion": ["a"]}, "extra": 1}, 422, "extra"),
    ],
)  # fmt: skip
def test_limits_and_bad_fields_are_named(body, code, says):
    with _client(Slow(0.0), max_batch=4, max_string_chars=40) as client:
        reply = client.post("/v1/score", json=body)
    assert reply.status_code == code and says in reply.json()["detail"]


def test_an_oversized_or_malformed_body_is_refused_before_scoring():
    slow = Slow(0.0)
    with _client(slow, max_body_bytes=100) as client:
        big = client.post("/v1/score", json={"batch": {"completion": ["a" * 200]}})
        assert big.status_code == 413 and "max_body_bytes" in big.json()["detail"]
        streamed = client.post("/v1/score", content=iter([b'{"batch": ', b"x" * 200]))
        assert streamed.status_code == 413  # no Content-Length: counted as it arrives
        broken = client.post("/v1/score", content=b'{"batch": {')
        assert broken.status_code == 400 and "not valid JSON" in broken.json()["detail"]
    assert slow.calls == 0


def test_samples_past_the_deadline_time_out_and_a_term_error_stays_in_its_chunk():
    slow = Slow(1.0)
    with _client(slow, chunk_size=1, deadline_s=0.3) as client:
        reply = client.post("/v1/score", json={"batch": {"completion": ["ab", "slow", "boom"]}})
    body = reply.json()
    assert reply.status_code == 200
    assert body["status"] == ["ok", "timeout", "error"]
    assert body["total"] == [2.0, None, None]  # a timeout is never a score
    assert "deadline" in body["messages"][1] and "boom" in body["messages"][2]


def test_a_repeated_idempotency_key_is_answered_without_scoring_again():
    slow = Slow(0.0)
    with _client(slow) as client:
        headers = {"Idempotency-Key": "k1"}
        first = client.post("/v1/score", json={"batch": {"completion": ["ab"]}}, headers=headers)
        again = client.post("/v1/score", json={"batch": {"completion": ["ab"]}}, headers=headers)
        other = client.post("/v1/score", json={"batch": {"completion": ["ab"]}})
    assert first.json() == again.json() == other.json() and slow.calls == 2


def test_more_requests_than_max_in_flight_get_429_with_retry_after():
    slow = Slow(0.8)
    app = create_app(slow, ServeSettings(max_in_flight=1))
    with live_server(app) as url, concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(httpx.post, f"{url}/v1/score",
                            json={"batch": {"completion": ["slow"]}}, timeout=10)  # fmt: skip
        deadline = time.monotonic() + 10
        while httpx.get(f"{url}/healthz").json()["in_flight"] == 0:
            assert time.monotonic() < deadline, "the first request never started"
        refused = httpx.post(f"{url}/v1/score", json={"batch": {"completion": ["a"]}})
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert "max_in_flight" in refused.json()["detail"]
        assert first.result().status_code == 200  # the accepted one is answered


def test_get_reward_speaks_openrlhfs_json_as_the_adapter_does():
    queries = ["Q: 1+1? A: ab</s>", "Q: 2+2? A: <|im_end|>", "other A: x"]
    prompts = ["Q: 1+1? A: ", "Q: 2+2? A: ", "Q: 3+3? A: "]
    labels = ["2", "4", "6"]
    slow = Slow(0.0)
    with _client(slow) as client:
        openrlhf = {"query": queries, "prompts": prompts, "labels": labels}
        reply = client.post("/get_reward", json=openrlhf)
        queries_only = client.post("/get_reward", json={"query": ["Q: A: abc</s>"]})
        mismatched = client.post("/get_reward", json={"query": ["a"], "prompts": ["a", "b"]})
    expected = OpenRLHFReward(slow)(queries, prompts, labels)
    body = reply.json()
    assert body["rewards"] == expected["rewards"].tolist() == [2.0, 0.0, 0.0]
    assert body["scores"] == body["rewards"]
    for name, values in expected["extra_logs"].items():
        np.testing.assert_allclose(body["extra_logs"][name], values.numpy())
    assert body["status"] == ["ok", "not_applicable", "not_applicable"]
    assert queries_only.json()["rewards"] == [len("Q: A: abc")]  # no prompts: the whole query
    assert mismatched.status_code == 422


def test_metrics_count_requests_latency_statuses_and_queue_depth():
    with _client(Slow(1.0), chunk_size=1, deadline_s=0.2) as client:
        client.post("/v1/score", json={"batch": {"completion": ["ab", "slow", ""]}})
        client.post("/v1/score", json={"batch": {"completion": ["a"] * 5000}})
        text = client.get("/metrics").text
    assert 'rewardkit_requests_total{code="200",endpoint="/v1/score"} 1.0' in text
    assert 'rewardkit_samples_total{status="timeout",term="slow"} 1.0' in text
    assert 'rewardkit_samples_total{status="not_applicable",term="slow"} 1.0' in text
    assert 'rewardkit_requests_total{code="413",endpoint="/v1/score"} 1.0' in text
    assert "rewardkit_request_seconds_bucket" in text and "rewardkit_in_flight 0.0" in text


def test_nan_never_travels_as_a_number():
    with _client(term(lambda completion: [math.nan, 1.0], name="nan")) as client:
        body = client.post("/v1/score", json={"batch": {"completion": ["a", "b"]}}).json()
    assert body["total"] == [None, 1.0] and body["status"] == ["not_applicable", "ok"]


def test_idempotency_keys_are_bound_to_the_body_and_only_success_is_remembered():
    slow = Slow(0.0)
    with _client(slow) as client:
        key = {"Idempotency-Key": "same"}
        one = client.post("/v1/score", json={"batch": {"completion": ["ab"]}}, headers=key)
        two = client.post("/v1/score", json={"batch": {"completion": ["abcd"]}}, headers=key)
        assert one.json()["total"] == [2.0] and two.json()["total"] == [4.0]  # not replayed
        bad = {"batch": {"completion": "x"}}
        assert client.post("/v1/score", json=bad, headers=key).status_code == 422
        assert client.post("/v1/score", json=bad, headers=key).status_code == 422
        long_key = {"Idempotency-Key": "k" * 201}
        refused = client.post("/v1/score", json={"batch": {"completion": ["a"]}}, headers=long_key)
        assert refused.status_code == 400 and "Idempotency-Key" in refused.json()["detail"]
    assert slow.calls == 2


def test_concurrent_duplicates_share_one_scoring():
    slow = Slow(0.5)
    app = create_app(slow, ServeSettings())
    body = {"batch": {"completion": ["slow"]}}
    with live_server(app) as url, concurrent.futures.ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(
            lambda _: httpx.post(f"{url}/v1/score", json=body, timeout=10,
                                 headers={"Idempotency-Key": "dup"}), range(3)))  # fmt: skip
    assert [r.status_code for r in replies] == [200] * 3 and slow.calls == 1
    assert len({r.text for r in replies}) == 1


def test_infinite_rewards_deep_nesting_and_long_keys_are_refused_cleanly():
    infinite = term(lambda completion: [math.inf, 1.0], name="inf")
    with _client(infinite, max_string_chars=40) as client:
        body = client.post("/v1/score", json={"batch": {"completion": ["a", "b"]}}).json()
        assert body["total"] == [None, 1.0] and body["status"] == ["error", "ok"]
        assert "non-finite" in body["messages"][0]
        openrlhf = client.post("/get_reward", json={"query": ["a", "b"]}).json()
        assert openrlhf["rewards"] == [0.0, 1.0] and openrlhf["extra_logs"]["applicable"] == [0, 1]
        deep = '{"batch": {"completion": ["a"], "answer": [' + "[" * 100 + "]" * 100 + "]}}"
        nested = client.post("/v1/score", content=deep)
        assert nested.status_code == 422 and "nested deeper" in nested.json()["detail"]
        hostile = client.post("/v1/score", content="[" * 100_000 + "]" * 100_000)
        assert hostile.status_code in (400, 422)
        wide = client.post("/v1/score", json={"batch": {"c" * 50: ["a"]}})
        assert wide.status_code == 422 and "(a key)" in wide.json()["detail"]
    with pytest.raises(ServeError, match="finite"):
        ServeSettings(not_applicable_score=math.nan)


def test_the_metrics_open_with_the_token_and_the_scheme_is_case_insensitive():
    with _client(Slow(0.0), token=TOKEN) as client:
        lower = client.post("/v1/score", json={"batch": {"completion": ["a"]}},
                            headers={"Authorization": f"bearer {TOKEN}"})  # fmt: skip
        assert lower.status_code == 200
        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert metrics.status_code == 200 and "rewardkit_requests_total" in metrics.text
        assert "term" not in client.get("/healthz").json()  # nothing about the reward leaks
