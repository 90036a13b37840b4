"""Chat completions read by role: the answer is the assistant's last message.

TRL, verifiers and OpenAI-style clients pass a conversational completion as a
list of messages. A tool-calling rollout adds ``tool`` messages (and the
assistant's tool calls) to it, and a rollout cut off after a tool result ends
with the tool's message. The tool's output is not the policy's answer, so:

- :func:`answer_text` is the text of the completion's last message when that
  message is the assistant's (its content a string, or content blocks whose
  ``text`` parts are joined); a plain string is its own answer;
- :func:`unanswered_reason` says why a completion has no answer (it ends with
  a ``tool`` or ``user`` message, or has no messages), or None when it has one;
- :func:`mark_unanswered` makes such samples not applicable, with that reason
  as their message. Every term that reads the ``completion`` column applies it
  (``RewardTerm.needs_answer``), so the rule is the same in ``verify`` and in
  every adapter.

Messages may be dicts or objects with ``role``/``content`` attributes or item
access (verifiers' pydantic messages).

Example:
    >>> answer_text([{"role": "user", "content": "2+2?"},
    ...              {"role": "assistant", "content": [{"type": "text", "text": "4"}]}])
    '4'
    >>> unanswered_reason([{"role": "assistant", "content": "", "tool_calls": [{}]},
    ...                    {"role": "tool", "content": "4"}])
    "the completion ends with a 'tool' message, not the assistant's: it has no final answer"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rewardkit.core.errors import BatchError
from rewardkit.core.output import RewardOutput, Status

__all__ = [
    "answer_text",
    "is_messages",
    "last_message_text",
    "mark_unanswered",
    "message_field",
    "message_text",
    "unanswered_reason",
    "unanswered_rows",
]


def message_field(message: Any, key: str) -> Any:
    """``message[key]`` for a dict, ``message.key`` for an object (None if absent)."""
    if isinstance(message, Mapping):
        return message.get(key)
    value = getattr(message, key, None)
    if value is None:
        try:
            value = message[key]
        except (TypeError, KeyError, IndexError):
            return None
    return value


def _is_message(value: Any) -> bool:
    return isinstance(value, Mapping) or hasattr(value, "role")


def is_messages(value: Any) -> bool:
    """True for a non-empty list of chat messages.

    Example:
        >>> is_messages([{"role": "assistant", "content": "hi"}]), is_messages("hi")
        (True, False)
    """
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str | bytes)
        and len(value) > 0
        and _is_message(value[-1])
    )


def message_text(message: Any) -> str:
    """The text of one message: its string content, or its text blocks joined.

    Content blocks (``{"type": "text", "text": ...}``, as TRL's multimodal and
    OpenAI's responses use) contribute their text; image, audio and other
    blocks contribute nothing.

    Example:
        >>> message_text({"role": "assistant", "content": [
        ...     {"type": "image"}, {"type": "text", "text": "a cat"}]})
        'a cat'
    """
    content = message_field(message, "content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif message_field(block, "type") in (None, "text", "output_text", "input_text"):
                text = message_field(block, "text")
                if isinstance(text, str):
                    parts.append(text)
        return "".join(parts)
    return str(content)


def unanswered_reason(completion: Any) -> str | None:
    """Why ``completion`` has no final answer, or None when it has one.

    A string always has one; a list of messages has one when its last message
    is the assistant's.
    """
    if isinstance(completion, str):
        return None
    if isinstance(completion, Sequence) and not isinstance(completion, bytes):
        if not completion:
            return "the completion has no messages: it has no final answer"
        if _is_message(completion[-1]):
            role = message_field(completion[-1], "role")
            if role in ("assistant", None):  # a message without a role is the model's
                return None
            return (
                f"the completion ends with a {role!r} message, not the assistant's: "
                "it has no final answer"
            )
    return None  # not a chat completion: the term reading it decides


def answer_text(completion: Any) -> str:
    """The answer a completion gives: a string itself, or the text of its last message
    when that is the assistant's ("" when it is not: see :func:`unanswered_reason`).

    Raises:
        BatchError: for anything that is neither a string nor a list of messages.
    """
    if isinstance(completion, str):
        return completion
    if is_messages(completion):
        return message_text(completion[-1]) if unanswered_reason(completion) is None else ""
    if isinstance(completion, list | tuple) and not completion:
        return ""
    raise BatchError(
        f"a completion must be a string or a list of chat messages, got {type(completion).__name__}"
    )


def last_message_text(value: Any) -> str:
    """A prompt's text: a string itself, or its last message's text, whatever the role.

    Example:
        >>> last_message_text([{"role": "system", "content": "Be brief."},
        ...                    {"role": "user", "content": "2+2?"}])
        '2+2?'
    """
    if isinstance(value, str):
        return value
    if is_messages(value):
        return message_text(value[-1])
    raise BatchError(f"expected a string or a list of chat messages, got {type(value).__name__}")


def unanswered_rows(completions: Any) -> dict[int, str]:
    """Row → reason, for the chat completions in a column that have no final answer."""
    if isinstance(completions, np.ndarray) and completions.dtype != object:
        return {}
    rows: dict[int, str] = {}
    for index, completion in enumerate(completions):
        if isinstance(completion, str):
            continue
        reason = unanswered_reason(completion)
        if reason is not None:
            rows[index] = reason
    return rows


def mark_unanswered(out: RewardOutput, completions: Any) -> RewardOutput:
    """``out`` with every sample whose completion has no final answer not applicable
    (unless it is already a timeout or an error), its message saying why.

    Example:
        >>> out = RewardOutput.from_values([1.0, 1.0], name="correct")
        >>> marked = mark_unanswered(out, ["4", [{"role": "tool", "content": "4"}]])
        >>> marked.total, marked.terms["correct"]
        (array([ 1., nan]), array([ 1., nan]))
    """
    rows = unanswered_rows(completions)
    if not rows:
        return out
    index = np.fromiter(rows, dtype=np.int64, count=len(rows))
    status = out.status.copy()
    status[index] = np.maximum(status[index], Status.NOT_APPLICABLE)
    total = out.total.copy()
    total[index] = np.nan
    terms = {}
    for name, values in out.terms.items():
        values = values.copy()
        values[index] = np.nan
        terms[name] = values
    messages = list(out.messages or (None,) * len(out))
    for row, reason in rows.items():
        if status[row] == Status.NOT_APPLICABLE:
            messages[row] = reason
    return RewardOutput(total, terms, status, tuple(messages))
