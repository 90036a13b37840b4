"""Length rewards: linear, DAPO's soft overlong punishment, cosine-scaled, GRPO-λ.

Length is measured in characters, words, or tokens (``completion_ids``).
A length penalty added to correctness must never rank a long correct answer
below a short wrong one: apply it only to correct samples
(:func:`~rewardkit.core.conditional`), use the cosine reward whose correct
range lies above its wrong range, or gate it by group (:func:`grpo_lambda`).

Example:
    >>> batch = {"completion": ["x" * 10, "x" * 90, "x" * 120]}
    >>> DapoOverlong(max_length=100, cache_length=20, unit="chars")(batch).total
    array([ 0. , -0.5, -1. ])
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.compose import Composite
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.gating import conditional, group_switch
from rewardkit.core.output import FloatArray, RewardOutput
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm, Term, as_term
from rewardkit.verify.text import completion_text

__all__ = ["CosineLength", "DapoOverlong", "LengthLinear", "completion_lengths", "grpo_lambda"]

Unit = Literal["chars", "words", "tokens"]


def completion_lengths(batch: Batch, unit: Unit) -> FloatArray:
    """Length of each completion in ``unit`` (tokens read ``completion_ids``).

    Example:
        >>> completion_lengths({"completion": ["a b", "c"], "completion_ids": [[1, 2, 3], [4]]},
        ...                    "tokens")
        array([3., 1.])
    """
    if unit == "tokens":
        return np.array([len(ids) for ids in get_column(batch, "completion_ids")], dtype=float)
    texts = [completion_text(c) for c in get_column(batch, "completion")]
    if unit == "words":
        return np.array([len(t.split()) for t in texts], dtype=float)
    if unit == "chars":
        return np.array([len(t) for t in texts], dtype=float)
    raise ConfigurationError(f"unit must be 'chars', 'words' or 'tokens', got {unit!r}")


def _positive_int(value: Any, what: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or int(value) != value
        or int(value) <= 0
    ):
        raise ConfigurationError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


class _LengthTerm(RewardTerm):
    def __init__(self, unit: Unit, name: str) -> None:
        super().__init__(name)
        if unit not in ("chars", "words", "tokens"):
            raise ConfigurationError(f"unit must be 'chars', 'words' or 'tokens', got {unit!r}")
        self.unit: Unit = unit
        self.columns = ("completion_ids",) if unit == "tokens" else ("completion",)


@register("length_linear")
class LengthLinear(_LengthTerm):
    """Linear penalty −min(L / max_length, 1): 0 when empty, −1 at ``max_length``."""

    def __init__(self, max_length: int, unit: Unit = "chars", name: str = "length_linear") -> None:
        super().__init__(unit, name)
        self.max_length = _positive_int(max_length, "max_length")

    def _compute(self, batch: Batch) -> FloatArray:
        lengths = completion_lengths(batch, self.unit)
        penalty: FloatArray = -np.minimum(lengths / self.max_length, 1.0)
        return penalty


@register("dapo_overlong")
class DapoOverlong(_LengthTerm):
    """DAPO's soft overlong punishment (Yu et al. 2025, "DAPO", eq. 13).

    R(L) = 0 for L ≤ L_max − L_cache; ((L_max − L_cache) − L) / L_cache for
    L_max − L_cache < L ≤ L_max; −1 beyond L_max. Added to the correctness
    reward, it discourages truncation without punishing normal lengths.
    """

    def __init__(
        self,
        max_length: int,
        cache_length: int,
        unit: Unit = "tokens",
        name: str = "dapo_overlong",
    ) -> None:
        super().__init__(unit, name)
        self.max_length = _positive_int(max_length, "max_length")
        self.cache_length = _positive_int(cache_length, "cache_length")
        if self.cache_length > self.max_length:
            raise ConfigurationError("cache_length must not exceed max_length")

    def _compute(self, batch: Batch) -> FloatArray:
        lengths = completion_lengths(batch, self.unit)
        start = self.max_length - self.cache_length
        soft = (start - lengths) / self.cache_length
        return np.where(lengths <= start, 0.0, np.where(lengths <= self.max_length, soft, -1.0))


class CosineLength(Composite):
    """Cosine length-scaled reward (Yeo et al. 2025, "Demystifying Long Chain-of-Thought
    Reasoning in LLMs", eq. 1).

    CosFn(L, L_max, r_0, r_L) = r_L + ½ (r_0 − r_L)(1 + cos(π L / L_max)).
    Correct answers get CosFn with (r_0, r_L) = (correct_short, correct_long):
    shorter correct is better. Wrong answers get (wrong_short, wrong_long):
    shorter wrong is worse, so the model keeps thinking when unsure. Beyond
    L_max the reward is ``exceed``. Every correct reward (≥ correct_long)
    stays above every wrong one (≤ wrong_long) when correct_long > wrong_long.
    """

    def __init__(
        self,
        correctness: Any,
        max_length: int,
        unit: Unit = "tokens",
        correct_short: float = 2.0,
        correct_long: float = 1.0,
        wrong_short: float = -10.0,
        wrong_long: float = 0.0,
        exceed: float = -10.0,
        name: str = "cosine_length",
    ) -> None:
        super().__init__([correctness], name)
        self.max_length = _positive_int(max_length, "max_length")
        self.unit: Unit = unit
        self.params = (correct_short, correct_long, wrong_short, wrong_long, float(exceed))
        if correct_long <= wrong_long:
            raise ConfigurationError(
                "correct_long must exceed wrong_long, or a long correct answer can rank below "
                "a wrong one"
            )

    def _combine(
        self, outputs: list[RewardOutput], batch: Batch
    ) -> tuple[FloatArray, Any, dict[str, FloatArray]]:
        (correct,) = outputs
        lengths = completion_lengths(batch, self.unit)
        c0, cl, w0, wl, exceed = self.params
        phase = 0.5 * (
            1.0 + np.cos(math.pi * np.minimum(lengths, self.max_length) / self.max_length)
        )
        is_correct = correct.total >= 0.5
        total = np.where(is_correct, cl + (c0 - cl) * phase, wl + (w0 - wl) * phase)
        total = np.where(lengths > self.max_length, exceed, total)
        return total, correct.status, {"length": lengths}


def grpo_lambda(
    correctness: Term,
    length_penalty: Term,
    *,
    threshold: float | None = None,
    top_fraction: float | None = None,
    name: str = "grpo_lambda",
) -> Composite:
    """GRPO-λ (Dai, Liu & Si 2025): a length penalty only in mostly-correct groups.

    r = correct + 1[group ratio high] · 1[correct] · penalty. Groups whose
    correctness ratio is low keep the plain 0/1 reward, which the paper shows
    avoids the early accuracy collapse of an always-on length penalty. The
    penalty applies to correct samples only, so a short wrong answer never
    outranks a long correct one.

    Example:
        >>> from rewardkit.core import column
        >>> reward = grpo_lambda(column("correct"), LengthLinear(100), threshold=0.75)
        >>> reward({"correct": [1.0, 1.0, 0.0, 1.0], "completion": ["x" * 50, "x" * 10, "x", "x"],
        ...         "group": [0, 0, 1, 1]}).total
        array([0.5, 0.9, 0. , 1. ])
    """
    correctness = as_term(correctness)
    on_correct = conditional(correctness, length_penalty, otherwise=0.0, name="length_on_correct")
    return group_switch(
        correctness, on_correct, threshold=threshold, top_fraction=top_fraction, name=name
    )


register("cosine_length", CosineLength)
