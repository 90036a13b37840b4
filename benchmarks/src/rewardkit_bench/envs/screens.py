"""Procedurally drawn screens: buttons, icons and text fields of varied size and clutter,
with an instruction naming one of them by kind and colour.

A screen is ``SIZE`` × ``SIZE`` RGB pixels on a noisy grey background. Each element has a
distinct (kind, colour) pair, so the instruction ``(kind, colour)`` names exactly one
target. Icons are 3–7 pixels across, so they cover well under 2 % of the screen: the
"small target" regime where GUI-G² and GUI-G1 say graded rewards matter most. Boxes are
``(x1, y1, x2, y2)`` in pixels with the upper edges exclusive.

Example:
    >>> screens = draw_screens(4, seed=0)
    >>> screens.images.shape, screens.instructions.shape, screens.boxes.shape
    ((4, 3, 64, 64), (4, 2), (4, 4))
    >>> bool((draw_screens(4, seed=0).images == screens.images).all())
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["COLOURS", "KINDS", "SIZE", "SMALL_FRACTION", "Screens", "draw_screens"]

SIZE = 64
KINDS = ("button", "icon", "field")
COLOURS = np.array(
    [[0.85, 0.15, 0.15], [0.15, 0.65, 0.2], [0.2, 0.3, 0.9],
     [0.95, 0.75, 0.1], [0.7, 0.2, 0.8], [0.1, 0.75, 0.8]]
)  # fmt: skip
#: a target covering less of the screen than this is "small"
SMALL_FRACTION = 0.02


@dataclass(frozen=True)
class Screens:
    """A batch of screens: images (N, 3, S, S) in [0, 1], instructions (N, 2) as
    (kind, colour) ids, target boxes (N, 4), target masks (N, S, S) (the pixels painted
    for it: a round icon's disk, a button's or a field's rectangle), clutter (N,) and
    every element's box (N, 18, 4), the target's first, NaN rows after the last."""

    images: npt.NDArray[np.float32]
    instructions: npt.NDArray[np.int64]
    boxes: npt.NDArray[np.float64]
    masks: npt.NDArray[np.bool_]
    clutter: npt.NDArray[np.int64]
    element_boxes: npt.NDArray[np.float64]

    @property
    def small(self) -> npt.NDArray[np.bool_]:
        """Whether each target covers less than ``SMALL_FRACTION`` of the screen."""
        area = (self.boxes[:, 2] - self.boxes[:, 0]) * (self.boxes[:, 3] - self.boxes[:, 1])
        small: npt.NDArray[np.bool_] = area < SMALL_FRACTION * SIZE * SIZE
        return small


def _size(kind: int, rng: np.random.Generator) -> tuple[int, int]:
    if kind == 0:  # button
        return int(rng.integers(8, 21)), int(rng.integers(5, 11))
    if kind == 1:  # icon
        side = int(rng.integers(3, 8))
        return side, side
    return int(rng.integers(14, 31)), int(rng.integers(5, 9))  # text field


def _paint(
    image: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_], kind: int, colour: int,
    box: tuple[int, int, int, int], rng: np.random.Generator,
) -> None:  # fmt: skip
    x1, y1, x2, y2 = box
    rgb = COLOURS[colour][:, None, None]
    if kind == 0:  # filled button with a darker border
        image[:, y1:y2, x1:x2] = rgb
        image[:, y1, x1:x2] = image[:, y2 - 1, x1:x2] = rgb[:, :, 0] * 0.5
    elif kind == 1:  # round icon
        yy, xx = np.mgrid[y1:y2, x1:x2]
        radius = (x2 - x1) / 2
        disk = (xx + 0.5 - (x1 + radius)) ** 2 + (yy + 0.5 - (y1 + radius)) ** 2 <= radius**2
        patch = image[:, y1:y2, x1:x2]
        patch[:, disk] = rgb[:, :, 0]
        mask[y1:y2, x1:x2] |= disk
        return
    else:  # text field: coloured outline, pale inside, grey "text" strokes
        image[:, y1:y2, x1:x2] = 0.97
        image[:, y1:y2, [x1, x2 - 1]] = rgb
        image[:, [y1, y2 - 1], x1:x2] = rgb
        for row in range(y1 + 2, y2 - 2, 2):
            length = int(rng.integers(2, max(3, x2 - x1 - 3)))
            image[:, row, x1 + 2 : x1 + 2 + length] = 0.35
    mask[y1:y2, x1:x2] = True


def _place(
    sizes: list[tuple[int, int]], rng: np.random.Generator
) -> list[tuple[int, int, int, int]] | None:
    taken = np.zeros((SIZE, SIZE), dtype=bool)
    boxes = []
    for width, height in sizes:
        for _ in range(60):
            x1 = int(rng.integers(1, SIZE - width))
            y1 = int(rng.integers(1, SIZE - height))
            if not taken[max(0, y1 - 1) : y1 + height + 1, max(0, x1 - 1) : x1 + width + 1].any():
                taken[y1 : y1 + height, x1 : x1 + width] = True
                boxes.append((x1, y1, x1 + width, y1 + height))
                break
        else:
            return None
    return boxes


def _draw_one(rng: np.random.Generator, clutter: tuple[int, int]) -> tuple[Any, ...]:
    while True:
        count = int(rng.integers(clutter[0], clutter[1] + 1))
        pairs = rng.choice(len(KINDS) * len(COLOURS), size=count, replace=False)
        kinds, colours = pairs // len(COLOURS), pairs % len(COLOURS)
        boxes = _place([_size(int(k), rng) for k in kinds], rng)
        if boxes is not None:
            break
    image = (0.88 + 0.04 * rng.standard_normal((3, SIZE, SIZE))).astype(np.float32)
    for _ in range(int(rng.integers(0, 4))):  # divider lines: clutter that is not an element
        row = int(rng.integers(0, SIZE))
        image[:, row, :] = 0.7
    target = int(rng.integers(count))
    target_mask = np.zeros((SIZE, SIZE), dtype=bool)
    scratch = np.zeros((SIZE, SIZE), dtype=bool)
    for index, (kind, colour, box) in enumerate(zip(kinds, colours, boxes, strict=True)):
        _paint(image, target_mask if index == target else scratch, int(kind), int(colour),
               box, rng)  # fmt: skip
    instruction = (int(kinds[target]), int(colours[target]))
    elements = np.full((len(KINDS) * len(COLOURS), 4), np.nan)
    elements[:count] = [boxes[target]] + [b for i, b in enumerate(boxes) if i != target]
    return np.clip(image, 0, 1), instruction, boxes[target], target_mask, count, elements


def draw_screens(n: int, seed: int, clutter: tuple[int, int] = (3, 9)) -> Screens:
    """``n`` screens drawn from ``seed``; ``clutter`` bounds the number of elements.

    Example:
        >>> s = draw_screens(2, seed=1, clutter=(4, 4))
        >>> s.clutter.tolist(), bool(s.masks[0].any())
        ([4, 4], True)
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 1 <= clutter[0] <= clutter[1] <= len(KINDS) * len(COLOURS):
        raise ValueError(f"clutter must be (low, high) with 1 <= low <= high <= 18, got {clutter}")
    rng = np.random.default_rng(seed)
    drawn = [_draw_one(rng, clutter) for _ in range(n)]
    return Screens(
        images=np.stack([d[0] for d in drawn]).astype(np.float32),
        instructions=np.array([d[1] for d in drawn], dtype=np.int64),
        boxes=np.array([d[2] for d in drawn], dtype=np.float64),
        masks=np.stack([d[3] for d in drawn]),
        clutter=np.array([d[4] for d in drawn], dtype=np.int64),
        element_boxes=np.stack([d[5] for d in drawn]),
    )
