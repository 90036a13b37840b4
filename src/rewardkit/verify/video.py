"""Video rewards: temporal IoU, DAVIS J&F, STVG-o1 grounding, Veason-R1 consistency.

Spans are ``[start, end]`` (seconds, or inclusive frame indices); boxes
``(x1, y1, x2, y2)``; masks boolean (N, H, W) or (N, T, H, W). Malformed
targets raise :class:`BatchError`; a completion without a parseable
prediction is not applicable (NaN), never 0.

Example:
    >>> temporal_iou(np.array([[0.0, 4.0]]), np.array([[2.0, 6.0]]))
    array([0.33333333])
    >>> square = np.zeros((1, 4, 4), bool); square[0, 1:3, 1:3] = True
    >>> j_and_f(square, square), j_and_f(np.zeros_like(square), square)
    (array([1.]), array([0.]))
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
from rewardkit.verify.text import completion_text

__all__ = [
    "MISSING_BOX_SCORE",
    "JAndF",
    "STVGo1Reward",
    "TemporalConsistency",
    "TemporalIoU",
    "contour_accuracy",
    "j_and_f",
    "parse_span",
    "region_similarity",
    "stvg_spatial_reward",
    "temporal_iou",
]

BoolArray = npt.NDArray[np.bool_]

#: STVG score of a shared frame without a valid predicted box: the floor of GIoU − L1
#: for coordinates in [0, 1] (−1 − 4), so that skipping a frame never beats a bad box.
MISSING_BOX_SCORE = -5.0

_NUM = r"(?:\d+(?:\.\d+)?|\.\d+)"
_SPAN = re.compile(
    rf"[\[(]\s*({_NUM})\s*,\s*({_NUM})\s*[\])]|({_NUM})\s*s?\s*(?:-|\u2013|to)\s*({_NUM})"
)
_TIME = re.compile(r"\s*(\d+)\s*(?:-|\u2013|to|,)\s*(\d+)\s*")
_FRAME_BOX = re.compile(
    rf"(\d+)\s*[.:)]\s*[\[(]\s*(-?{_NUM})\s*,\s*(-?{_NUM})\s*,\s*(-?{_NUM})\s*,\s*(-?{_NUM})\s*[\])]"
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


def _spans(values: Any, what: str, inclusive: bool) -> FloatArray:
    array = _floats(values, what)
    if array.ndim != 2 or array.shape[1] != 2 or not np.isfinite(array).all():
        raise BatchError(f"{what} must be finite [start, end] pairs (N, 2), got {array.shape}")
    if inclusive and not np.array_equal(array, np.round(array)):
        raise BatchError(f"{what} with inclusive=True are frame indices and must be integers")
    bad = array[:, 1] < array[:, 0] if inclusive else array[:, 1] <= array[:, 0]
    if bad.any():
        i = int(np.argmax(bad))
        need = "end >= start" if inclusive else "end > start (a zero-length span has no IoU)"
        raise BatchError(f"{what}[{i}] = {array[i].tolist()} is not a span: it needs {need}")
    return array


def temporal_iou(pred_spans: Any, gt_spans: Any, inclusive: bool = False) -> FloatArray:
    """Temporal IoU, rowwise: tIoU = |P ∩ G| / |P ∪ G| for spans P, G.

    The metric behind m_tIoU, and STVG-o1's temporal reward R_t (Gu et al.
    2025, Eq. 5). Spans in seconds need end > start; with ``inclusive=True``
    they are integer frame ranges, |[s, e]| = e − s + 1. Disjoint spans score 0.

    Example:
        >>> temporal_iou(np.array([[0, 4], [0, 1]]), np.array([[2, 6], [2, 3]]))
        array([0.33333333, 0.        ])
        >>> temporal_iou(np.array([[5, 7]]), np.array([[6, 9]]), inclusive=True)  # 2 of 5 frames
        array([0.4])
    """
    p, g = _spans(pred_spans, "pred_spans", inclusive), _spans(gt_spans, "gt_spans", inclusive)
    if p.shape != g.shape:
        raise BatchError(f"pred_spans {p.shape} and gt_spans {g.shape} differ in shape")
    extra = 1.0 if inclusive else 0.0
    inter = np.clip(np.minimum(p[:, 1], g[:, 1]) - np.maximum(p[:, 0], g[:, 0]) + extra, 0, None)
    union = (p[:, 1] - p[:, 0] + extra) + (g[:, 1] - g[:, 0] + extra) - inter
    iou: FloatArray = inter / union
    return iou


def _mask_pair(pred: Any, gt: Any) -> tuple[BoolArray, BoolArray]:
    pair = []
    for values, what in ((pred, "pred_masks"), (gt, "gt_masks")):
        array = _floats(values, what, dtype=None)
        if array.dtype == object or array.ndim not in (3, 4) or 0 in array.shape[-2:]:
            raise BatchError(f"{what} must be (N, H, W) or (N, T, H, W) masks, got {array.shape}")
        if array.dtype != np.bool_ and not np.isin(array, (0, 1)).all():
            raise BatchError(f"{what} must be boolean (or 0/1) masks; threshold scores first")
        pair.append(array.astype(bool) if array.ndim == 4 else array.astype(bool)[:, None])
    if pair[0].shape != pair[1].shape:
        raise BatchError(f"pred_masks {pair[0].shape} and gt_masks {pair[1].shape} differ")
    return pair[0], pair[1]


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


def contour_accuracy(pred_masks: Any, gt_masks: Any, bound_th: float = 0.008) -> FloatArray:
    """DAVIS contour accuracy F: boundary F-measure per frame, averaged over frames.

    F = 2PR / (P + R) as in DAVIS's ``f_measure``: P is the share of predicted
    boundary pixels (``seg2bmap``) within a disk of radius ⌈bound_th · ‖(H, W)‖⌉
    pixels (``bound_th >= 1``: pixels) of a true one, R the converse. An empty
    boundary has P (or R) 1: empty vs empty scores 1, empty vs object 0.

    Example:
        >>> gt = np.zeros((1, 6, 6), bool); gt[0, 1:4, 1:4] = True
        >>> near, far = np.roll(gt, 1, axis=2), np.roll(gt, 2, axis=2)  # tolerance: 1 pixel
        >>> contour_accuracy(near, gt), contour_accuracy(far, gt)
        (array([1.]), array([0.72727273]))
    """
    if not (math.isfinite(bound_th) and bound_th > 0):
        raise ConfigurationError(f"bound_th must be a positive number, got {bound_th!r}")
    p, g = _mask_pair(pred_masks, gt_masks)
    height, width = p.shape[-2:]
    radius = math.ceil(bound_th if bound_th >= 1 else bound_th * math.hypot(height, width))
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
    """DAVIS J&F = (J + F) / 2 per sample: the score Veason-R1 reports (ReVOS, ReasonVOS)."""
    j = region_similarity(pred_masks, gt_masks)
    return (j + contour_accuracy(pred_masks, gt_masks, bound_th)) / 2


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


def stvg_spatial_reward(
    pred_boxes: Any, gt_boxes: Any, pred_spans: Any, gt_spans: Any, image_size: Any = None
) -> FloatArray:
    """STVG-o1's spatial reward (Gu et al. 2025, "Thinking With Bounding Boxes", Eq. 7).

    R_spa = (1/|T∩|) Σ_{i ∈ T∩} [GIoU(b_i, b_i^gt) − ‖b_i − b_i^gt‖₁] over the
    frames T∩ = [max(t_s, t_s^gt), min(t_e, t_e^gt)] of both (inclusive) spans,
    0 if T∩ is empty. Boxes are (N, T, 4), row t the box of frame t, NaN for
    none. The paper leaves the L1 scale open: coordinates are divided by
    ``image_size`` (N, 2) (width, height) if given, else taken as normalized.
    A frame of T∩ without a valid predicted box scores MISSING_BOX_SCORE.

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
    frames = np.arange(p.shape[1])
    in_gt = (frames >= gs[:, :1]) & (frames <= gs[:, 1:])
    if (gs[:, 0] < 0).any() or (gs[:, 1] >= p.shape[1]).any() or np.isnan(g[in_gt]).any():
        raise BatchError("gt_boxes must hold a box for every frame of its gt span")
    if image_size is not None:
        size = _floats(image_size, "image_size")
        if size.shape != (p.shape[0], 2) or not (np.isfinite(size).all() and (size > 0).all()):
            raise BatchError(f"image_size must be positive (width, height) pairs, got {size.shape}")
        scale = np.concatenate([size, size], axis=1)[:, None, :]
        p, g = p / scale, g / scale
    valid = np.isfinite(p).all(axis=2) & (p[..., 2] > p[..., 0]) & (p[..., 3] > p[..., 1])
    p, g = np.where(valid[..., None], p, 0.0), np.nan_to_num(g)
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

    Example:
        >>> parse_span("<think>...</think><answer>[12.5, 20]</answer>")
        (12.5, 20.0)
        >>> parse_span("<time> 5 - 7 </time>"), parse_span("no span") is None
        ((5.0, 7.0), True)
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
    return boxes, frames == list(range(span[0], span[1] + 1))


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

    No span with end > start, or a None ``gt_span``: not applicable.

    Example:
        >>> TemporalIoU()({"completion": ["<answer>[2, 6]</answer>", "[9, 1]", "no idea"],
        ...                "gt_span": [[0, 4]] * 3}).total
        array([0.33333333,        nan,        nan])
    """

    columns = ("completion", "gt_span")

    def __init__(self, name: str = "temporal_iou") -> None:
        super().__init__(name)

    def _compute(self, batch: Batch) -> FloatArray:
        gts = list(get_column(batch, "gt_span"))
        spans = [parse_span(completion_text(c)) for c in get_column(batch, "completion")]
        rows = [i for i, p in enumerate(spans) if p and p[1] > p[0] and gts[i] is not None]
        values = np.full(len(gts), np.nan)
        if rows:
            gt = _spans([gts[i] for i in rows], "column 'gt_span'", inclusive=False)
            values[rows] = temporal_iou([spans[i] for i in rows], gt)
        return values


class _MaskTerm(RewardTerm):
    columns = ("pred_mask", "gt_mask")
    parts: tuple[str, ...] = ()

    def _row(self, pred: Any, gt: Any) -> tuple[float, ...]:
        raise NotImplementedError

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
        if not (math.isfinite(bound_th) and bound_th > 0):
            raise ConfigurationError(f"bound_th must be a positive number, got {bound_th!r}")
        self.bound_th = float(bound_th)

    def _row(self, pred: Any, gt: Any) -> tuple[float, ...]:
        j = float(region_similarity(pred, gt)[0])
        f = float(contour_accuracy(pred, gt, self.bound_th)[0])
        return ((j + f) / 2, j, f)


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

    Reads ``gt_span`` (inclusive frames), ``gt_boxes`` (a box per frame of it) and
    optionally ``image_size`` (width, height; scales L1). No ``<time>`` span: not
    applicable, or ``unparseable_score`` if set (0.0: penalized, not skipped).

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
        rows = [i for i, s in enumerate(spans) if s is not None and gt_spans[i] is not None]
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
            scored = ~ok & np.array([g is not None for g in get_column(batch, "gt_span")])
            total = np.where(scored, self.unparseable_score, total)
            status[scored] = Status.OK
        return RewardOutput(total, {self.name: total, **parts}, status)
