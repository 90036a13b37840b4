"""Efficiency rewards: tool-call cost (HDPO) and a repetition penalty.

Example:
    >>> from rewardkit.core import column
    >>> cost = ToolCallCost(cost=0.1)
    >>> batch = {"completion": ["<tool_call>a</tool_call><tool_call>b</tool_call>", ""],
    ...          "correct": [1.0, 0.0]}
    >>> cost(batch).total
    array([-0.2, -0. ])
    >>> efficiency_on_correct(column("correct"), cost)(batch).total
    array([-0.2,  nan])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.compose import Composite
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.gating import conditional
from rewardkit.core.messages import is_messages, message_field, message_text
from rewardkit.core.output import FloatArray
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm, Term
from rewardkit.verify.text import completion_text

__all__ = ["RepetitionPenalty", "ToolCallCost", "efficiency_on_correct", "repetition_ratio"]


@register("tool_call_cost")
class ToolCallCost(RewardTerm):
    """−cost · (number of tool calls).

    Counts the ``tool_calls`` column when the batch has one (an int or a
    list per sample); else, for a chat completion, the assistant messages'
    ``tool_calls`` plus occurrences of ``marker`` in every message, and for a
    string, occurrences of ``marker``. A rollout that ends with a tool's
    message is scored (``needs_answer = False``): its calls are what it cost.
    """

    columns = ("completion",)
    needs_answer = False

    def __init__(
        self, cost: float = 0.1, marker: str = "<tool_call>", name: str = "tool_call_cost"
    ) -> None:
        super().__init__(name)
        self.cost = float(cost)
        self.marker = marker
        if not marker:
            raise ConfigurationError("marker must be a non-empty string")

    def _compute(self, batch: Batch) -> FloatArray:
        if "tool_calls" in batch:
            counts = [c if isinstance(c, int | float) else len(c) for c in batch["tool_calls"]]
        else:
            counts = [self._count(c) for c in get_column(batch, "completion")]
        return -self.cost * np.asarray(counts, dtype=float)

    def _count(self, completion: object) -> int:
        if not is_messages(completion):
            return completion_text(completion).count(self.marker)
        assert isinstance(completion, Sequence)
        calls = sum(len(message_field(m, "tool_calls") or ()) for m in completion)
        return calls + sum(message_text(m).count(self.marker) for m in completion)


def efficiency_on_correct(correctness: Term, cost: Term, name: str = "efficiency") -> Composite:
    """An efficiency reward that counts only on correct samples.

    Elsewhere it is not applicable (NaN), so its group advantages compare
    correct answers with each other: fewer tool calls among correct answers
    is better, and a cheap wrong answer earns nothing. HDPO uses such a
    channel *with its own advantage*, next to the accuracy advantage
    (``rewardkit.credit.hdpo_advantages``, or ``GRPOConfig(estimator="hdpo")``);
    summed into one reward it is not HDPO.
    """
    return conditional(correctness, cost, name=name)


def repetition_ratio(text: str, n: int = 3) -> float:
    """Share of repeated word n-grams: 1 − distinct / total (0 for short texts).

    Example:
        >>> repetition_ratio("a b c a b c a b c", n=3)
        0.5714285714285714
        >>> repetition_ratio("one two three four", n=3)
        0.0
    """
    words = text.split()
    total = len(words) - n + 1
    if total <= 1:
        return 0.0
    grams = {tuple(words[i : i + n]) for i in range(total)}
    return 1.0 - len(grams) / total


@register("repetition_penalty")
class RepetitionPenalty(RewardTerm):
    """−repetition_ratio: 0 for no repeated n-gram, toward −1 for a loop."""

    columns = ("completion",)

    def __init__(self, n: int = 3, name: str = "repetition_penalty") -> None:
        super().__init__(name)
        if int(n) < 1:
            raise ConfigurationError(f"n must be at least 1, got {n!r}")
        self.n = int(n)

    def _compute(self, batch: Batch) -> Any:
        texts = (completion_text(c) for c in get_column(batch, "completion"))
        return np.array([-repetition_ratio(t, self.n) for t in texts])
