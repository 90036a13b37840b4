"""The reward designs the grounding lab compares, per task: a binary reward against each
paper's graded one, all rewardkit terms over the task's columns.

Example:
    >>> from rewardkit_bench.grounding_tasks import TASKS
    >>> task = TASKS["click"]
    >>> scenes = task.draw(2, seed=0)
    >>> columns = task.columns(np.array([[0, 0], [0, 0]]), scenes, np.array([0, 1]))
    >>> DESIGNS["click"]["binary hit"].make_term()(columns).total
    array([0., 0.])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.core import term, weighted_sum
from rewardkit.core.output import RewardOutput
from rewardkit.core.term import RewardTerm, Term
from rewardkit.verify.click_confidence import TruncatedGaussianClick
from rewardkit.verify.detail import DifficultyAwareDetail, StageSchedule
from rewardkit.verify.grounding import (
    BoxIoU,
    GaussianPoint,
    box_iou,
    box_size_reward,
    gaussian_coverage_reward,
    gaussian_point_reward,
)
from rewardkit.verify.layout import LayoutMetric
from rewardkit.verify.partial import BrierCalibration, PartialCredit
from rewardkit.verify.salience import SalienceIoU
from rewardkit.verify.video import STVGo1Reward, TemporalConsistency

__all__ = ["DESIGNS", "Design", "LayoutItems", "rewardmap_curriculum"]


@dataclass(frozen=True)
class Design:
    """A reward design: how to build its term, and an optional curriculum (the highest
    difficulty allowed at a given fraction of training)."""

    make_term: Callable[[], Term]
    curriculum: Callable[[float], int] | None = None


def _nan_where_invalid(values: Any, valid: Any) -> list[float | None]:
    return [float(v) if ok else None for v, ok in zip(values, valid, strict=True)]


@term(name="hit")
def click_hit(point: Any, gt_box: Any) -> Any:
    """1 if the click lands inside the target box, else 0 (the binary reward)."""
    p, b = np.asarray(point, dtype=float), np.asarray(gt_box, dtype=float)
    return ((p[:, 0] >= b[:, 0]) & (p[:, 0] < b[:, 2]) & (p[:, 1] >= b[:, 1])
            & (p[:, 1] < b[:, 3])).astype(float)  # fmt: skip


def _valid_boxes(pred_box: Any) -> tuple[Any, Any]:
    boxes = np.asarray(pred_box, dtype=float)
    return boxes, ~np.isnan(boxes).any(axis=1)


def _box_score(pred_box: Any, gt_box: Any, score: Callable[[Any, Any], Any]) -> list[float | None]:
    boxes, valid = _valid_boxes(pred_box)
    values = np.zeros(len(boxes))
    if valid.any():
        values[valid] = score(boxes[valid], np.asarray(gt_box, dtype=float)[valid])
    return _nan_where_invalid(values, valid)


@term(name="iou_at_half")
def iou_at_half(pred_box: Any, gt_box: Any) -> list[float | None]:
    """1 if IoU ≥ 0.5, else 0; not applicable for an invalid box (the binary reward)."""
    return _box_score(pred_box, gt_box, lambda p, g: (box_iou(p, g) >= 0.5).astype(float))


@term(name="box_size")
def box_size(pred_box: Any, gt_box: Any) -> list[float | None]:
    """GUI-G1-style box-size agreement of ``pred_box`` with ``gt_box``."""
    return _box_score(pred_box, gt_box, box_size_reward)


@term(name="gaussian_point")
def box_centre_point(pred_box: Any, gt_box: Any) -> list[float | None]:
    """GUI-G²'s Gaussian point reward of the predicted box's centre."""
    return _box_score(pred_box, gt_box,
                      lambda p, g: gaussian_point_reward((p[:, :2] + p[:, 2:]) / 2, g))  # fmt: skip


@term(name="gaussian_coverage")
def box_coverage(pred_box: Any, gt_box: Any) -> list[float | None]:
    """GUI-G²'s Gaussian coverage reward of the predicted box."""
    return _box_score(pred_box, gt_box, gaussian_coverage_reward)


def _cells(positions: Any) -> list[str]:
    """STAR-R1 items ``category.x_cell.y_cell`` (1-metre cells) of the present objects."""
    rows = []
    for row in np.asarray(positions, dtype=float):
        items = [f"{c}.{int(x)}.{int(y)}" for c, (x, y) in enumerate(row) if not np.isnan(x)]
        rows.append("; ".join(items))
    return rows


@term(name="all_within_1m")
def all_within_1m(pred_positions: Any, gt_positions: Any) -> Any:
    """1 if every present object is placed within 1 m of its position (the binary reward)."""
    error = np.linalg.norm(np.asarray(pred_positions) - np.asarray(gt_positions), axis=-1)
    return np.all(np.where(np.isnan(error), True, error <= 1.0), axis=1).astype(float)


@term(name="span_and_track")
def span_and_track(pred_span: Any, pred_boxes: Any, gt_span_open: Any, gt_frame_boxes: Any) -> Any:
    """1 if tIoU ≥ 0.5 and vIoU ≥ 0.5, else 0; not applicable for an invalid span (binary)."""
    from rewardkit.verify.video import temporal_iou
    from rewardkit_bench.grounding_metrics import viou

    spans = np.asarray(pred_span, dtype=float)
    valid = ~np.isnan(spans).any(axis=1)
    tiou = np.zeros(len(spans))
    if valid.any():
        tiou[valid] = temporal_iou(spans[valid], np.asarray(gt_span_open, dtype=float)[valid])
    hit = (tiou >= 0.5) & (viou(np.asarray(pred_boxes), np.asarray(gt_frame_boxes)) >= 0.5)
    return _nan_where_invalid(hit.astype(float), valid)


@term(name="valid_span")
def valid_span(pred_span: Any) -> Any:
    """1 for a span that ends after it starts; not applicable otherwise (the format)."""
    valid = ~np.isnan(np.asarray(pred_span, dtype=float)).any(axis=1)
    return _nan_where_invalid(np.ones(len(valid)), valid)


class LayoutItems(RewardTerm):
    """STAR-R1's :class:`~rewardkit.verify.PartialCredit` over a layout's objects, each an
    item ``category.x_cell.y_cell`` (1-metre cells): a right category with the wrong cell
    still earns the first level."""

    columns = ("pred_positions", "gt_positions")

    def __init__(self, name: str = "star_r1_partial_credit") -> None:
        super().__init__(name)
        self.credit = PartialCredit(name=name)

    def _compute(self, batch: Any) -> RewardOutput:
        text = [f"<answer>{items}</answer>" for items in _cells(batch["pred_positions"])]
        return self.credit({"completion": text, "answer": _cells(batch["gt_positions"])})


#: RewardMap-style stages of the layout task: easy rooms (1-2 objects), then up to 3, then all
STAGES = StageSchedule(stages=("easy", "middle", "hard"), sizes=(1.0, 1.0, 1.0))
MAX_COUNT_BY_STAGE = (2, 3, 4)


def rewardmap_curriculum(progress: float) -> int:
    """The most objects a room may hold at ``progress`` ∈ [0, 1] of training."""
    return MAX_COUNT_BY_STAGE[int(STAGES.stage_index(min(max(progress, 0.0), 1.0)))]


DESIGNS: dict[str, dict[str, Design]] = {
    "click": {
        "binary hit": Design(lambda: click_hit),
        "GUI-G² Gaussian point": Design(lambda: GaussianPoint(alpha=0.5)),
    },
    "click_confidence": {
        "hit only": Design(lambda: click_hit),
        "hit + Brier": Design(lambda: weighted_sum([click_hit, BrierCalibration(click_hit)])),
        "HyperClick": Design(lambda: TruncatedGaussianClick(alpha=0.25)),
        "HyperClick, screen-truncated target (ours)": Design(
            lambda: TruncatedGaussianClick(alpha=0.25, target="screen")),
    },
    "box": {
        "binary IoU≥0.5": Design(lambda: iou_at_half),
        "IoU": Design(lambda: BoxIoU()),
        "IoU + box size (GUI-G1-style)": Design(
            lambda: weighted_sum([BoxIoU(), box_size], [1.0, 0.5])),
        "GUI-G² point + coverage": Design(lambda: weighted_sum([box_centre_point, box_coverage])),
        "GRiP-style salience IoU": Design(lambda: SalienceIoU()),
    },
    "clip": {
        "binary": Design(lambda: span_and_track),
        "STVG-o1-style": Design(lambda: STVGo1Reward()),
        "Veason-R1-style": Design(lambda: weighted_sum([valid_span, TemporalConsistency()])),
    },
    "layout": {
        "binary all within 1 m": Design(lambda: all_within_1m),
        "STAR-R1 partial credit": Design(lambda: LayoutItems()),
        "Video2Layout-style metric": Design(lambda: LayoutMetric(scale=1.0)),
        "RewardMap-style detail": Design(lambda: DifficultyAwareDetail()),
        "RewardMap-style detail + stages": Design(lambda: DifficultyAwareDetail(),
                                                  curriculum=rewardmap_curriculum),
    },
}  # fmt: skip
