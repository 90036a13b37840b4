"""A RewardMap-style difficulty-aware detail reward, and RewardMap's stage schedule.

RewardMap (Feng et al. 2025, "RewardMap: Tackling Sparse Rewards in
Fine-grained Visual Reasoning via Multi-Stage Reinforcement Learning",
arXiv:2510.02240, ICLR 2026) rewards transit-map answers with

    R = W_difficulty · (R_format + R_correctness + α · R_detail),   α = 0.5
    W_difficulty = W_map + W_question

where W_map ∈ {γ_e, γ_m, γ_h} rates the map (easy / middle / hard) and
W_question ∈ {β_0, β_1} the question (no transfer / some). The authors' code
(``verl/utils/reward_score/reason_map.py``) uses γ = (1.0, 1.2, 1.5),
β = (0, 0.5), R_correctness = 10 for a correct answer, no separate format
term, and a detail reward for route planning only, capped at 10: +2 for the
right origin and destination and, only then, +3 per section on a real line
(+4 for a direct route on the right line), +1 per consistent transfer
station, −5 per section numbered beyond the transfer count.

Ours is RewardMap-*style*: the detail reward is generic rather than ReasonMap's
route checker. An answer is a list of details (``key: value`` items such as
``origin: A; line: 2; transfer: C``); each detail matching a not-yet-used gold
detail earns ``credit``, each other one (wrong, extra or repeated) costs
``penalty``:

    R_detail = clip((credit·n_right − penalty·n_wrong) / (credit·n_gold), −1, 1)

R_correctness is 1 when the details are exactly the gold ones (the paper's
10 : 10·α scale becomes 1 : α), and R_format is left to a format term composed
alongside (an answer that cannot be read is not applicable here, not 0, unless
:class:`DifficultyAwareDetail`'s ``unparseable_score`` says otherwise).

The curriculum (:class:`StageSchedule`, :func:`curriculum_order`) is
RewardMap's: stages from perception to reasoning (judgment → counting →
planning), shuffled within each stage ("global curriculum, local
stochasticity"). The code splits counting in two (count questions, then
listing the stops) and runs one pass over the ordered data.

Example:
    >>> count_details(["origin=a", "line=2", "line=2"], ["origin=a", "line=2", "destination=b"])
    (2, 1)
    >>> detail_reward([2], [1], [3]).round(4)
    array([0.3333])
"""

from __future__ import annotations

import math
import numbers
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.batch import Batch, get_column, is_missing
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.output import FloatArray, RewardOutput
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.verify.extract import extract_answer_tag
from rewardkit.verify.text import completion_text

__all__ = [
    "DifficultyAwareDetail",
    "StageSchedule",
    "count_details",
    "curriculum_order",
    "detail_reward",
    "difficulty_aware_reward",
    "difficulty_weight",
    "normalize_detail",
    "split_details",
]

IntArray = npt.NDArray[np.int64]
LEVELS = {"easy": 0, "middle": 1, "medium": 1, "hard": 2}
_SEPARATORS = re.compile(r"[;\n]+")
_KEY_VALUE = re.compile(r"^([^:=]+?)\s*[:=]\s*(.+)$")


def normalize_detail(text: str) -> str:
    """One detail in canonical form: ``key=value``, case-folded, spaces collapsed.

    Example:
        >>> normalize_detail("  Origin :  Central   Station. ")
        'origin=central station'
    """
    item = " ".join(str(text).split()).strip(" .,").casefold()
    match = _KEY_VALUE.match(item)
    return f"{match.group(1).strip()}={match.group(2).strip()}" if match else item


def split_details(value: Any) -> list[str]:
    """Details from text (split on ``;`` and newlines), a list, or a mapping key → value(s).

    None or NaN is no detail; any other scalar (a number) is one detail.

    Example:
        >>> split_details({"origin": "A", "transfer": ["B", "C"]})
        ['origin=a', 'transfer=b', 'transfer=c']
        >>> split_details("origin: A; line: 2"), split_details(7), split_details(float("nan"))
        (['origin=a', 'line=2'], ['7'], [])
    """
    if is_missing(value):
        return []
    if isinstance(value, Mapping):
        raw = [
            f"{key}: {item}"
            for key, values in value.items()
            for item in (values if isinstance(values, list | tuple) else [values])
            if not is_missing(item)
        ]
    elif isinstance(value, str):
        raw = _SEPARATORS.split(value)
    elif isinstance(value, np.ndarray) and value.ndim == 0:
        raw = [str(value.item())]
    elif isinstance(value, Iterable):
        raw = [str(item) for item in value if not is_missing(item)]
    else:
        raw = [str(value)]
    return [d for d in (normalize_detail(r) for r in raw) if d]


def count_details(predicted: Sequence[str], gold: Sequence[str]) -> tuple[int, int]:
    """(right, wrong): each predicted detail uses up one equal gold detail, or is wrong.

    A repeated detail beyond its count in the gold answer is wrong.

    Example:
        >>> count_details([], ["origin=a"])
        (0, 0)
    """
    remaining = Counter(gold)
    right = 0
    for item in predicted:
        if remaining[item] > 0:
            remaining[item] -= 1
            right += 1
    return right, len(predicted) - right


def detail_reward(
    n_right: Any, n_wrong: Any, n_gold: Any, credit: float = 1.0, penalty: float = 1.0
) -> FloatArray:
    """R_detail = clip((credit·n_right − penalty·n_wrong) / (credit·n_gold), −1, 1), rowwise.

    Example:
        >>> detail_reward([0, 3, 0], [0, 0, 9], [3, 3, 3])
        array([ 0.,  1., -1.])
    """
    right, wrong, gold = (np.asarray(a, dtype=np.float64) for a in (n_right, n_wrong, n_gold))
    if right.ndim != 1 or not right.shape == wrong.shape == gold.shape:
        raise BatchError(
            f"counts must share shape (N,), got {right.shape}, {wrong.shape}, {gold.shape}"
        )
    if np.any(gold < 1) or np.any(right < 0) or np.any(wrong < 0) or np.any(right > gold):
        raise BatchError("need n_gold >= 1 and 0 <= n_right <= n_gold, n_wrong >= 0")
    if not (credit > 0 and penalty >= 0):
        raise ConfigurationError(f"need credit > 0 and penalty >= 0, got {credit!r}, {penalty!r}")
    reward: FloatArray = np.clip((credit * right - penalty * wrong) / (credit * gold), -1.0, 1.0)
    return reward


def _weights(values: Sequence[float], what: str) -> FloatArray:
    try:
        weights = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ConfigurationError(f"{what} must be numbers, got {values!r}") from error
    if weights.ndim != 1 or not weights.size or np.any(~np.isfinite(weights) | (weights < 0)):
        raise ConfigurationError(
            f"{what} must be a non-empty list of finite numbers >= 0, got {values!r}"
        )
    return weights


def difficulty_weight(
    level: Any,
    hops: Any,
    level_weights: Sequence[float] = (1.0, 1.2, 1.5),
    hop_weights: Sequence[float] = (0.0, 0.5),
) -> FloatArray:
    """W = level_weights[level] + hop_weights[min(hops, len(hop_weights) − 1)], rowwise.

    RewardMap's W_map + W_question: ``level`` rates the map (0 easy, 1 middle,
    2 hard), ``hops`` counts the transfers the question needs. Both are
    integer arrays; the weights are finite and >= 0.

    Example:
        >>> difficulty_weight([0, 2, 1], [0, 0, 3])
        array([1. , 1.5, 1.7])
        >>> difficulty_weight([], [])
        array([], dtype=float64)
    """
    # an empty list arrives as a float array: no value in it can be a non-integer
    lv, hp = (a.astype(np.int64) if a.size == 0 else a for a in map(np.asarray, (level, hops)))
    gammas = _weights(level_weights, "level_weights")
    betas = _weights(hop_weights, "hop_weights")
    if lv.ndim != 1 or lv.shape != hp.shape:
        raise BatchError(f"level and hops must both have shape (N,), got {lv.shape} and {hp.shape}")
    if not (np.issubdtype(lv.dtype, np.integer) and np.issubdtype(hp.dtype, np.integer)):
        raise BatchError("level and hops must be integers")
    if np.any((lv < 0) | (lv >= gammas.size)) or np.any(hp < 0):
        raise BatchError(f"level must be in [0, {gammas.size}) and hops >= 0")
    weight: FloatArray = gammas[lv] + betas[np.minimum(hp, betas.size - 1)]
    return weight


def difficulty_aware_reward(
    correct: Any, detail: Any, weight: Any, alpha: float = 0.5, fmt: Any = None
) -> FloatArray:
    """RewardMap's R = W · (R_format + R_correctness + α · R_detail), rowwise.

    Example:
        >>> difficulty_aware_reward([1.0, 0.0], [1.0, 0.5], [1.5, 1.0])
        array([2.25, 0.25])
    """
    c, d, w = (np.asarray(a, dtype=np.float64) for a in (correct, detail, weight))
    f = np.zeros_like(c) if fmt is None else np.asarray(fmt, dtype=np.float64)
    if c.ndim != 1 or not c.shape == d.shape == w.shape == f.shape:
        raise BatchError(
            f"inputs must share shape (N,), got {c.shape}, {d.shape}, {w.shape}, {f.shape}"
        )
    reward: FloatArray = w * (f + c + alpha * d)
    return reward


@dataclass(frozen=True)
class StageSchedule:
    """RewardMap's multi-stage curriculum: which stage a point of training is in.

    Attributes:
        stages: stage names, easiest (perception) first.
        sizes: each stage's share of training (the number of its samples, for
            RewardMap's single pass over stage-ordered data); any positive numbers.

    Example:
        >>> schedule = StageSchedule(sizes=(600, 900, 700))
        >>> schedule.stage_at(step=50, total_steps=100), schedule.stage_at_progress(0.9)
        ('counting', 'planning')
    """

    stages: tuple[str, ...] = ("judgment", "counting", "planning")
    sizes: tuple[float, ...] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        # stored as tuples (a list would leave the frozen schedule unhashable)
        if isinstance(self.stages, str) or not all(isinstance(s, str) for s in self.stages):
            raise ConfigurationError(f"stages must be a sequence of names, got {self.stages!r}")
        try:
            sizes = tuple(float(s) for s in self.sizes)
        except (TypeError, ValueError) as error:
            raise ConfigurationError(f"stage sizes must be numbers, got {self.sizes!r}") from error
        object.__setattr__(self, "stages", tuple(self.stages))
        object.__setattr__(self, "sizes", sizes)
        if not self.stages or len(self.stages) != len(self.sizes):
            raise ConfigurationError(
                f"give one size per stage: {len(self.stages)} stages, {len(self.sizes)} sizes"
            )
        if len(set(self.stages)) != len(self.stages):
            raise ConfigurationError(f"stage names must be distinct, got {self.stages}")
        if not all(math.isfinite(s) and s > 0 for s in self.sizes):
            raise ConfigurationError(f"stage sizes must be positive numbers, got {self.sizes}")

    @property
    def boundaries(self) -> FloatArray:
        """Where each stage ends, as a fraction of training (the last is 1)."""
        ends: FloatArray = np.cumsum(self.sizes) / float(sum(self.sizes))
        return ends

    def stage_index(self, progress: Any) -> IntArray:
        """Stage index for each progress value in [0, 1] (vectorized)."""
        p = np.asarray(progress, dtype=np.float64)
        if np.any(~((p >= 0) & (p <= 1))):
            raise ConfigurationError("progress must lie in [0, 1]")
        index: IntArray = np.minimum(
            np.searchsorted(self.boundaries, p, side="right"), len(self.stages) - 1
        ).astype(np.int64)
        return index

    def stage_at_progress(self, progress: float) -> str:
        """The stage at ``progress`` ∈ [0, 1] of training."""
        return self.stages[int(self.stage_index(progress))]

    def stage_at(self, step: int, total_steps: int) -> str:
        """The stage at optimizer ``step`` (0-based) of ``total_steps``, both integers."""
        for what, value in (("step", step), ("total_steps", total_steps)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ConfigurationError(f"{what} must be an integer, got {value!r}")
        if total_steps < 1 or not 0 <= step < total_steps:
            raise ConfigurationError(f"need 0 <= step < total_steps, got {step} of {total_steps}")
        return self.stage_at_progress(step / total_steps)


def curriculum_order(stage_of_sample: Any, seed: int = 0) -> IntArray:
    """RewardMap's data order: stage by stage, shuffled within each stage.

    ``stage_of_sample`` (N,) holds each sample's stage index; the result is a
    permutation of range(N) to train in, one pass.

    Example:
        >>> order = curriculum_order([1, 0, 2, 0, 1], seed=0)
        >>> [int(s) for s in np.asarray([1, 0, 2, 0, 1])[order]]
        [0, 0, 1, 1, 2]
    """
    stages = np.asarray(stage_of_sample)
    if stages.ndim != 1 or (stages.size and not np.issubdtype(stages.dtype, np.integer)):
        raise BatchError(
            f"stage_of_sample must be integer stage indices of shape (N,), got {stages.shape}"
        )
    shuffle = np.random.default_rng(seed).permutation(stages.size)
    order: IntArray = shuffle[np.argsort(stages[shuffle], kind="stable")].astype(np.int64)
    return order


def _whole(value: Any, index: int, what: str) -> int | None:
    """A whole number from a column cell; None for a missing one (None, NaN, "")."""
    if is_missing(value) or (isinstance(value, str) and value.strip().casefold() in ("", "nan")):
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if number.is_integer():
            return int(number)
    elif isinstance(value, str) and value.strip().lstrip("+-").isdecimal():
        return int(value.strip())
    raise BatchError(f"{what} of sample {index} must be a whole number, got {value!r}")


def _level(value: Any, index: int) -> int:
    if isinstance(value, str) and value.strip().casefold() in LEVELS:
        return LEVELS[value.strip().casefold()]
    try:
        level = _whole(value, index, "difficulty")
    except BatchError:
        raise BatchError(
            f"difficulty of sample {index}: use easy/middle/hard or 0-2, got {value!r}"
        ) from None
    return 0 if level is None else level


@register("detail_reward")
class DifficultyAwareDetail(RewardTerm):
    """RewardMap-style W · (R_correctness + α · R_detail) of the ``<answer>`` details.

    ``details`` holds the gold details (text, list, or mapping key → value(s);
    a number is one detail); ``difficulty`` (optional) the map level
    (easy/middle/hard or 0-2); ``hops`` (optional) the transfers the question
    needs. A missing column, or a None/NaN/empty cell, means easy and 0 hops; a
    value that is not a whole number (``1.7``, ``"two"``) raises
    :class:`~rewardkit.core.errors.BatchError`, checked on every row. A sample
    without gold details (None, NaN, empty) is not applicable. A completion
    without an ``<answer>`` is not applicable too, or scores
    ``unparseable_score`` when that is set (that number as the total, not
    weighted by W). Logs ``name/correct``, ``name/detail`` and ``name/weight``.

    Example:
        >>> batch = {"completion": ["<answer>origin: A; destination: B</answer>",
        ...                         "<answer>origin: A; destination: C</answer>", "none"],
        ...          "details": ["origin: A; destination: B"] * 3,
        ...          "difficulty": ["hard", "easy", None], "hops": [1, 0, float("nan")]}
        >>> DifficultyAwareDetail()(batch).total
        array([ 3.,  0., nan])
        >>> DifficultyAwareDetail(unparseable_score=-1.0)(batch).total
        array([ 3.,  0., -1.])
    """

    columns = ("completion", "details", "difficulty", "hops")

    def __init__(
        self,
        alpha: float = 0.5,
        credit: float = 1.0,
        penalty: float = 1.0,
        level_weights: Sequence[float] = (1.0, 1.2, 1.5),
        hop_weights: Sequence[float] = (0.0, 0.5),
        name: str = "detail_reward",
        unparseable_score: float | None = None,
    ) -> None:
        super().__init__(name)
        scores = [alpha, credit, penalty] + (
            [] if unparseable_score is None else [unparseable_score]
        )
        if not all(isinstance(x, numbers.Real) and math.isfinite(x) for x in scores):
            raise ConfigurationError(
                "alpha, credit, penalty and unparseable_score must be finite numbers"
            )
        if not (alpha >= 0 and credit > 0 and penalty >= 0):
            raise ConfigurationError(
                f"need alpha >= 0, credit > 0, penalty >= 0, got {alpha}, {credit}, {penalty}"
            )
        self.alpha, self.credit, self.penalty = float(alpha), float(credit), float(penalty)
        self.level_weights = tuple(_weights(level_weights, "level_weights").tolist())
        self.hop_weights = tuple(_weights(hop_weights, "hop_weights").tolist())
        self.unparseable_score = None if unparseable_score is None else float(unparseable_score)

    def _weight(self, batch: Batch, n: int) -> FloatArray:
        level_column, hop_column = batch.get("difficulty"), batch.get("hops")
        levels = (
            [0] * n if level_column is None else [_level(v, i) for i, v in enumerate(level_column)]
        )
        hops = (
            [0] * n
            if hop_column is None
            else [_whole(v, i, "hops") or 0 for i, v in enumerate(hop_column)]
        )
        # capped so that a huge number still fits int64: the weights' tables end there
        cap_level, cap_hops = len(self.level_weights), len(self.hop_weights)
        return difficulty_weight(
            np.array([min(max(v, -1), cap_level) for v in levels], dtype=np.int64),
            np.array([min(max(v, -1), cap_hops) for v in hops], dtype=np.int64),
            self.level_weights,
            self.hop_weights,
        )

    def _compute(self, batch: Batch) -> RewardOutput:
        texts = [completion_text(c) for c in get_column(batch, "completion")]
        n = len(texts)
        golds = [split_details(v) for v in get_column(batch, "details")]
        weight = self._weight(batch, n)
        right, wrong, size = np.zeros(n), np.zeros(n), np.ones(n)
        ok, unread = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        for i, (text, gold) in enumerate(zip(texts, golds, strict=True)):
            answer = extract_answer_tag(text) if gold else None
            unread[i] = bool(gold) and answer is None
            if answer is None:
                continue
            ok[i], size[i] = True, len(gold)
            right[i], wrong[i] = count_details(split_details(answer), gold)
        detail = np.where(ok, detail_reward(right, wrong, size, self.credit, self.penalty), np.nan)
        correct = np.where(ok, ((right == size) & (wrong == 0)).astype(np.float64), np.nan)
        total = difficulty_aware_reward(correct, detail, weight, self.alpha)
        if self.unparseable_score is not None:
            total[unread] = self.unparseable_score
        terms = {
            self.name: total,
            f"{self.name}/correct": correct,
            f"{self.name}/detail": detail,
            f"{self.name}/weight": weight,
        }
        return RewardOutput(total, terms)
