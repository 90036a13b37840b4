"""Partial credit (STAR-R1) and confidence calibration (HyperClick).

Example:
    >>> credit = PartialCredit()
    >>> batch = {"completion": ["<answer>1.color.red; 2.size.large</answer>",
    ...                         "<answer>1.color.blue</answer>", "<answer></answer>"],
    ...          "answer": ["1.color.red; 2.size.large"] * 3}
    >>> credit(batch).total.round(3)
    array([ 1.  ,  0.15, -0.1 ])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.compose import Composite
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import FloatArray, RewardOutput, Status, worst_status
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.verify.extract import extract_answer_tag
from rewardkit.verify.text import completion_text

__all__ = ["BrierCalibration", "PartialCredit", "parse_confidence", "partial_credit"]


def _items(value: Any, separator: str) -> list[tuple[str, ...]]:
    if value is None:
        return []
    raw = value if isinstance(value, list | tuple) else str(value).split(separator)
    return [tuple(f.strip().casefold() for f in str(i).split(".")) for i in raw if str(i).strip()]


def partial_credit(
    predicted: Sequence[tuple[str, ...]],
    gold: Sequence[tuple[str, ...]],
    level_rewards: Sequence[float] = (0.5, 1.5, 5.0),
    extra_penalty: float = 1.0,
    empty_penalty: float = 1.0,
) -> float:
    """STAR-R1's fine-grained reward (Li et al. 2025, "STAR-R1"), normalized.

    Each predicted item (fields such as index.attribute.value) earns
    ``level_rewards[k-1]`` for the longest prefix of k fields it shares with
    a not-yet-matched gold item (STAR-R1 pays 0.5 / 1.5 / 5.0 for index /
    index+attribute / all three). Every item beyond the number of gold items
    costs ``extra_penalty`` (excessive enumeration); an empty answer costs
    ``empty_penalty`` (passive inaction). The sum is divided by the best
    possible score, |gold| · level_rewards[-1], so a perfect answer scores 1.
    The penalty sizes are ours; the paper's text fixes only the positive scale.

    Example:
        >>> partial_credit([("1", "color", "red")], [("1", "color", "red")])
        1.0
    """
    if not gold:
        raise ConfigurationError("partial credit needs at least one gold item")
    best = len(gold) * level_rewards[-1]
    if not predicted:
        return -empty_penalty / best
    unmatched = list(gold)
    score = 0.0
    for item in predicted:
        scored = [
            (next((k for k in range(min(len(item), len(g)), 0, -1) if item[:k] == g[:k]), 0), g)
            for g in unmatched
        ]
        level, match = max(scored, key=lambda s: s[0], default=(0, None))
        if level and match is not None:
            score += level_rewards[min(level, len(level_rewards)) - 1]
            unmatched.remove(match)
    score -= extra_penalty * max(0, len(predicted) - len(gold))
    return score / best


@register("partial_credit")
class PartialCredit(RewardTerm):
    """STAR-R1 partial credit of the ``<answer>`` items against the ``answer`` column.

    Items are separated by ``separator``; fields within an item by ".".
    The gold answer may be a list of items instead of a string.
    """

    columns = ("completion", "answer")

    def __init__(
        self,
        separator: str = ";",
        level_rewards: Sequence[float] = (0.5, 1.5, 5.0),
        extra_penalty: float = 1.0,
        empty_penalty: float = 1.0,
        name: str = "partial_credit",
    ) -> None:
        super().__init__(name)
        if not separator:
            raise ConfigurationError("separator must be non-empty")
        if list(level_rewards) != sorted(level_rewards):
            raise ConfigurationError("level_rewards must not decrease with the match level")
        self.separator = separator
        self.level_rewards = tuple(float(r) for r in level_rewards)
        self.extra_penalty = float(extra_penalty)
        self.empty_penalty = float(empty_penalty)

    def _compute(self, batch: Batch) -> list[float | None]:
        values: list[float | None] = []
        for completion, gold in zip(
            get_column(batch, "completion"), get_column(batch, "answer"), strict=True
        ):
            gold_items = _items(gold, self.separator)
            if not gold_items:
                values.append(None)
                continue
            answer = extract_answer_tag(completion_text(completion))
            predicted = _items(answer, self.separator) if answer else []
            values.append(
                partial_credit(
                    predicted,
                    gold_items,
                    self.level_rewards,
                    self.extra_penalty,
                    self.empty_penalty,
                )
            )
        return values


_CONFIDENCE = re.compile(
    r"<confidence>\s*([0-9.]+)\s*(%?)\s*</confidence>|confidence\s*[:=]\s*([0-9.]+)\s*(%?)",
    re.IGNORECASE,
)


def parse_confidence(text: str) -> float | None:
    """A stated confidence in [0, 1] (``<confidence>0.8</confidence>``, ``Confidence: 80%``).

    Example:
        >>> parse_confidence("Confidence: 80%"), parse_confidence("<confidence>0.3</confidence>")
        (0.8, 0.3)
        >>> parse_confidence("confidence: 7") is None
        True
    """
    matches = _CONFIDENCE.findall(text[-4000:])
    if len(matches) != 1:
        return None
    a, a_pct, b, b_pct = matches[0]
    number, percent = (a, a_pct) if a else (b, b_pct)
    try:
        value = float(number) / (100.0 if percent else 1.0)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


class BrierCalibration(Composite):
    """Calibration reward 1 − (c − y)² for a stated confidence c and correctness y.

    HyperClick (Zhang et al. 2025) trains a model to state its confidence
    with a Brier-score calibration reward next to the correctness reward: a
    confident wrong answer costs most, an honest "unsure" costs little.
    ``correctness`` is any term scoring 1 for correct; a missing or
    out-of-range confidence is not applicable.

    Example:
        >>> from rewardkit.core import column
        >>> reward = BrierCalibration(column("correct"))
        >>> reward({"correct": [1.0, 0.0, 1.0],
        ...         "completion": ["Confidence: 90%", "confidence: 0.9", "no idea"]}).total
        array([0.99, 0.19,  nan])
    """

    def __init__(self, correctness: Any, name: str = "brier_calibration") -> None:
        super().__init__([correctness], name)
        self.columns = (*self.columns, "completion")

    def _combine(
        self, outputs: list[RewardOutput], batch: Batch
    ) -> tuple[FloatArray, Any, dict[str, FloatArray]]:
        (correct,) = outputs
        texts = [completion_text(c) for c in get_column(batch, "completion")]
        parsed = [parse_confidence(t) for t in texts]
        confidence = np.array([np.nan if c is None else c for c in parsed])
        outcome = (correct.total >= 0.5).astype(float)
        total = 1.0 - (confidence - outcome) ** 2
        missing = np.where(np.isnan(confidence), Status.NOT_APPLICABLE, Status.OK)
        status = worst_status(correct.status, missing.astype(np.int8))
        return total, status, {"confidence": confidence}


register("brier_calibration", BrierCalibration)
