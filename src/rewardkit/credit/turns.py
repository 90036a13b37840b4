"""Turn-level advantages for multi-turn episodes, as in IGPO.

Each episode i of a group has one reward per turn, r_{i,1..T} (IGPO: the
information gains of the turns and the outcome for the last). IGPO
(Wang et al. 2025, "Information Gain-based Policy Optimization", §3)
normalizes every turn reward of the group together,

    Â_{i,t} = (r_{i,t} − mean(R_g)) / (std(R_g) + ε),   R_g = {r_{j,k} : j in the group, all k},

and credits turn t with the discounted sum of the normalized rewards from
that turn on,

    A_{i,t} = Σ_{k ≥ t} γ^{k−t} Â_{i,k},

which every model token of turn t then carries. The environment's tokens
between turns carry nothing (the trainer masks them).

An episode whose outcome is NaN (not applicable) gets advantage 0 on every
turn and is left out of its group's statistics, as in the rest of ``credit/``.

Example:
    >>> rewards = np.array([[0.3, 1.0], [-0.1, 0.0]])  # two episodes of one group
    >>> turn_advantages(rewards, np.array([0, 0]), gamma=1.0).round(2).tolist()
    [[1.41, 1.41], [-1.41, -0.6]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.credit._arrays import FloatArray, as_float_array, check_epsilon

__all__ = ["turn_advantages", "turn_token_advantages"]


def turn_advantages(
    turn_rewards: Any, group: Any, gamma: float = 1.0, epsilon: float = 1e-6
) -> FloatArray:
    """IGPO's turn advantages (see the module docs).

    Args:
        turn_rewards: shape (N, T), one reward per turn of each episode; a row with a
            NaN is not applicable (advantage 0, left out of the statistics).
        group: shape (N,), the prompt id of each episode.
        gamma: the discount over turns, in [0, 1].
        epsilon: added to the group's standard deviation.

    Returns:
        shape (N, T).
    """
    rewards = as_float_array(turn_rewards, "turn_rewards")
    if rewards.ndim != 2 or rewards.shape[1] < 1:
        raise ShapeError(f"turn_rewards must have shape (N, T), got {rewards.shape}")
    labels = np.asarray(group)
    if labels.shape != (rewards.shape[0],):
        raise ShapeError(f"group has shape {labels.shape}, expected ({rewards.shape[0]},)")
    if np.any(np.isinf(rewards)):
        raise ShapeError("turn_rewards contain ±inf; clip them or mark the episode NaN")
    if not 0.0 <= gamma <= 1.0:
        raise ConfigurationError(f"gamma must be in [0, 1], got {gamma}")
    check_epsilon(epsilon)
    applicable = ~np.isnan(rewards).any(axis=1)
    normalized = np.zeros_like(rewards)
    for label in np.unique(labels):
        rows = (labels == label) & applicable
        if rows.sum() < 2:  # a lone episode has nothing to compare with
            continue
        values = rewards[rows]
        normalized[rows] = (values - values.mean()) / (values.std(ddof=1) + epsilon)
    advantages = np.zeros_like(normalized)
    running = np.zeros(rewards.shape[0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = normalized[:, t] + gamma * running
        advantages[:, t] = running
    return advantages


def turn_token_advantages(
    advantages: Any, turn_spans: Sequence[Sequence[tuple[int, int]]], lengths: Sequence[int]
) -> list[FloatArray]:
    """Per-token advantages: the tokens ``[start, end)`` of turn t of episode i carry
    ``advantages[i, t]``; every other token (the environment's) carries 0."""
    values = as_float_array(advantages, "advantages")
    if values.ndim != 2 or len(turn_spans) != values.shape[0] or len(lengths) != len(turn_spans):
        raise ShapeError(
            f"advantages {values.shape}, {len(turn_spans)} span lists and {len(lengths)} "
            "lengths must agree: one row per episode"
        )
    out = []
    for row, spans, length in zip(values, turn_spans, lengths, strict=True):
        if len(spans) != values.shape[1]:
            raise ShapeError(f"an episode has {len(spans)} turn spans, expected {values.shape[1]}")
        tokens = np.zeros(int(length))
        for value, (start, end) in zip(row, spans, strict=True):
            if not 0 <= start <= end <= length:
                raise ShapeError(f"turn span {(start, end)} is outside 0..{length}")
            tokens[start:end] = value
        out.append(tokens)
    return out
