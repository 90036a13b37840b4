"""``JudgeSettings``: where a judge model lives and how hard it may be called.

One dataclass holds the endpoint (any OpenAI-compatible server: a hosted API,
vLLM, SGLang, llama.cpp or ``transformers serve``), the sampling parameters,
and the limits that keep a training run alive when the judge is slow or
down: bounded concurrency, a per-sample deadline, retries, requests and tokens
per minute, a disk cache and prices for cost accounting.

The API key is read from an environment variable at the first call, never
stored in the settings, never printed and never logged.

Example:
    >>> settings = JudgeSettings(model="gpt-4.1-mini", max_concurrency=16,
    ...                          requests_per_minute=500)
    >>> settings.deadline_s, settings.retries
    (60.0, 2)
    >>> try:
    ...     JudgeSettings(model="m", max_concurrency=0)
    ... except ConfigurationError as exc:
    ...     print(str(exc).split(":")[0])
    max_concurrency must be at least 1, got 0
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from rewardkit.core.errors import ConfigurationError

__all__ = ["JudgeSettings"]


def _positive(value: float | None, what: str, why: str, *, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if value is None or not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{what} must be a positive number, got {value!r}: {why}")


@dataclass(frozen=True)
class JudgeSettings:
    """How a judge reaches its model.

    Attributes:
        model: the model name the server expects (for ``transformers serve``
            on a GGUF file, ``"<folder>:<file>.gguf"``).
        base_url: the server's ``/v1`` address; None reads ``OPENAI_BASE_URL``
            and otherwise uses OpenAI's.
        api_key_env: the environment variable holding the key. Without it
            set, the key is ``"EMPTY"`` (what local servers accept).
        max_concurrency: judge calls in flight at once.
        deadline_s: seconds a judge call may take once sent, retries
            included; past it the sample's status is ``timeout``. Waiting
            for a free slot or a token bucket is not counted.
        retries: retries of a connection failure, a 408/409/429 or a 5xx
            answer, with the ``openai`` client's jittered exponential backoff
            (and the server's ``Retry-After``).
        requests_per_minute: a token bucket on calls (None: no limit).
        tokens_per_minute: a token bucket on tokens, each call counted as its
            prompt's estimated tokens plus ``max_tokens`` (None: no limit).
        cache_dir: a folder for a disk cache of answers keyed by model,
            messages and parameters (None: no cache). Failures are not cached.
        temperature: sampling temperature; self-consistency (``samples > 1``)
            needs it above 0.
        max_tokens: the longest answer, in tokens.
        seed: the base seed sent with each call (sample k of a row uses
            ``seed + k``, from 0 when None); None sends none with one sample.
        structured_output: send the answer's JSON schema as
            ``response_format`` to servers that honour it; the answer is
            parsed the same way either way.
        price_in_per_mtok: price of a million prompt tokens, for the cost
            in :class:`~rewardkit.judge.client.Usage` (None: cost not counted).
        price_out_per_mtok: price of a million completion tokens.
        extra_body: fields sent as they are with each call (a server's own
            options).
    """

    model: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    max_concurrency: int = 8
    deadline_s: float = 60.0
    retries: int = 2
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    cache_dir: str | None = None
    temperature: float = 0.0
    max_tokens: int = 256
    seed: int | None = 0
    structured_output: bool = False
    price_in_per_mtok: float | None = None
    price_out_per_mtok: float | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ConfigurationError("model must name the judge model the server serves")
        if not isinstance(self.max_concurrency, int) or self.max_concurrency < 1:
            raise ConfigurationError(
                f"max_concurrency must be at least 1, got {self.max_concurrency!r}: "
                "it bounds the judge calls in flight at once"
            )
        why = "a sample's judgment needs a time limit"
        _positive(self.deadline_s, "deadline_s", why, allow_none=False)
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ConfigurationError(f"retries must be 0 or more, got {self.retries!r}")
        _positive(self.requests_per_minute, "requests_per_minute", "None means no limit")
        _positive(self.tokens_per_minute, "tokens_per_minute", "None means no limit")
        if not math.isfinite(self.temperature) or self.temperature < 0:
            raise ConfigurationError(f"temperature must be 0 or more, got {self.temperature!r}")
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise ConfigurationError(f"max_tokens must be at least 1, got {self.max_tokens!r}")
        for name in ("price_in_per_mtok", "price_out_per_mtok"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise ConfigurationError(f"{name} must be 0 or more, got {value!r}")
        if self.tokens_per_minute is not None and self.tokens_per_minute < self.max_tokens:
            raise ConfigurationError(
                f"tokens_per_minute={self.tokens_per_minute} is below max_tokens="
                f"{self.max_tokens}: no call could ever fit the budget"
            )

    def api_key(self) -> str:
        """The key from ``api_key_env`` (``"EMPTY"`` when unset, for local servers)."""
        return os.environ.get(self.api_key_env) or "EMPTY"

    def resolved_base_url(self) -> str | None:
        """``base_url``, or ``OPENAI_BASE_URL`` from the environment, or None."""
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or None
