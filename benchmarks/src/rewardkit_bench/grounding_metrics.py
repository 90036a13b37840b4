"""What the grounding lab judges a policy by: hit rate, IoU, tIoU / vIoU / J&F, metric
error, and calibration (ECE and Brier) where the policy states a confidence.

Example:
    >>> # bins {0.9, 0.9}: accuracy 1/2; {0.1}: accuracy 0 -> 2/3 · 0.4 + 1/3 · 0.1
    >>> round(expected_calibration_error(np.array([0.9, 0.9, 0.1]), np.array([1.0, 0.0, 0.0])), 6)
    0.3
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.verify.grounding import box_iou

__all__ = ["clip_metrics", "expected_calibration_error", "summarize_metrics", "viou"]

Floats = npt.NDArray[np.float64]


def expected_calibration_error(confidence: Floats, correct: Floats, bins: int = 10) -> float:
    """ECE = Σ_b (n_b / n) |accuracy_b − mean confidence_b| over ``bins`` equal-width bins
    of [0, 1] (Guo et al. 2017); a confidence of 1.0 falls in the last bin.

    Example:
        >>> expected_calibration_error(np.array([1.0, 0.0]), np.array([1.0, 0.0]))
        0.0
    """
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        inside = which == b
        total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def viou(pred: Floats, gt: Floats) -> Floats:
    """STVG's vIoU: (1/|T_union|) Σ_{t ∈ T_inter} IoU(b̂_t, b_t), rowwise over (M, T, 4)."""
    pred_on, gt_on = ~np.isnan(pred).any(axis=2), ~np.isnan(gt).any(axis=2)
    both = pred_on & gt_on
    iou = np.zeros(pred_on.shape)
    if both.any():
        iou[both] = box_iou(pred[both], gt[both])
    union = (pred_on | gt_on).sum(axis=1)
    viou: Floats = np.where(union > 0, iou.sum(axis=1) / np.maximum(union, 1), 0.0)
    return viou


def clip_metrics(
    spans: Floats, boxes: Floats, masks: Any, clips: Any, idx: Any
) -> dict[str, Floats]:
    """tIoU, vIoU and J&F of predicted spans, per-frame boxes and box masks (0 when invalid)."""
    from rewardkit.verify.video import j_and_f, temporal_iou

    valid = ~np.isnan(spans).any(axis=1)
    tiou = np.zeros(len(idx))
    if valid.any():
        tiou[valid] = temporal_iou(spans[valid], clips.spans[idx][valid])
    jf = np.asarray(j_and_f(masks, clips.masks[idx]), dtype=np.float64)
    return {"tiou": tiou, "viou": viou(boxes, clips.boxes[idx]), "j_and_f": jf,
            "valid": valid.astype(float)}  # fmt: skip


def summarize_metrics(task: str, metrics: dict[str, Floats]) -> dict[str, float]:
    """Means of the per-sample metrics; small targets apart; ECE and Brier where a
    confidence is stated (correct = a hit)."""
    summary = {k: float(np.nanmean(v)) for k, v in metrics.items() if k not in ("small", "count")}
    if "small" in metrics:
        small = metrics["small"] > 0.5
        for key in ("hit", "iou"):
            if key in metrics and small.any():
                summary[f"{key}_small"] = float(metrics[key][small].mean())
            if key in metrics and (~small).any():
                summary[f"{key}_large"] = float(metrics[key][~small].mean())
    if "confidence" in metrics:
        summary["ece"] = expected_calibration_error(metrics["confidence"], metrics["hit"])
        summary["brier"] = float(np.mean((metrics["confidence"] - metrics["hit"]) ** 2))
    if "count" in metrics:  # layouts: the "hard" rooms (all four objects) apart
        hard = metrics["count"] == 4
        if hard.any():
            summary["within_1m_hard"] = float(np.nanmean(metrics["within_1m"][hard]))
    return summary
