"""Graded rewards for grounding: IoU, GUI-G² Gaussian point and coverage, box size.

Boxes are ``(x1, y1, x2, y2)`` with x2 > x1, y2 > y1; points are ``(x, y)``.
The pure functions take arrays of shape (N, 4) / (N, 2); the terms parse the
prediction from the completion (the last ``[a, b, c, d]`` or ``(x, y)``) and
read the target from the ``gt_box`` column. A completion without a
parseable box/point is not applicable.

Example:
    >>> box_iou(np.array([[0, 0, 2, 2]]), np.array([[1, 1, 3, 3]]))
    array([0.14285714])
    >>> gaussian_point_reward(np.array([[5.0, 5.0]]), np.array([[0, 0, 10, 10]]))
    array([1.])
"""

from __future__ import annotations

import abc
import re
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.output import FloatArray
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.verify.extract import extract_answer_tag
from rewardkit.verify.text import completion_text

__all__ = [
    "BoxIoU",
    "BoxSize",
    "GaussianCoverage",
    "GaussianPoint",
    "box_iou",
    "box_size_reward",
    "gaussian_coverage_reward",
    "gaussian_point_reward",
    "parse_box",
    "parse_point",
]

_NUM = r"-?\d+(?:\.\d+)?"
_BOX = re.compile(rf"[\[(]\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*[\])]")
_POINT = re.compile(rf"[\[(]\s*({_NUM})\s*,\s*({_NUM})\s*[\])]")


def _search_area(text: str) -> str:
    return extract_answer_tag(text) or text[-4000:]


def parse_box(text: str) -> tuple[float, float, float, float] | None:
    """The last ``[x1, y1, x2, y2]`` in the answer (tag) of ``text``, if well-formed.

    Example:
        >>> parse_box("<answer>[10, 20, 30, 40]</answer>")
        (10.0, 20.0, 30.0, 40.0)
        >>> parse_box("[30, 20, 10, 40]") is None  # x2 < x1
        True
    """
    matches = _BOX.findall(_search_area(text))
    if not matches:
        return None
    x1, y1, x2, y2 = (float(v) for v in matches[-1])
    return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None


def parse_point(text: str) -> tuple[float, float] | None:
    """The last ``(x, y)`` in the answer (tag) of ``text``.

    Example:
        >>> parse_point("click at (12, 7.5)")
        (12.0, 7.5)
    """
    matches = _POINT.findall(_search_area(text))
    return (float(matches[-1][0]), float(matches[-1][1])) if matches else None


def _boxes(values: Any, what: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise BatchError(f"{what} must have shape (N, 4) as (x1, y1, x2, y2), got {array.shape}")
    return array


def box_iou(pred: Any, gt: Any) -> FloatArray:
    """Intersection over union, rowwise."""
    p, g = _boxes(pred, "pred"), _boxes(gt, "gt")
    width = np.clip(np.minimum(p[:, 2], g[:, 2]) - np.maximum(p[:, 0], g[:, 0]), 0, None)
    height = np.clip(np.minimum(p[:, 3], g[:, 3]) - np.maximum(p[:, 1], g[:, 1]), 0, None)
    inter = width * height

    def area(b: FloatArray) -> FloatArray:
        return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])

    union = area(p) + area(g) - inter
    iou: FloatArray = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return iou


def _centers_and_sigmas(boxes: FloatArray, alpha: float) -> tuple[FloatArray, FloatArray]:
    centers = (boxes[:, :2] + boxes[:, 2:]) / 2
    sigmas = alpha * (boxes[:, 2:] - boxes[:, :2])
    return centers, np.maximum(sigmas, 1e-9)


def gaussian_point_reward(points: Any, gt: Any, alpha: float = 0.5) -> FloatArray:
    """GUI-G² Gaussian point reward (Tang et al. 2025, "GUI-G²: Gaussian Reward
    Modeling for GUI Grounding").

    R = exp(−½ [((x − μx)/σx)² + ((y − μy)/σy)²]) with μ the target's centre
    and σ = α · (width, height): the adaptive variance gives small elements a
    sharp peak and large ones a wide one.

    Example:
        >>> # on the box edge: one sigma from the centre
        >>> gaussian_point_reward(np.array([[10.0, 5.0]]), np.array([[0, 0, 10, 10]])).round(4)
        array([0.6065])
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    centers, sigmas = _centers_and_sigmas(_boxes(gt, "gt"), alpha)
    z = (p - centers) / sigmas
    reward: FloatArray = np.exp(-0.5 * np.sum(z * z, axis=1))
    return reward


def gaussian_coverage_reward(pred: Any, gt: Any, alpha: float = 0.5) -> FloatArray:
    """GUI-G² Gaussian coverage reward: overlap of the predicted and target Gaussians.

    Each box is a Gaussian N(centre, diag(α·w, α·h)²). The reward is the
    Bhattacharyya coefficient exp(−D_B), with
    D_B = ⅛ Δμᵀ Σ⁻¹ Δμ + ½ ln(det Σ / √(det Σ₁ det Σ₂)), Σ = (Σ₁ + Σ₂)/2,
    as in the GUI-G² authors' implementation. It is 1 for identical boxes and
    falls both with distance and with a size mismatch, so an inflated box
    does not pay.

    Example:
        >>> gaussian_coverage_reward(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10]]))
        array([1.])
        >>> gaussian_coverage_reward(np.array([[-45, -45, 55, 55]]),
        ...                          np.array([[0, 0, 10, 10]])).round(3)  # 10x inflated
        array([0.198])
    """
    mu1, s1 = _centers_and_sigmas(_boxes(pred, "pred"), alpha)
    mu2, s2 = _centers_and_sigmas(_boxes(gt, "gt"), alpha)
    var1, var2 = s1**2, s2**2
    var = (var1 + var2) / 2
    delta = mu1 - mu2
    mahalanobis = np.sum(delta * delta / var, axis=1) / 8
    log_det = 0.5 * np.sum(np.log(var) - 0.5 * (np.log(var1) + np.log(var2)), axis=1)
    coverage: FloatArray = np.exp(-(mahalanobis + log_det))
    return coverage


def box_size_reward(pred: Any, gt: Any) -> FloatArray:
    """A box-size constraint against box inflation (after GUI-G1, Zhou et al. 2025).

    GUI-G1 shows that IoU rewards push boxes to grow and hit rewards push
    them to shrink, and adds a box-size term based on the inverse of the
    normalized size error. Our form: R = 1 / (1 + ½(|Δw|/w_gt + |Δh|/h_gt)),
    1 for the right size, falling for both inflated and shrunken boxes.

    Example:
        >>> box_size_reward(np.array([[0, 0, 20, 20]]), np.array([[5, 5, 15, 15]]))
        array([0.5])
    """
    p, g = _boxes(pred, "pred"), _boxes(gt, "gt")
    size_p, size_g = p[:, 2:] - p[:, :2], np.maximum(g[:, 2:] - g[:, :2], 1e-9)
    error: FloatArray = np.mean(np.abs(size_p - size_g) / size_g, axis=1)
    return 1.0 / (1.0 + error)


class _GroundingTerm(RewardTerm):
    columns = ("completion", "gt_box")
    geometry = "box"

    def __init__(self, alpha: float, name: str) -> None:
        super().__init__(name)
        self.alpha = float(alpha)
        if self.alpha <= 0:
            raise ConfigurationError(f"alpha must be positive, got {alpha!r}")

    @abc.abstractmethod
    def score(self, pred: FloatArray, gt: FloatArray) -> FloatArray:
        """The reward of parsed predictions against their targets."""

    def _compute(self, batch: Batch) -> FloatArray:
        texts = [completion_text(c) for c in get_column(batch, "completion")]
        gt = _boxes(get_column(batch, "gt_box"), "column 'gt_box'")
        parse = parse_point if self.geometry == "point" else parse_box
        parsed = [parse(t) for t in texts]
        width = 2 if self.geometry == "point" else 4
        pred = np.array([p if p is not None else (np.nan,) * width for p in parsed])
        values = np.full(len(texts), np.nan)
        ok = ~np.isnan(pred).any(axis=1)
        if ok.any():
            values[ok] = self.score(pred[ok], gt[ok])
        return values


@register("box_iou")
class BoxIoU(_GroundingTerm):
    """IoU of the predicted box with ``gt_box``."""

    def __init__(self, name: str = "box_iou") -> None:
        super().__init__(1.0, name)

    def score(self, pred: FloatArray, gt: FloatArray) -> FloatArray:
        return box_iou(pred, gt)


@register("gaussian_point")
class GaussianPoint(_GroundingTerm):
    """GUI-G² Gaussian point reward of the predicted click point."""

    geometry = "point"

    def __init__(self, alpha: float = 0.5, name: str = "gaussian_point") -> None:
        super().__init__(alpha, name)

    def score(self, pred: FloatArray, gt: FloatArray) -> FloatArray:
        return gaussian_point_reward(pred, gt, self.alpha)


@register("gaussian_coverage")
class GaussianCoverage(_GroundingTerm):
    """GUI-G² Gaussian coverage reward of the predicted box."""

    def __init__(self, alpha: float = 0.5, name: str = "gaussian_coverage") -> None:
        super().__init__(alpha, name)

    def score(self, pred: FloatArray, gt: FloatArray) -> FloatArray:
        return gaussian_coverage_reward(pred, gt, self.alpha)


@register("box_size")
class BoxSize(_GroundingTerm):
    """Box-size agreement with ``gt_box`` (GUI-G1-style constraint)."""

    def __init__(self, name: str = "box_size") -> None:
        super().__init__(1.0, name)

    def score(self, pred: FloatArray, gt: FloatArray) -> FloatArray:
        return box_size_reward(pred, gt)
