"""Queries as OpenRLHF sends them: prompt + response in one string, special tokens included.

OpenRLHF's remote reward (a Python file or an HTTP URL) receives ``queries``,
each the prompt and the response decoded together with
``skip_special_tokens=False``, beside the ``prompts`` and ``labels``.
:func:`split_response` recovers the response; :func:`query_batch` builds the
rewardkit batch (``query``, ``prompt``, ``completion``, ``answer``) that the
OpenRLHF adapter and the reward server's ``/get_reward`` both score, and
:func:`mark_unsplit` makes a sample whose response cannot be recovered not
applicable, with a message.

Example:
    >>> batch, responses = query_batch(["Q: 2+2? A: 4</s>"], ["Q: 2+2? A: "], ["4"])
    >>> batch["completion"], batch["answer"]
    (['4'], ['4'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import RewardOutput, Status

__all__ = [
    "COMMON_SPECIAL_TOKENS",
    "STATUS_KEYS",
    "extra_logs",
    "mark_unsplit",
    "openrlhf_response",
    "query_batch",
    "special_token_list",
    "split_response",
]

#: end-of-sequence and padding tokens of common model families, removed from responses
COMMON_SPECIAL_TOKENS = (
    "</s>",
    "<s>",
    "<pad>",
    "<eos>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|end_of_text|>",
    "<|end|>",
    "<end_of_turn>",
    "<\uff5cend\u2581of\u2581sentence\uff5c>",  # DeepSeek's, in full-width bars
)


def _strip_tokens(text: str, tokens: Sequence[str]) -> str:
    """``text`` without the special tokens (and whitespace) at its start and end; a
    ``<s>`` inside an answer (HTML strikethrough, say) stays."""
    changed = True
    while changed:
        changed = False
        text = text.strip()
        for token in tokens:
            if text.endswith(token):
                text, changed = text[: -len(token)], True
            if text.startswith(token):
                text, changed = text[len(token) :], True
    return text


def split_response(
    query: str, prompt: str, special_tokens: Sequence[str] = COMMON_SPECIAL_TOKENS
) -> str | None:
    """The response part of an OpenRLHF query, without special tokens; None if the
    query does not start with the prompt (leading special tokens such as a BOS
    that decoding added are ignored).

    Example:
        >>> split_response("Q: hi A: hello</s>", "Q: hi A: ")
        'hello'
        >>> split_response("<s>Q: hi A: hello", "Q: hi A: ")
        'hello'
        >>> split_response("a different prompt A: 7", "Q: hi A: ") is None
        True
    """
    if not query.startswith(prompt):
        trimmed = query
        while token := next((t for t in special_tokens if trimmed.startswith(t)), None):
            trimmed = trimmed[len(token) :]
        if not trimmed.startswith(prompt):
            return None
        query = trimmed
    return _strip_tokens(query[len(prompt) :], special_tokens)


def special_token_list(special_tokens: Sequence[str] | Any) -> tuple[str, ...]:
    """Strings to remove from responses: a list of them, or a Hugging Face tokenizer's
    ``all_special_tokens``; longest first, so ``"<|end|>"`` does not cut
    ``"<|endoftext|>"`` apart."""
    tokens = getattr(special_tokens, "all_special_tokens", special_tokens)
    if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
        raise ConfigurationError("special_tokens must be a list of strings or a tokenizer")
    return tuple(sorted({t for t in tokens if t}, key=len, reverse=True))


def query_batch(
    queries: Sequence[str],
    prompts: Sequence[str] | None,
    labels: Sequence[Any] | None = None,
    special_tokens: Sequence[str] = COMMON_SPECIAL_TOKENS,
) -> tuple[dict[str, list[Any]], list[str | None]]:
    """The batch of OpenRLHF's ``queries`` (with ``query``, ``prompt``, ``completion``,
    ``answer``), and each response (None where the query does not start with its prompt).

    Without ``prompts`` (OpenRLHF's newest HTTP client sends queries only) the
    response is the whole query without its special tokens, and the prompt is
    empty.
    """
    queries = list(queries)
    if prompts is None:
        responses: list[str | None] = [_strip_tokens(q, special_tokens) for q in queries]
        prompts = [""] * len(queries)
    else:
        prompts = list(prompts)
        if len(queries) != len(prompts):
            raise ConfigurationError(f"{len(queries)} queries for {len(prompts)} prompts")
        responses = [
            split_response(q, p, special_tokens) for q, p in zip(queries, prompts, strict=True)
        ]
    if labels is not None and len(labels) != len(queries):
        raise ConfigurationError(f"{len(labels)} labels for {len(queries)} queries")
    batch: dict[str, list[Any]] = {
        "query": queries,
        "prompt": list(prompts),
        "completion": [r if r is not None else "" for r in responses],
        "answer": list(labels) if labels is not None else [None] * len(queries),
    }
    return batch, responses


def mark_unsplit(out: RewardOutput, responses: Sequence[str | None]) -> RewardOutput:
    """``out`` with the samples whose response is unknown (None) made not applicable."""
    unsplit = np.array([r is None for r in responses], dtype=bool)
    if not unsplit.any():
        return out
    total = np.where(unsplit, np.nan, out.total)
    status = np.where(unsplit, Status.NOT_APPLICABLE, out.status).astype(np.int8)
    terms = {k: np.where(unsplit, np.nan, v) for k, v in out.terms.items()}
    messages = list(out.messages or (None,) * len(out))
    for index in np.flatnonzero(unsplit):
        messages[index] = "the query does not start with its prompt: response unknown"
    return RewardOutput(total, terms, status, tuple(messages))


#: the per-sample status flags in OpenRLHF's ``extra_logs`` (their logged means are fractions)
STATUS_KEYS = ("applicable", "timeout", "error")


def openrlhf_response(
    out: RewardOutput, fill: float, keys: Sequence[str] | None = None
) -> dict[str, Any]:
    """OpenRLHF's reward response for an output, as arrays: ``rewards`` and ``scores``
    (the total where the sample has a reward, ``fill`` elsewhere) and ``extra_logs``
    (see :func:`extra_logs`). The server and the adapter both answer with it.

    Example:
        >>> out = RewardOutput(np.array([0.5, np.nan]), status=np.array([0, 2], np.int8))
        >>> response = openrlhf_response(out, 0.0, keys=())
        >>> response["rewards"].tolist(), response["extra_logs"]["timeout"].tolist()
        ([0.5, 0.0], [0.0, 1.0])
    """
    rewards = np.where(out.status == Status.OK, out.total, fill)
    return {"rewards": rewards, "scores": rewards, "extra_logs": extra_logs(out, fill, keys)}


def extra_logs(
    out: RewardOutput, fill: float, keys: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """OpenRLHF's ``extra_logs`` for an output, one value per sample.

    OpenRLHF logs each key's mean over samples and needs a finite number for
    every sample, so each part (``keys``, default all of ``out.terms``) is
    ``fill`` where it has no value, next to ``<part>/applicable`` (1 where it
    has one); ``applicable``, ``timeout`` and ``error`` flag the sample's status.
    A part's mean over the samples it scored is ``mean(<part>) /
    mean(<part>/applicable)`` when ``fill`` is 0: a missing value is never
    logged as a 0 that cannot be told apart.

    Example:
        >>> out = RewardOutput(np.array([1.0, np.nan]), status=np.array([0, 2], np.int8))
        >>> logs = extra_logs(out, 0.0, keys=())
        >>> logs["applicable"].tolist(), logs["timeout"].tolist()
        ([1.0, 0.0], [0.0, 1.0])
    """
    n = len(out)
    logs: dict[str, np.ndarray] = {}
    for key in out.terms if keys is None else keys:
        values = out.terms.get(key, np.full(n, np.nan))
        has_value = np.isfinite(values)
        logs[key] = np.where(has_value, values, fill)
        logs[f"{key}/applicable"] = has_value.astype(np.float64)
    logs["applicable"] = (out.status == Status.OK).astype(np.float64)
    logs["timeout"] = (out.status == Status.TIMEOUT).astype(np.float64)
    logs["error"] = (out.status == Status.ERROR).astype(np.float64)
    return logs
