"""Token-level credit from the prefix tree of a group of completions.

The G completions sampled for one prompt share prefixes; merged, they form a
prefix tree whose root is the prompt. Each node is a prefix s; its value
V(s) is the mean outcome of the completions that pass through it (P2T,
"Prefix-to-Tree"). Values need no critic: they are averages of observed
outcomes.

- :func:`tempo_advantages` (Tran, Yao & Yu 2025, "Exploiting Tree Structure
  for Credit Assignment in RL Training of LLMs"): the GRPO advantage of the
  completion plus a temporal-difference correction δ_t = V(s_{t+1}) − V(s_t)
  gated to branching tokens (tokens chosen at a node with more than one
  continuation). Elsewhere δ is zero and TEMPO equals GRPO. The root (the
  prompt) is not gated in: its TD term would only repeat the GRPO signal.
- :func:`sibling_advantages` (V-STAR's Sibling-GRPO): at each branching node
  the chosen child is compared with its siblings, (V(c) − mean) / std over the
  siblings; each token carries the advantage of the last branch decision
  above it.

Example:
    >>> sequences = [[1, 2, 3], [1, 2, 4], [1, 5, 6], [7, 8, 9]]
    >>> rewards = [1.0, 0.0, 1.0, 0.0]
    >>> for advantages in tempo_advantages(sequences, rewards):
    ...     print(advantages.round(3))
    [0.866 0.577 1.732]
    [-0.866 -1.155 -1.732]
    [0.866 1.443 0.866]
    [-0.866 -0.866 -0.866]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardkit.core.errors import ShapeError
from rewardkit.credit._arrays import FloatArray, as_float_array
from rewardkit.credit.group import grpo_advantages

__all__ = ["PrefixTree", "build_prefix_tree", "sibling_advantages", "tempo_advantages"]


@dataclass
class PrefixTree:
    """The prefix tree of a group of token sequences.

    Attributes:
        parent: parent node of each node (-1 for the root, node 0).
        children: child nodes of each node, keyed by token.
        ends: number of sequences that end at each node.
        total, count: sum and number of outcomes through each node.
        paths: for each sequence, the node reached after each of its tokens.
    """

    parent: list[int] = field(default_factory=lambda: [-1])
    children: list[dict[int, int]] = field(default_factory=lambda: [{}])
    ends: list[int] = field(default_factory=lambda: [0])
    total: list[float] = field(default_factory=lambda: [0.0])
    count: list[int] = field(default_factory=lambda: [0])
    paths: list[list[int]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.parent)

    def value(self) -> FloatArray:
        """V(s): mean outcome of the sequences through each node."""
        count = np.asarray(self.count, dtype=np.float64)
        values: FloatArray = np.asarray(self.total) / np.maximum(count, 1.0)
        return values

    def branching(self) -> np.ndarray:
        """True for nodes with more than one continuation (a child or an end)."""
        return np.array(
            [len(c) + (e > 0) > 1 for c, e in zip(self.children, self.ends, strict=True)]
        )


def build_prefix_tree(sequences: Sequence[Sequence[int]], outcomes: Any) -> PrefixTree:
    """Merge ``sequences`` into a prefix tree with outcome statistics (P2T).

    Example:
        >>> tree = build_prefix_tree([[1, 2], [1, 3]], [1.0, 0.0])
        >>> tree.size, tree.value().tolist(), tree.branching().tolist()
        (4, [0.5, 0.5, 1.0, 0.0], [False, True, False, False])
    """
    values = as_float_array(outcomes, "outcomes")
    if values.shape != (len(sequences),):
        raise ShapeError(f"{len(sequences)} sequences but outcomes of shape {values.shape}")
    if np.any(~np.isfinite(values)):
        raise ShapeError("outcomes must be finite; drop not-applicable samples first")
    tree = PrefixTree()
    for sequence, outcome in zip(sequences, values, strict=True):
        node = 0
        tree.total[0] += outcome
        tree.count[0] += 1
        path = []
        for token in sequence:
            token = int(token)
            child = tree.children[node].get(token)
            if child is None:
                child = tree.size
                tree.children[node][token] = child
                tree.parent.append(node)
                tree.children.append({})
                tree.ends.append(0)
                tree.total.append(0.0)
                tree.count.append(0)
            node = child
            tree.total[node] += outcome
            tree.count[node] += 1
            path.append(node)
        tree.ends[node] += 1
        tree.paths.append(path)
    return tree


def _groups(n: int, group: Any) -> list[np.ndarray]:
    if group is None:
        return [np.arange(n)]
    labels = np.asarray(group)
    if labels.shape != (n,):
        raise ShapeError(f"group has shape {labels.shape}, expected ({n},)")
    return [np.flatnonzero(labels == g) for g in dict.fromkeys(labels.tolist())]


def tempo_advantages(
    sequences: Sequence[Sequence[int]],
    rewards: Any,
    group: Any = None,
    *,
    td_weight: float = 1.0,
    epsilon: float = 1e-6,
) -> list[FloatArray]:
    """TEMPO token advantages: A_{i,t} = Â_i + w · 1[branch(s_t)] · (V(s_{t+1}) − V(s_t)).

    Â_i is the GRPO advantage (group mean/std normalized outcome) and V is
    the prefix-tree mean of Â over the completions through a prefix, so the
    TD term is on the same scale. Branching nodes are internal nodes (not the
    prompt) with more than one continuation.

    Args:
        sequences: completion token ids, one list per sample.
        rewards: outcome per sample, shape (N,).
        group: prompt id per sample; default: one group.
        td_weight: w, the weight of the TD correction.

    Returns:
        One float array per sample, of its length.
    """
    outcome = as_float_array(rewards, "rewards")
    n = len(sequences)
    if outcome.shape != (n,):
        raise ShapeError(f"{n} sequences but rewards of shape {outcome.shape}")
    groups = np.zeros(n, dtype=np.int64) if group is None else group
    normalized = np.asarray(grpo_advantages(outcome, groups, epsilon=epsilon))
    result: list[FloatArray] = [np.empty(0)] * n
    for members in _groups(n, group):
        tree = build_prefix_tree([sequences[i] for i in members], normalized[members])
        values, branching = tree.value(), tree.branching()
        branching[0] = False  # the prompt: its TD term would repeat the GRPO signal
        for local, index in enumerate(members):
            path = np.asarray(tree.paths[local], dtype=np.int64)
            before = np.concatenate([[0], path[:-1]]).astype(np.int64) if path.size else path
            td = np.where(branching[before], values[path] - values[before], 0.0)
            result[index] = normalized[index] + td_weight * td
    return result


def sibling_advantages(
    sequences: Sequence[Sequence[int]],
    rewards: Any,
    group: Any = None,
    *,
    epsilon: float = 1e-6,
) -> list[FloatArray]:
    """Sibling-relative token advantages on the prefix tree (V-STAR's Sibling-GRPO).

    At a branching node p with children c_1..c_k, the choice of c_j has
    advantage (V(c_j) − mean_k V(c)) / (std_k V(c) + ε), V the mean raw
    reward through a node. A token inherits the advantage of the most recent
    branch decision on its path (the root's children compare first tokens,
    as GRPO compares whole completions); tokens before any branch get 0.

    Example:
        >>> sequences = [[1, 2], [1, 3], [4, 5]]
        >>> [a.round(3).tolist() for a in sibling_advantages(sequences, [1.0, 0.0, 0.0])]
        [[0.707, 0.707], [0.707, -0.707], [-0.707, -0.707]]
    """
    outcome = as_float_array(rewards, "rewards")
    n = len(sequences)
    if outcome.shape != (n,):
        raise ShapeError(f"{n} sequences but rewards of shape {outcome.shape}")
    result: list[FloatArray] = [np.empty(0)] * n
    for members in _groups(n, group):
        tree = build_prefix_tree([sequences[i] for i in members], outcome[members])
        values = tree.value()
        choice = np.zeros(tree.size)  # advantage of choosing each node among its siblings
        for node in range(tree.size):
            kids = list(tree.children[node].values())
            if len(kids) < 2:
                continue
            kid_values = values[kids]
            std = kid_values.std(ddof=1) if len(kids) > 1 else 0.0
            choice[kids] = (kid_values - kid_values.mean()) / (std + epsilon)
        for local, index in enumerate(members):
            carried, advantages = 0.0, []
            previous = 0
            for node in tree.paths[local]:
                if len(tree.children[previous]) >= 2:
                    carried = float(choice[node])
                advantages.append(carried)
                previous = node
            result[index] = np.asarray(advantages, dtype=np.float64)
    return result
