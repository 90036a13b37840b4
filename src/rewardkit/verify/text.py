"""Simple text rewards for completions: exact match and regex match.

Completions may be plain strings or TRL conversational completions (a list
of ``{"role", "content"}`` messages); :func:`completion_text` reads either.

Example:
    >>> batch = {"completion": ["<answer>4</answer>", "4"], "answer": ["4", "4"]}
    >>> regex_match(pattern=r"<answer>.+</answer>")(batch).total
    array([1., 0.])
"""

from __future__ import annotations

import functools
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.messages import answer_text
from rewardkit.core.output import FloatArray
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm

__all__ = ["ExactMatch", "RegexMatch", "completion_text", "exact_match", "regex_match"]

_WHITESPACE = re.compile(r"\s+")


def completion_text(completion: Any) -> str:
    """The answer text of a completion: a string, or the assistant's final message.

    A chat completion's answer is its last message when that is the assistant's
    (content blocks' text joined); a completion that ends with a tool's or a
    user's message has none (``""`` here; every term reading ``completion``
    leaves such a sample not applicable, see :mod:`rewardkit.core.messages`).
    Tool outputs never count as the answer.

    Example:
        >>> completion_text([{"role": "assistant", "content": "hi"}])
        'hi'
        >>> completion_text([{"role": "assistant", "content": "call"},
        ...                  {"role": "tool", "content": "42"}])
        ''
    """
    return answer_text(completion)


def _texts(batch: Batch) -> list[str]:
    return [completion_text(c) for c in get_column(batch, "completion")]


@register("exact_match")
class ExactMatch(RewardTerm):
    """1.0 if the completion's answer equals the ``answer`` column, else 0.0.

    With ``extract`` (a regex with one group, searched with DOTALL) the
    answer is that group, e.g. ``<answer>(.*?)</answer>``. A completion where
    it does not match, or matches more than once (enumerating candidate
    answers is a known reward hack), scores 0.0. Normalization strips and
    collapses whitespace (and case, if ``ignore_case``). A missing gold answer
    (``None``) is not applicable. A numeric gold answer (``42.0`` read from
    JSON) is compared as a number: ``"42"`` matches it.

    Example:
        >>> term = ExactMatch(extract=r"<answer>(.*?)</answer>")
        >>> completions = ["<answer> 4</answer>", "4", "<answer>3</answer><answer>4</answer>"]
        >>> term({"completion": completions, "answer": ["4", "4", "4"]}).total
        array([1., 0., 0.])
    """

    columns = ("completion", "answer")

    def __init__(
        self, extract: str | None = None, ignore_case: bool = False, name: str = "exact_match"
    ) -> None:
        super().__init__(name)
        self.extract = extract
        self.ignore_case = ignore_case
        if extract is not None and _compile(extract, re.DOTALL).groups != 1:
            raise ConfigurationError(f"extract pattern {extract!r} needs exactly one (group)")

    def _answer(self, text: str) -> str | None:
        if self.extract is None:
            return text
        matches = _compile(self.extract, re.DOTALL).findall(text)
        return matches[0] if len(matches) == 1 else None

    def _normalize(self, text: str) -> str:
        text = _WHITESPACE.sub(" ", text).strip()
        return text.casefold() if self.ignore_case else text

    def _compute(self, batch: Batch) -> list[float | None]:
        answers = get_column(batch, "answer")
        scores: list[float | None] = []
        for text, gold in zip(_texts(batch), answers, strict=True):
            given = self._answer(text)
            if gold is None:
                scores.append(None)
            else:
                scores.append(float(given is not None and self._matches(given, gold)))
        return scores

    def _matches(self, given: str, gold: object) -> bool:
        """Text equality; a numeric gold (``42.0`` from JSON) is compared as a number,
        so ``"42"`` matches it, as it would the string ``"42"``."""
        if isinstance(gold, int | float) and not isinstance(gold, bool):
            try:
                return math.isfinite(gold) and Decimal(given.strip()) == Decimal(repr(gold))
            except InvalidOperation:
                return False
        return self._normalize(given) == self._normalize(str(gold))


exact_match = ExactMatch


@functools.lru_cache(maxsize=256)
def _compile(pattern: str, flags: int) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ConfigurationError(f"invalid regular expression {pattern!r}: {exc}") from None


@register("regex_match")
class RegexMatch(RewardTerm):
    """1.0 if ``pattern`` matches the completion, else 0.0.

    Matching uses DOTALL (``.`` crosses newlines: a format regex without it
    is a known reward bug) and, with ``full=True``, must cover the whole
    stripped completion.
    """

    columns = ("completion",)

    def __init__(self, pattern: str, full: bool = True, name: str = "regex_match") -> None:
        super().__init__(name)
        self.pattern = pattern
        self.full = full
        _compile(pattern, re.DOTALL)  # fail at construction, not mid-training

    def _compute(self, batch: Batch) -> FloatArray:
        regex = _compile(self.pattern, re.DOTALL)
        match = regex.fullmatch if self.full else regex.search
        return np.array([float(match(t.strip()) is not None) for t in _texts(batch)])


regex_match = RegexMatch
