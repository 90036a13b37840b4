"""Strict output-format reward for ``<think>…</think><answer>…</answer>``.

Format rewards are gamed: several ``<think>`` blocks, an empty
``<think></think>``, answers outside the tags, or a regex without DOTALL that
stops at the first newline. This term scans the completion once (no regex
backtracking) and pays 1.0 only for exactly one non-empty think block
followed by exactly one non-empty answer block, with nothing but whitespace
around them.

Example:
    >>> fmt = ThinkAnswerFormat()
    >>> fmt({"completion": ["<think>a\\nb</think>\\n<answer>4</answer>",
    ...                     "<think></think><answer>4</answer>",
    ...                     "<think>a</think><think>b</think><answer>4</answer>",
    ...                     "<think>a</think><answer>4</answer> and also 5"]}).total
    array([1., 0., 0., 0.])
"""

from __future__ import annotations

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.output import FloatArray
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.verify.text import completion_text

__all__ = ["ThinkAnswerFormat", "strict_format_ok"]

_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


def strict_format_ok(text: str, require_think: bool = True) -> bool:
    """True iff ``text`` is exactly ``<think>X</think><answer>Y</answer>`` (X, Y non-empty).

    Example:
        >>> strict_format_ok("<think> x </think> <answer> y </answer>")
        True
        >>> strict_format_ok("<answer>y</answer>", require_think=False)
        True
    """
    lowered = text.lower()
    tags = _TAGS if require_think else _TAGS[2:]
    positions = []
    for tag in tags:
        if lowered.count(tag) != 1:
            return False
        positions.append(lowered.index(tag))
    if positions != sorted(positions):
        return False
    pieces = []
    cursor = 0
    for tag, position in zip(tags, positions, strict=True):
        pieces.append(text[cursor:position])
        cursor = position + len(tag)
    pieces.append(text[cursor:])
    # pieces: before, content, between, content, after (or before, content, after)
    outside = pieces[0::2]
    inside = pieces[1::2]
    return all(not p.strip() for p in outside) and all(p.strip() for p in inside)


@register("think_answer_format")
class ThinkAnswerFormat(RewardTerm):
    """1.0 for exactly one non-empty ``<think>`` then one non-empty ``<answer>``, else 0.0."""

    columns = ("completion",)

    def __init__(self, require_think: bool = True, name: str = "think_answer_format") -> None:
        super().__init__(name)
        self.require_think = require_think

    def _compute(self, batch: Batch) -> FloatArray:
        texts = [completion_text(c) for c in get_column(batch, "completion")]
        return np.array([float(strict_format_ok(t, self.require_think)) for t in texts])
