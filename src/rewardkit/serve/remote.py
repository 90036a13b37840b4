"""``RemoteReward``: a term whose rewards come from a ``rewardkit serve`` server.

It posts the batch to ``/v1/score`` with a bearer token and an
``Idempotency-Key`` that stays the same across its retries, so a retried
request is answered from the server's memory rather than scored twice. It
retries connection failures, 429 and 5xx answers up to ``retries`` times, with
exponential backoff (honouring ``Retry-After``). A failure it cannot recover
from becomes status ``timeout`` (the server took too long) or ``error`` (any
other failure) for every sample, with the reason as the message: never a
score. Because it is a term, the trainers, TRL and verl use a remote reward
unchanged.

Example:
    >>> RemoteReward("http://127.0.0.1:9", timeout_s=0.5, retries=0)(
    ...     {"completion": ["a"]}).status.tolist()  # nothing listens on port 9
    [3]
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, batch_size
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import RewardOutput, Status, concat_outputs, failed_output
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm

__all__ = ["RemoteReward"]

_STATUS_CODES = {s.name.lower(): int(s) for s in Status}
#: longest wait a server's Retry-After can impose between two attempts
MAX_RETRY_AFTER_S = 10.0


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


@register("remote")
class RemoteReward(RewardTerm):
    """The rewards a ``rewardkit serve`` server at ``url`` computes for the batch.

    Args:
        url: the server's base URL (``http://127.0.0.1:8000``).
        token: its bearer token, if it has one.
        timeout_s: seconds to wait for one attempt's answer (connect and read).
        retries: further attempts after a failed one (connection error, 429, 5xx).
        backoff_s: the first wait between attempts; it doubles after each (with jitter, and
            at least the server's ``Retry-After``, at most 10 s).
        chunk_size: samples per request (keep it within the server's ``max_batch``).
        name: the term's name.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout_s: float = 60.0,
        retries: int = 3,
        backoff_s: float = 0.2,
        chunk_size: int = 1024,
        name: str = "remote",
    ) -> None:
        super().__init__(name)
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"RemoteReward needs an http(s) URL, got {url!r}")
        if not (timeout_s > 0 and retries >= 0 and backoff_s >= 0 and chunk_size >= 1):
            raise ConfigurationError(
                "timeout_s must be > 0, retries >= 0, backoff_s >= 0 and chunk_size >= 1"
            )
        self.chunk_size = int(chunk_size)
        self.url = url.rstrip("/")
        self.token = token
        self.timeout_s, self.retries, self.backoff_s = float(timeout_s), int(retries), backoff_s
        self._client: Any = None

    def __getstate__(self) -> dict[str, Any]:  # the HTTP client is not pickled
        return {**self.__dict__, "_client": None}

    def _http(self) -> Any:
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s)
        return self._client

    def _failed(self, count: int, status: Status, message: str) -> RewardOutput:
        return failed_output(count, status, message, [self.name])

    def _compute(self, batch: Batch) -> RewardOutput:
        count = batch_size(batch)
        if count == 0:
            return RewardOutput(np.empty(0), {}, np.empty(0, dtype=np.int8), ())
        parts = [
            self._request(
                {key: values[start : start + self.chunk_size] for key, values in batch.items()}
            )
            for start in range(0, count, self.chunk_size)
        ]
        return concat_outputs(parts)

    def _request(self, batch: Mapping[str, Any]) -> RewardOutput:
        """One request (retried under one idempotency key) for a chunk of the batch."""
        import httpx

        count = batch_size(batch)
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {"batch": {key: _jsonable(values) for key, values in batch.items()}}
        reason, status, retry_after = "", Status.ERROR, 0.0
        for attempt in range(self.retries + 1):
            if attempt:  # exponential backoff with jitter, at least the server's Retry-After
                wait = self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random())
                time.sleep(min(MAX_RETRY_AFTER_S, max(wait, retry_after)))
            try:
                response = self._http().post(f"{self.url}/v1/score", json=body, headers=headers)
            except httpx.TimeoutException as exc:
                reason = f"{self.url} did not answer in {self.timeout_s:g} s: {exc}"
                status = Status.TIMEOUT
                continue
            except httpx.HTTPError as exc:
                reason = f"cannot reach {self.url}: {type(exc).__name__}: {exc}"
                status = Status.ERROR
                continue
            if response.status_code == 200:
                return self._output(response, count)
            detail = _detail(response)
            reason, status = f"{self.url} answered {response.status_code}: {detail}", Status.ERROR
            if response.status_code == 429 or response.status_code >= 500:
                header = response.headers.get("retry-after", "")
                retry_after = float(header) if header.replace(".", "", 1).isdigit() else 0.0
                continue
            break  # 4xx: the request itself is wrong; sending it again will not help
        return self._failed(count, status, reason)

    def _output(self, response: Any, count: int) -> RewardOutput:
        try:
            payload = response.json()
            total = np.array([_float(v) for v in payload["total"]], dtype=np.float64)
            status = np.array([_STATUS_CODES[s] for s in payload["status"]], dtype=np.int8)
            terms = {self.name: total.copy()}  # the server's parts, under this term's name
            terms.update({f"{self.name}/{name}": np.array([_float(v) for v in values])
                          for name, values in payload.get("terms", {}).items()})  # fmt: skip
            messages = payload.get("messages")
            if len(total) != count:
                raise ValueError(f"{len(total)} rewards for {count} samples")
            return RewardOutput(total, terms, status,
                                tuple(messages) if messages is not None else None)  # fmt: skip
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return self._failed(count, Status.ERROR,
                                f"{self.url} answered with a malformed body: {exc}")  # fmt: skip


def _detail(response: Any) -> str:
    try:
        return str(response.json().get("detail", response.text))[:500]
    except ValueError:
        return str(response.text)[:500]
