"""MiniGrid's egocentric view, bit for bit, without MiniGrid's per-step grid copies.

``MiniGridEnv.gen_obs`` runs on every ``step`` and ``reset``: it slices the
grid into a new ``Grid`` (a fresh ``Wall`` per cell outside the map), rotates
it ``agent_dir + 1`` times (a new ``Grid`` each time), traces occlusion cell by
cell (``Grid.process_vis``) and writes the encoding one numpy element at a
time. That is ~100 µs a step (MiniGrid's step logic itself takes ~3 µs), about
half of PPO's time per frame on MiniGrid.

This module computes the same ``image`` from precomputed index tables:

- :func:`visibility` is ``Grid.process_vis`` on a boolean "can see behind"
  array, as row bitmasks: a lit cell that can be seen behind lights its row
  neighbours (so light runs along open cells and stops on the first wall or
  closed door, which is itself lit) and the three cells of the row in front.
- :func:`egocentric_view` is the whole observation in numpy, from the full
  grid's encoding (``env.grid.encode()``); it reads "can see behind" off the
  codes (walls and doors that are not open block), which is right for
  MiniGrid's own objects.
- :func:`use_fast_view` installs a fast ``gen_obs`` on an env. It fetches the
  agent's window of objects with list slices, asks each object itself
  (``see_behind()``, ``encode()``), so objects of any class and doors in any
  state are read as MiniGrid reads them, and takes ~17 µs: it stops at the
  first row that lights nothing ahead, and encodes only the cells seen. It
  reads ``agent_view_size`` and ``see_through_walls`` at each call, leaves
  ``gen_obs_grid`` (rendering, ``ViewSizeWrapper``) alone, and keeps
  MiniGrid's own code for an env or grid class that overrides any of it.

Example:
    >>> codes = np.zeros((5, 5, 3), dtype=np.uint8)
    >>> codes[..., 0] = 1                  # an empty 5×5 room...
    >>> codes[:, 0] = (2, 5, 0)            # ...walled two cells ahead of the agent
    >>> codes[2, 1] = (5, 4, 0)            # and a yellow key one cell ahead
    >>> view = egocentric_view(codes, agent_pos=(2, 2), agent_dir=3, view_size=3)
    >>> view[..., 0].T                     # object types; rows from far to near
    array([[2, 2, 2],
           [1, 5, 1],
           [1, 1, 1]], dtype=uint8)
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["egocentric_view", "use_fast_view", "visibility"]

_WALL_CODE = (2, 5, 0)  # Wall("grey").encode(): what Grid.slice puts outside the map
_EMPTY_CODE = (1, 0, 0)  # Grid.encode of a visible empty cell
_UNSEEN_CODE = (0, 0, 0)  # Grid.encode of a cell outside vis_mask
_WALL, _DOOR = 2, 4  # OBJECT_TO_IDX
_OPEN = 0  # STATE_TO_IDX["open"]


@functools.cache
def _layout(view_size: int, agent_dir: int) -> tuple[int, int, tuple[int, ...]]:
    """Where the view window starts relative to the agent, and the view's cells in the window.

    Returns ``(top_x, top_y, order)``: the window is the square of side ``view_size``
    whose top-left cell is ``agent_pos + (top_x, top_y)`` (``get_view_exts``), and
    view cell ``(i, j)`` (column, row; flat index ``i * view_size + j``, the layout of
    ``Grid.encode``) is window cell ``order[i * view_size + j]`` (flat ``y * view_size + x``).
    The order is found by running ``Grid.rotate_left``'s index map ``agent_dir + 1`` times.
    """
    if agent_dir not in (0, 1, 2, 3):
        raise ValueError(f"agent_dir must be 0, 1, 2 or 3, got {agent_dir}")
    size = view_size
    half = size // 2  # get_view_exts: facing right, down, left, up
    top_x, top_y = ((0, -half), (-half, 0), (1 - size, -half), (-half, 1 - size))[agent_dir]
    # cells[x][y] holds the window cell now at (x, y); rotate_left: (i, j) -> (j, size - 1 - i)
    cells = [[y * size + x for y in range(size)] for x in range(size)]
    for _ in range(agent_dir + 1):
        rotated = [[0] * size for _ in range(size)]
        for i in range(size):
            for j in range(size):
                rotated[j][size - 1 - i] = cells[i][j]
        cells = rotated
    return top_x, top_y, tuple(cells[i][j] for i in range(size) for j in range(size))


@functools.cache
def _offsets(view_size: int, agent_dir: int) -> tuple[np.ndarray, np.ndarray]:
    """World offsets from the agent of each view cell, two (view_size, view_size) arrays."""
    top_x, top_y, order = _layout(view_size, agent_dir)
    window = np.array(order).reshape(view_size, view_size)
    return top_x + window % view_size, top_y + window // view_size


def _lit_rows(size: int, see_behind_row: Callable[[int], int]) -> list[int]:
    """``Grid.process_vis`` row by row: the cells of each view row the agent sees.

    A row is an integer with one byte per cell, byte ``i`` for column ``i``, 1 or 0;
    ``see_behind_row(j)`` gives row ``j``'s "can see behind" bytes, and the result
    its lit ones. The agent stands at ``(size // 2, size - 1)``. Rows are swept from
    the agent's forward; within a row the light spreads both ways through cells
    that can be seen behind (the fixed point of process_vis's left-to-right and
    right-to-left passes), and every lit such cell lights the three cells ahead of
    it. Once a row lights nothing ahead, the sweep stops: ``see_behind_row`` is not
    asked about rows the light does not reach.
    """
    full = int.from_bytes(b"\x01" * size, "little")
    lit = [0] * size
    row = 1 << 8 * (size // 2)
    for j in range(size - 1, -1, -1):
        through = see_behind_row(j)
        while True:
            spread = row & through
            grown = (row | spread << 8 | spread >> 8) & full
            if grown == row:
                break
            row = grown
        lit[j] = row
        spread = row & through
        row = (spread | spread << 8 | spread >> 8) & full
        if not row:
            break
    return lit


def visibility(see_behind: np.ndarray) -> np.ndarray:
    """The cells of a square view the agent sees: ``Grid.process_vis``'s mask.

    ``see_behind`` is a (size, size) boolean array indexed (column, row), true
    where the cell can be seen through; the agent stands at the middle of the
    last row, facing row 0.

    Example:
        >>> see_behind = np.ones((3, 3), dtype=bool)
        >>> see_behind[1, 1] = False       # a wall right in front of the agent
        >>> visibility(see_behind).T.astype(int)
        array([[1, 1, 1],
               [1, 1, 1],
               [1, 1, 1]])
        >>> see_behind[:, 1] = False       # a wall across the whole row
        >>> visibility(see_behind).T.astype(int)
        array([[0, 0, 0],
               [1, 1, 1],
               [1, 1, 1]])
    """
    see = np.asarray(see_behind, dtype=bool)
    size = see.shape[0]
    if see.shape != (size, size):
        raise ValueError(f"see_behind must be square, got shape {see.shape}")
    flat = see.astype(np.uint8).tobytes()
    lit = _lit_rows(size, lambda j: int.from_bytes(flat[j::size], "little"))
    rows = np.frombuffer(b"".join(row.to_bytes(size, "little") for row in lit), dtype=np.uint8)
    seen: np.ndarray = rows.reshape(size, size).T == 1
    return seen


def egocentric_view(
    grid_codes: np.ndarray,
    agent_pos: Sequence[int],
    agent_dir: int,
    view_size: int = 7,
    see_through_walls: bool = False,
    carrying: Sequence[int] | None = None,
) -> np.ndarray:
    """The agent's view (view_size, view_size, 3) uint8, as ``MiniGridEnv.gen_obs()["image"]``.

    ``grid_codes`` is the full grid's encoding, (width, height, 3), as
    ``env.grid.encode()`` gives it (the agent is not in it); ``carrying`` is the
    code of the object carried (``env.carrying.encode()``), or None. Cells
    outside the grid are walls; walls and doors that are not open block the view
    unless ``see_through_walls``; cells not seen are (0, 0, 0).

    Example:
        >>> codes = np.ones((4, 4, 3), dtype=np.uint8) * np.array([1, 0, 0], dtype=np.uint8)
        >>> view = egocentric_view(codes, (0, 0), agent_dir=0, view_size=3, carrying=(5, 4, 0))
        >>> view[..., 0].T                 # facing east from the north-west corner
        array([[2, 1, 1],
               [2, 1, 1],
               [2, 5, 1]], dtype=uint8)
    """
    codes = np.asarray(grid_codes, dtype=np.uint8)
    width, height = codes.shape[:2]
    dx, dy = _offsets(view_size, agent_dir)
    xs, ys = dx + int(agent_pos[0]), dy + int(agent_pos[1])
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    view: np.ndarray = codes[xs.clip(0, width - 1), ys.clip(0, height - 1)]  # a copy
    view[~inside] = _WALL_CODE
    if not see_through_walls:
        kind, state = view[..., 0], view[..., 2]
        see_behind = (kind != _WALL) & ~((kind == _DOOR) & (state != _OPEN))
        view[~visibility(see_behind)] = _UNSEEN_CODE
    view[view_size // 2, view_size - 1] = _EMPTY_CODE if carrying is None else carrying
    return view


@functools.cache
def _plan(view_size: int, agent_dir: int) -> tuple[int, int, Callable[[list[Any]], Any]]:
    """``_layout`` with its order as a getter: window objects → view objects."""
    top_x, top_y, order = _layout(view_size, agent_dir)
    return top_x, top_y, operator.itemgetter(*order)


@functools.cache
def _minigrid() -> tuple[type, Any]:
    """MiniGrid's ``Grid`` class, and the wall that stands for any cell outside the map."""
    from minigrid.core.grid import Grid
    from minigrid.core.world_object import Wall

    return Grid, Wall()


def _window(grid: Any, wall: Any, size: int, top_x: int, top_y: int) -> list[Any]:
    """The objects of the window, flat ``y * size + x``; the wall outside the map."""
    width, height, cells = grid.width, grid.height, grid.grid
    lo, hi = max(top_x, 0), min(top_x + size, width)
    if lo >= hi:
        return [wall] * (size * size)
    left, right, outside = [wall] * (lo - top_x), [wall] * (top_x + size - hi), [wall] * size
    window: list[Any] = []
    for y in range(top_y, top_y + size):
        if 0 <= y < height:
            start = y * width
            window += left
            window += cells[start + lo : start + hi]
            window += right
        else:
            window += outside
    return window


def _fast_gen_obs(env: Any) -> dict[str, Any]:
    """``MiniGridEnv.gen_obs`` with the same result, from index tables."""
    grid_class, wall = _minigrid()
    grid = env.grid
    if type(grid) is not grid_class:  # a grid class of its own: its own slice/encode
        return _original_gen_obs(env)
    size = env.agent_view_size
    top_x, top_y, view_order = _plan(size, env.agent_dir)
    agent_x, agent_y = env.agent_pos
    objects = view_order(_window(grid, wall, size, int(agent_x) + top_x, int(agent_y) + top_y))
    if env.see_through_walls:
        codes = [_EMPTY_CODE if o is None else o.encode() for o in objects]
    else:
        codes = [_UNSEEN_CODE] * (size * size)
        lit = _lit_rows(size, lambda j: _see_behind(objects[j::size]))
        for j, row in enumerate(lit):
            if row:
                codes[j::size] = [
                    (_EMPTY_CODE if o is None else o.encode()) if seen else _UNSEEN_CODE
                    for o, seen in zip(objects[j::size], row.to_bytes(size, "little"), strict=True)
                ]
    carrying = env.carrying
    codes[(size // 2) * size + size - 1] = carrying.encode() if carrying else _EMPTY_CODE
    image = np.frombuffer(bytearray(itertools.chain.from_iterable(codes)), dtype=np.uint8)
    image = image.reshape(size, size, 3)
    return {"image": image, "direction": env.agent_dir, "mission": env.mission}


def _see_behind(cells: Sequence[Any]) -> int:
    """A row of objects → its "can see behind" bytes as an integer (byte ``i``: cell ``i``)."""
    return int.from_bytes(bytes([o is None or o.see_behind() for o in cells]), "little")


class _FastGenObs:
    """The installed ``gen_obs``: a bound ``_fast_gen_obs`` that pickles and deep-copies."""

    __slots__ = ("env",)

    def __init__(self, env: Any) -> None:
        self.env = env

    def __call__(self) -> dict[str, Any]:
        return _fast_gen_obs(self.env)


def _original_gen_obs(env: Any) -> dict[str, Any]:
    """MiniGrid's own ``gen_obs``, whatever the instance has installed."""
    from minigrid.minigrid_env import MiniGridEnv

    result: dict[str, Any] = MiniGridEnv.gen_obs(env)  # type: ignore[no-untyped-call]
    return result


_OBSERVATION_METHODS = ("gen_obs", "gen_obs_grid", "get_view_exts")


def use_fast_view(env: Any) -> bool:
    """Give ``env.unwrapped`` the fast ``gen_obs``; returns whether it was installed.

    The observations do not change, to the bit (``tests/envs/test_minigrid_view.py``
    checks it at every step of random rollouts on DoorKey, KeyCorridor, MultiRoom
    and ObstructedMaze, seeing through walls or not, with views of 3 to 9 cells).
    An env whose class overrides ``gen_obs``, ``gen_obs_grid`` or ``get_view_exts``
    is left as it is (False); a grid of a ``Grid`` subclass is viewed by MiniGrid's
    own code. The installed ``gen_obs`` pickles and deep-copies with the env.

    Raises:
        TypeError: if ``env.unwrapped`` is not a ``MiniGridEnv``.

    Example:
        >>> import gymnasium as gym, minigrid
        >>> env = gym.make("MiniGrid-DoorKey-5x5-v0")
        >>> use_fast_view(env)
        True
        >>> obs, _ = env.reset(seed=0)
        >>> reference = type(env.unwrapped).gen_obs(env.unwrapped)["image"]
        >>> bool((obs["image"] == reference).all())
        True
    """
    from minigrid.minigrid_env import MiniGridEnv

    base = env.unwrapped
    if not isinstance(base, MiniGridEnv):
        raise TypeError(f"use_fast_view needs a MiniGridEnv, got {type(base).__name__}")
    cls = type(base)
    if any(getattr(cls, name) is not getattr(MiniGridEnv, name) for name in _OBSERVATION_METHODS):
        return False
    base.gen_obs = _FastGenObs(base)  # type: ignore[method-assign]
    return True
