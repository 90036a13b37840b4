"""A topological map of the places an agent has been: nodes, edges, frontier, subgoals.

TopoNav (Hossain, Faridee, Roy, Freeman, Gregory & Trout 2024, "TopoNav:
Topological Navigation for Efficient Exploration in Sparse Reward
Environments", arXiv:2402.04061) builds a graph G = (V, E) while it explores:
a node per distinct place (in the paper, a landmark its detector has not
seen before), an edge per navigable path between two places. Its high-level
policy (h-DQN's meta-controller, Kulkarni et al. 2016) picks the next
subgoal, a node of G, steering toward frontier nodes and, among landmarks at
similar distances, toward the novel (less visited) ones.

Here a node is any hashable key (a discretised position, a room id), and the
map is learned from transitions: a node when a key is first seen, an
undirected edge for each step between two distinct keys. With N(v) the
visits to v and C(v) an optional set of possible neighbours of v (e.g. the
free cells next to a grid cell, :class:`GridNeighbours`):

    frontier  F = {v ∈ V : some w ∈ C(v) is not in V} ∪ {v ∈ V : N(v) < m}
    subgoal   g(u) = argmin over v ∈ F \\ {u} reachable from u of
                     (d_G(u, v), N(v), order of discovery)

d_G is the BFS hop distance. TopoNav-style: the paper learns its landmarks
and its subgoal choice; these fixed rules (the nearest frontier node, ties to
the less visited, then the older) are ours, the closest we could make to its
description (its equations were not available to us).
:class:`~rewardkit.explore.toponav.TopoNavBonus` pays the reward over this map.

Example:
    >>> topo = TopologicalMap(min_visits=3)
    >>> walk = ["hall", "kitchen", "hall", "kitchen", "hall", "garden"]
    >>> for u, v in zip(walk, walk[1:]):
    ...     _ = topo.add_transition(u, v)
    >>> topo.visits
    {'hall': 3, 'kitchen': 2, 'garden': 1}
    >>> topo.shortest_path("kitchen", "garden"), topo.frontier()
    (['kitchen', 'hall', 'garden'], ['kitchen', 'garden'])
    >>> topo.subgoal("hall")   # both 1 hop away: garden was visited less
    'garden'
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError, RewardKitError, ShapeError

__all__ = [
    "GridNeighbours",
    "TopologicalMap",
    "UnknownNodeError",
    "bfs_distances",
    "frontier_nodes",
    "grid_graph",
    "nearest_subgoal",
    "shortest_path",
]

#: node → its neighbours in the map
Adjacency = Mapping[Hashable, Iterable[Hashable]]
#: C: node → the nodes that may be next to it
Neighbours = Callable[[Hashable], Iterable[Hashable]]


class UnknownNodeError(RewardKitError, KeyError):
    """A node asked about is not in the topological map."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def _known(adjacency: Adjacency, node: Hashable) -> None:
    if node not in adjacency:
        raise UnknownNodeError(
            f"node {node!r} is not in the map ({len(adjacency)} nodes); "
            "add it with add()/add_transition() first, or check the key"
        )


# -- graph functions -----------------------------------------------------------------------------


def bfs_distances(adjacency: Adjacency, source: Hashable) -> dict[Hashable, int]:
    """d_G(source, v), the fewest edges from ``source`` to each node it reaches, in BFS order.

    Raises:
        UnknownNodeError: if ``source`` is not a node.

    Example:
        >>> bfs_distances({"a": ["b"], "b": ["a", "c"], "c": ["b"], "d": []}, "a")
        {'a': 0, 'b': 1, 'c': 2}
    """
    _known(adjacency, source)
    distances = {source: 0}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        for nxt in adjacency[node]:
            if nxt not in distances:
                distances[nxt] = distances[node] + 1
                queue.append(nxt)
    return distances


def shortest_path(adjacency: Adjacency, start: Hashable, goal: Hashable) -> list[Hashable] | None:
    """A fewest-edges path ``[start, ..., goal]`` by breadth-first search; ``None`` if
    ``goal`` cannot be reached. Among equally short paths, the one whose nodes come
    first in the adjacency lists.

    Raises:
        UnknownNodeError: if ``start`` or ``goal`` is not a node.

    Example:
        >>> square = {0: [1, 3], 1: [0, 2], 2: [1, 3], 3: [2, 0]}
        >>> shortest_path(square, 0, 2), shortest_path(square, 1, 1)
        ([0, 1, 2], [1])
    """
    _known(adjacency, start)
    _known(adjacency, goal)
    parent: dict[Hashable, Hashable] = {start: start}
    queue = deque([start])
    while queue and goal not in parent:
        node = queue.popleft()
        for nxt in adjacency[node]:
            if nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    if goal not in parent:
        return None
    path = [goal]
    while path[-1] != start:
        path.append(parent[path[-1]])
    return path[::-1]


def frontier_nodes(
    adjacency: Adjacency,
    visits: Mapping[Hashable, int],
    neighbours: Neighbours | None = None,
    min_visits: int = 0,
) -> list[Hashable]:
    """F = {v : some w ∈ C(v) is not a node} ∪ {v : N(v) < m}, in the order of ``adjacency``.

    Args:
        adjacency: node → its neighbours in the map.
        visits: node → N(v), its visits.
        neighbours: C, node → the nodes that may be next to it (``None``: that half of
            the rule is off).
        min_visits: m; a node visited fewer times is a frontier node (0: that half is off).

    Example:
        >>> line = {0: [1], 1: [0, 2], 2: [1]}
        >>> frontier_nodes(line, {0: 5, 1: 1, 2: 3}, min_visits=2)
        [1]
        >>> frontier_nodes(line, {0: 5, 1: 1, 2: 3}, neighbours=lambda v: [v - 1, v + 1])
        [0, 2]
    """
    if min_visits < 0:
        raise ConfigurationError(f"min_visits must be >= 0, got {min_visits}")
    return [
        node
        for node in adjacency
        if visits.get(node, 0) < min_visits
        or (neighbours is not None and any(w not in adjacency for w in neighbours(node)))
    ]


def nearest_subgoal(
    adjacency: Adjacency,
    visits: Mapping[Hashable, int],
    candidates: Iterable[Hashable],
    current: Hashable,
) -> Hashable | None:
    """g(u): among ``candidates`` other than ``current`` and reachable from it, the fewest
    hops away; ties go to the fewer visits N(v), then to the node first in ``visits``
    (discovered first). ``None`` when there is none.

    Example:
        >>> line = {0: [1], 1: [0, 2], 2: [1]}
        >>> nearest_subgoal(line, {0: 4, 1: 1, 2: 2}, [0, 1, 2], current=1)
        2
    """
    _known(adjacency, current)
    wanted = {node for node in candidates if node != current}
    if not wanted:
        return None
    layer, seen = [current], {current}
    while layer:
        found = [node for node in layer if node in wanted]
        if found:
            order = {node: i for i, node in enumerate(visits)}
            return min(found, key=lambda v: (visits.get(v, 0), order.get(v, len(order))))
        following = []
        for node in layer:
            for nxt in adjacency[node]:
                if nxt not in seen:
                    seen.add(nxt)
                    following.append(nxt)
        layer = following
    return None


def grid_graph(free: Any) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """The 4-connected graph of a grid's free cells: (row, col) → free cells up, down,
    left and right of it. The true topological map of a grid maze.

    Raises:
        ShapeError: if ``free`` is not a 2-D array.

    Example:
        >>> grid_graph(np.array([[True, True], [False, True]]))
        {(0, 0): [(0, 1)], (0, 1): [(1, 1), (0, 0)], (1, 1): [(0, 1)]}
    """
    mask = np.asarray(free, dtype=bool)
    if mask.ndim != 2:
        raise ShapeError(f"free must be a 2-D (rows, cols) array of booleans, got {mask.shape}")
    rows, cols = mask.shape
    graph: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for r, c in zip(*np.nonzero(mask), strict=True):
        cell = (int(r), int(c))
        graph[cell] = [
            (cell[0] + dr, cell[1] + dc)
            for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
            if 0 <= cell[0] + dr < rows and 0 <= cell[1] + dc < cols and mask[r + dr, c + dc]
        ]
    return graph


class GridNeighbours:
    """C(v) for grid cells: the free cells up, down, left and right of a (row, col) key.

    Picklable (it holds the mask), so a term using it pickles. Pass all-True for a
    grid whose walls are not known in advance (every cell next to a wall then stays
    a frontier node).

    Example:
        >>> GridNeighbours(np.array([[True, True], [False, True]]))((0, 1))
        [(1, 1), (0, 0)]
    """

    def __init__(self, free: Any) -> None:
        self.graph = grid_graph(free)
        self.shape = np.asarray(free).shape

    def __call__(self, key: Hashable) -> list[tuple[int, int]]:
        cell: tuple[int, int] | None = None
        if isinstance(key, tuple) and len(key) == 2:
            try:
                cell = (int(key[0]), int(key[1]))
            except (TypeError, ValueError):
                cell = None
        if cell is None or cell != key:
            raise ConfigurationError(
                f"GridNeighbours takes (row, col) keys of integers, got {key!r}; "
                "give the term a key_fn that maps an observation to its cell"
            )
        return list(self.graph.get(cell, []))


# -- the map -------------------------------------------------------------------------------------


class TopologicalMap:
    """G = (V, E) learned from transitions, with visit counts; thin state over the graph
    functions above. A node's visits count the steps that end at it (and 1 when it is
    first seen as the place a step starts from).

    Args:
        neighbours: C, node → the nodes that may be next to it; a node with a possible
            neighbour not yet in the map is a frontier node. Must pickle for the map to.
        min_visits: m; a node visited fewer times is a frontier node (0: off).
    """

    def __init__(self, neighbours: Neighbours | None = None, min_visits: int = 2) -> None:
        if neighbours is not None and not callable(neighbours):
            raise ConfigurationError("neighbours must be a callable node -> iterable of nodes")
        try:
            count = operator.index(min_visits)
        except TypeError:
            count = -1
        if count < 0 or isinstance(min_visits, bool):
            raise ConfigurationError(f"min_visits must be an integer >= 0, got {min_visits!r}")
        if neighbours is None and count == 0:
            raise ConfigurationError(
                "with neither neighbours nor min_visits no node is ever a frontier node: "
                "give a neighbours function or min_visits >= 1"
            )
        self.neighbours, self.min_visits = neighbours, count
        self.adjacency: dict[Hashable, dict[Hashable, None]] = {}  # ordered sets
        self.visits: dict[Hashable, int] = {}
        self._frontier: list[Hashable] | None = None

    def __len__(self) -> int:
        return len(self.visits)

    def __contains__(self, node: object) -> bool:
        return node in self.visits

    @property
    def nodes(self) -> list[Hashable]:
        """V, in the order the nodes were discovered."""
        return list(self.visits)

    @property
    def edges(self) -> set[frozenset[Hashable]]:
        """E, each undirected edge as the frozenset of its two ends."""
        return {frozenset((u, v)) for u, nxt in self.adjacency.items() for v in nxt}

    def add(self, node: Hashable) -> bool:
        """Add ``node`` with one visit if it is new; say whether it was."""
        if node in self.visits:
            return False
        self.adjacency[node], self.visits[node] = {}, 1
        self._frontier = None
        return True

    def add_transition(self, node: Hashable, next_node: Hashable) -> bool:
        """Record a step ``node`` → ``next_node``: both become nodes, ``next_node`` gets a
        visit, and two distinct ones an edge. Returns whether ``next_node`` was new."""
        self.add(node)
        new = next_node not in self.visits
        if new:
            self.add(next_node)
        else:
            self.visits[next_node] += 1
            if self.visits[next_node] == self.min_visits:
                self._frontier = None  # it leaves the rarely visited
        if next_node != node and next_node not in self.adjacency[node]:
            self.adjacency[node][next_node] = None
            self.adjacency[next_node][node] = None
        return new

    def frontier(self) -> list[Hashable]:
        """F (see the module docs), in the order of discovery."""
        if self._frontier is None:  # C is assumed fixed: F changes only as V or N does
            self._frontier = frontier_nodes(
                self.adjacency, self.visits, self.neighbours, self.min_visits
            )
        return list(self._frontier)

    def shortest_path(self, start: Hashable, goal: Hashable) -> list[Hashable] | None:
        """A fewest-edges path between two nodes (BFS); ``None`` if there is none."""
        return shortest_path(self.adjacency, start, goal)

    def subgoal(self, current: Hashable) -> Hashable | None:
        """g(u): the nearest frontier node other than ``current`` (ties: fewer visits,
        then older); ``None`` when no frontier node is reachable."""
        return nearest_subgoal(self.adjacency, self.visits, self.frontier(), current)

    def copy(self) -> TopologicalMap:
        """An independent copy (the neighbours function is shared)."""
        clone = TopologicalMap.__new__(TopologicalMap)
        clone.neighbours, clone.min_visits = self.neighbours, self.min_visits
        clone.adjacency = {node: dict(nxt) for node, nxt in self.adjacency.items()}
        clone.visits = dict(self.visits)
        clone._frontier = None if self._frontier is None else list(self._frontier)
        return clone
