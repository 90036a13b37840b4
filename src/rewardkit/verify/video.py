"""Video rewards: temporal IoU, STVG-o1 grounding, Veason-R1 consistency.

Spans are ``[start, end]`` (seconds, or inclusive frame indices); boxes
``(x1, y1, x2, y2)``; masks boolean (N, H, W) or (N, T, H, W). Malformed
targets raise :class:`BatchError`; a missing target (None, NaN) or a completion
without a parseable prediction is not applicable (NaN), never 0. DAVIS J&F
lives in :mod:`rewardkit.verify.masks` (its names are importable here too).

Example:
    >>> temporal_iou(np.array([[0.0, 4.0]]), np.array([[2.0, 6.0]]))
    array([0.33333333])
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.output import FloatArray, RewardOutput, Status
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.verify.extract import _tag_contents, extract_answer_tag
from rewardkit.verify.masks import JAndF as JAndF  # re-exported: DAVIS J&F lived here
from rewardkit.verify.masks import _MaskTerm, region_similarity
from rewardkit.verify.masks import contour_accuracy as contour_accuracy
from rewardkit.verify.masks import j_and_f as j_and_f
from rewardkit.verify.text import completion_text

__all__ = [
    "MISSING_BOX_SCORE",
    "STVGo1Reward",
    "TemporalConsistency",
    "TemporalIoU",
    "parse_span",
    "stvg_spatial_reward",
    "temporal_iou",
]

BoolArray = npt.NDArray[np.bool_]

#: STVG score of a shared frame without a valid predicted box: the floor of GIoU − L1
#: for coordinates in [0, 1] (−1 − 4), so that skipping a frame never beats a bad box.
MISSING_BOX_SCORE = -5.0

# A number has at most 9 integer digits and is never read from inside a longer one: a
# 400-digit "number" is no number (not applicable), and matching stays linear in the text.
_NUM = r"(?<!\d)(?<!\d\.)(?:\d{1,9}(?:\.\d+)?|\.\d+)(?!\d|\.\d)"
_SPAN = re.compile(
    rf"[\[(]\s*({_NUM})\s*,\s*({_NUM})\s*[\])]|({_NUM})\s*(?:s\s*)?(?:-|\u2013|to)\s*({_NUM})"
)
_TIME = re.compile(r"\s*(\d{1,9})\s*(?:-|\u2013|to|,)\s*(\d{1,9})\s*")
_FRAME_BOX = re.compile(
    rf"(?<!\d)(\d{{1,9}})\s*[.:)]\s*[\[(]\s*(-?{_NUM})\s*,\s*(-?{_NUM})\s*,\s*(-?{_NUM})\s*,"
    rf"\s*(-?{_NUM})\s*[\])]"
)
_STVG_FORMAT = re.compile(  # each tag once, in order, nothing around: no "<" inside a tag
    r"\s*<time>[^<]+</time>\s*<think_bbox>[^<]+</think_bbox>\s*<pred_bbox>[^<]+</pred_bbox>\s*",
    re.IGNORECASE,
)


def _floats(values: Any, what: str, dtype: Any = np.float64) -> npt.NDArray[Any]:
    try:
        return np.asarray(values, dtype=dtype)
    except (TypeError, ValueError):
        raise BatchError(f"{what} must be numbers in a regular array, one row per sample") from None


def _spans(values: Any, what: str, inclusive: bool, point_ok: bool = False) -> FloatArray:
    """Finite (N, 2) spans with end > start (end >= start if inclusive or ``point_ok``)."""
    array = _floats(values, what)
    if array.ndim != 2 or array.shape[1] != 2 or not np.isfinite(array).all():
        raise BatchError(f"{what} must be finite [start, end] pairs (N, 2), got {array.shape}")
    if inclusive and not np.array_equal(array, np.round(array)):
        raise BatchError(f"{what} with inclusive=True are frame indices and must be integers")
    closed = inclusive or point_ok
    bad = array[:, 1] < array[:, 0] if closed else array[:, 1] <= array[:, 0]
    if bad.any():
        i = int(np.argmax(bad))
        need = "end >= start" if closed else "end > start (a zero-length target has no IoU)"
        raise BatchError(f"{what}[{i}] = {array[i].tolist()} is not a span: it needs {need}")
    return array


def _absent(value: Any) -> bool:
    """A missing target (None, or all NaN as pandas stores one), not a malformed one."""
    if value is None:
        return True
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return array.size > 0 and bool(np.isnan(array).all())


def temporal_iou(pred_spans: Any, gt_spans: Any, inclusive: bool = False) -> FloatArray:
    """Temporal IoU, rowwise: tIoU = |P ∩ G| / |P ∪ G| for spans P, G.

    The metric behind m_tIoU, and STVG-o1's temporal reward R_t (Gu et al.
    2025, Eq. 5). Target spans in seconds need end > start; a predicted one may
    be a point (end = start), which covers nothing and scores 0. With
    ``inclusive=True`` spans are integer frame ranges, |[s, e]| = e − s + 1.
    Disjoint spans score 0.

    Example:
        >>> temporal_iou(np.array([[0, 4], [0, 1], [3, 3]]), np.array([[2, 6], [2, 3], [2, 6]]))
        array([0.33333333, 0.        , 0.        ])
        >>> temporal_iou(np.array([[5, 7]]), np.array([[6, 9]]), inclusive=True)  # 2 of 5 frames
        array([0.4])
    """
    p = _spans(pred_spans, "pred_spans", inclusive, point_ok=True)
    g = _spans(gt_spans, "gt_spans", inclusive)
    if p.shape != g.shape:
        raise BatchError(f"pred_spans {p.shape} and gt_spans {g.shape} differ in shape")
    extra = 1.0 if inclusive else 0.0
    inter = np.clip(np.minimum(p[:, 1], g[:, 1]) - np.maximum(p[:, 0], g[:, 0]) + extra, 0, None)
    union = (p[:, 1] - p[:, 0] + extra) + (g[:, 1] - g[:, 0] + extra) - inter
    iou: FloatArray = inter / union
    return iou


def _area(x: FloatArray) -> FloatArray:
    return np.clip(x[..., 2] - x[..., 0], 0, None) * np.clip(x[..., 3] - x[..., 1], 0, None)


def _giou(a: FloatArray, b: FloatArray) -> FloatArray:
    """Generalized IoU over the last axis (Rezatofighi et al. 2019): IoU − |C \\ U| / |C|."""
    lo, hi = np.maximum(a[..., :2], b[..., :2]), np.minimum(a[..., 2:], b[..., 2:])
    inter = _area(np.concatenate([lo, hi], axis=-1))
    union = _area(a) + _area(b) - inter
    lo, hi = np.minimum(a[..., :2], b[..., :2]), np.maximum(a[..., 2:], b[..., 2:])
    hull = _area(np.concatenate([lo, hi], axis=-1))
    iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    giou: FloatArray = np.where(hull > 0, iou - (hull - union) / np.where(hull > 0, hull, 1.0), iou)
    return giou


def _image_scale(image_size: Any, n: int) -> FloatArray:
    """(n, 1, 4) divisors (w, h, w, h) from ``image_size`` (n, 2) (width, height)."""
    size = _floats(image_size, "image_size")
    if size.shape != (n, 2) or not (np.isfinite(size).all() and (size > 0).all()):
        raise BatchError(f"image_size must be positive (width, height) pairs, got {size.shape}")
    scale: FloatArray = np.concatenate([size, size], axis=1)[:, None, :]
    return scale


def _check_gt_boxes(g: FloatArray, in_gt: BoolArray, scaled: bool) -> None:
    """Raise unless each frame of each gt span holds a finite, ordered box within [0, 1]."""
    boxes = np.where(in_gt[..., None], g, 0.0)  # frames off the span are not read
    ok_x, ok_y = boxes[..., 2] >= boxes[..., 0], boxes[..., 3] >= boxes[..., 1]
    inside = "lies outside its image: clip it to the image_size frame"
    if not scaled:
        inside = "is outside [0, 1]: for pixel boxes pass image_size (width, height) per sample"
    for good, problem in (
        (np.isfinite(boxes).all(axis=2), "is missing or not finite: give a box for every frame"),
        (ok_x & ok_y, "is reversed: a box is (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1"),
        (((boxes >= 0) & (boxes <= 1)).all(axis=2), inside),
    ):
        if not good.all():
            k, t = np.argwhere(~good)[0]
            raise BatchError(f"gt_boxes[{k}] at frame {t} of its gt span {problem}")


def stvg_spatial_reward(
    pred_boxes: Any, gt_boxes: Any, pred_spans: Any, gt_spans: Any, image_size: Any = None
) -> FloatArray:
    """STVG-o1's spatial reward (Gu et al. 2025, "Thinking With Bounding Boxes", Eq. 7).

    R_spa = (1/|T∩|) Σ_{i ∈ T∩} [GIoU(b_i, b_i^gt) − ‖b_i − b_i^gt‖₁] over the
    frames T∩ = [max(t_s, t_s^gt), min(t_e, t_e^gt)] of both (inclusive) spans,
    0 if T∩ is empty. Boxes are (N, T, 4), row t the box of frame t, NaN for
    none. The paper leaves the L1 scale open: coordinates are divided by
    ``image_size`` (N, 2) (width, height) if given, else must already lie in
    [0, 1]; predicted boxes are then clipped to [0, 1], so a frame scores at
    least −1 − 4 = MISSING_BOX_SCORE, the score of a frame of T∩ without a
    valid predicted box: skipping a frame never beats answering it.

    Example:
        >>> gt = np.full((1, 4, 4), np.nan); gt[0, 1:3] = [0.0, 0.0, 0.5, 0.5]
        >>> pred = gt.copy(); pred[0, 2] = [0.0, 0.0, 0.5, 1.0]  # frame 2: GIoU 0.5, L1 0.5
        >>> stvg_spatial_reward(pred, gt, np.array([[1, 3]]), np.array([[1, 2]]))
        array([0.5])
    """
    p, g = _floats(pred_boxes, "pred_boxes"), _floats(gt_boxes, "gt_boxes")
    if p.ndim != 3 or p.shape[2] != 4 or p.shape != g.shape:
        raise BatchError(f"boxes must have shape (N, T, 4), got {p.shape} and {g.shape}")
    ps = _spans(pred_spans, "pred_spans", inclusive=True)
    gs = _spans(gt_spans, "gt_spans", inclusive=True)
    if ps.shape[0] != p.shape[0] or gs.shape[0] != p.shape[0]:
        raise BatchError(f"need one pred span and one gt span per sample ({p.shape[0]})")
    if (gs[:, 0] < 0).any() or (gs[:, 1] >= p.shape[1]).any():
        raise BatchError(f"gt_spans must lie within the {p.shape[1]} frames of the boxes")
    if image_size is not None:
        scale = _image_scale(image_size, p.shape[0])
        p, g = p / scale, g / scale
    frames = np.arange(p.shape[1])
    in_gt = (frames >= gs[:, :1]) & (frames <= gs[:, 1:])
    _check_gt_boxes(g, in_gt, scaled=image_size is not None)
    valid = np.isfinite(p).all(axis=2) & (p[..., 2] > p[..., 0]) & (p[..., 3] > p[..., 1])
    p, g = np.where(valid[..., None], np.clip(p, 0.0, 1.0), 0.0), np.where(in_gt[..., None], g, 0.0)
    per_frame = np.where(valid, _giou(p, g) - np.abs(p - g).sum(axis=2), MISSING_BOX_SCORE)
    shared = in_gt & (frames >= ps[:, :1]) & (frames <= ps[:, 1:])
    count = shared.sum(axis=1)
    total = np.where(shared, per_frame, 0.0).sum(axis=1)
    reward: FloatArray = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    return reward


def _unique_block(text: str, tag: str) -> str | None:
    blocks = _tag_contents(text, tag)
    return blocks[0] if len(blocks) == 1 else None


def parse_span(text: str) -> tuple[float, float] | None:
    """The last ``[t0, t1]`` (or ``t0 - t1``, ``t0 to t1``) in the answer of ``text``.

    The answer: the ``<answer>`` tag, else ``<time>``, else the last 4,000 characters.
    A number has at most 9 digits before its decimal point; a longer one is no number.

    Example:
        >>> parse_span("<think>...</think><answer>[12.5, 20]</answer>")
        (12.5, 20.0)
        >>> parse_span("<time> 5 - 7 </time>"), parse_span("no span") is None
        ((5.0, 7.0), True)
        >>> parse_span("[0, " + "9" * 400 + "]") is None
        True
    """
    area = extract_answer_tag(text) or _unique_block(text, "time") or text[-4000:]
    matches = _SPAN.findall(area)
    if not matches:
        return None
    a, b, c, d = matches[-1]
    return (float(a), float(b)) if a else (float(c), float(d))


def _stvg_span(text: str) -> tuple[int, int] | None:
    match = _TIME.fullmatch(_unique_block(text, "time") or "")
    start, end = (int(match.group(1)), int(match.group(2))) if match else (1, 0)
    return (start, end) if start <= end else None


def _chain(text: str, tag: str, span: tuple[int, int], length: int) -> tuple[FloatArray, bool]:
    """The ``5. [x1, y1, x2, y2], 6. [...]`` boxes of a tag as (length, 4), NaN where
    none, and whether they are valid boxes for exactly the span's frames, in order."""
    boxes, frames = np.full((length, 4), np.nan), []
    for frame, *coords in _FRAME_BOX.findall(_unique_block(text, tag) or ""):
        x1, y1, x2, y2 = (float(c) for c in coords)
        frames.append(int(frame) if x2 > x1 and y2 > y1 else -1)
        if 0 <= frames[-1] < length:
            boxes[frames[-1]] = (x1, y1, x2, y2)
    # lengths first: a span of 10⁹ frames is never built as a list
    aligned = len(frames) == span[1] - span[0] + 1
    return boxes, aligned and all(f == span[0] + k for k, f in enumerate(frames))


def _gt_tracks(spans: FloatArray, values: Sequence[Any]) -> FloatArray:
    """Dense (n, T, 4) ground-truth boxes from the boxes listed for each span's frames."""
    if (spans[:, 0] < 0).any():
        raise BatchError("column 'gt_span' holds frame indices, which start at 0")
    boxes = np.full((len(spans), int(spans[:, 1].max()) + 1, 4), np.nan)
    for k, ((start, end), value) in enumerate(zip(spans.astype(int), values, strict=True)):
        track = _floats(value, f"gt_boxes[{k}]")
        if track.shape != (end - start + 1, 4):
            raise BatchError(f"gt_boxes[{k}] needs a box per frame of its span: {track.shape}")
        boxes[k, start : end + 1] = track
    return boxes


@register("temporal_iou")
class TemporalIoU(RewardTerm):
    """tIoU of the completion's span (:func:`parse_span`, seconds) with ``gt_span``.

    A point span (end = start) scores 0; no span with end >= start, or a
    missing ``gt_span`` (None, NaN): not applicable.

    Example:
        >>> TemporalIoU()({"completion": ["<answer>[2, 6]</answer>", "[9, 1]", "[1, 1]", "?"],
        ...                "gt_span": [[0, 4]] * 3 + [None]}).total
        array([0.33333333,        nan, 0.        ,        nan])
    """

    columns = ("completion", "gt_span")

    def __init__(self, name: str = "temporal_iou") -> None:
        super().__init__(name)

    def _compute(self, batch: Batch) -> FloatArray:
        gts = list(get_column(batch, "gt_span"))
        spans = [parse_span(completion_text(c)) for c in get_column(batch, "completion")]
        ok = [p is not None and np.isfinite(p).all() and p[1] >= p[0] for p in spans]
        rows = [i for i, gt in enumerate(gts) if ok[i] and not _absent(gt)]
        values = np.full(len(gts), np.nan)
        if rows:
            gt = _spans([gts[i] for i in rows], "column 'gt_span'", inclusive=False)
            values[rows] = temporal_iou([spans[i] for i in rows], gt)
        return values


@register("temporal_consistency")
class TemporalConsistency(_MaskTerm):
    """Veason-R1-style consistency reward: frame-mean IoU of propagated masks.

    Veason-R1 (Gong et al. 2025) propagates its keyframe boxes with SAM2 and pays
    R_u = (1/T) Σ_t IoU(M_t, G_t), empty vs empty 1 (authors' code), i.e. DAVIS J.
    Missing: the propagation; ``pred_mask`` holds the caller's propagated masks.

    Example:
        >>> gt = np.zeros((2, 4, 4), bool); gt[:, :2] = True
        >>> pred = gt.copy(); pred[1] = False  # the track is lost in frame 2
        >>> TemporalConsistency()({"pred_mask": [pred], "gt_mask": [gt]}).total
        array([0.5])
    """

    def __init__(self, name: str = "temporal_consistency") -> None:
        super().__init__(name)

    def _row(self, pred: Any, gt: Any) -> tuple[float, ...]:
        return (float(region_similarity(pred, gt)[0]),)


@register("stvg_o1")
class STVGo1Reward(RewardTerm):
    """STVG-o1's reward R = R_f + R_c + R_t + R_s + λ_k R_k (Gu et al. 2025, Eq. 10).

    From "Thinking With Bounding Boxes" (§3.2); each part is logged under its name:

    * ``format`` R_f: 1 iff the text is ``<time>…</time><think_bbox>…</think_bbox>
      <pred_bbox>…</pred_bbox>``, each tag once (Eq. 3);
    * ``consistency`` R_c: 1 iff both chains (``5. [x1, y1, x2, y2], 6. …``)
      hold valid boxes for exactly frames t_s, …, t_e, in order (Eq. 4);
    * ``temporal`` R_t: tIoU over inclusive frame ranges (Eq. 5);
    * ``spatial`` R_s = R_spa(think) + R_spa(pred) (Eq. 8);
    * ``think`` R_k = max(R_spa(pred) − R_spa(think), 0) (Eq. 9), λ_k = 0.5.

    Reads ``gt_span`` (inclusive frames), ``gt_boxes`` (a box per frame of it,
    in [0, 1] unless ``image_size`` (width, height) gives the pixel scale). A
    missing target (None or NaN ``gt_span`` or ``gt_boxes``) is not applicable;
    so is a completion without a ``<time>`` span, or it scores
    ``unparseable_score`` if set (0.0: penalized, not skipped).

    The incentive of the paper's rule: R_spa (:func:`stvg_spatial_reward`) is 0
    without a shared frame, but GIoU − L1 per shared frame is negative unless a
    box is close, and spatial counts twice (think and pred). While its boxes are
    poor, a policy earns more by naming a span disjoint from the target than by
    a mediocre overlap: tIoU 0.5 with boxes at GIoU 0, L1 0.5 gives R_t + R_s =
    0.5 − 1 < 0 + 0. That is the paper's rule as implemented here (Eq. 7, a mean
    over T∩, taken as 0 when T∩ is empty); to remove the incentive, gate the
    spatial part on temporal overlap or train the boxes first.

    Example:
        >>> text = ("<time>1 - 2</time><think_bbox>1. [0, 0, .5, .5], 2. [0, 0, .5, 1]"
        ...         "</think_bbox><pred_bbox>1. [0, 0, .5, .5], 2. [0, 0, .5, .5]</pred_bbox>")
        >>> out = STVGo1Reward()({"completion": [text], "gt_span": [[1, 3]],
        ...                       "gt_boxes": [[[0, 0, .5, .5]] * 3]})
        >>> out.total, [round(float(out.terms[k][0]), 3) for k in ("temporal", "spatial", "think")]
        (array([4.41666667]), [0.667, 1.5, 0.5])
    """

    columns = ("completion", "gt_span", "gt_boxes")

    def __init__(
        self,
        think_weight: float = 0.5,
        unparseable_score: float | None = None,
        name: str = "stvg_o1",
    ) -> None:
        super().__init__(name)
        if not all(math.isfinite(v) for v in (think_weight, unparseable_score or 0.0)):
            raise ConfigurationError("think_weight and unparseable_score must be finite numbers")
        self.think_weight = float(think_weight)
        self.unparseable_score = None if unparseable_score is None else float(unparseable_score)

    def _compute(self, batch: Batch) -> RewardOutput:
        texts = [completion_text(c) for c in get_column(batch, "completion")]
        gt_spans, gt_boxes = list(get_column(batch, "gt_span")), list(get_column(batch, "gt_boxes"))
        spans = [_stvg_span(t) for t in texts]
        target = [not (_absent(s) or _absent(b)) for s, b in zip(gt_spans, gt_boxes, strict=True)]
        rows = [i for i, s in enumerate(spans) if s is not None and target[i]]
        parts = {k: np.full(len(texts), np.nan) for k in ("consistency", "temporal", "spatial")}
        parts |= {"format": np.array([float(_STVG_FORMAT.fullmatch(t) is not None) for t in texts])}
        parts |= {"think": parts["spatial"].copy(), "pred_spatial": parts["spatial"].copy()}
        if rows:
            gs = _spans([gt_spans[i] for i in rows], "column 'gt_span'", inclusive=True)
            gt = _gt_tracks(gs, [gt_boxes[i] for i in rows])
            ps = np.array([spans[i] for i in rows], dtype=np.float64)
            size = [batch["image_size"][i] for i in rows] if "image_size" in batch else None
            r_spa, aligned = [], np.ones(len(rows), dtype=bool)
            for tag in ("think_bbox", "pred_bbox"):
                chains = [_chain(texts[i], tag, spans[i] or (0, 0), gt.shape[1]) for i in rows]
                aligned &= [ok for _, ok in chains]
                boxes = np.stack([b for b, _ in chains])
                r_spa.append(stvg_spatial_reward(boxes, gt, ps, gs, size))
            parts["consistency"][rows] = aligned
            parts["temporal"][rows] = temporal_iou(ps, gs, inclusive=True)
            parts["spatial"][rows] = r_spa[0] + r_spa[1]
            parts["think"][rows] = np.maximum(r_spa[1] - r_spa[0], 0.0)
            parts["pred_spatial"][rows] = r_spa[1]
        ok = np.isin(np.arange(len(texts)), rows)
        total = parts["format"] + parts["consistency"] + parts["temporal"] + parts["spatial"]
        total = total + self.think_weight * parts["think"]
        status = np.where(ok, Status.OK, Status.NOT_APPLICABLE).astype(np.int8)
        if self.unparseable_score is not None:
            scored = ~ok & np.array(target, dtype=bool)
            total = np.where(scored, self.unparseable_score, total)
            status[scored] = Status.OK
        return RewardOutput(total, {self.name: total, **parts}, status)
