"""A deceptive maze for novelty search: the straight way to the goal is a dead end.

A grid version of the deceptive mazes of Lehman & Stanley (2011, "Abandoning
Objectives"): the agent starts at ``S`` below the goal ``G``; between them a
long wall hides a cul-de-sac. An agent that follows the objective (closeness
to the goal) walks up into the cul-de-sac, three cells from the goal, and
stays; the way in runs right, up the far corridor and back left, moving
*away* from the goal for the first dozen steps. The paper's mazes are
continuous, with a neural controller and range sensors; here a genome is an
open-loop sequence of moves (up, down, left, right), and the behaviour
descriptor is the cell where the agent ends. An agent that reaches the goal
stays there.

:meth:`DeceptiveMaze.run` plays a whole population at once (numpy over
genomes).

Example:
    >>> maze = DeceptiveMaze()
    >>> up = np.zeros((1, 10), dtype=np.int64)       # ten moves up from the start
    >>> final, solved = maze.run(up)
    >>> final.tolist(), solved.tolist(), maze.fitness(final).round(2).tolist()
    ([[4, 1]], [False], [-3.0])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardkit.core.errors import ShapeError

__all__ = ["DECEPTIVE_MAZE", "MOVES", "DeceptiveMaze"]

DECEPTIVE_MAZE = (
    "#################",
    "#G..............#",
    "#...............#",
    "#############...#",
    "#...........#...#",
    "#...........#...#",
    "#...........#...#",
    "#.....#######...#",
    "#...............#",
    "#S..............#",
    "#################",
)
#: (row, column) steps of the four actions: up, down, left, right
MOVES = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)])


class DeceptiveMaze:
    """The maze of ``layout`` (rows of ``#`` wall, ``.`` floor, ``S`` start, ``G`` goal)."""

    def __init__(self, layout: tuple[str, ...] = DECEPTIVE_MAZE) -> None:
        if not layout or len({len(row) for row in layout}) != 1:
            raise ShapeError("a maze is rows of equal length")
        grid = np.array([list(row) for row in layout])
        border = np.concatenate([grid[0], grid[-1], grid[:, 0], grid[:, -1]])
        if (grid == "S").sum() != 1 or (grid == "G").sum() != 1 or (border != "#").any():
            raise ShapeError("a maze has one S, one G and a wall (#) all round")
        self.walls = grid == "#"
        self.start = np.argwhere(grid == "S")[0]
        self.goal = np.argwhere(grid == "G")[0]
        self.free_cells = int((~self.walls).sum())

    def run(self, genomes: Any) -> tuple[np.ndarray, np.ndarray]:
        """Play each genome (P, L) of move indices; returns (final cells (P, 2), reached
        the goal (P,)). A move into a wall leaves the agent where it is."""
        moves = np.asarray(genomes)
        if moves.ndim != 2 or moves.min(initial=0) < 0 or moves.max(initial=0) >= len(MOVES):
            raise ShapeError(f"genomes must be (P, L) move indices in [0, {len(MOVES)})")
        position = np.tile(self.start, (len(moves), 1))
        for step in moves.T:
            arrived = (position == self.goal).all(axis=1)
            proposed = position + MOVES[step]
            blocked = self.walls[proposed[:, 0], proposed[:, 1]] | arrived
            position = np.where(blocked[:, None], position, proposed)
        return position, (position == self.goal).all(axis=1)

    def fitness(self, final: Any) -> np.ndarray:
        """The objective: minus the straight-line distance from the goal."""
        distance: np.ndarray = -np.linalg.norm(np.asarray(final) - self.goal, axis=-1)
        return distance
