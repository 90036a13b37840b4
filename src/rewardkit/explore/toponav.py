"""TopoNav-style intrinsic reward: reach the map's subgoal, find new places.

TopoNav (Hossain et al. 2024, arXiv:2402.04061) pays its low-level policy an
intrinsic reward for reaching the subgoal, a node of its topological map,
that its high-level policy chose (h-DQN, Kulkarni et al. 2016, pays 1 on
reaching the goal, else 0), and so steers exploration to the map's frontier.
:class:`TopoNavBonus` learns a :class:`~rewardkit.explore.topology.TopologicalMap`
from the steps it scores, keeps one subgoal g_t per env (the nearest frontier
node, see that module), and pays

    r_t = β_goal · [s_{t+1} = g_t] + β_new · [s_{t+1} ∉ V_t],

V_t the map's nodes before step t. The subgoal is chosen when a step starts
without one, and dropped when reached or when its episode ends (terminated or
truncated). A step whose node key is unknown (``None``, or a non-finite
observation) is not applicable (NaN) and leaves the map and subgoal alone.

TopoNav-style, not TopoNav: the paper's nodes are landmarks from a learned
detector and its subgoals come from a learned meta-controller; here nodes are
keys of observations and subgoals a fixed rule. The new-node bonus β_new is
ours (the paper rewards frontier exploration, in a form we could not read:
only its abstract and secondary summaries were available to us).

Example:
    >>> bonus = TopoNavBonus(subgoal_bonus=1.0, new_node_bonus=0.5)
    >>> steps = {"obs": [0, 1, 0], "next_obs": [1, 0, 1],
    ...          "terminated": [False] * 3, "truncated": [False] * 3}
    >>> bonus(steps).total   # new node 1; then the subgoals 0, then 1 (seen once each)
    array([0.5, 1. , 1. ])
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, batch_size, get_column
from rewardkit.core.errors import BatchError, ConfigurationError, ShapeError
from rewardkit.core.output import FloatArray
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.explore.topology import Neighbours, TopologicalMap

__all__ = ["TopoNavBonus", "node_keys", "toponav_bonus"]


def toponav_bonus(
    new_node: Any,
    reached: Any,
    new_node_bonus: float = 1.0,
    subgoal_bonus: float = 1.0,
    applicable: Any = None,
) -> FloatArray:
    """r_t = β_goal · [reached the subgoal] + β_new · [found a new node]; NaN where not
    ``applicable`` (default: everywhere applicable).

    Raises:
        ShapeError: unless the arrays are 1-D of one length.

    Example:
        >>> toponav_bonus([True, False, True], [False, True, True], 0.5, 1.0,
        ...               applicable=[True, True, False])
        array([0.5, 1. , nan])
    """
    new = np.asarray(new_node, dtype=bool)
    goal = np.asarray(reached, dtype=bool)
    ok = np.ones_like(new) if applicable is None else np.asarray(applicable, dtype=bool)
    if new.ndim != 1 or goal.shape != new.shape or ok.shape != new.shape:
        raise ShapeError(
            "new_node, reached and applicable must be 1-D of one length, got "
            f"{new.shape}, {goal.shape}, {ok.shape}"
        )
    values = subgoal_bonus * goal + new_node_bonus * new.astype(np.float64)
    result: FloatArray = np.where(ok, values, np.nan)
    return result


def _default_key(entry: Any) -> Hashable | None:
    array = np.asarray(entry)
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        return None
    if array.ndim == 0:
        item: Hashable | None = array.item()
        return item
    return tuple(array.ravel().tolist())


def node_keys(
    values: Iterable[Any], key_fn: Callable[[Any], Hashable | None] | None = None
) -> list[Hashable | None]:
    """One node key per entry: ``key_fn(entry)``, or by default the entry's values (a
    scalar, or a tuple of a row's values); ``None`` (or a non-finite row) is no key.

    Raises:
        BatchError: if a key is not hashable.

    Example:
        >>> node_keys(np.array([[1, 2], [3, 4]])), node_keys([0.5, float("nan"), "room"])
        ([(1, 2), (3, 4)], [0.5, None, 'room'])
    """
    keys = [(key_fn or _default_key)(entry) for entry in values]
    for key in keys:
        try:
            hash(key)
        except TypeError:
            raise BatchError(
                f"node key {key!r} is not hashable: make key_fn return a tuple, str or number"
            ) from None
    return keys


def _walk(
    topo: TopologicalMap,
    subgoals: dict[Hashable, Hashable | None],
    keys: tuple[Sequence[Hashable | None], Sequence[Hashable | None]],
    ended: Sequence[bool],
    envs: Sequence[Hashable],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Replay steps in order into ``topo`` and ``subgoals`` (env → current subgoal);
    return (found a new node, reached the subgoal, applicable) per step."""
    n = len(ended)
    new, reached, ok = np.zeros(n), np.zeros(n), np.zeros(n)
    for i, (u, v) in enumerate(zip(*keys, strict=True)):
        env = envs[i]
        if u is not None and v is not None:
            topo.add(u)
            if subgoals.get(env) is None:
                subgoals[env] = topo.subgoal(u)
            goal = subgoals[env]
            new[i], ok[i] = topo.add_transition(u, v), 1.0
            reached[i] = goal is not None and v == goal
            if reached[i]:
                subgoals[env] = None
        if ended[i]:
            subgoals.pop(env, None)
    return new, reached, ok


@register("toponav_bonus")
class TopoNavBonus(RewardTerm):
    """β_goal · [reached the subgoal] + β_new · [found a new node] over a learned
    :class:`TopologicalMap` (TopoNav-style; see the module docs).

    Reads ``obs`` and ``next_obs`` (or the columns named), ``terminated``,
    ``truncated`` and, for vector envs, ``env``; rows in time order (a rollout
    flattened time-major). Each env has its own subgoal, kept until reached or the
    episode ends; all envs share one map. ``__call__`` replays the batch on a copy
    of the map; ``update(batch)`` replays it for good.

    Args:
        subgoal_bonus: β_goal, paid on reaching the subgoal.
        new_node_bonus: β_new, paid on stepping onto a node not in the map.
        key_fn: observation → node key (hashable; ``None`` for no key); picklable.
            Default: the observation's own values.
        neighbours: C for the frontier rule (e.g. :class:`GridNeighbours`); picklable.
        min_visits: m for the frontier rule (0: off).
        column, next_column: where the observations before and after a step are.

    Example:
        >>> bonus = TopoNavBonus(new_node_bonus=0.5)
        >>> steps = {"obs": [0, 1, 0], "next_obs": [1, 0, 1],
        ...          "terminated": [False] * 3, "truncated": [False] * 3}
        >>> bonus.update(steps)
        {'nodes': 2.0, 'edges': 1.0, 'frontier': 0.0, 'new_nodes': 1.0, 'subgoals_reached': 2.0}
        >>> bonus(steps).total   # nothing new, and no frontier node left to aim at
        array([0., 0., 0.])
    """

    def __init__(
        self,
        subgoal_bonus: float = 1.0,
        new_node_bonus: float = 1.0,
        key_fn: Callable[[Any], Hashable | None] | None = None,
        neighbours: Neighbours | None = None,
        min_visits: int = 2,
        column: str = "obs",
        next_column: str = "next_obs",
        name: str = "toponav_bonus",
    ) -> None:
        super().__init__(name)
        bonuses = (subgoal_bonus, new_node_bonus)
        if any(isinstance(b, bool) or not np.isfinite(float(b)) for b in bonuses):
            raise ConfigurationError(
                f"subgoal_bonus and new_node_bonus must be finite numbers, got {bonuses}"
            )
        if key_fn is not None and not callable(key_fn):
            raise ConfigurationError("key_fn must be a callable observation -> hashable key")
        self.subgoal_bonus, self.new_node_bonus = float(subgoal_bonus), float(new_node_bonus)
        self.key_fn = key_fn
        self.map = TopologicalMap(neighbours, min_visits)
        self.columns = (column, next_column, "terminated", "truncated")
        self._subgoals: dict[Hashable, Hashable | None] = {}

    def _steps(
        self, batch: Batch
    ) -> tuple[tuple[list[Hashable | None], list[Hashable | None]], list[bool], list[Hashable]]:
        n = batch_size(batch)
        column, next_column, *_ = self.columns
        keys = (
            node_keys(get_column(batch, column), self.key_fn),
            node_keys(get_column(batch, next_column), self.key_fn),
        )
        ended = np.asarray(get_column(batch, "terminated"), dtype=bool) | np.asarray(
            get_column(batch, "truncated"), dtype=bool
        )
        if ended.shape != (n,):
            raise BatchError(
                f"terminated and truncated must be one flag per step, got shape {ended.shape}"
            )
        envs = np.asarray(batch["env"]).tolist() if "env" in batch else [0] * n
        return keys, ended.tolist(), envs

    def _score(
        self, batch: Batch, topo: TopologicalMap, subgoals: dict[Hashable, Hashable | None]
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        keys, ended, envs = self._steps(batch)
        return _walk(topo, subgoals, keys, ended, envs)

    def _compute(self, batch: Batch) -> FloatArray:
        new, reached, ok = self._score(batch, self.map.copy(), dict(self._subgoals))
        return toponav_bonus(new, reached, self.new_node_bonus, self.subgoal_bonus, ok)

    def update(self, batch: Batch) -> dict[str, float]:
        new, reached, _ = self._score(batch, self.map, self._subgoals)
        return {
            "nodes": float(len(self.map)),
            "edges": float(len(self.map.edges)),
            "frontier": float(len(self.map.frontier())),
            "new_nodes": float(new.sum()),
            "subgoals_reached": float(reached.sum()),
        }

    def reset(self) -> None:
        """Forget every env's subgoal (the map stays)."""
        self._subgoals.clear()
