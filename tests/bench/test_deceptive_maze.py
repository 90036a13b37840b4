"""The deceptive maze: walls block, the goal holds, and the objective's optimum is a trap."""

import numpy as np
import pytest

from rewardkit.core.errors import ShapeError
from rewardkit_bench.tasks.deceptive_maze import DeceptiveMaze

UP, DOWN, LEFT, RIGHT = range(4)


def test_the_shortest_way_round_reaches_the_goal_and_stays():
    maze = DeceptiveMaze()
    path = [RIGHT] * 12 + [UP] * 8 + [LEFT] * 12 + [DOWN] * 3  # then tries to leave
    final, solved = maze.run(np.array([path]))
    assert solved.tolist() == [True] and final.tolist() == [maze.goal.tolist()]


def test_walking_straight_at_the_goal_ends_in_the_dead_end():
    maze = DeceptiveMaze()
    final, solved = maze.run(np.full((1, 30), UP))
    assert final.tolist() == [[4, 1]] and not solved[0]
    # the dead end is the objective's best cell outside the goal's own room
    dead_end = maze.fitness(np.array([[4, 1]]))[0]
    way_round = maze.fitness(np.array([[9, 13]]))[0]
    assert dead_end > way_round


def test_a_population_is_played_at_once_and_bad_genomes_are_refused():
    maze = DeceptiveMaze()
    final, _ = maze.run(np.array([[LEFT, LEFT], [RIGHT, RIGHT]]))
    assert final.tolist() == [[9, 1], [9, 3]]  # the wall stops the first
    with pytest.raises(ShapeError):
        maze.run(np.array([[4]]))


@pytest.mark.parametrize(
    "layout",
    [("#####", "#S.G#", "####"), ("S..", "...", "..G"), ("#####", "#S..#", "#####")],
)
def test_a_layout_without_equal_rows_a_border_or_a_goal_is_refused(layout):
    with pytest.raises(ShapeError):
        DeceptiveMaze(layout)
