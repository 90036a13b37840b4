"""The grounding lab's tasks: what the policy sees, what its tokens mean, the columns a
reward reads and the metrics a run is judged by.

Each task turns the policy's tokens into an answer written as text (``(x, y)``,
``[x1, y1, x2, y2]``, ``<answer>...</answer>``) plus the ground-truth columns, so the
rewards are rewardkit terms called exactly as a user's trainer calls them. Every token
sequence decodes to a valid answer (boxes are a centre and a size; a span's end is
decoded no earlier than its start), so no sample is unreadable; the trainer still
counts and floors one if a design ever says "not applicable".

Example:
    >>> task = TASKS["click"]
    >>> scenes = task.draw(2, seed=0)
    >>> columns = task.columns(np.array([[3, 4], [0, 0]]), scenes, np.array([0, 1]))
    >>> columns["completion"][0]
    '<point>[3.5, 4.5]</point>'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.verify.grounding import box_iou
from rewardkit_bench.envs import clips, layouts, screens

__all__ = ["TASKS", "Task", "box_tokens_to_boxes"]

Columns = dict[str, Any]
IntArray = npt.NDArray[np.int64]

CLICK_BINS = 64  # 1-pixel bins: a click lands at b + 0.5, never on a box's (integer) edge
CENTRE_BINS = 32  # 2-pixel bins for a box's centre
CONFIDENCE_BINS = 11  # 0.0, 0.1, ..., 1.0
SIZE_BINS = 16  # box widths and heights of 2, 4, ..., 32 pixels on the screen
CLIP_BOX_BINS = 16  # 2-pixel bins on the 32-pixel frame
CLIP_SIZE_BINS = 8  # object widths and heights of 2, 3, ..., 9 pixels in a clip
LAYOUT_BINS = 20  # 0.5-metre bins in the 10-metre room
#: GRiP-style salience of the elements that are not the target: context, not evidence
GRIP_CONTEXT = 0.1
#: RewardMap-style difficulty level of a room by its number of objects
LEVEL_BY_COUNT = {1: "easy", 2: "easy", 3: "middle", 4: "hard"}


def box_tokens_to_boxes(
    tokens: IntArray, pixels_per_bin: float, size_unit: float, size_offset: float = 1.0
) -> npt.NDArray[np.float64]:
    """Boxes from (cx, cy, w, h) tokens: centre (b + ½)·pixels_per_bin, size
    (b + size_offset)·size_unit, so every token sequence is a valid box.

    Example:
        >>> box_tokens_to_boxes(np.array([[2, 3, 1, 0]]), 2.0, 2.0)
        array([[3., 6., 7., 8.]])
    """
    centres = (tokens[:, :2].astype(np.float64) + 0.5) * pixels_per_bin
    half = (tokens[:, 2:4].astype(np.float64) + size_offset) * size_unit / 2
    boxes: npt.NDArray[np.float64] = np.concatenate([centres - half, centres + half], axis=1)
    return boxes


def _box_text(box: npt.NDArray[np.float64]) -> str:
    return "[" + ", ".join(f"{v:.1f}" for v in box) + "]"


@dataclass(frozen=True)
class Task:
    """One lab task: its world, the policy's shapes, decoding and metrics."""

    name: str
    channels: int
    size: int
    instruction_sizes: tuple[int, ...]
    slot_sizes: tuple[int, ...]
    draw: Callable[[int, int], Any]
    inputs: Callable[[Any, IntArray], tuple[npt.NDArray[np.float32], IntArray]]
    columns: Callable[[IntArray, Any, IntArray], Columns]
    metrics: Callable[[IntArray, Any, IntArray], dict[str, npt.NDArray[np.float64]]]
    slot_kinds: tuple[str, ...] = ()
    frames: int = 1
    difficulty: Callable[[Any], IntArray] | None = None


# -- screens: click, click with confidence, box ---------------------------------------


def _screen_inputs(s: screens.Screens, idx: IntArray) -> tuple[Any, IntArray]:
    return s.images[idx], s.instructions[idx]


def _points(tokens: IntArray) -> npt.NDArray[np.float64]:
    return (tokens[:, :2].astype(np.float64) + 0.5) * (screens.SIZE / CLICK_BINS)


def _click_columns(tokens: IntArray, s: screens.Screens, idx: IntArray) -> Columns:
    points = _points(tokens)
    text = [f"<point>[{x:.1f}, {y:.1f}]</point>" for x, y in points]
    if tokens.shape[1] > 2:  # the confidence token
        text = [f"{t} <confidence>{c / (CONFIDENCE_BINS - 1):.1f}</confidence>"
                for t, c in zip(text, tokens[:, 2], strict=True)]  # fmt: skip
    return {"completion": text, "gt_box": s.boxes[idx], "point": points,
            "screen_size": np.full((len(idx), 2), float(screens.SIZE))}  # fmt: skip


def _inside(points: npt.NDArray[np.float64], boxes: npt.NDArray[np.float64]) -> Any:
    return ((points[:, 0] >= boxes[:, 0]) & (points[:, 0] < boxes[:, 2])
            & (points[:, 1] >= boxes[:, 1]) & (points[:, 1] < boxes[:, 3]))  # fmt: skip


def _click_metrics(tokens: IntArray, s: screens.Screens, idx: IntArray) -> dict[str, Any]:
    hit = _inside(_points(tokens), s.boxes[idx]).astype(float)
    out = {"hit": hit, "small": s.small[idx].astype(float)}
    if tokens.shape[1] > 2:
        out["confidence"] = tokens[:, 2] / (CONFIDENCE_BINS - 1)
    return out


def _box_columns(tokens: IntArray, s: screens.Screens, idx: IntArray) -> Columns:
    boxes = box_tokens_to_boxes(tokens, screens.SIZE / CENTRE_BINS, 2.0)
    elements = s.element_boxes[idx]
    return {"completion": [_box_text(b) for b in boxes], "gt_box": s.boxes[idx],
            "pred_box": boxes, "gt_boxes": [e[~np.isnan(e[:, 0])] for e in elements],
            "salience": [[1.0] + [GRIP_CONTEXT] * (int((~np.isnan(e[:, 0])).sum()) - 1)
                         for e in elements]}  # fmt: skip


def _box_metrics(tokens: IntArray, s: screens.Screens, idx: IntArray) -> dict[str, Any]:
    boxes = box_tokens_to_boxes(tokens, screens.SIZE / CENTRE_BINS, 2.0)  # always valid
    gt = s.boxes[idx]
    iou = box_iou(boxes, gt)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    return {"iou": iou, "hit": _inside(centres, gt).astype(float),
            "iou50": (iou >= 0.5).astype(float), "size_ratio": area(boxes) / area(gt),
            "small": s.small[idx].astype(float)}  # fmt: skip


def _screen_task(name: str, slots: tuple[int, ...], kinds: tuple[str, ...], columns: Any,
                 metrics: Any) -> Task:  # fmt: skip
    return Task(name, 3, screens.SIZE, (len(screens.KINDS), len(screens.COLOURS)), slots,
                lambda n, seed: screens.draw_screens(n, seed), _screen_inputs, columns,
                metrics, slot_kinds=kinds)  # fmt: skip


# -- clips: a span and a start and end box ----------------------------------------------


def clip_prediction(tokens: IntArray) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Spans (M, 2) as [start, end) and per-frame boxes (M, T, 4), NaN where the span is
    invalid (it ends before it starts) or off the span; the box moves linearly from the
    start box to the end box. Tokens: start frame, its box (cx, cy, w, h), last frame,
    its box."""
    frames, width = clips.FRAMES, clips.SIZE / CLIP_BOX_BINS
    start, last = tokens[:, 0].astype(float), tokens[:, 5].astype(float)
    spans = np.stack([start, last + 1], axis=1)
    first_box = box_tokens_to_boxes(tokens[:, 1:5], width, 1.0, size_offset=2.0)
    last_box = box_tokens_to_boxes(tokens[:, 6:10], width, 1.0, size_offset=2.0)
    valid = last >= start
    spans[~valid] = np.nan
    t = np.arange(frames)[None, :]
    fraction = np.clip((t - start[:, None]) / np.maximum(last - start, 1)[:, None], 0, 1)
    boxes = first_box[:, None, :] + fraction[:, :, None] * (last_box - first_box)[:, None, :]
    on = (t >= start[:, None]) & (t <= last[:, None]) & valid[:, None]
    boxes[~on] = np.nan
    return spans, boxes


def _box_masks(boxes: npt.NDArray[np.float64], size: int) -> npt.NDArray[np.bool_]:
    """Pixel masks (..., size, size) of boxes (..., 4); NaN boxes give empty masks."""
    grid = np.arange(size) + 0.5
    b = np.nan_to_num(boxes, nan=-1.0)
    in_x = (grid >= b[..., 0:1]) & (grid < b[..., 2:3])
    in_y = (grid >= b[..., 1:2]) & (grid < b[..., 3:4])
    masks: npt.NDArray[np.bool_] = in_y[..., :, None] & in_x[..., None, :]
    return masks


def _chain(boxes: npt.NDArray[np.float64], first: int, last: int) -> str:
    return ", ".join(f"{t}. [" + ", ".join(f"{v:.1f}" for v in boxes[t]) + "]"
                     for t in range(first, last + 1))  # fmt: skip


def _stvg_text(span: npt.NDArray[np.float64], boxes: npt.NDArray[np.float64]) -> str:
    """STVG-o1's answer format; one box chain, so the think chain repeats the answer."""
    if np.isnan(span).any():
        return "no answer"
    first, last = int(span[0]), int(span[1]) - 1
    chain = _chain(boxes, first, last)
    return (f"<time>{first} - {last}</time><think_bbox>{chain}</think_bbox>"
            f"<pred_bbox>{chain}</pred_bbox>")  # fmt: skip


def _clip_columns(tokens: IntArray, c: clips.Clips, idx: IntArray) -> Columns:
    spans, boxes = clip_prediction(tokens)
    gold_spans, gold_boxes = c.spans[idx], c.boxes[idx]
    return {"completion": [_stvg_text(s, b) for s, b in zip(spans, boxes, strict=True)],
            "gt_span": [[int(s), int(e) - 1] for s, e in gold_spans],
            "gt_boxes": [b[int(s) : int(e)]
                         for (s, e), b in zip(gold_spans, gold_boxes, strict=True)],
            "image_size": [(float(clips.SIZE), float(clips.SIZE))] * len(idx),
            "pred_span": spans, "pred_boxes": boxes, "gt_span_open": gold_spans,
            "gt_frame_boxes": gold_boxes,
            "pred_mask": _box_masks(boxes, clips.SIZE), "gt_mask": c.masks[idx]}  # fmt: skip


def _clip_metrics(tokens: IntArray, c: clips.Clips, idx: IntArray) -> dict[str, Any]:
    from rewardkit_bench.grounding_metrics import clip_metrics

    spans, boxes = clip_prediction(tokens)
    return clip_metrics(spans, boxes, _box_masks(boxes, clips.SIZE), c, idx)


# -- layouts: metric positions of every present object --------------------------------


def layout_positions(tokens: IntArray) -> npt.NDArray[np.float64]:
    """(M, C, 2) positions in metres: bin centres of the (x, y) token pairs."""
    bins = tokens.reshape(len(tokens), layouts.CATEGORIES, 2).astype(np.float64)
    positions: npt.NDArray[np.float64] = (bins + 0.5) * (layouts.ROOM / LAYOUT_BINS)
    return positions


def _objects(positions: npt.NDArray[np.float64], template: str, separator: str) -> str:
    return separator.join(template.format(c=layouts.NAMES[c], x=x, y=y, cx=int(x), cy=int(y))
                          for c, (x, y) in enumerate(positions) if not np.isnan(x))  # fmt: skip


def _layout_columns(tokens: IntArray, rooms: layouts.Layouts, idx: IntArray) -> Columns:
    """The answer three ways: metric coordinates (``<map>``, Video2Layout-style), 1-metre
    cells as ``<answer>`` details (RewardMap-style) and as STAR-R1 items."""
    positions = np.where(rooms.present[idx][..., None], layout_positions(tokens), np.nan)
    gold = rooms.positions[idx]
    cells = "{c}: {cx},{cy}"
    return {"pred_positions": positions, "gt_positions": gold,
            "completion": ["<map>" + _objects(p, "{c}: [{x:.2f}, {y:.2f}]", "\n")
                           + "</map><answer>" + _objects(p, cells, "; ") + "</answer>"
                           for p in positions],
            "gt_layout": [{layouts.NAMES[c]: [x, y] for c, (x, y) in enumerate(g)
                           if not np.isnan(x)} for g in gold],
            "details": [_objects(g, cells, "; ") for g in gold],
            "difficulty": [LEVEL_BY_COUNT[int(n)] for n in rooms.count[idx]],
            "hops": np.zeros(len(idx), dtype=np.int64)}  # fmt: skip


def _layout_metrics(tokens: IntArray, rooms: layouts.Layouts, idx: IntArray) -> dict[str, Any]:
    present = rooms.present[idx]
    error = np.linalg.norm(layout_positions(tokens) - rooms.positions[idx], axis=-1)
    error = np.where(present, error, np.nan)
    within = np.where(present, error <= 1.0, np.nan)
    return {"error_m": np.nanmean(error, axis=1), "within_1m": np.nanmean(within, axis=1),
            "all_within_1m": np.all(np.where(present, error <= 1.0, True), axis=1).astype(float),
            "count": rooms.count[idx].astype(float)}  # fmt: skip


TASKS: dict[str, Task] = {
    "click": _screen_task("click", (CLICK_BINS, CLICK_BINS), ("x", "y"), _click_columns,
                          _click_metrics),
    "click_confidence": _screen_task("click_confidence", (CLICK_BINS, CLICK_BINS, CONFIDENCE_BINS),
                                     ("x", "y", "free"), _click_columns, _click_metrics),
    "box": _screen_task("box", (CENTRE_BINS, CENTRE_BINS, SIZE_BINS, SIZE_BINS),
                        ("x", "y", "free", "free"), _box_columns, _box_metrics),
    "clip": Task("clip", 3 * clips.FRAMES, clips.SIZE, (len(screens.COLOURS),),
                 (clips.FRAMES, CLIP_BOX_BINS, CLIP_BOX_BINS, CLIP_SIZE_BINS, CLIP_SIZE_BINS) * 2,
                 lambda n, seed: clips.draw_clips(n, seed),
                 lambda c, idx: (c.frames[idx].reshape(len(idx), -1, clips.SIZE, clips.SIZE),
                                 c.colours[idx][:, None]),
                 _clip_columns, _clip_metrics, slot_kinds=("t", "x", "y", "free", "free") * 2,
                 frames=clips.FRAMES),
    "layout": Task("layout", 3, layouts.SIZE, (2,) * layouts.CATEGORIES,
                   (LAYOUT_BINS,) * (2 * layouts.CATEGORIES),
                   lambda n, seed: layouts.draw_layouts(n, seed),
                   lambda r, idx: (r.images[idx], r.present[idx].astype(np.int64)),
                   _layout_columns, _layout_metrics, slot_kinds=("x", "y") * layouts.CATEGORIES,
                   difficulty=lambda r: r.count),
}  # fmt: skip
