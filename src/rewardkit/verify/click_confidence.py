"""HyperClick's truncated-Gaussian spatial confidence and its dual reward.

HyperClick (Zhang et al. 2025, "HyperClick: Advancing Reliable GUI Grounding via
Uncertainty Calibration", arXiv:2510.27266; v2 "Enhancing Trustworthy GUI
Grounding via Self-Critiqued Reinforcement Learning") trains a GUI grounder to
answer ``<point>[x,y]</point><confidence>c</confidence>`` and rewards

    R = R_format + R_correctness + R_confidence                      (Eq. 5)

* R_correctness = 1[x1 < x̂ < x2 ∧ y1 < ŷ < y2], the click inside the target box (Eq. 3);
* R_confidence = 1 − (ĉ − C(x̂, ŷ))², the stated confidence ĉ against a spatial
  confidence target (Eq. 4);
* C is a Gaussian kernel on the box centre, σ = α·(width, height) (Eqs. 1-2),
  **truncated to the target box**: C = 0 for a click outside it. It is not
  renormalised (the paper: "not intended to be an absolute probability"); its
  peak is 1 at the centre. α = 1/4 is the paper's best: σ = width/4, so the
  box's edge lies 2σ from the centre and a click just inside it (level with
  the centre) gets C ≈ e^−2 ≈ 0.135; α = 0 is its binary ablation
  C = 1[p̂ ∈ b] (Eq. 8), a plain Brier target.
* R_format = 1 when the completion is exactly that template, the confidence
  written with at most three decimals.

The click is read from the ``<point>…</point>`` block (the last ``[x, y]``
anywhere only when there is no such block). One departure, the library's rule:
a completion without a readable click or confidence makes the whole sample not
applicable, where HyperClick's reward would still score its format and click;
``unparseable_score`` scores such a completion instead (0.0: penalized).

:func:`screen_hit_probability` is ours, not HyperClick's: a calibrated
probability target, the mass that a click drawn from N(p̂, σ²) truncated to the
screen (and renormalised there) puts inside the target box.

Example:
    >>> truncated_gaussian_confidence(np.array([[5.0, 5.0], [7.5, 5.0], [12.0, 5.0]]),
    ...                               np.array([[0, 0, 10, 10]] * 3)).round(4)
    array([1.    , 0.6065, 0.    ])
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column, is_missing
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.output import FloatArray, RewardOutput
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.verify.grounding import gaussian_point_reward, parse_point
from rewardkit.verify.partial import parse_confidence
from rewardkit.verify.text import completion_text

__all__ = [
    "TruncatedGaussianClick",
    "click_in_box",
    "confidence_alignment",
    "hyperclick_format",
    "screen_hit_probability",
    "truncated_gaussian_confidence",
]

_NUM = r"-?\d+(?:\.\d+)?"
_TEMPLATE = re.compile(
    rf"\s*<point>\s*\[\s*{_NUM}\s*,\s*{_NUM}\s*\]\s*</point>\s*"
    r"<confidence>\s*(?:0(?:\.\d{1,3})?|1(?:\.0{1,3})?|\.\d{1,3})\s*</confidence>\s*"
)
_erf = np.frompyfunc(math.erf, 1, 1)


def _rows(values: Any, width: int, what: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != width:
        raise BatchError(f"{what} must have shape (N, {width}), got {array.shape}")
    return array


def _points_and_boxes(points: Any, boxes: Any) -> tuple[FloatArray, FloatArray]:
    p, b = _rows(points, 2, "points"), _rows(boxes, 4, "boxes as (x1, y1, x2, y2)")
    if p.shape[0] != b.shape[0]:
        raise BatchError(f"{p.shape[0]} points but {b.shape[0]} boxes; give one box per point")
    if np.any(~(b[:, 2:] > b[:, :2])):
        raise BatchError("every box needs x2 > x1 and y2 > y1")
    return p, b


def click_in_box(points: Any, boxes: Any) -> FloatArray:
    """HyperClick's correctness reward (Eq. 3): 1 when x1 < x̂ < x2 and y1 < ŷ < y2.

    The inequalities are strict, as in the paper: a click on the border misses.
    A NaN point (no click) gives NaN, not a miss.

    Example:
        >>> click_in_box(np.array([[5, 5], [10, 5], [np.nan, 5]]), np.array([[0, 0, 10, 10]] * 3))
        array([ 1.,  0., nan])
    """
    p, b = _points_and_boxes(points, boxes)
    inside: FloatArray = np.all((b[:, :2] < p) & (p < b[:, 2:]), axis=1).astype(np.float64)
    inside[np.isnan(p).any(axis=1)] = np.nan
    return inside


def truncated_gaussian_confidence(points: Any, boxes: Any, alpha: float = 0.25) -> FloatArray:
    """HyperClick's spatial confidence target C(p̂) (Eqs. 1, 2 and 8).

    C = exp(−½[((x̂ − μx)/σx)² + ((ŷ − μy)/σy)²]) for a click inside the box and
    0 outside it, with μ the box centre and σ = α·(x2 − x1, y2 − y1). The kernel
    is truncated at the target box, not renormalised: C is 1 at the centre.
    ``alpha=0`` gives the paper's binary target 1[p̂ ∈ b]. A NaN point gives NaN.

    Example:
        >>> # a quarter-width right of the centre is one σ away at α = 1/4
        >>> truncated_gaussian_confidence(np.array([[7.5, 5.0]]), np.array([[0, 0, 10, 10]]))
        array([0.60653066])
    """
    if not (alpha >= 0 and math.isfinite(alpha)):
        raise ConfigurationError(
            f"alpha must be finite and >= 0 (0 = binary target), got {alpha!r}"
        )
    inside = click_in_box(points, boxes)
    if alpha == 0:
        return inside
    kernel = gaussian_point_reward(np.asarray(points, dtype=np.float64), boxes, alpha)
    confidence: FloatArray = inside * kernel
    return confidence


def _phi(z: FloatArray) -> FloatArray:
    erf = np.asarray(_erf(z / math.sqrt(2.0)), dtype=np.float64)
    return 0.5 * (1.0 + erf)


def screen_hit_probability(
    points: Any, boxes: Any, screens: Any, alpha: float = 0.25
) -> FloatArray:
    """Mass inside the target box of a click distribution truncated at the screen edge.

    Not HyperClick's target (see the module note): ours, a calibrated
    probability. The click is modelled as N(p̂, diag(σx², σy²)) with
    σ = α·(box width, height), truncated to the screen [0, W]×[0, H] and
    renormalised there; per axis

        P_x = [Φ((min(x2, W) − x̂)/σx) − Φ((max(x1, 0) − x̂)/σx)]
              / [Φ((W − x̂)/σx) − Φ(−x̂/σx)],

    and the result is P_x·P_y. A click on a box at the screen edge loses no
    mass off-screen, so it scores higher than the same click on the same box
    in the middle of the screen. Clicks off the screen are first clipped to it.

    Example:
        >>> boxes = np.array([[45, 45, 55, 55], [0, 45, 10, 55]])
        >>> screen_hit_probability(np.array([[50, 50], [5, 50]]), boxes,
        ...                        np.array([[100, 100]] * 2)).round(4)
        array([0.9111, 0.9323])
    """
    if not (alpha > 0 and math.isfinite(alpha)):
        raise ConfigurationError(f"alpha must be positive and finite, got {alpha!r}")
    p, b = _points_and_boxes(points, boxes)
    screen = _rows(screens, 2, "screens as (width, height)")
    if screen.shape[0] != p.shape[0] or np.any(~(screen > 0)):
        raise BatchError(f"need one positive (width, height) per point, got {screen.shape}")
    p = np.clip(p, 0.0, screen)
    sigma = alpha * (b[:, 2:] - b[:, :2])
    low, high = np.clip(b[:, :2], 0.0, screen), np.clip(b[:, 2:], 0.0, screen)
    inside = _phi((high - p) / sigma) - _phi((low - p) / sigma)
    on_screen = _phi((screen - p) / sigma) - _phi(-p / sigma)
    probability: FloatArray = np.prod(inside / on_screen, axis=1)
    return probability


def confidence_alignment(stated: Any, target: Any) -> FloatArray:
    """HyperClick's confidence alignment reward (Eq. 4): 1 − (ĉ − C)².

    Example:
        >>> confidence_alignment([0.9, 0.2], [0.6, 0.0])
        array([0.91, 0.96])
    """
    c, t = np.asarray(stated, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if c.ndim != 1 or c.shape != t.shape:
        raise BatchError(f"stated and target must both have shape (N,), got {c.shape}, {t.shape}")
    alignment: FloatArray = 1.0 - (c - t) ** 2
    return alignment


def hyperclick_format(text: str) -> bool:
    """Whether ``text`` is exactly ``<point>[x,y]</point><confidence>c</confidence>``.

    The confidence lies in [0, 1] with at most three decimals, as HyperClick's
    format reward requires.

    Example:
        >>> hyperclick_format("<point>[350,2100]</point> <confidence>0.969</confidence>")
        True
        >>> hyperclick_format("<point>[3,4]</point><confidence>0.9691</confidence>")
        False
    """
    return _TEMPLATE.fullmatch(text) is not None


def _blocks(text: str, tag: str) -> list[str]:
    # contents of every <tag>…</tag>, case-insensitive, in linear time
    lowered, opening, closing = text.lower(), f"<{tag}>", f"</{tag}>"
    found, position = [], 0
    while (start := lowered.find(opening, position)) >= 0:
        end = lowered.find(closing, start + len(opening))
        if end < 0:
            break
        found.append(text[start + len(opening) : end])
        position = end + len(closing)
    return found


def _parse_click(text: str) -> tuple[float, float] | None:
    """The click of ``<point>…</point>``; without that block, the last ``[x, y]`` of the text.

    Several blocks with different points count as no click (as several
    different answers do across the library).
    """
    blocks = _blocks(text, "point")
    if not blocks:
        return parse_point(text)
    points = {parse_point(block) for block in blocks}
    return points.pop() if len(points) == 1 else None


def _target_rows(column: Any, width: int, what: str) -> FloatArray:
    """One row of ``width`` finite numbers per sample; a None/NaN target becomes a NaN row."""
    rows = np.full((len(column), width), np.nan)
    for i, value in enumerate(column):
        if is_missing(value) or (isinstance(value, list | tuple) and any(v is None for v in value)):
            continue
        try:
            row = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise BatchError(
                f"column {what!r}, sample {i}: need {width} numbers, got {value!r}"
            ) from error
        if row.shape != (width,):
            raise BatchError(
                f"column {what!r} must have shape (N, {width}); sample {i} has shape {row.shape}"
            )
        if np.isnan(row).any():
            continue
        if not np.isfinite(row).all():
            raise BatchError(f"column {what!r}, sample {i}: numbers must be finite, got {value!r}")
        rows[i] = row
    return rows


@register("truncated_gaussian_click")
class TruncatedGaussianClick(RewardTerm):
    """HyperClick's reward: format + click-in-box + confidence alignment.

    Reads the click (the ``<point>…</point>`` block; the last ``[x, y]`` when
    there is none) and the stated confidence from the completion and the target
    from ``gt_box``. ``target="box"`` (default) is HyperClick's box-truncated
    Gaussian; ``target="screen"`` swaps in :func:`screen_hit_probability`
    (ours), which also reads ``screen_size`` (width, height). Every target is
    checked up front: a None/NaN ``gt_box`` (or ``screen_size``) row is not
    applicable, a malformed one raises :class:`~rewardkit.core.errors.BatchError`.
    A completion without a click or a confidence is not applicable too, or
    scores ``unparseable_score`` when that is set (HyperClick's reward would
    still score its format and click; see the module note). The parts are
    logged as ``name/format``, ``name/correct``, ``name/target``,
    ``name/confidence`` and ``name/alignment``.

    Example:
        >>> term = TruncatedGaussianClick()
        >>> batch = {"completion": ["<point>[5,5]</point><confidence>1</confidence>",
        ...                         "<point>[12,5]</point><confidence>0.5</confidence>",
        ...                         "<point>[5,5]</point>"],
        ...          "gt_box": [[0, 0, 10, 10]] * 3}
        >>> term(batch).total
        array([3.  , 1.75,  nan])
        >>> TruncatedGaussianClick(unparseable_score=0.0)(batch).total
        array([3.  , 1.75, 0.  ])
    """

    columns: tuple[str, ...] = ("completion", "gt_box")

    def __init__(
        self,
        alpha: float = 0.25,
        target: str = "box",
        format_weight: float = 1.0,
        name: str = "truncated_gaussian_click",
        unparseable_score: float | None = None,
    ) -> None:
        super().__init__(name)
        if target not in ("box", "screen"):
            raise ConfigurationError(f"target must be 'box' or 'screen', got {target!r}")
        if not math.isfinite(alpha) or not (alpha > 0 or (alpha == 0 and target == "box")):
            raise ConfigurationError(
                "alpha must be finite and positive (or 0 with target='box': a binary target), "
                f"got {alpha!r}"
            )
        if not math.isfinite(format_weight):
            raise ConfigurationError(f"format_weight must be finite, got {format_weight!r}")
        if unparseable_score is not None and not (
            isinstance(unparseable_score, numbers.Real) and math.isfinite(unparseable_score)
        ):
            raise ConfigurationError(
                f"unparseable_score must be finite (or None: not applicable), "
                f"got {unparseable_score!r}"
            )
        self.alpha, self.target, self.format_weight = float(alpha), target, float(format_weight)
        self.unparseable_score = None if unparseable_score is None else float(unparseable_score)
        if target == "screen":
            self.columns = (*self.columns, "screen_size")

    def _targets(self, batch: Batch) -> tuple[FloatArray, FloatArray | None]:
        boxes = _target_rows(get_column(batch, "gt_box"), 4, "gt_box")
        broken = ~np.isnan(boxes).any(axis=1) & ~np.all(boxes[:, 2:] > boxes[:, :2], axis=1)
        if broken.any():
            raise BatchError(
                f"gt_box of sample {int(np.flatnonzero(broken)[0])}: "
                "every box needs x2 > x1 and y2 > y1"
            )
        if self.target == "box":
            return boxes, None
        screens = _target_rows(get_column(batch, "screen_size"), 2, "screen_size")
        broken = ~np.isnan(screens).any(axis=1) & ~np.all(screens > 0, axis=1)
        if broken.any():
            raise BatchError(
                f"screen_size of sample {int(np.flatnonzero(broken)[0])}: "
                "need a positive (width, height)"
            )
        return boxes, screens

    def _compute(self, batch: Batch) -> RewardOutput:
        texts = [completion_text(c) for c in get_column(batch, "completion")]
        boxes, screens = self._targets(batch)
        known = ~np.isnan(boxes).any(axis=1)
        if screens is not None:
            known &= ~np.isnan(screens).any(axis=1)
        n = len(texts)
        point = np.array([p or (np.nan, np.nan) for p in map(_parse_click, texts)]).reshape(n, 2)
        stated = np.array([np.nan if (c := parse_confidence(t)) is None else c for t in texts])
        rows = known & ~np.isnan(point).any(axis=1)
        correct, target = np.full(n, np.nan), np.full(n, np.nan)
        if rows.any():
            correct[rows] = click_in_box(point[rows], boxes[rows])
            if screens is None:
                target[rows] = truncated_gaussian_confidence(point[rows], boxes[rows], self.alpha)
            else:
                target[rows] = screen_hit_probability(
                    point[rows], boxes[rows], screens[rows], self.alpha
                )
        alignment = confidence_alignment(stated, target)
        fmt = np.array([float(hyperclick_format(t)) for t in texts])
        total = self.format_weight * fmt + correct + alignment
        if self.unparseable_score is not None:
            total[known & np.isnan(total)] = self.unparseable_score
        terms = {
            self.name: total,
            f"{self.name}/format": fmt,
            f"{self.name}/correct": correct,
            f"{self.name}/target": target,
            f"{self.name}/confidence": stated,
            f"{self.name}/alignment": alignment,
        }
        return RewardOutput(total, terms)
