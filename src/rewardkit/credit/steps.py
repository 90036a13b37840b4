"""Step-level credit: turning points (TP-GRPO) and prefix retention (PPPO).

Example:
    >>> turning_points([0.2, 0.1, -0.3, -0.1, 0.4])
    array([False, False,  True, False,  True])
    >>> turning_point_credit([0.2, 0.1, -0.3, -0.1, 0.4])
    array([ 0.2,  0.1, -0.4, -0.1,  0.4])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import ShapeError
from rewardkit.credit._arrays import FloatArray, as_float_array

__all__ = [
    "continuation_accumulated_reward",
    "prefix_retention_lengths",
    "turning_point_credit",
    "turning_points",
]


def _steps(values: Any) -> FloatArray:
    array = as_float_array(values, "incremental rewards")
    if array.ndim != 1:
        raise ShapeError(f"incremental rewards must have shape (T,), got {array.shape}")
    return array


def turning_points(incremental: Any) -> npt.NDArray[np.bool_]:
    """Steps where the sign of the incremental reward flips (zeros carry the last sign).

    A turning point is where a reasoning trajectory changes direction: from
    making progress to losing it, or back (TP-GRPO). The first step is never
    a turning point.
    """
    steps = _steps(incremental)
    signs = np.sign(steps)
    last = 0.0
    flags = np.zeros(steps.shape, dtype=bool)
    for t, sign in enumerate(signs):
        if sign == 0:
            continue
        if last != 0 and sign != last:
            flags[t] = True
        last = sign
    return flags


def turning_point_credit(incremental: Any) -> FloatArray:
    """Step credit for TP-GRPO: a turning point receives the aggregated long-term reward.

    Ordinary steps keep their incremental reward Δ_t. A turning point t gets
    Σ Δ_k over the segment it starts, from t to the step before the next
    turning point (or the end): the change of direction is credited with the
    whole consequence of that direction, not only its first step.
    """
    steps = _steps(incremental)
    flags = turning_points(steps)
    credit = steps.copy()
    starts = np.flatnonzero(flags)
    ends = np.append(starts[1:], steps.size)
    for start, end in zip(starts, ends, strict=True):
        credit[start] = steps[start:end].sum()
    return credit


def prefix_retention_lengths(
    lengths: Any,
    step: int,
    total_steps: int,
    *,
    start_fraction: float = 0.2,
    end_fraction: float = 1.0,
    min_tokens: int = 1,
) -> npt.NDArray[np.int64]:
    """Tokens to train per completion under progressive prefix retention (PPPO).

    "Well Begun, Half Done" (PPPO) trains only a leading fraction of each
    completion, growing linearly from ``start_fraction`` at step 0 to
    ``end_fraction`` at ``total_steps``: early tokens set the course of a
    reasoning chain, so they are learned first. Each completion keeps
    ⌈fraction · length⌉ tokens (at least ``min_tokens``).

    Example:
        >>> prefix_retention_lengths([10, 3, 0], step=0, total_steps=100).tolist()
        [2, 1, 0]
        >>> prefix_retention_lengths([10, 3], step=100, total_steps=100).tolist()
        [10, 3]
    """
    n_tokens = np.asarray(lengths, dtype=np.int64)
    if total_steps <= 0:
        raise ShapeError("total_steps must be positive")
    if not 0.0 < start_fraction <= end_fraction <= 1.0:
        raise ShapeError("need 0 < start_fraction <= end_fraction <= 1")
    progress = min(max(step / total_steps, 0.0), 1.0)
    fraction = start_fraction + (end_fraction - start_fraction) * progress
    keep = np.array([math.ceil(fraction * n - 1e-9) for n in n_tokens], dtype=np.int64)
    return np.minimum(n_tokens, np.maximum(keep, np.minimum(min_tokens, n_tokens)))


def continuation_accumulated_reward(continuation_rewards: Any) -> FloatArray:
    """PPPO's prefix reward: the mean reward of several continuations of each prefix.

    Args:
        continuation_rewards: shape (N, K), rewards of K sampled continuations
            of each of N prefixes. NaN (not applicable) entries are skipped;
            a prefix with none left gets NaN.
    """
    rewards = as_float_array(continuation_rewards, "continuation_rewards")
    if rewards.ndim != 2:
        raise ShapeError(f"expected shape (N, K), got {rewards.shape}")
    valid = ~np.isnan(rewards)
    totals = np.where(valid, rewards, 0.0).sum(axis=1)
    counts = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means: FloatArray = np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)
    return means
