"""A GRiP-style salience-weighted IoU reward for multi-box grounding.

GRiP (Wei et al. 2025, "Guiding the Inner Eye: A Framework for Hierarchical
and Flexible Visual Grounded Reasoning", arXiv:2511.22172) trains a
"thinking with images" model with a Salience-Weighted IoU Reward, which
"incentivizes the model to prioritize the localization of mission-critical
objects over trivial distractors", and a Multi-Heuristic Reward for diverse
but valid reasoning paths. Only the abstract could be read: the paper's exact
formula, its salience weights and its heuristics are not reproduced here.
This module is therefore GRiP-*style*; the multi-heuristic reward is missing.

Our form, for predicted boxes p_i (i = 1..P) and target boxes g_j (j = 1..G)
with salience weights s_j ≥ 0 (higher = more mission-critical):

    recall_s  = Σ_j s_j · max_i IoU(p_i, g_j) / Σ_j s_j
    precision = (1/P) Σ_i max_j IoU(p_i, g_j)            (0 when P = 0)
    R = (1 − λ) · recall_s + λ · precision,               λ = 0.5 by default

Missing a critical object costs more than missing a distractor; the precision
half keeps a model from covering the image with boxes (repeating one right
box gains nothing). With all s_j equal it is a plain average of IoU recall
and IoU precision.

Example:
    >>> gt = np.array([[[0, 0, 10, 10], [20, 20, 30, 30]]], dtype=float)
    >>> salience = np.array([[3.0, 1.0]])
    >>> critical = np.array([[[0, 0, 10, 10]]], dtype=float)
    >>> distractor = np.array([[[20, 20, 30, 30]]], dtype=float)
    >>> salience_weighted_iou(critical, gt, salience)  # recall 3/4, precision 1
    array([0.875])
    >>> salience_weighted_iou(distractor, gt, salience)  # recall 1/4, precision 1
    array([0.625])
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column, is_missing
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.output import FloatArray, RewardOutput
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.verify.grounding import box_iou
from rewardkit.verify.text import completion_text

__all__ = [
    "SalienceIoU",
    "pad_boxes",
    "pad_salience",
    "pairwise_iou",
    "parse_boxes",
    "salience_recall_precision",
    "salience_weighted_iou",
]

_NUM = r"-?\d+(?:\.\d+)?"
_BOX = re.compile(rf"[\[(]\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*[\])]")
_SCAN_CHARS = 20_000


def parse_boxes(text: str, max_boxes: int = 32) -> list[tuple[float, float, float, float]]:
    """Every well-formed ``[x1, y1, x2, y2]`` in ``text``, in order (at most ``max_boxes``).

    The whole completion is read (a thinking-with-images model grounds inside
    its reasoning), up to its last 20,000 characters; a box with x2 ≤ x1 or
    y2 ≤ y1 is skipped.

    Example:
        >>> parse_boxes("look at [0, 0, 5, 5] and (3, 3, 1, 1), then [2, 2, 8, 9]")
        [(0.0, 0.0, 5.0, 5.0), (2.0, 2.0, 8.0, 9.0)]
    """
    boxes = []
    for match in _BOX.finditer(text[-_SCAN_CHARS:]):
        x1, y1, x2, y2 = (float(v) for v in match.groups())
        if x2 > x1 and y2 > y1:
            boxes.append((x1, y1, x2, y2))
            if len(boxes) == max_boxes:
                break
    return boxes


def pad_boxes(rows: Sequence[Any]) -> FloatArray:
    """Ragged per-sample box lists as one (N, M, 4) array, padded with NaN rows.

    Example:
        >>> pad_boxes([[[0, 0, 1, 1]], []]).shape
        (2, 1, 4)
    """
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width, 4), np.nan)
    for i, row in enumerate(rows):
        if len(row):
            out[i, : len(row)] = _box_array(row, f"boxes of sample {i}")
    return out


def pad_salience(rows: Sequence[Any]) -> FloatArray:
    """Ragged per-sample weight lists as one (N, M) array, padded with NaN.

    Example:
        >>> pad_salience([[3.0, 1.0], [2.0]])
        array([[ 3.,  1.],
               [ 2., nan]])
    """
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        out[i, : len(row)] = np.asarray(row, dtype=np.float64).reshape(-1)
    return out


def _box_array(values: Any, what: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise BatchError(f"{what} must have shape (M, 4) as (x1, y1, x2, y2), got {array.shape}")
    return array


def _batched(values: Any, what: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 3 or array.shape[2] != 4:
        raise BatchError(
            f"{what} must have shape (N, M, 4), NaN rows as padding, got {array.shape}"
        )
    return array


def pairwise_iou(pred: Any, gt: Any) -> FloatArray:
    """IoU of every predicted box with every target box, per sample: (N, P, G).

    ``pred`` is (N, P, 4) and ``gt`` (N, G, 4); NaN rows are padding and have
    IoU 0 with everything.

    Example:
        >>> pairwise_iou(np.array([[[0, 0, 2, 2]]]), np.array([[[1, 1, 3, 3], [0, 0, 2, 2]]]))
        array([[[0.14285714, 1.        ]]])
    """
    p, g = _batched(pred, "pred"), _batched(gt, "gt")
    if p.shape[0] != g.shape[0]:
        raise BatchError(f"pred has {p.shape[0]} samples but gt has {g.shape[0]}")
    shape = (p.shape[0], p.shape[1], g.shape[1], 4)
    a = np.broadcast_to(p[:, :, None, :], shape).reshape(-1, 4)
    b = np.broadcast_to(g[:, None, :, :], shape).reshape(-1, 4)
    iou = box_iou(a, b).reshape(shape[:3])
    result: FloatArray = np.nan_to_num(iou, nan=0.0)
    return result


def salience_recall_precision(pred: Any, gt: Any, salience: Any) -> tuple[FloatArray, FloatArray]:
    """The two halves of :func:`salience_weighted_iou`: (recall_s, precision), each (N,).

    ``salience`` is (N, G); its entries on padding rows of ``gt`` are ignored.
    Every sample needs a target box with positive salience.

    Example:
        >>> gt = np.array([[[0, 0, 10, 10], [20, 20, 30, 30]]], dtype=float)
        >>> salience_recall_precision(np.zeros((1, 0, 4)), gt, np.array([[1.0, 1.0]]))
        (array([0.]), array([0.]))
    """
    iou = pairwise_iou(pred, gt)
    n, p, g = iou.shape
    weights = np.asarray(salience, dtype=np.float64)
    if weights.shape != (n, g):
        raise BatchError(f"salience must have shape (N, G) = {(n, g)}, got {weights.shape}")
    real_gt = ~np.isnan(np.asarray(gt, dtype=np.float64)).any(axis=2)
    weights = np.where(real_gt, weights, 0.0)
    if np.any(~np.isfinite(weights) | (weights < 0)):
        raise BatchError("salience weights must be finite and >= 0")
    total_weight = weights.sum(axis=1)
    if np.any(~(total_weight > 0)):
        raise BatchError("every sample needs a target box with positive salience")
    best_for_gt = iou.max(axis=1) if p else np.zeros((n, g))
    recall: FloatArray = (weights * best_for_gt).sum(axis=1) / total_weight
    real_pred = ~np.isnan(np.asarray(pred, dtype=np.float64)).any(axis=2)
    count = real_pred.sum(axis=1)
    best_for_pred = iou.max(axis=2) if g else np.zeros((n, p))
    hits = (best_for_pred * real_pred).sum(axis=1)
    precision: FloatArray = np.where(count > 0, hits / np.maximum(count, 1), 0.0)
    return recall, precision


def salience_weighted_iou(
    pred: Any, gt: Any, salience: Any, precision_weight: float = 0.5
) -> FloatArray:
    """R = (1 − λ)·recall_s + λ·precision (see the module docstring), shape (N,).

    Example:
        >>> gt = np.array([[[0, 0, 10, 10], [20, 20, 30, 30]]], dtype=float)
        >>> both = np.array([[[0, 0, 10, 10], [20, 20, 30, 30]]], dtype=float)
        >>> salience_weighted_iou(both, gt, np.array([[3.0, 1.0]]))
        array([1.])
    """
    if not 0.0 <= precision_weight <= 1.0:
        raise ConfigurationError(f"precision_weight must be in [0, 1], got {precision_weight!r}")
    recall, precision = salience_recall_precision(pred, gt, salience)
    reward: FloatArray = (1.0 - precision_weight) * recall + precision_weight * precision
    return reward


def _gold_boxes(value: Any, index: int) -> FloatArray | None:
    """A sample's target boxes (M, 4); None where it has none or a coordinate is missing."""
    if is_missing(value) or (isinstance(value, list | tuple) and any(v is None for v in value)):
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise BatchError(
            f"gt_boxes of sample {index} must be boxes [x1, y1, x2, y2], got {value!r}"
        ) from error
    if array.size == 0:
        return None
    array = array.reshape(1, 4) if array.shape == (4,) else array
    array = _box_array(array, f"gt_boxes of sample {index}")
    if np.isnan(array).any():
        return None
    if not np.isfinite(array).all():
        raise BatchError(f"gt_boxes of sample {index}: coordinates must be finite")
    if np.any(~(array[:, 2:] > array[:, :2])):
        raise BatchError(f"gt_boxes of sample {index}: every box needs x2 > x1 and y2 > y1")
    return array


def _salience_row(column: Any, index: int, count: int) -> FloatArray | None:
    """A sample's weights: equal when the column or the cell is missing; None if one is NaN."""
    value = None if column is None else column[index]
    if is_missing(value):
        return np.ones(count)
    try:
        weights = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise BatchError(f"salience of sample {index} must be numbers, got {value!r}") from error
    if weights.shape != (count,):
        raise BatchError(
            f"salience of sample {index} has shape {weights.shape} for {count} target boxes"
        )
    if np.isnan(weights).any():
        return None
    if np.any(~np.isfinite(weights) | (weights < 0)) or not weights.sum() > 0:
        raise BatchError(
            f"salience of sample {index} must be finite, >= 0 and not all 0, got {value!r}"
        )
    return weights


@register("salience_iou")
class SalienceIoU(RewardTerm):
    """GRiP-style salience-weighted IoU of the completion's boxes with ``gt_boxes``.

    ``gt_boxes`` holds each sample's target boxes (a list of [x1, y1, x2, y2]);
    ``salience`` (optional) one weight per target box, equal weights when the
    column is absent or the sample's cell is None/NaN. A completion without a
    well-formed box is not applicable, as is a sample without target boxes
    (None, NaN, empty, a None/NaN coordinate) or with a NaN weight; a malformed
    target or weight (wrong shape, x2 <= x1, infinite, negative, all zero)
    raises :class:`~rewardkit.core.errors.BatchError`, checked on every row.
    Logs ``name/recall`` and ``name/precision``.

    Example:
        >>> term = SalienceIoU()
        >>> batch = {"completion": ["<think>[0, 0, 10, 10]</think>", "no box"],
        ...          "gt_boxes": [[[0, 0, 10, 10], [20, 20, 30, 30]]] * 2,
        ...          "salience": [[3.0, 1.0]] * 2}
        >>> term(batch).total
        array([0.875,   nan])
    """

    columns: tuple[str, ...] = ("completion", "gt_boxes", "salience")

    def __init__(
        self, precision_weight: float = 0.5, max_boxes: int = 32, name: str = "salience_iou"
    ) -> None:
        super().__init__(name)
        if not (math.isfinite(precision_weight) and 0.0 <= precision_weight <= 1.0):
            raise ConfigurationError(
                f"precision_weight must be in [0, 1], got {precision_weight!r}"
            )
        if isinstance(max_boxes, bool) or not isinstance(max_boxes, int) or max_boxes < 1:
            raise ConfigurationError(f"max_boxes must be a positive integer, got {max_boxes!r}")
        self.precision_weight, self.max_boxes = float(precision_weight), max_boxes

    def _compute(self, batch: Batch) -> RewardOutput:
        texts = [completion_text(c) for c in get_column(batch, "completion")]
        golds = [_gold_boxes(v, i) for i, v in enumerate(get_column(batch, "gt_boxes"))]
        column = batch.get("salience")
        # every target is checked up front, whatever the completions hold
        weights = [
            None if g is None else _salience_row(column, i, len(g)) for i, g in enumerate(golds)
        ]
        preds = [parse_boxes(t, self.max_boxes) for t in texts]
        n = len(texts)
        recall, precision = np.full(n, np.nan), np.full(n, np.nan)
        rows = [i for i in range(n) if preds[i] and weights[i] is not None]
        if rows:
            gt = pad_boxes([golds[i] for i in rows])
            salience = pad_salience([weights[i] for i in rows])
            pred = pad_boxes([preds[i] for i in rows])
            recall[rows], precision[rows] = salience_recall_precision(pred, gt, salience)
        total = (1.0 - self.precision_weight) * recall + self.precision_weight * precision
        terms = {
            self.name: total,
            f"{self.name}/recall": recall,
            f"{self.name}/precision": precision,
        }
        return RewardOutput(total, terms)
