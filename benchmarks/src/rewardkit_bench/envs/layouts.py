"""Rooms seen from above, with objects of known categories at metric positions.

A room is ``ROOM`` × ``ROOM`` metres drawn as ``SIZE`` × ``SIZE`` RGB pixels. Each of the
``CATEGORIES`` object categories (a colour and a shape) is present at most once; a scene
holds ``count`` of them, at least ``MIN_GAP`` metres apart, among grey clutter. The
instruction says which categories are present; the answer is each present object's
(x, y) in metres (NaN for absent ones): the layout a Video2Layout-style model
reconstructs. ``count`` is the scene's difficulty (RewardMap's curriculum reads it).

Example:
    >>> rooms = draw_layouts(4, seed=0)
    >>> rooms.images.shape, rooms.present.shape, rooms.positions.shape
    ((4, 3, 40, 40), (4, 4), (4, 4, 2))
    >>> bool((rooms.present.sum(axis=1) == rooms.count).all())
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rewardkit_bench.envs.screens import COLOURS

__all__ = ["CATEGORIES", "MIN_GAP", "NAMES", "ROOM", "SIZE", "Layouts", "draw_layouts"]

ROOM = 10.0
SIZE = 40
CATEGORIES = 4
MIN_GAP = 1.5
#: the categories' names, as an answer writes them
NAMES = ("red disk", "green square", "blue diamond", "yellow cross")


@dataclass(frozen=True)
class Layouts:
    """Rooms (N, 3, S, S), which categories are present (N, C), positions in metres
    (N, C, 2) (NaN where absent) and the number of objects (N,)."""

    images: npt.NDArray[np.float32]
    present: npt.NDArray[np.bool_]
    positions: npt.NDArray[np.float64]
    count: npt.NDArray[np.int64]


def _stamp(image: npt.NDArray[np.float32], category: int, x: float, y: float) -> None:
    scale = SIZE / ROOM
    cx, cy = x * scale, y * scale
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    dx, dy = xx + 0.5 - cx, yy + 0.5 - cy
    shape = [dx**2 + dy**2 <= 2.2**2,  # disk
             (np.abs(dx) <= 1.8) & (np.abs(dy) <= 1.8),  # square
             (np.abs(dx) + np.abs(dy) <= 2.4),  # diamond
             ((np.abs(dx) <= 0.8) & (np.abs(dy) <= 2.4))
             | ((np.abs(dy) <= 0.8) & (np.abs(dx) <= 2.4))  # cross
             ][category]  # fmt: skip
    image[:, shape] = COLOURS[category][:, None]


def _draw_one(rng: np.random.Generator, counts: tuple[int, int]) -> tuple[object, ...]:
    count = int(rng.integers(counts[0], counts[1] + 1))
    categories = np.sort(rng.choice(CATEGORIES, size=count, replace=False))
    while True:
        points = rng.uniform(0.6, ROOM - 0.6, size=(count, 2))
        gaps = np.linalg.norm(points[:, None] - points[None], axis=-1) + np.eye(count) * ROOM
        if gaps.min() >= MIN_GAP:
            break
    image = (0.8 + 0.03 * rng.standard_normal((3, SIZE, SIZE))).astype(np.float32)
    for _ in range(int(rng.integers(2, 6))):  # grey furniture: clutter, not objects
        x, y = rng.integers(0, SIZE - 4, size=2)
        w, h = rng.integers(2, 6, size=2)
        image[:, y : y + h, x : x + w] = 0.55
    positions = np.full((CATEGORIES, 2), np.nan)
    for category, (x, y) in zip(categories, points, strict=True):
        _stamp(image, int(category), float(x), float(y))
        positions[category] = (x, y)
    present = np.zeros(CATEGORIES, dtype=bool)
    present[categories] = True
    return np.clip(image, 0, 1), present, positions, count


def draw_layouts(n: int, seed: int, counts: tuple[int, int] = (1, CATEGORIES)) -> Layouts:
    """``n`` rooms drawn from ``seed`` with between ``counts[0]`` and ``counts[1]`` objects.

    Example:
        >>> rooms = draw_layouts(3, seed=1, counts=(2, 2))
        >>> rooms.count.tolist(), bool(np.isnan(rooms.positions[~rooms.present]).all())
        ([2, 2, 2], True)
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 1 <= counts[0] <= counts[1] <= CATEGORIES:
        raise ValueError(f"counts must be (low, high) within 1..{CATEGORIES}, got {counts}")
    rng = np.random.default_rng(seed)
    drawn = [_draw_one(rng, counts) for _ in range(n)]
    return Layouts(
        images=np.stack([d[0] for d in drawn]).astype(np.float32),  # type: ignore[misc]
        present=np.stack([d[1] for d in drawn]).astype(bool),  # type: ignore[misc]
        positions=np.stack([d[2] for d in drawn]).astype(np.float64),  # type: ignore[misc]
        count=np.array([d[3] for d in drawn], dtype=np.int64),
    )
