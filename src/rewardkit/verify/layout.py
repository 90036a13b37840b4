"""Metric layout rewards after Video2Layout: object coordinates, and the answer's MRA.

Video2Layout (Huang et al. 2025, "Video2Layout: Recall and Reconstruct
Metric-Grounded Cognitive Map for Spatial Reasoning", arXiv:2511.16160) has a
model write a bird's-eye-view map of object boundary coordinates in metres
(``<map>``), reason over it (``<think>``) and answer (``<answer>``). The map is
learned by SFT on AI2THOR layouts; its reinforcement stage (GRPO), in the
authors' released reward (``examples/reward_function/qa.py``), scores only

    R = 0.9 · accuracy + 0.1 · format

with accuracy the Mean Relative Accuracy (MRA) of a numeric answer or a
case-insensitive exact match of any other, and format 1 when the completion is
``<map>…</map><think>…</think><answer>…</answer>``. :class:`SpatialAnswer` is
that reward (see its note on missing answers).

The RL reward does *not* score the map's coordinates. :class:`LayoutMetric`
does, and is ours (Video2Layout-style): predicted objects are matched one-to-
one to the ground-truth objects of the same category, greedily by closeness,
and

    R = Σ_matched exp(−‖c_pred − c_gt‖ / τ) / max(|G|, |P|)

with c the object centres (a box's centre, or a point), τ a length scale in
the map's units (metres) and |G|, |P| the numbers of target and predicted
objects: a missed object and a hallucinated one both cost a full share.
Object sizes are not scored.

Example:
    >>> mean_relative_accuracy([2.1, 3.5, 0.0], [2.0, 2.0, 0.0])
    array([0.9, 0. , 1. ])
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.output import FloatArray, RewardOutput
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.verify.extract import extract_answer_tag
from rewardkit.verify.text import completion_text

__all__ = [
    "LayoutMetric",
    "SpatialAnswer",
    "layout_format",
    "layout_match_reward",
    "mean_relative_accuracy",
    "parse_layout",
]

IntArray = npt.NDArray[np.int64]
#: Video2Layout's relative-error thresholds: 0.50, 0.45, ..., 0.05 (VSI-Bench's MRA)
MRA_THRESHOLDS = tuple(float(t) for t in np.linspace(0.50, 0.05, 10))
_NUM = r"-?\d+(?:\.\d+)?"
_OBJECT = re.compile(
    r"[\"']?([A-Za-z][\w \-]*?)[\"']?\s*[:=]\s*"
    r"(\[\s*\[[^\[\]]*\]\s*,\s*\[[^\[\]]*\]\s*\]|\[[^\[\]]*\]|\([^()]*\))"
)
_MAP = re.compile(r"<map>(.*?)</map>", re.DOTALL | re.IGNORECASE)
_FORMAT = re.compile(r"<map>.*?</map>\s*<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
_INSTANCE = re.compile(r"[\s_#\-]*\d+$")


def mean_relative_accuracy(
    pred: Any, gt: Any, thresholds: Sequence[float] = MRA_THRESHOLDS
) -> FloatArray:
    """MRA = (1/|T|) Σ_t 1[|ŷ − y| / |y| ≤ t], rowwise (the absolute error where y = 0).

    The numeric accuracy of Video2Layout's reward and of VSI-Bench (Yang et al.
    2024, "Thinking in Space"), with t ∈ {0.50, 0.45, ..., 0.05}.

    Example:
        >>> mean_relative_accuracy([1.2], [1.0])  # 20% off: passes t = 0.5 ... 0.2
        array([0.7])
    """
    p, g = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if p.ndim != 1 or p.shape != g.shape:
        raise BatchError(f"pred and gt must both have shape (N,), got {p.shape} and {g.shape}")
    levels = np.asarray(thresholds, dtype=np.float64)
    if levels.ndim != 1 or not levels.size or np.any(~(levels >= 0)):
        raise ConfigurationError(
            f"thresholds must be a non-empty list of numbers >= 0, got {thresholds!r}"
        )
    error = np.abs(p - g) / np.where(g == 0, 1.0, np.abs(g))
    accuracy: FloatArray = np.mean(error[:, None] <= levels[None, :], axis=1)
    return accuracy


def layout_format(text: str) -> bool:
    """Video2Layout's format: the completion is ``<map>…</map><think>…</think><answer>…</answer>``.

    As in the authors' reward, whitespace around ``<``, ``>`` and ``/`` is
    removed first, and the whole completion must match.

    Example:
        >>> layout_format("<map>{}</map> <think>t</think>\\n<answer>2</answer>")
        True
        >>> layout_format("<think>t</think><answer>2</answer>")
        False
    """
    cleaned = re.sub(r"\s*(<|>|/)\s*", r"\1", text.strip())
    return _FORMAT.fullmatch(cleaned) is not None


def _category(label: str) -> str:
    name = " ".join(label.replace("_", " ").split()).casefold()
    return _INSTANCE.sub("", name) or name


def _centre(numbers: Sequence[float]) -> tuple[float, float] | None:
    if len(numbers) == 2:
        return float(numbers[0]), float(numbers[1])
    if len(numbers) == 4:
        return (numbers[0] + numbers[2]) / 2, (numbers[1] + numbers[3]) / 2
    return None


def parse_layout(text: str) -> list[tuple[str, float, float]]:
    """Objects of a map as (category, x, y) centres.

    Reads ``label: [x1, y1, x2, y2]``, ``label: [[x1, y1], [x2, y2]]`` (a box),
    ``label: [x, y]`` or ``(x, y)`` (a point), JSON quotes allowed, inside the
    last ``<map>`` (the whole text when there is none). Labels are case-folded
    and lose an instance number (``chair_2`` → ``chair``).

    Example:
        >>> parse_layout('<map>{"Chair_1": [0, 0, 2, 2], "table": [[4, 0], [6, 2]]}</map>')
        [('chair', 1.0, 1.0), ('table', 5.0, 1.0)]
    """
    maps = _MAP.findall(text)
    region = maps[-1] if maps else text[-20_000:]
    objects = []
    for label, value in _OBJECT.findall(region):
        centre = _centre([float(v) for v in re.findall(_NUM, value)])
        if centre is not None:
            objects.append((_category(label), *centre))
    return objects


def _check_layout(xy: Any, labels: Any, what: str) -> tuple[FloatArray, IntArray]:
    points = np.asarray(xy, dtype=np.float64)
    ids = np.asarray(labels)
    if points.ndim != 3 or points.shape[2] != 2 or ids.shape != points.shape[:2]:
        raise BatchError(
            f"{what} must be coordinates (N, M, 2) and labels (N, M), "
            f"got {points.shape} and {ids.shape}"
        )
    if not np.issubdtype(ids.dtype, np.integer):
        raise BatchError(f"{what} labels must be integer category ids (-1 = padding)")
    return points, ids.astype(np.int64)


def layout_match_reward(
    pred_xy: Any, pred_labels: Any, gt_xy: Any, gt_labels: Any, scale: float = 1.0
) -> FloatArray:
    """Σ_matched exp(−d/τ) / max(|G|, |P|) with a greedy one-to-one matching by category.

    ``pred_xy`` (N, P, 2) and ``gt_xy`` (N, G, 2) are object centres;
    ``pred_labels`` (N, P) and ``gt_labels`` (N, G) integer category ids, −1 for
    padding. Pairs are matched in decreasing order of exp(−d/τ), each object at
    most once, only within a category. Every sample needs a target object; a
    sample with no predicted object scores 0.

    Example:
        >>> gt_xy, gt_labels = np.array([[[0.0, 0.0], [3.0, 4.0]]]), np.array([[0, 1]])
        >>> pred_xy, pred_labels = np.array([[[0.0, 1.0]]]), np.array([[0]])
        >>> layout_match_reward(pred_xy, pred_labels, gt_xy, gt_labels).round(4)
        array([0.1839])
    """
    if not (math.isfinite(scale) and scale > 0):
        raise ConfigurationError(f"scale must be a positive length, got {scale!r}")
    p, p_ids = _check_layout(pred_xy, pred_labels, "predictions")
    g, g_ids = _check_layout(gt_xy, gt_labels, "targets")
    if p.shape[0] != g.shape[0]:
        raise BatchError(f"{p.shape[0]} predicted layouts but {g.shape[0]} targets")
    n_gt, n_pred = (g_ids >= 0).sum(axis=1), (p_ids >= 0).sum(axis=1)
    if np.any(n_gt == 0):
        raise BatchError("every sample needs at least one target object")
    distance = np.linalg.norm(p[:, :, None, :] - g[:, None, :, :], axis=3)
    same = (p_ids[:, :, None] == g_ids[:, None, :]) & (p_ids[:, :, None] >= 0)
    score = np.where(same, np.exp(-np.nan_to_num(distance, nan=np.inf) / scale), -1.0)
    rows = np.arange(score.shape[0])
    matched = np.zeros(score.shape[0])
    for _ in range(min(score.shape[1], score.shape[2])):
        flat = score.reshape(score.shape[0], -1).argmax(axis=1)
        i, j = np.unravel_index(flat, score.shape[1:])
        best = score[rows, i, j]
        found = best >= 0
        matched += np.where(found, best, 0.0)
        score[rows[found], i[found], :] = -1.0
        score[rows[found], :, j[found]] = -1.0
    reward: FloatArray = matched / np.maximum(n_gt, n_pred)
    return reward


def _gold_layout(value: Any) -> list[tuple[str, float, float]] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return parse_layout(value) or None
    pairs = value.items() if isinstance(value, Mapping) else value
    objects = []
    for pair in pairs:
        if len(pair) != 2:
            raise BatchError(f"a gt_layout entry is (label, coordinates), got {pair!r}")
        label, coordinates = pair
        centre = _centre(np.asarray(coordinates, dtype=np.float64).reshape(-1).tolist())
        if centre is None:
            raise BatchError(
                f"object {label!r}: give [x, y] or [x1, y1, x2, y2], got {coordinates!r}"
            )
        objects.append((_category(str(label)), *centre))
    return objects or None


def _encode(
    layouts: Sequence[list[tuple[str, float, float]]], ids: dict[str, int]
) -> tuple[FloatArray, IntArray]:
    width = max((len(layout) for layout in layouts), default=0)
    xy, labels = np.full((len(layouts), width, 2), np.nan), np.full((len(layouts), width), -1)
    for i, layout in enumerate(layouts):
        for k, (category, x, y) in enumerate(layout):
            xy[i, k], labels[i, k] = (x, y), ids.setdefault(category, len(ids))
    return xy, labels.astype(np.int64)


@register("layout_metric")
class LayoutMetric(RewardTerm):
    """Video2Layout-style reward on the map's metric object coordinates.

    Parses the objects of the completion's ``<map>`` (see :func:`parse_layout`)
    and scores them against ``gt_layout`` with :func:`layout_match_reward`.
    ``gt_layout`` is, per sample, a mapping label → [x, y] or box, a list of
    (label, coordinates) pairs (for several objects of one category), or map
    text. No parsed object, or no target, is not applicable. Logs
    ``name/objects``, the number of predicted objects.

    Example:
        >>> term = LayoutMetric(scale=1.0)
        >>> batch = {"completion": ["<map>chair: [0, 0, 2, 2]\\nsofa: [5, 5]</map>", "no map"],
        ...          "gt_layout": [{"chair": [1, 1], "sofa": [5, 6]}] * 2}
        >>> term(batch).total.round(4)
        array([0.6839,    nan])
    """

    columns = ("completion", "gt_layout")

    def __init__(self, scale: float = 1.0, name: str = "layout_metric") -> None:
        super().__init__(name)
        if not (math.isfinite(scale) and scale > 0):
            raise ConfigurationError(f"scale must be a positive length (map units), got {scale!r}")
        self.scale = float(scale)

    def _compute(self, batch: Batch) -> RewardOutput:
        texts = [completion_text(c) for c in get_column(batch, "completion")]
        golds = [_gold_layout(v) for v in get_column(batch, "gt_layout")]
        preds = [parse_layout(t) for t in texts]
        values, counts = np.full(len(texts), np.nan), np.array([float(len(p)) for p in preds])
        rows = [i for i, (p, g) in enumerate(zip(preds, golds, strict=True)) if p and g]
        if rows:
            ids: dict[str, int] = {}
            gt_xy, gt_labels = _encode([golds[i] or [] for i in rows], ids)
            pred_xy, pred_labels = _encode([preds[i] for i in rows], ids)
            values[rows] = layout_match_reward(pred_xy, pred_labels, gt_xy, gt_labels, self.scale)
        return RewardOutput(values, {self.name: values, f"{self.name}/objects": counts})


def _answer_accuracy(answer: str, gold: Any) -> float:
    try:
        return float(mean_relative_accuracy([float(answer)], [float(gold)])[0])
    except (TypeError, ValueError):
        return float(answer.strip().casefold() == str(gold).strip().casefold())


@register("spatial_answer")
class SpatialAnswer(RewardTerm):
    """Video2Layout's RL reward: (1 − w)·accuracy + w·format, w = 0.1.

    Accuracy is the MRA of a numeric ``<answer>`` against ``answer``, or a
    case-insensitive exact match otherwise; format is :func:`layout_format`.
    One departure, the library's rule: the authors score a completion without
    an answer 0, here it is not applicable (NaN), as is a sample without a
    gold answer. Logs ``name/accuracy`` and ``name/format``.

    Example:
        >>> batch = {"completion": ["<map>m</map><think>t</think><answer>1.2</answer>",
        ...                         "<answer>Left</answer>", "nothing"],
        ...          "answer": ["1.0", "left", "3"]}
        >>> SpatialAnswer()(batch).total
        array([0.73, 0.9 ,  nan])
    """

    columns = ("completion", "answer")

    def __init__(self, format_weight: float = 0.1, name: str = "spatial_answer") -> None:
        super().__init__(name)
        if not (math.isfinite(format_weight) and 0.0 <= format_weight <= 1.0):
            raise ConfigurationError(f"format_weight must be in [0, 1], got {format_weight!r}")
        self.format_weight = float(format_weight)

    def _compute(self, batch: Batch) -> RewardOutput:
        texts = [completion_text(c) for c in get_column(batch, "completion")]
        golds = get_column(batch, "answer")
        accuracy = np.full(len(texts), np.nan)
        for i, (text, gold) in enumerate(zip(texts, golds, strict=True)):
            answer = extract_answer_tag(text)
            if answer is not None and gold is not None:
                accuracy[i] = _answer_accuracy(answer, gold)
        fmt = np.array([float(layout_format(t)) for t in texts])
        total = (1.0 - self.format_weight) * accuracy + self.format_weight * fmt
        terms = {self.name: total, f"{self.name}/accuracy": accuracy, f"{self.name}/format": fmt}
        return RewardOutput(total, terms)
