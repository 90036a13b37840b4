"""DAVIS mask metrics: region similarity J, contour accuracy F and J&F.

Masks are boolean (or 0/1) arrays, (N, H, W) for one frame per sample or
(N, T, H, W) for T frames; every score is a frame mean per sample. Malformed
masks raise :class:`BatchError`; a None mask in a term's column is not
applicable (NaN), never 0.

Example:
    >>> square = np.zeros((1, 4, 4), bool); square[0, 1:3, 1:3] = True
    >>> j_and_f(square, square), j_and_f(np.zeros_like(square), square)
    (array([1.]), array([0.]))
"""

from __future__ import annotations

import abc
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.output import FloatArray, RewardOutput
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm

__all__ = ["JAndF", "contour_accuracy", "j_and_f", "region_similarity"]

BoolArray = npt.NDArray[np.bool_]


def _masks(values: Any, what: str) -> BoolArray:
    """``values`` as boolean (N, T, H, W) masks, or a BatchError that says what is wrong."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):
        raise BatchError(f"{what} must be masks of one shape in a regular array") from None
    if array.dtype == object or array.ndim not in (3, 4) or 0 in array.shape[-2:]:
        raise BatchError(f"{what} must be (N, H, W) or (N, T, H, W) masks, got {array.shape}")
    if array.ndim == 4 and array.shape[1] == 0:
        raise BatchError(f"{what} {array.shape} has no frames (T = 0): J and F are frame means")
    if array.dtype != np.bool_ and not np.isin(array, (0, 1)).all():
        raise BatchError(
            f"{what} must be boolean (or 0/1) masks: threshold scores first, and pass a "
            "mask stored as a 0/255 image as `mask > 0`"
        )
    masks: BoolArray = array.astype(bool)
    return masks if masks.ndim == 4 else masks[:, None]


def _mask_pair(pred: Any, gt: Any) -> tuple[BoolArray, BoolArray]:
    p, g = _masks(pred, "pred_masks"), _masks(gt, "gt_masks")
    if p.shape != g.shape:
        raise BatchError(f"pred_masks {p.shape} and gt_masks {g.shape} differ")
    return p, g


def region_similarity(pred_masks: Any, gt_masks: Any) -> FloatArray:
    """DAVIS region similarity J: mask IoU per frame, averaged over frames.

    J = |M ∩ G| / |M ∪ G| (Perazzi et al. 2016, DAVIS); a frame where both
    masks are empty scores 1, as in the DAVIS evaluation code.

    Example:
        >>> pred = np.zeros((1, 2, 4, 4), bool); gt = pred.copy()
        >>> pred[0, 0, :2, :2] = True; gt[0, 0, :2, :] = True  # 4 of 8 pixels; frame 2 empty
        >>> region_similarity(pred, gt)
        array([0.75])
    """
    p, g = _mask_pair(pred_masks, gt_masks)
    inter = np.logical_and(p, g).sum(axis=(-2, -1))
    union = np.logical_or(p, g).sum(axis=(-2, -1))
    j: FloatArray = np.where(union > 0, inter / np.maximum(union, 1), 1.0).mean(axis=1)
    return j


def _boundaries(masks: BoolArray) -> BoolArray:
    """DAVIS ``seg2bmap``: pixels whose east, south or south-east neighbour differs."""
    east, south, southeast = np.zeros_like(masks), np.zeros_like(masks), np.zeros_like(masks)
    east[..., :, :-1] = masks[..., :, 1:]
    south[..., :-1, :] = masks[..., 1:, :]
    southeast[..., :-1, :-1] = masks[..., 1:, 1:]
    edges = (masks ^ east) | (masks ^ south) | (masks ^ southeast)
    edges[..., -1, :] = masks[..., -1, :] ^ east[..., -1, :]
    edges[..., :, -1] = masks[..., :, -1] ^ south[..., :, -1]
    edges[..., -1, -1] = False
    return edges


def _dilate(pixels: BoolArray, radius: int) -> BoolArray:
    """Binary dilation by the disk x² + y² <= r² (skimage's ``disk``), one row at a time."""
    height, width = pixels.shape[-2:]
    padded = np.pad(pixels, [(0, 0)] * (pixels.ndim - 1) + [(radius + 1, radius)])
    # sums[..., x + radius + 1] counts the set pixels in columns <= x
    sums = np.cumsum(padded, axis=-1, dtype=np.int32)
    rows: dict[int, BoolArray] = {}
    out = np.zeros_like(pixels)
    for dy in range(-radius, radius + 1):
        if abs(dy) >= height:
            continue
        half = math.isqrt(radius * radius - dy * dy)
        if half not in rows:  # any set pixel within `half` columns
            lo, hi = radius - half, radius + half + 1
            rows[half] = (sums[..., hi : hi + width] - sums[..., lo : lo + width]) > 0
        if dy >= 0:
            out[..., : height - dy, :] |= rows[half][..., dy:, :]
        else:
            out[..., -dy:, :] |= rows[half][..., : height + dy, :]
    return out


def _check_bound_th(bound_th: float) -> float:
    if not (math.isfinite(bound_th) and bound_th > 0):
        raise ConfigurationError(
            f"bound_th must be a positive number (a share of the image diagonal below 1, "
            f"pixels from 1 up; DAVIS uses 0.008), got {bound_th!r}"
        )
    return float(bound_th)


def contour_accuracy(pred_masks: Any, gt_masks: Any, bound_th: float = 0.008) -> FloatArray:
    """DAVIS contour accuracy F: boundary F-measure per frame, averaged over frames.

    F = 2PR / (P + R) as in DAVIS's ``f_measure`` (Perazzi et al. 2016): P is the
    share of predicted boundary pixels (``seg2bmap``) within a disk of radius
    ⌈bound_th · ‖(H, W)‖⌉ pixels (``bound_th >= 1``: pixels) of a true one, R the
    converse. An empty boundary has P (or R) 1: empty vs empty scores 1, empty vs
    object 0. A radius beyond the image diagonal covers every pixel, so it is
    capped there.

    Example:
        >>> gt = np.zeros((1, 6, 6), bool); gt[0, 1:4, 1:4] = True
        >>> near, far = np.roll(gt, 1, axis=2), np.roll(gt, 2, axis=2)  # tolerance: 1 pixel
        >>> contour_accuracy(near, gt), contour_accuracy(far, gt)
        (array([1.]), array([0.72727273]))
    """
    bound_th = _check_bound_th(bound_th)
    p, g = _mask_pair(pred_masks, gt_masks)
    diagonal = math.hypot(*p.shape[-2:])
    radius = min(math.ceil(bound_th if bound_th >= 1 else bound_th * diagonal), math.ceil(diagonal))
    pb, gb = _boundaries(p), _boundaries(g)
    n_pred, n_gt = pb.sum(axis=(-2, -1)), gb.sum(axis=(-2, -1))
    hit_pred = (pb & _dilate(gb, radius)).sum(axis=(-2, -1))
    hit_gt = (gb & _dilate(pb, radius)).sum(axis=(-2, -1))
    precision = np.where(n_pred > 0, hit_pred / np.maximum(n_pred, 1), 1.0)
    recall = np.where(n_gt > 0, hit_gt / np.maximum(n_gt, 1), 1.0)
    total = precision + recall
    f = np.where(total > 0, 2 * precision * recall / np.where(total > 0, total, 1.0), 0.0)
    mean: FloatArray = f.mean(axis=1)
    return mean


def j_and_f(pred_masks: Any, gt_masks: Any, bound_th: float = 0.008) -> FloatArray:
    """DAVIS J&F = (J + F) / 2 per sample (Perazzi et al. 2016; Pont-Tuset et al. 2017).

    J is :func:`region_similarity`, F :func:`contour_accuracy`; the score
    Veason-R1 (Gong et al. 2025) reports on ReVOS and ReasonVOS.

    Example:
        >>> gt = np.zeros((1, 6, 6), bool); gt[0, 1:4, 1:4] = True
        >>> shifted = np.roll(gt, 2, axis=2)  # J = 3 / 15, F = 8 / 11
        >>> j_and_f(np.concatenate([gt, shifted]), np.concatenate([gt, gt]))
        array([1.        , 0.46363636])
    """
    j = region_similarity(pred_masks, gt_masks)
    return (j + contour_accuracy(pred_masks, gt_masks, bound_th)) / 2


class _MaskTerm(RewardTerm):
    """A term over ``pred_mask`` and ``gt_mask`` rows, (H, W) or (T, H, W); None: NaN."""

    columns = ("pred_mask", "gt_mask")
    parts: tuple[str, ...] = ()

    @abc.abstractmethod
    def _row(self, pred: Any, gt: Any) -> tuple[float, ...]:
        """The total, then each of ``parts``, for one row's masks (1, ...) against (1, ...)."""

    def _compute(self, batch: Batch) -> RewardOutput:
        preds, gts = get_column(batch, "pred_mask"), get_column(batch, "gt_mask")
        table = np.full((len(preds), 1 + len(self.parts)), np.nan)
        for i, (pred, gt) in enumerate(zip(preds, gts, strict=True)):
            if pred is not None and gt is not None:
                table[i] = self._row(np.asarray(pred)[None], np.asarray(gt)[None])
        parts = {k: table[:, i + 1] for i, k in enumerate(self.parts)}
        return RewardOutput(table[:, 0], {self.name: table[:, 0], **parts})


@register("j_and_f")
class JAndF(_MaskTerm):
    """DAVIS J&F of ``pred_mask`` against ``gt_mask`` (rows (H, W) or (T, H, W)).

    Logs J as ``region_similarity``, F as ``contour_accuracy``; a None mask is not applicable.

    Example:
        >>> gt = np.zeros((4, 4), bool); gt[1:3, 1:3] = True
        >>> out = JAndF()({"pred_mask": [gt, np.zeros_like(gt), None], "gt_mask": [gt] * 3})
        >>> out.total, out.terms["region_similarity"]
        (array([ 1.,  0., nan]), array([ 1.,  0., nan]))
    """

    parts = ("region_similarity", "contour_accuracy")

    def __init__(self, bound_th: float = 0.008, name: str = "j_and_f") -> None:
        super().__init__(name)
        self.bound_th = _check_bound_th(bound_th)

    def _row(self, pred: Any, gt: Any) -> tuple[float, ...]:
        j = float(region_similarity(pred, gt)[0])
        f = float(contour_accuracy(pred, gt, self.bound_th)[0])
        return ((j + f) / 2, j, f)
