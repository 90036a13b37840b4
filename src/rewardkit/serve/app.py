"""The reward server: one term behind HTTP (FastAPI), with auth, limits, deadlines, metrics.

Endpoints:

- ``POST /v1/score``: ``{"batch": {column: [values]}, "deadline_s": optional}``
  in; ``{"total", "terms", "status", "messages"}`` out, NaN as ``null`` beside
  its status (``ok``, ``not_applicable``, ``timeout``, ``error``).
- ``POST /get_reward``: OpenRLHF's remote reward JSON (``query``, optional
  ``prompts`` and ``labels``) in; ``{"rewards", "scores", "extra_logs"}`` out,
  so ``--remote_rm_url http://host:port/get_reward`` works unchanged. A sample
  without a reward gets ``not_applicable_score`` and ``extra_logs.applicable = 0``
  (OpenRLHF needs numbers); its status is in ``status``.
- ``POST /run_code`` (with ``sandbox_fusion=True``): SandboxFusion's API, as
  verl's ``sandbox_fusion`` reward path calls it (see
  :mod:`rewardkit.serve.sandbox_fusion`); same token, limits and metrics.
- ``GET /healthz`` (no token needed) and ``GET /metrics`` (Prometheus text).

Every request but ``/healthz`` needs ``Authorization: Bearer <token>`` when
the server has a token: 401 without one, 403 with a wrong one (compared in
constant time). Limits answer before any scoring: 413 for a body over
``max_body_bytes`` or a batch over ``max_batch``, 422 for a string over
``max_string_chars`` and for a malformed field (with its path), 400 for JSON
that does not parse, 429 with ``Retry-After`` when ``max_in_flight`` requests
are being scored. A request that was accepted is always answered: samples
past the deadline come back as ``timeout``, a term's exception as ``error``.
A repeated ``Idempotency-Key`` gets the first answer again, without scoring.
CORS is off (no CORS headers are sent), and so are the interactive docs.

Example:
    >>> from fastapi.testclient import TestClient
    >>> from rewardkit.core import term
    >>> length = term(lambda completion: [len(c) for c in completion], name="length")
    >>> with TestClient(create_app(length)) as client:
    ...     client.post("/v1/score", json={"batch": {"completion": ["ab", ""]}}).json()["total"]
    [2.0, 0.0]
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import secrets
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.requests import ClientDisconnect

from rewardkit.core.output import RewardOutput
from rewardkit.core.queries import mark_unsplit, openrlhf_response, query_batch
from rewardkit.core.term import Term, as_term
from rewardkit.serve.scoring import STATUS_NAMES, output_json, score_in_chunks
from rewardkit.serve.settings import ServeSettings

__all__ = ["create_app"]


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch: dict[str, list[Any]] = Field(min_length=1)
    deadline_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _columns_align(self) -> ScoreRequest:
        lengths = {name: len(values) for name, values in self.batch.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"every column needs as many values: {lengths}")
        return self


class OpenRLHFRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None


class _RefusalError(Exception):
    """A request refused before scoring: its status code, message and headers."""

    def __init__(self, code: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.code, self.message, self.headers = code, message, dict(headers or {})


#: the deepest nesting a request may have (JSON deeper than this is refused with 422)
MAX_DEPTH = 32
#: the longest Idempotency-Key accepted
MAX_KEY_CHARS = 200
#: bytes of rendered answers kept for repeated idempotency keys (oldest forgotten first)
IDEMPOTENCY_BYTES = 64 * 1024 * 1024


def _longest_string(value: Any, path: str, max_depth: int = MAX_DEPTH) -> tuple[int, str]:
    """The length and path of the longest string anywhere in a JSON value, keys included
    (iteratively); a value nested deeper than ``max_depth`` is refused."""
    best, stack = (0, path), [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > max_depth:
            raise _RefusalError(422, f"{where} is nested deeper than {max_depth} levels")
        if isinstance(item, str):
            if len(item) > best[0]:
                best = (len(item), where)
        elif isinstance(item, dict):
            for key, child in item.items():
                if len(key) > best[0]:
                    best = (len(key), f"{where} (a key)")
                stack.append((child, f"{where}.{key[:40]}", depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{where}.{i}", depth + 1) for i, child in enumerate(item))
    return best


class _Metrics:
    """Prometheus metrics in the app's own registry."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("rewardkit_requests", "Requests answered, by endpoint and code",
                                ["endpoint", "code"], registry=self.registry)  # fmt: skip
        self.latency = Histogram(
            "rewardkit_request_seconds", "Time to answer a request", ["endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )  # fmt: skip
        self.samples = Counter("rewardkit_samples", "Samples scored, by term and status",
                               ["term", "status"], registry=self.registry)  # fmt: skip
        self.in_flight = Gauge("rewardkit_in_flight", "Requests being scored now (queue depth)",
                               registry=self.registry)  # fmt: skip


class _Server:
    """The state behind the endpoints: term, settings, pool, metrics, idempotency memory."""

    def __init__(self, term: Term, settings: ServeSettings) -> None:
        self.term, self.settings = term, settings
        self.executor: ThreadPoolExecutor | None = None
        self.metrics = _Metrics()
        self.in_flight = 0
        self.received = self.answered = 0  # requests to the scoring endpoints, for the log
        # key -> the first request's answer (code, rendered body), resolved when it is known
        self.answers: collections.OrderedDict[str, asyncio.Future[tuple[int, bytes]]] = (
            collections.OrderedDict()
        )
        self.answer_bytes = 0

    def remember(self, key: str, code: int, body: bytes) -> None:
        """Keep a 2xx answer for its key, within :data:`IDEMPOTENCY_BYTES`; forget others."""
        if code // 100 != 2:
            self.answers.pop(key, None)
            return
        self.answer_bytes += len(body)
        while self.answer_bytes > IDEMPOTENCY_BYTES and self.answers:
            _, oldest = self.answers.popitem(last=False)
            if oldest.done() and not oldest.cancelled():
                self.answer_bytes -= len(oldest.result()[1])

    def authorize(self, header: str | None) -> None:
        token = self.settings.token
        if token is None:
            return
        scheme, _, given = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise _RefusalError(401, "this server needs 'Authorization: Bearer <token>'",
                                {"WWW-Authenticate": "Bearer"})  # fmt: skip
        given = given.strip()
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise _RefusalError(403, "the bearer token is not this server's")

    async def body(self, request: Any) -> tuple[bytes, Any]:
        """The request's body and its JSON, read within ``max_body_bytes``."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _RefusalError(413, f"the body is {declared} bytes; the limit (max_body_bytes) "
                                f"is {limit}")  # fmt: skip
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _RefusalError(
                        413, f"the body is over the limit (max_body_bytes) of {limit} bytes"
                    )
                chunks.append(chunk)
        except ClientDisconnect as exc:
            raise _RefusalError(400, "the client went away before sending its body") from exc
        raw = b"".join(chunks)
        try:
            return raw, json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _RefusalError(400, f"the body is not valid JSON: {exc}") from exc
        except RecursionError as exc:
            raise _RefusalError(400, "the body's JSON is nested too deeply to read") from exc

    def check_sizes(self, payload: Any, samples: int) -> None:
        if samples > self.settings.max_batch:
            raise _RefusalError(413, f"the batch has {samples} samples; the limit (max_batch) is "
                                f"{self.settings.max_batch}")  # fmt: skip
        length, path = _longest_string(payload, "body")
        if length > self.settings.max_string_chars:
            raise _RefusalError(422, f"{path} is {length} characters; the limit (max_string_chars) "
                                f"is {self.settings.max_string_chars}")  # fmt: skip

    async def score(self, batch: Mapping[str, Any], deadline_s: float | None) -> RewardOutput:
        assert self.executor is not None, "the server's worker pool is not running"
        deadline = min(deadline_s or self.settings.deadline_s, self.settings.deadline_s)
        out = await score_in_chunks(self.term, batch, self.executor, self.settings.chunk_size,
                                    deadline)  # fmt: skip
        for code, count in zip(*np.unique(out.status, return_counts=True), strict=True):
            self.metrics.samples.labels(self.term.name, STATUS_NAMES[int(code)]).inc(int(count))
        return out


def _render(content: Any) -> bytes:
    """JSON bytes; NaN and infinity are refused (they never travel as numbers)."""
    return json.dumps(content, allow_nan=False, separators=(",", ":")).encode()


def _idempotency_key(header: str | None, endpoint: str, raw: bytes) -> str | None:
    """The memory key of a request: its endpoint, Idempotency-Key and body (a key reused
    with another body is another request)."""
    if header is None:
        return None
    if not header or len(header) > MAX_KEY_CHARS:
        raise _RefusalError(400, f"an Idempotency-Key must have 1 to {MAX_KEY_CHARS} characters")
    return f"{endpoint}:{header}:{hashlib.sha256(raw).hexdigest()}"


def _validation_errors(exc: Any) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
        for error in exc.errors()
    )


def create_app(term: Term, settings: ServeSettings | None = None) -> Any:
    """A FastAPI app that serves ``term`` (see the module docs); run it with uvicorn."""
    server = _Server(as_term(term), settings or ServeSettings())

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        server.executor = ThreadPoolExecutor(server.settings.workers, "rewardkit-serve")
        try:
            yield
        finally:
            server.executor.shutdown(wait=True, cancel_futures=True)
            print(f"rewardkit serve: stopped; {server.received} scoring requests received, "
                  f"{server.answered} answered", file=sys.stderr, flush=True)  # fmt: skip

    app = FastAPI(title="rewardkit", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # fmt: skip
    app.state.rewardkit = server

    _add_scoring_routes(app, server)
    if server.settings.sandbox_fusion:
        _add_sandbox_fusion(app, server)
    _add_health_routes(app, server)
    return app


async def _answer(
    server: _Server, request: Request, endpoint: str, work: Callable[[Any], Awaitable[Any]]
) -> Response:
    """Authorize, read the body, shed load, score it once per idempotency key (and body),
    and count it all. Every request gets a JSON answer."""
    start = time.perf_counter()
    server.received += 1
    counted, pending, key = False, None, None
    try:
        server.authorize(request.headers.get("authorization"))
        raw, payload = await server.body(request)  # before taking a slot: slow uploads
        key = _idempotency_key(request.headers.get("idempotency-key"), endpoint, raw)
        if key is not None and key in server.answers:
            code, body = await asyncio.shield(server.answers[key])
        else:
            if server.in_flight >= server.settings.max_in_flight:
                busy = f"{server.in_flight} requests are being scored (the limit, max_in_flight)"
                raise _RefusalError(429, f"{busy}; retry shortly", {"Retry-After": "1"})
            server.in_flight += 1
            counted = True
            server.metrics.in_flight.set(server.in_flight)
            if key is not None:
                pending = asyncio.get_running_loop().create_future()
                server.answers[key] = pending
            try:
                code, body = 200, _render(await work(payload))
            except _RefusalError as refusal:
                code, body = refusal.code, _render({"detail": refusal.message})
            except Exception as exc:  # a bug of ours: still an answer, never a hang
                code, body = 500, _render({"detail": f"{type(exc).__name__}: {exc}"})
            if pending is not None and key is not None:
                pending.set_result((code, body))
                server.remember(key, code, body)
        response = Response(body, status_code=code, media_type="application/json")
    except _RefusalError as refusal:
        response = JSONResponse({"detail": refusal.message}, status_code=refusal.code,
                                headers=refusal.headers)  # fmt: skip
    finally:
        if counted:
            server.in_flight -= 1
            server.metrics.in_flight.set(server.in_flight)
        if pending is not None and not pending.done():  # cancelled: waiters still answered
            pending.set_result((503, _render({"detail": "the request was cancelled"})))
            server.answers.pop(key or "", None)
    server.metrics.requests.labels(endpoint, str(response.status_code)).inc()
    server.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
    server.answered += 1
    return response


def _add_scoring_routes(app: FastAPI, server: _Server) -> None:
    """``/v1/score`` (rewardkit's own) and ``/get_reward`` (OpenRLHF's)."""

    @app.post("/v1/score")
    async def score(request: Request) -> Response:
        async def work(payload: Any) -> Any:
            try:
                parsed = ScoreRequest.model_validate(payload)
            except ValidationError as exc:
                raise _RefusalError(422, _validation_errors(exc)) from exc
            samples = len(next(iter(parsed.batch.values())))
            server.check_sizes(payload, samples)
            out = await server.score(parsed.batch, parsed.deadline_s)
            return output_json(out)

        return await _answer(server, request, "/v1/score", work)

    @app.post("/get_reward")
    async def get_reward(request: Request) -> Response:
        async def work(payload: Any) -> Any:
            try:
                parsed = OpenRLHFRequest.model_validate(payload)
                batch, responses = query_batch(parsed.query, parsed.prompts, parsed.labels)
            except ValidationError as exc:
                raise _RefusalError(422, _validation_errors(exc)) from exc
            except ValueError as exc:  # lengths that do not match
                raise _RefusalError(422, str(exc)) from exc
            server.check_sizes(payload, len(parsed.query))
            out = mark_unsplit(await server.score(batch, None), responses)
            response = openrlhf_response(out, server.settings.not_applicable_score)
            return {
                "rewards": response["rewards"].tolist(),
                "scores": response["scores"].tolist(),
                "extra_logs": {k: v.tolist() for k, v in response["extra_logs"].items()},
                "status": [STATUS_NAMES[int(s)] for s in out.status],
            }

        return await _answer(server, request, "/get_reward", work)


def _add_sandbox_fusion(app: FastAPI, server: _Server) -> None:
    """SandboxFusion's ``/run_code`` (the subset verl's ``sandbox_fusion`` reward calls)."""

    from rewardkit.serve.sandbox_fusion import RunCodeRequest, run_code
    from rewardkit.verify.code_languages import LANGUAGES
    from rewardkit.verify.sandbox import Sandbox

    binds = [path for language in LANGUAGES.values() for path in language.bind_paths()]
    sandbox = Sandbox(binds=binds)  # full isolation or refused here, at start-up

    @app.post("/run_code")
    async def run_code_endpoint(request: Request) -> Response:
        async def work(payload: Any) -> Any:
            try:
                parsed = RunCodeRequest.model_validate(payload)
            except ValidationError as exc:
                raise _RefusalError(422, _validation_errors(exc)) from exc
            server.check_sizes(payload, 1)
            settings = server.settings
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                server.executor, run_code, sandbox, parsed, settings.sandbox_max_seconds,
                settings.sandbox_max_memory_mb,
            )  # fmt: skip

        return await _answer(server, request, "/run_code", work)


def _add_health_routes(app: FastAPI, server: _Server) -> None:
    """``/healthz`` (no token) and ``/metrics`` (Prometheus, with the token)."""

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "in_flight": server.in_flight}

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        try:
            server.authorize(request.headers.get("authorization"))
        except _RefusalError as refusal:
            return JSONResponse({"detail": refusal.message}, status_code=refusal.code,
                                headers=refusal.headers)  # fmt: skip
        return Response(generate_latest(server.metrics.registry), media_type=CONTENT_TYPE_LATEST)
