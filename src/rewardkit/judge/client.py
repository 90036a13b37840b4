"""``JudgeClient``: many judge calls at once, within limits, failures as statuses.

A reward term is called synchronously (by a trainer, an adapter, a Ray actor)
but a judge is a network call that should run many at a time. The client owns
an event loop on a background thread and the ``openai`` SDK's async client on
it; :meth:`JudgeClient.run` sends a list of requests and waits for all of
them. Each request:

1. is answered from the disk cache when the same model, messages and
   parameters were answered before;
2. waits for a free slot (``max_concurrency``) and for the token buckets
   (requests and tokens per minute, :mod:`aiolimiter`);
3. is sent with the SDK's retries (jittered exponential backoff on
   connection failures, 408/409/429 and 5xx, honouring ``Retry-After``);
4. must be answered within ``deadline_s`` of being sent, retries included
   (waiting for a slot or a token bucket is not counted: a large batch on a
   healthy server does not time out in the queue).

A request that cannot be answered comes back as a :class:`JudgeFailure`
(status ``timeout`` or ``error`` and the reason), never as text, and one
failure never stops the others. Usage (calls, cache hits, tokens, failures,
cost when prices are given) accumulates in :attr:`JudgeClient.usage`.

The client pickles without its loop, connection or key, so a judge term goes
to Ray workers and subprocesses and reconnects there.

Example:
    >>> client = JudgeClient(JudgeSettings(model="m", base_url="http://127.0.0.1:9/v1",
    ...                                    retries=0, deadline_s=2.0))
    >>> reply, = client.run([ChatRequest.user("2+2?")])  # nothing listens on port 9
    >>> reply.status.name, reply.reason.startswith("connection failed")
    ('ERROR', True)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
from collections.abc import Coroutine, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

try:
    import openai
    from aiolimiter import AsyncLimiter
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "rewardkit.judge needs the judge extra: pip install 'rewardkit[judge]'"
    ) from exc

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import Status
from rewardkit.judge.settings import JudgeSettings

__all__ = ["ChatRequest", "JudgeClient", "JudgeFailure", "Reply", "Usage"]

T = TypeVar("T")


@dataclass(frozen=True)
class ChatRequest:
    """One chat call: messages and per-call parameters (merged over the settings').

    Attributes:
        messages: OpenAI chat messages (``{"role", "content"}``).
        params: fields that override or add to the call's parameters
            (``temperature``, ``seed``, ``logprobs``, ``response_format``...).
    """

    messages: tuple[Mapping[str, Any], ...]
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def user(cls, text: str, system: str | None = None, **params: Any) -> ChatRequest:
        """A request of one user message, after an optional system message."""
        messages: list[Mapping[str, Any]] = []
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": text})
        return cls(tuple(messages), params)


@dataclass(frozen=True)
class Reply:
    """A server's answer to one request.

    Attributes:
        text: the assistant message's content.
        top_logprobs: for the first answer token, token → log-probability,
            where the server returned log-probabilities (else None).
        prompt_tokens: prompt tokens the server counted (0 from the cache).
        completion_tokens: answer tokens the server counted.
        cached: True when the answer came from the disk cache.
        seconds: how long the call took once sent, retries included (0 from
            the cache).
        first_token: the answer's first token, where log-probabilities came
            with it.
    """

    text: str
    top_logprobs: dict[str, float] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    seconds: float = field(default=0.0, compare=False)
    first_token: str | None = None


@dataclass(frozen=True)
class JudgeFailure:
    """A request that got no usable answer: ``status`` (TIMEOUT or ERROR) and why."""

    status: Status
    reason: str


@dataclass
class Usage:
    """What the judge cost so far; :meth:`as_dict` is what the logs get."""

    calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    timeouts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None

    def as_dict(self) -> dict[str, float]:
        out = {
            "calls": float(self.calls),
            "cache_hits": float(self.cache_hits),
            "failures": float(self.failures),
            "timeouts": float(self.timeouts),
            "prompt_tokens": float(self.prompt_tokens),
            "completion_tokens": float(self.completion_tokens),
        }
        if self.cost is not None:
            out["cost"] = self.cost
        return out


def _estimated_tokens(request: ChatRequest, max_tokens: int) -> int:
    characters = sum(len(str(m.get("content", ""))) for m in request.messages)
    return characters // 4 + max_tokens


def _first_token_logprobs(choice: Any) -> tuple[dict[str, float] | None, str | None]:
    """The first answer token's alternatives (token → log-probability) and the token itself."""
    logprobs = getattr(choice, "logprobs", None)
    content = getattr(logprobs, "content", None) if logprobs is not None else None
    if not content:
        return None, None
    first = content[0]
    tops = getattr(first, "top_logprobs", None) or []
    table = {str(t.token): float(t.logprob) for t in tops}
    table.setdefault(str(first.token), float(first.logprob))
    return table, str(first.token)


class JudgeClient:
    """Sends chat requests to an OpenAI-compatible server; see the module doc."""

    def __init__(self, settings: JudgeSettings) -> None:
        if not isinstance(settings, JudgeSettings):
            raise ConfigurationError(
                f"JudgeClient takes JudgeSettings, got {type(settings).__name__}"
            )
        self.settings = settings
        self.usage = Usage(cost=0.0 if self._priced else None)
        self._setup_runtime()

    @property
    def _priced(self) -> bool:
        s = self.settings
        return s.price_in_per_mtok is not None or s.price_out_per_mtok is not None

    def _setup_runtime(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._openai: Any = None
        self._semaphore: asyncio.Semaphore | None = None
        self._limiters: tuple[Any, Any] | None = None
        self._cache: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings, "usage": self.usage}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.settings = state["settings"]
        self.usage = state["usage"]
        self._setup_runtime()

    def __repr__(self) -> str:
        s = self.settings
        return f"JudgeClient(model={s.model!r}, base_url={s.resolved_base_url()!r})"

    # -- the background loop ------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._pid != os.getpid():  # a forked child: the parent's loop thread is not here
            self._setup_runtime()
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="rewardkit-judge", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Run ``coroutine`` on the client's loop; a future of its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._ensure_loop())

    def close(self) -> None:
        """Close the connection and stop the loop (a later call starts them again)."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        if self._openai is not None:
            asyncio.run_coroutine_threadsafe(self._openai.close(), loop).result(timeout=5)
        asyncio.run_coroutine_threadsafe(_cancel_others(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        loop.close()
        if self._cache is not None:
            self._cache.close()
        self._openai, self._semaphore, self._limiters, self._cache = None, None, None, None

    # -- parts created on the loop ------------------------------------------

    def _client(self) -> Any:
        if self._openai is None:
            s = self.settings
            self._openai = openai.AsyncOpenAI(
                api_key=s.api_key(),
                base_url=s.resolved_base_url(),
                max_retries=s.retries,
                timeout=s.deadline_s,
            )
        return self._openai

    def _slots(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.settings.max_concurrency)
        return self._semaphore

    def _buckets(self) -> tuple[Any, Any]:
        if self._limiters is None:
            s = self.settings
            rpm = AsyncLimiter(s.requests_per_minute, 60.0) if s.requests_per_minute else None
            tpm = AsyncLimiter(s.tokens_per_minute, 60.0) if s.tokens_per_minute else None
            self._limiters = (rpm, tpm)
        return self._limiters

    def _disk(self) -> Any:
        if self._cache is None and self.settings.cache_dir is not None:
            import diskcache

            self._cache = diskcache.Cache(self.settings.cache_dir)
        return self._cache

    # -- one request -----------------------------------------------------------

    def call_parameters(self, request: ChatRequest) -> dict[str, Any]:
        """The full parameters of ``request``: the settings', then its own."""
        s = self.settings
        params: dict[str, Any] = {"temperature": s.temperature, "max_tokens": s.max_tokens}
        if s.seed is not None:
            params["seed"] = s.seed
        params.update(request.params)
        return params

    def cache_key(self, request: ChatRequest) -> str:
        """sha256 of the model, the server, the messages and the full parameters."""
        payload = {
            "model": self.settings.model,
            "base_url": self.settings.resolved_base_url(),
            "messages": [dict(m) for m in request.messages],
            "params": self.call_parameters(request),
            "extra_body": self.settings.extra_body,
        }
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    async def complete(self, request: ChatRequest) -> Reply | JudgeFailure:
        """Answer one request (cache, limits, retries, deadline); never raises."""
        s = self.settings
        cache = self._disk()
        key = self.cache_key(request) if cache is not None else ""
        if cache is not None:
            hit = await asyncio.to_thread(_cache_get, cache, key)  # SQLite: off the loop
            if isinstance(hit, Reply):
                self._count(cache_hit=True)
                return replace(hit, prompt_tokens=0, completion_tokens=0, cached=True, seconds=0.0)
        try:
            reply = await self._send(request)
        except TimeoutError:
            return self._failed(Status.TIMEOUT, f"no answer within deadline_s={s.deadline_s:g}")
        except Exception as exc:  # every failure of one call is that sample's status
            return self._failed(*_describe(exc))
        if isinstance(reply, JudgeFailure):
            return self._failed(reply.status, reply.reason)
        self._count(reply=reply)
        if cache is not None:
            await asyncio.to_thread(_cache_set, cache, key, reply)
        return reply

    async def _send(self, request: ChatRequest) -> Reply | JudgeFailure:
        s = self.settings
        rpm, tpm = self._buckets()
        if rpm is not None:
            await rpm.acquire()
        if tpm is not None:
            budget = float(s.tokens_per_minute or 0)
            await tpm.acquire(min(_estimated_tokens(request, s.max_tokens), budget))
        async with self._slots(), asyncio.timeout(s.deadline_s):
            started = time.monotonic()
            response = await self._client().chat.completions.create(
                model=s.model,
                messages=[dict(m) for m in request.messages],
                extra_body=s.extra_body or None,
                **self.call_parameters(request),
            )
            seconds = time.monotonic() - started
        if not response.choices:
            return JudgeFailure(Status.ERROR, "the server answered with no choices")
        choice = response.choices[0]
        message = choice.message
        refusal = getattr(message, "refusal", None)
        if refusal:
            return JudgeFailure(Status.ERROR, f"the judge refused: {refusal}")
        if choice.finish_reason == "content_filter":
            return JudgeFailure(Status.ERROR, "the judge's answer was filtered (content_filter)")
        text = message.content or ""
        if not text.strip():
            return JudgeFailure(Status.ERROR, "the judge answered with empty text")
        usage = response.usage
        alternatives, first_token = _first_token_logprobs(choice)
        return Reply(
            text,
            alternatives,
            int(getattr(usage, "prompt_tokens", 0) or 0),
            int(getattr(usage, "completion_tokens", 0) or 0),
            seconds=seconds,
            first_token=first_token,
        )

    def _count(self, *, cache_hit: bool = False, reply: Reply | None = None) -> None:
        with self._lock:
            if cache_hit:
                self.usage.cache_hits += 1
                return
            assert reply is not None
            self.usage.calls += 1
            self.usage.prompt_tokens += reply.prompt_tokens
            self.usage.completion_tokens += reply.completion_tokens
            if self.usage.cost is not None:
                s = self.settings
                self.usage.cost += (
                    reply.prompt_tokens * (s.price_in_per_mtok or 0.0)
                    + reply.completion_tokens * (s.price_out_per_mtok or 0.0)
                ) / 1e6

    def _failed(self, status: Status, reason: str) -> JudgeFailure:
        with self._lock:
            self.usage.failures += 1
            self.usage.timeouts += int(status == Status.TIMEOUT)
        return JudgeFailure(status, reason)

    async def post_json(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST ``body`` to a path beside ``/chat/completions``; the JSON or a failure."""
        s = self.settings
        try:
            async with self._slots(), asyncio.timeout(s.deadline_s):
                answer = await self._client().post(path, cast_to=object, body=dict(body))
        except TimeoutError:
            return self._failed(Status.TIMEOUT, f"no answer within deadline_s={s.deadline_s:g}")
        except Exception as exc:  # every failure of one call is that sample's status
            return self._failed(*_describe(exc))
        with self._lock:
            self.usage.calls += 1
        return answer

    def post_all(self, path: str, bodies: Sequence[Mapping[str, Any]]) -> list[Any]:
        """:meth:`post_json` for every body, concurrently (blocking), in order."""

        async def every() -> list[Any]:
            return list(await asyncio.gather(*(self.post_json(path, b) for b in bodies)))

        return self.submit(every()).result() if bodies else []

    # -- many requests ------------------------------------------------------------

    async def complete_all(self, requests: Sequence[ChatRequest]) -> list[Reply | JudgeFailure]:
        """Answer every request concurrently, in order."""
        return list(await asyncio.gather(*(self.complete(r) for r in requests)))

    def run(self, requests: Sequence[ChatRequest]) -> list[Reply | JudgeFailure]:
        """Answer every request (blocking); one result per request, in order."""
        if not requests:
            return []
        return self.submit(self.complete_all(requests)).result()


async def _cancel_others() -> None:
    """Cancel every task on the running loop but this one: a batch in flight when the
    client closes gets its cancellation, so no caller waits on a stopped loop."""
    current = asyncio.current_task()
    for task in asyncio.all_tasks():
        if task is not current:
            task.cancel()


def _cache_get(cache: Any, key: str) -> Any:
    """The cached answer, or None where there is none or the cache cannot be read (a
    damaged entry, a full or read-only disk): the cache saves calls, it never fails one."""
    try:
        return cache.get(key)
    except Exception:  # an unreadable entry is a miss
        return None


def _cache_set(cache: Any, key: str, reply: Reply) -> None:
    try:
        cache.set(key, reply)
    except Exception:  # the answer stands even where it cannot be saved
        return


def _describe(exc: BaseException) -> tuple[Status, str]:
    if isinstance(exc, openai.APITimeoutError):
        return Status.TIMEOUT, "the server did not answer in time (request timeout)"
    if isinstance(exc, openai.APIConnectionError):
        return Status.ERROR, f"connection failed: {exc.__cause__ or exc}"
    if isinstance(exc, openai.APIStatusError):
        return Status.ERROR, f"the server answered HTTP {exc.status_code}: {_short(exc.message)}"
    return Status.ERROR, f"{type(exc).__name__}: {_short(str(exc))}"


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
