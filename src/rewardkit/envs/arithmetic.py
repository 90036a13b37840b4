"""A procedural multi-step arithmetic task for the GRPO lab.

Prompts are sums of small numbers, ``"3+5+2="``. A completion may show its
work as running sums before the answer (``"8,10>10"``), answer directly
(``">10"``), or restate its work (``"8,10=10>10"``, longer and no more
accurate). The answer is the text after the last ``>``. Showing work helps a
small model, so a length penalty that strips it costs accuracy; one that
only strips the restatement does not.

The two answer terms are benchmark terms: they are not in the global
registry. :data:`TERMS` has them (``arith_answer``, ``arith_closeness``)
beside every global term, so a spec built with ``build_reward(spec,
registry=TERMS)`` can name them.

Example:
    >>> problems = make_problems(2, seed=0)
    >>> problems[0]["prompt"], problems[0]["answer"]
    ('6+6+0=', '12')
    >>> sft_completion(problems[0], "steps")
    '12,12>12'
    >>> ArithmeticAnswer()({"completion": ["12,12>12", "12", ">15"], "answer": ["12"] * 3}).total
    array([ 1., nan,  0.])
"""

from __future__ import annotations

import abc
import random
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.registry import REGISTRY, Registry
from rewardkit.core.term import RewardTerm
from rewardkit.verify.text import completion_text

__all__ = [
    "ALPHABET",
    "TERMS",
    "ArithmeticAnswer",
    "NumericCloseness",
    "make_problems",
    "sft_completion",
]

ALPHABET = "0123456789+=,>"
STYLES = ("direct", "steps", "restated")


def make_problems(n: int, seed: int, terms: int = 3, max_value: int = 9) -> list[dict[str, Any]]:
    """``n`` problems summing ``terms`` numbers in [0, max_value]."""
    rng = random.Random(seed)
    problems = []
    for _ in range(n):
        numbers = [rng.randint(0, max_value) for _ in range(terms)]
        partial = list(np.cumsum(numbers)[1:])
        problems.append(
            {
                "prompt": "+".join(map(str, numbers)) + "=",
                "answer": str(sum(numbers)),
                "partial_sums": [str(int(p)) for p in partial],
            }
        )
    return problems


def sft_completion(problem: dict[str, Any], style: str) -> str:
    """The warm-start target of ``problem`` in ``style`` (direct, steps or restated)."""
    steps = ",".join(problem["partial_sums"])
    if style == "direct":
        return ">" + problem["answer"]
    if style == "steps":
        return f"{steps}>{problem['answer']}"
    if style == "restated":
        return f"{steps}={problem['answer']}>{problem['answer']}"
    raise ValueError(f"unknown style {style!r}")


def _final_answer(text: str) -> str | None:
    if ">" not in text:
        return None
    answer = text.rsplit(">", 1)[1].strip()
    return answer if answer.isdigit() else None


class _AnswerTerm(RewardTerm):
    """Reads the answer after the last ``>``; subclasses score it against the gold."""

    columns = ("completion", "answer")

    def __init__(self, missing_score: float | None, name: str) -> None:
        super().__init__(name)
        self.missing_score = missing_score

    @abc.abstractmethod
    def _score(self, answer: str, gold: str) -> float:
        """The reward of a parsed answer."""

    def _compute(self, batch: Batch) -> list[float | None]:
        out: list[float | None] = []
        completions, golds = get_column(batch, "completion"), get_column(batch, "answer")
        for completion, gold in zip(completions, golds, strict=True):
            answer = _final_answer(completion_text(completion))
            if gold is None:
                out.append(None)
            elif answer is None:
                out.append(self.missing_score)
            else:
                out.append(self._score(answer, str(gold)))
        return out


class ArithmeticAnswer(_AnswerTerm):
    """1.0 if the answer after the last ``>`` equals ``answer``, 0.0 if not, n/a if absent.

    With ``missing_score`` set, a completion without an answer scores it
    instead of being not applicable.
    """

    def __init__(self, missing_score: float | None = None, name: str = "correct") -> None:
        super().__init__(missing_score, name)

    def _score(self, answer: str, gold: str) -> float:
        return float(answer == gold)


class NumericCloseness(_AnswerTerm):
    """Graded partial credit: max(0, 1 − |pred − gold| / scale); n/a without an answer."""

    def __init__(
        self, scale: float = 10.0, missing_score: float | None = None, name: str = "closeness"
    ) -> None:
        super().__init__(missing_score, name)
        self.scale = float(scale)

    def _score(self, answer: str, gold: str) -> float:
        return max(0.0, 1.0 - abs(int(answer) - int(gold)) / self.scale)


#: the global terms plus this task's answer terms, for the task's reward specs
TERMS = Registry(parent=REGISTRY)
TERMS.register("arith_answer", ArithmeticAnswer)
TERMS.register("arith_closeness", NumericCloseness)
