"""Short clips with a target object present over a time span, moving in a straight line.

A clip is ``FRAMES`` frames of ``SIZE`` × ``SIZE`` RGB pixels. The target, a disk of the
instructed colour, is visible on frames ``start <= t < end`` and moves linearly between
two points; one or two distractor disks of other colours come and go over their own
spans, behind the target (its mask is never occluded, so it agrees with its box). The
ground truth is the span, the per-frame boxes (NaN off the span) and the per-frame masks
(empty off the span): what spatio-temporal grounding (STVG-o1) and video
segmentation (Veason-R1) are scored on.

Example:
    >>> clips = draw_clips(3, seed=0)
    >>> clips.frames.shape, clips.spans.shape, clips.boxes.shape, clips.masks.shape
    ((3, 12, 3, 32, 32), (3, 2), (3, 12, 4), (3, 12, 32, 32))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit_bench.envs.screens import COLOURS

__all__ = ["FRAMES", "SIZE", "Clips", "draw_clips"]

FRAMES = 12
SIZE = 32
#: a straight track: the centre at the first and at the last visible frame
Track = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class Clips:
    """Clips (N, T, 3, S, S), instructed colours (N,), spans (N, 2) as [start, end),
    per-frame target boxes (N, T, 4) (NaN off the span) and masks (N, T, S, S)."""

    frames: npt.NDArray[np.float32]
    colours: npt.NDArray[np.int64]
    spans: npt.NDArray[np.float64]
    boxes: npt.NDArray[np.float64]
    masks: npt.NDArray[np.bool_]


def _track(rng: np.random.Generator, radius: float) -> Track:
    low, high = radius + 1, SIZE - radius - 1
    start, stop = rng.uniform(low, high, 2), rng.uniform(low, high, 2)
    return start, stop


def _disk(centre: npt.NDArray[np.float64], radius: float) -> npt.NDArray[np.bool_]:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    inside: npt.NDArray[np.bool_] = (xx + 0.5 - centre[0]) ** 2 + (
        yy + 0.5 - centre[1]
    ) ** 2 <= radius**2
    return inside


def _object(rng: np.random.Generator, min_length: int) -> tuple[int, int, float, Track]:
    length = int(rng.integers(min_length, FRAMES + 1))
    start = int(rng.integers(0, FRAMES - length + 1))
    radius = float(rng.uniform(2.0, 4.0))
    return start, start + length, radius, _track(rng, radius)


def _centre(track: Track, start: int, end: int, t: int) -> npt.NDArray[np.float64]:
    fraction = 0.0 if end - start <= 1 else (t - start) / (end - start - 1)
    centre: npt.NDArray[np.float64] = track[0] + fraction * (track[1] - track[0])
    return centre


def _draw_one(rng: np.random.Generator) -> tuple[Any, ...]:
    colours = rng.choice(len(COLOURS), size=3, replace=False)
    frames = (0.1 + 0.05 * rng.standard_normal((FRAMES, 3, SIZE, SIZE))).astype(np.float32)
    masks = np.zeros((FRAMES, SIZE, SIZE), dtype=bool)
    boxes = np.full((FRAMES, 4), np.nan)
    objects = [(int(colours[0]), *_object(rng, 3))]
    objects += [(int(c), *_object(rng, 2)) for c in colours[1 : 1 + int(rng.integers(1, 3))]]
    for index, (colour, start, end, radius, track) in reversed(list(enumerate(objects))):
        for t in range(start, end):  # distractors first: the target passes in front of them
            disk = _disk(_centre(track, start, end, t), radius)
            frames[t][:, disk] = COLOURS[colour][:, None]
            if index == 0:
                masks[t] = disk
                ys, xs = np.nonzero(disk)
                boxes[t] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    _, start, end, _, _ = objects[0]
    return np.clip(frames, 0, 1), objects[0][0], (start, end), boxes, masks


def draw_clips(n: int, seed: int) -> Clips:
    """``n`` clips drawn from ``seed``.

    Example:
        >>> c = draw_clips(1, seed=2)
        >>> start, end = c.spans[0].astype(int)
        >>> bool(c.masks[0, start].any()), bool(c.masks[0, :start].any())
        (True, False)
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    drawn = [_draw_one(rng) for _ in range(n)]
    return Clips(
        frames=np.stack([d[0] for d in drawn]).astype(np.float32),
        colours=np.array([d[1] for d in drawn], dtype=np.int64),
        spans=np.array([d[2] for d in drawn], dtype=np.float64),
        boxes=np.stack([d[3] for d in drawn]),
        masks=np.stack([d[4] for d in drawn]),
    )
