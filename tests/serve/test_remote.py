"""RemoteReward against live servers on ephemeral loopback ports, with failures injected."""

import pickle

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rewardkit.core.output import Status
from rewardkit.core.spec import build_reward
from rewardkit.serve import RemoteReward, ServeSettings, create_app
from tests.serve.conftest import Slow, live_server

TOKEN = "s3cret-token"
BATCH = {"completion": ["abc", "", "boom", "x"]}


def test_a_remote_reward_equals_the_term_in_process():
    clean = {"completion": ["abc", "", "x"]}
    with live_server(create_app(Slow(0.0), ServeSettings(token=TOKEN, chunk_size=2))) as url:
        remote = RemoteReward(url, token=TOKEN)
        out = remote(clean)
        spec = build_reward({"term": "remote", "url": url, "token": TOKEN, "name": "judge"})
        again = pickle.loads(pickle.dumps(spec))(clean)
        failing = remote(BATCH)  # the chunk holding "boom" fails; the other is scored
    mine = Slow(0.0)(clean)
    np.testing.assert_array_equal(out.status, mine.status)
    np.testing.assert_array_equal(out.total, mine.total)  # NaN where not OK, both sides
    np.testing.assert_array_equal(out.terms["remote/slow"], mine.terms["slow"])
    np.testing.assert_array_equal(again.total, out.total)
    assert failing.status.tolist() == [Status.OK, Status.NOT_APPLICABLE, Status.ERROR,
                                       Status.ERROR]  # fmt: skip
    assert "boom" in failing.messages[2]


def test_a_wrong_or_missing_token_is_an_error_status_not_a_score():
    with live_server(create_app(Slow(0.0), ServeSettings(token=TOKEN))) as url:
        missing = RemoteReward(url, retries=0)(BATCH)
        wrong = RemoteReward(url, token="nope", retries=0)(BATCH)
    assert (missing.status == Status.ERROR).all() and np.isnan(missing.total).all()
    assert "401" in missing.messages[0] and "403" in wrong.messages[0]


def test_an_unreachable_server_is_an_error_and_a_slow_one_a_timeout():
    down = RemoteReward("http://127.0.0.1:9", timeout_s=0.5, retries=1, backoff_s=0.01)(BATCH)
    assert (down.status == Status.ERROR).all() and "cannot reach" in down.messages[0]
    with live_server(create_app(Slow(3.0), ServeSettings())) as url:
        late = RemoteReward(url, timeout_s=0.3, retries=0)({"completion": ["slow"]})
    assert late.status.tolist() == [Status.TIMEOUT] and np.isnan(late.total).all()


def _flaky_app(failures, code, seen):
    """An app that answers ``code`` to its first ``failures`` requests, then 1.0 per sample,
    and records each request's idempotency key."""
    app = FastAPI()

    @app.post("/v1/score")
    async def score(request: Request):
        seen.append(request.headers.get("idempotency-key"))
        if len(seen) <= failures:
            return JSONResponse({"detail": "busy"}, status_code=code,
                                headers={"Retry-After": "0.05"})  # fmt: skip
        count = len((await request.json())["batch"]["completion"])
        return {"total": [1.0] * count, "status": ["ok"] * count, "terms": {}}

    return app


def test_retries_keep_one_idempotency_key_and_4xx_is_not_retried():
    for code in (503, 429):
        seen = []
        with live_server(_flaky_app(2, code, seen)) as url:
            out = RemoteReward(url, retries=3, backoff_s=0.01)({"completion": ["a", "b"]})
        assert out.total.tolist() == [1.0, 1.0] and len(seen) == 3 and len(set(seen)) == 1
    seen = []
    with live_server(_flaky_app(5, 422, seen)) as url:
        out = RemoteReward(url, retries=3, backoff_s=0.01)({"completion": ["a"]})
    assert len(seen) == 1 and out.status.tolist() == [Status.ERROR] and "422" in out.messages[0]
    seen = []
    with live_server(_flaky_app(9, 503, seen)) as url:
        out = RemoteReward(url, retries=2, backoff_s=0.01)({"completion": ["a"]})
    assert len(seen) == 3 and out.status.tolist() == [Status.ERROR]  # gave up: no score
