"""The topological map and the TopoNav-style bonus, on a hand-drawn maze with a known graph."""

import itertools
import pickle

import numpy as np
import pytest

from rewardkit.audit import check_reward
from rewardkit.core import Status, build_reward
from rewardkit.core.errors import (
    BatchError,
    ConfigurationError,
    MissingColumnError,
    RewardKitError,
    ShapeError,
)
from rewardkit.explore.topology import (
    GridNeighbours,
    TopologicalMap,
    UnknownNodeError,
    bfs_distances,
    frontier_nodes,
    grid_graph,
    nearest_subgoal,
    shortest_path,
)
from rewardkit.explore.toponav import TopoNavBonus, node_keys, toponav_bonus

# 1 = wall. The free cells form one component with one cycle, through (1, 0) and (1, 2).
WALLS = np.array(
    [
        [0, 0, 0, 1, 0],
        [0, 1, 0, 1, 0],
        [0, 0, 0, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 0, 0, 1, 0],
    ]
)
FREE = WALLS == 0
MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))


def true_edges(free):
    """The maze's edges, read off the array: free cells side by side (right or below)."""
    edges = set()
    rows, cols = free.shape
    for r, c in itertools.product(range(rows), range(cols)):
        if free[r, c] and c + 1 < cols and free[r, c + 1]:
            edges.add(frozenset({(r, c), (r, c + 1)}))
        if free[r, c] and r + 1 < rows and free[r + 1, c]:
            edges.add(frozenset({(r, c), (r + 1, c)}))
    return edges


def random_walk(steps, seed, start=(2, 2)):
    """Cells of a random walk; a move into a wall or off the grid stays put."""
    rng = np.random.default_rng(seed)
    cells = [start]
    for _ in range(steps):
        dr, dc = MOVES[rng.integers(4)]
        r, c = cells[-1][0] + dr, cells[-1][1] + dc
        inside = 0 <= r < 5 and 0 <= c < 5
        cells.append((r, c) if inside and FREE[r, c] else cells[-1])
    return cells


def steps_of(cells, ended=()):
    """A batch of the walk's transitions, positions as float observations."""
    n = len(cells) - 1
    flags = np.zeros(n, bool)
    flags[list(ended)] = True
    return {
        "obs": np.array(cells[:-1], dtype=np.float64),
        "next_obs": np.array(cells[1:], dtype=np.float64),
        "terminated": flags,
        "truncated": np.zeros(n, bool),
    }


def all_pairs_hops(edges, nodes):
    """Floyd-Warshall over the true edges: an independent check of BFS."""
    index = {v: i for i, v in enumerate(nodes)}
    dist = np.full((len(nodes), len(nodes)), np.inf)
    np.fill_diagonal(dist, 0)
    for edge in edges:
        a, b = (index[v] for v in edge)
        dist[a, b] = dist[b, a] = 1
    for k in range(len(nodes)):
        dist = np.minimum(dist, dist[:, [k]] + dist[[k], :])
    return index, dist


def cell_of(observation):
    """A picklable key function: the (row, col) in an observation's first two entries."""
    if not np.isfinite(observation[:2]).all():
        return None
    return (int(observation[0]), int(observation[1]))


# -- the graph -----------------------------------------------------------------------------------


def test_grid_graph_is_the_mazes_adjacency():
    graph = grid_graph(FREE)
    assert set(graph) == {(int(r), int(c)) for r, c in zip(*np.nonzero(FREE), strict=True)}
    assert len(graph) == 18
    edges = {frozenset({u, v}) for u, nxt in graph.items() for v in nxt}
    assert edges == true_edges(FREE) and len(edges) == 18  # 18 nodes, 1 cycle: 18 edges


def test_a_long_random_walk_recovers_the_mazes_graph():
    cells = random_walk(3000, seed=0)
    assert set(cells) == set(grid_graph(FREE))  # the walk saw every free cell
    topo = TopologicalMap(min_visits=1)
    for u, v in itertools.pairwise(cells):
        topo.add_transition(u, v)
    assert set(topo.nodes) == set(grid_graph(FREE))
    assert topo.edges == true_edges(FREE)
    assert sum(topo.visits.values()) == len(cells)  # the start, then one visit per step
    # the term learns the same map from the same walk, fed in rollouts of 100 steps
    bonus = TopoNavBonus(key_fn=cell_of, neighbours=GridNeighbours(FREE), min_visits=0)
    batch = steps_of(cells)
    for start in range(0, len(cells) - 1, 100):
        bonus.update({k: v[start : start + 100] for k, v in batch.items()})
    assert bonus.map.edges == true_edges(FREE) and bonus.map.nodes == topo.nodes
    assert bonus.map.frontier() == []  # nothing left unexplored


@pytest.mark.parametrize("seed", range(5))
def test_a_short_walk_maps_exactly_what_it_traversed(seed):
    cells = random_walk(12, seed=seed)
    topo = TopologicalMap(min_visits=1)
    for u, v in itertools.pairwise(cells):
        topo.add_transition(u, v)
    visited = set(cells)
    traversed = {frozenset({u, v}) for u, v in itertools.pairwise(cells) if u != v}
    induced = {e for e in true_edges(FREE) if e <= visited}
    assert set(topo.nodes) == visited
    assert topo.edges == traversed and topo.edges <= induced
    assert topo.nodes == list(dict.fromkeys(cells))  # in the order of discovery


def test_bfs_paths_are_shortest_on_the_maze():
    topo = TopologicalMap(min_visits=1)
    for u, v in itertools.pairwise(random_walk(3000, seed=1)):
        topo.add_transition(u, v)
    index, hops = all_pairs_hops(true_edges(FREE), topo.nodes)
    for a, b in itertools.product(topo.nodes, repeat=2):
        path = topo.shortest_path(a, b)
        assert path[0] == a and path[-1] == b
        assert len(path) - 1 == hops[index[a], index[b]]
        assert all(frozenset(step) in topo.edges for step in itertools.pairwise(path))
    distances = bfs_distances(topo.adjacency, (0, 0))
    assert distances == {v: hops[index[(0, 0)], index[v]] for v in topo.nodes}
    # around the cycle: (0, 0) to (2, 2) is 4 steps either way round
    assert len(topo.shortest_path((0, 0), (2, 2))) == 5


def test_shortest_path_by_hand_and_unreachable():
    square = {0: [1, 3], 1: [0, 2], 2: [1, 3], 3: [2, 0], 4: []}
    assert shortest_path(square, 0, 2) == [0, 1, 2]
    assert shortest_path(square, 3, 1) == [3, 2, 1]
    assert shortest_path(square, 0, 4) is None
    assert bfs_distances(square, 4) == {4: 0}


# -- frontier and subgoals -----------------------------------------------------------------------

PARTIAL = [(2, 2), (2, 1), (2, 0), (2, 1), (2, 2), (1, 2)]


def test_frontier_of_a_partly_explored_maze_by_hand():
    topo = TopologicalMap(neighbours=GridNeighbours(FREE), min_visits=0)
    for u, v in itertools.pairwise(PARTIAL):
        topo.add_transition(u, v)
    # (2, 1) has only walls and visited cells around it; the others border unseen free cells
    assert topo.frontier() == [(2, 2), (2, 0), (1, 2)]
    assert topo.visits == {(2, 2): 2, (2, 1): 2, (2, 0): 1, (1, 2): 1}
    assert topo.subgoal((1, 2)) == (2, 2)  # one hop, against three to (2, 0)
    assert topo.subgoal((2, 1)) == (2, 0)  # both one hop: (2, 0) has fewer visits
    assert topo.subgoal((2, 2)) == (1, 2)  # one hop; (2, 0) is two
    with_rare = TopologicalMap(neighbours=GridNeighbours(FREE), min_visits=2)
    for u, v in itertools.pairwise(PARTIAL):
        with_rare.add_transition(u, v)
    assert with_rare.frontier() == [(2, 2), (2, 0), (1, 2)]  # the rare ones already are


@pytest.mark.parametrize("seed", range(8))
def test_frontier_matches_its_definition_on_random_partial_walks(seed):
    cells = random_walk(20, seed=seed)
    topo = TopologicalMap(neighbours=GridNeighbours(FREE), min_visits=0)
    for u, v in itertools.pairwise(cells):
        topo.add_transition(u, v)
    graph = grid_graph(FREE)
    expected = [v for v in dict.fromkeys(cells) if any(w not in cells for w in graph[v])]
    assert topo.frontier() == expected
    current = cells[-1]
    goal = topo.subgoal(current)
    others = [v for v in expected if v != current]
    if not others:
        assert goal is None
    else:
        hops = bfs_distances(topo.adjacency, current)
        assert goal in others and hops[goal] == min(hops[v] for v in others)


def test_low_visit_frontier_and_tie_breaks():
    line = {0: [1], 1: [0, 2], 2: [1]}
    assert frontier_nodes(line, {0: 1, 1: 3, 2: 1}, min_visits=2) == [0, 2]
    assert frontier_nodes(line, {0: 1, 1: 3, 2: 1}, min_visits=1) == []
    # equal hops and visits: the node discovered first (first in ``visits``)
    assert nearest_subgoal(line, {1: 3, 2: 1, 0: 1}, [0, 2], current=1) == 2
    assert nearest_subgoal(line, {1: 3, 0: 1, 2: 1}, [0, 2], current=1) == 0
    assert nearest_subgoal(line, {0: 1, 1: 1, 2: 1}, [1], current=1) is None
    assert nearest_subgoal({0: [], 1: []}, {0: 1, 1: 1}, [1], current=0) is None  # unreachable


def test_frontier_cache_follows_new_nodes_and_visits():
    topo = TopologicalMap(min_visits=2)
    topo.add_transition("a", "b")
    assert topo.frontier() == ["a", "b"]
    topo.add_transition("b", "a")
    assert topo.frontier() == ["b"]
    topo.add_transition("a", "c")
    assert topo.frontier() == ["b", "c"]


# -- the bonus -----------------------------------------------------------------------------------


def test_bonus_by_hand_on_a_short_trajectory():
    bonus = TopoNavBonus(
        subgoal_bonus=1.0,
        new_node_bonus=0.5,
        key_fn=cell_of,
        neighbours=GridNeighbours(FREE),
        min_visits=0,
    )
    cells = [*PARTIAL, (2, 2)]  # ... (1, 2) -> (2, 2), which ends the episode
    batch = steps_of(cells, ended=[5])
    # a step with no position, then a new episode from (2, 2)
    batch = {
        "obs": np.vstack([batch["obs"], [[np.nan, np.nan], [2.0, 2.0]]]),
        "next_obs": np.vstack([batch["next_obs"], [[2.0, 2.0], [2.0, 3.0]]]),
        "terminated": np.append(batch["terminated"], [False, False]),
        "truncated": np.append(batch["truncated"], [False, False]),
    }
    expected = [
        0.5,  # (2,2)->(2,1): new; (2,2) had no other frontier node, so no subgoal
        0.5,  # (2,1)->(2,0): new; the subgoal is (2,2), one hop from (2,1)
        0.0,  # (2,0)->(2,1): seen before; still heading for (2,2)
        1.0,  # (2,1)->(2,2): reached the subgoal
        0.5,  # (2,2)->(1,2): new; the next subgoal is (2,0), the only other frontier node
        0.0,  # (1,2)->(2,2): episode ends before (2,0) is reached; the subgoal is dropped
        np.nan,  # no position: not applicable
        0.5,  # (2,2)->(2,3): new; the subgoal is (1,2), one hop (against two to (2,0))
    ]
    out = bonus(batch)
    np.testing.assert_array_equal(out.total, expected)
    assert out.status.tolist() == [0, 0, 0, 0, 0, 0, Status.NOT_APPLICABLE, 0]
    assert len(bonus.map) == 0  # scoring left the map alone
    metrics = bonus.update(batch)
    # nodes (2,2) (2,1) (2,0) (1,2) (2,3); frontier (2,0) (1,2) (2,3)
    assert metrics == {
        "nodes": 5.0,
        "edges": 4.0,
        "frontier": 3.0,
        "new_nodes": 4.0,
        "subgoals_reached": 1.0,
    }
    assert bonus._subgoals == {0: (1, 2)}  # the last subgoal, not yet reached


def test_bonus_keeps_one_subgoal_per_env():
    corridor = np.ones((1, 5), bool)
    bonus = TopoNavBonus(
        new_node_bonus=0.5, key_fn=cell_of, neighbours=GridNeighbours(corridor), min_visits=0
    )
    batch = {
        "obs": np.array([[0, 2], [0, 2], [0, 1], [0, 3], [0, 2], [0, 2]], float),
        "next_obs": np.array([[0, 1], [0, 3], [0, 2], [0, 2], [0, 1], [0, 3]], float),
        "terminated": np.zeros(6, bool),
        "truncated": np.zeros(6, bool),
        "env": [0, 1, 0, 1, 1, 0],
    }
    # env 1 aims at (0, 1) from (0, 2); env 0, back at (0, 1), aims at (0, 3); each gets its own
    np.testing.assert_array_equal(bonus(batch).total, [0.5, 0.5, 0.0, 0.0, 1.0, 1.0])


def test_default_keys_and_the_scale():
    batch = {
        "obs": ["hall", "kitchen", None],
        "next_obs": ["kitchen", "hall", "hall"],
        "terminated": [False] * 3,
        "truncated": [False] * 3,
    }
    small = TopoNavBonus(subgoal_bonus=0.2, new_node_bonus=0.1)
    np.testing.assert_allclose(small(batch).total, [0.1, 0.2, np.nan])
    assert node_keys(np.array([[1, 2], [3, 4]])) == [(1, 2), (3, 4)]
    assert node_keys([[0.0, np.inf], 7]) == [None, 7]
    np.testing.assert_array_equal(
        toponav_bonus([True, False], [True, True], new_node_bonus=2.0, subgoal_bonus=3.0), [5, 3]
    )


def test_update_then_scoring_again_pays_only_what_is_left():
    bonus = TopoNavBonus(key_fn=cell_of, neighbours=GridNeighbours(FREE), min_visits=0)
    batch = steps_of(PARTIAL)
    first = bonus(batch).total
    np.testing.assert_array_equal(bonus(batch).total, first)  # __call__ changes nothing
    bonus.update(batch)
    # no node is new any more; the subgoal (2, 0) chosen in the first pass is still held,
    # reached at step 1; then (2, 2) (two hops, against three to (1, 2)), then (1, 2)
    np.testing.assert_array_equal(bonus(batch).total, [0.0, 1.0, 0.0, 1.0, 1.0])
    bonus.reset()
    assert bonus._subgoals == {}


def test_pickling_the_map_and_the_term():
    bonus = TopoNavBonus(key_fn=cell_of, neighbours=GridNeighbours(FREE), min_visits=0)
    batch = steps_of(random_walk(40, seed=3))
    bonus.update(batch)
    clone = pickle.loads(pickle.dumps(bonus))
    assert clone.map.edges == bonus.map.edges and clone.map.visits == bonus.map.visits
    np.testing.assert_array_equal(clone(batch).total, bonus(batch).total)
    topo = pickle.loads(pickle.dumps(bonus.map))
    assert topo.frontier() == bonus.map.frontier()


def test_registered_and_passes_the_shared_contract():
    params = {"new_node_bonus": 0.5}
    batch = {
        "obs": [[0.0, 1.0], [1.0, 1.0], [2.0, 0.0]],
        "next_obs": [[1.0, 1.0], [2.0, 0.0], [3.0, 0.0]],
        "terminated": [False, False, True],
        "truncated": [False, False, False],
    }
    term = build_reward({"term": "toponav_bonus", **params})
    out = term(batch)
    assert out.total.shape == (3,) and out.total.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(out.total), out.status != Status.OK)
    assert term.name in out.terms
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(term))(batch).total, out.total)
    assert check_reward(term, batch, warn=False).passed
    assert build_reward({"term": "toponav_bonus", **params, "name": "renamed"}).name == "renamed"


# -- errors --------------------------------------------------------------------------------------


def test_errors_say_what_is_wrong():
    topo = TopologicalMap()
    topo.add_transition("a", "b")
    with pytest.raises(UnknownNodeError, match="not in the map"):
        topo.shortest_path("a", "z")
    with pytest.raises(UnknownNodeError):
        topo.subgoal("z")
    assert issubclass(UnknownNodeError, RewardKitError) and issubclass(UnknownNodeError, KeyError)
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ConfigurationError, match="min_visits"):
            TopologicalMap(min_visits=bad)
    with pytest.raises(ConfigurationError, match="frontier"):
        TopologicalMap(min_visits=0)
    with pytest.raises(ConfigurationError, match="neighbours"):
        TopologicalMap(neighbours=[(0, 1)])
    with pytest.raises(ConfigurationError, match="min_visits"):
        frontier_nodes({0: []}, {0: 1}, min_visits=-1)
    with pytest.raises(ShapeError, match="2-D"):
        grid_graph(np.ones(5, bool))
    with pytest.raises(ConfigurationError, match=r"\(row, col\)"):
        GridNeighbours(FREE)("hall")
    with pytest.raises(ConfigurationError, match=r"\(row, col\)"):
        GridNeighbours(FREE)((1.5, 2))
    with pytest.raises(ShapeError, match="one length"):
        toponav_bonus([True, False], [True])
    with pytest.raises(BatchError, match="not hashable"):
        node_keys([1, 2], key_fn=lambda obs: [obs])
    for bonus in (np.nan, True, np.inf):
        with pytest.raises(ConfigurationError, match="finite"):
            TopoNavBonus(subgoal_bonus=bonus)
    with pytest.raises(ConfigurationError, match="key_fn"):
        TopoNavBonus(key_fn="cell")
    with pytest.raises(MissingColumnError, match="terminated"):
        TopoNavBonus()({"obs": [0], "next_obs": [1], "truncated": [False]})
    with pytest.raises(BatchError, match="one flag per step"):
        TopoNavBonus()(
            {"obs": [0], "next_obs": [1], "terminated": [[False, False]], "truncated": [[False]]}
        )
