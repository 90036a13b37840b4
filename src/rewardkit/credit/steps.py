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
    "ProgressiveRetention",
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


def continuation_accumulated_reward(
    continuation_rewards: Any, own_rewards: Any = None, *, reduce: str = "mean"
) -> FloatArray:
    """A prefix's reward from the rewards of K continuations sampled from it (PPPO).

    PPPO ("Well Begun, Half Done", arXiv:2512.15274) scores the prefix b_i of
    completion o_i by R_i = Σ_{j=1..K} r(b_i ⊕ c_j) + r(o_i): ``reduce="sum"``
    with ``own_rewards``. ``reduce="mean"`` averages instead (a Monte Carlo
    value of the prefix). NaN (not applicable) entries are left out: the mean
    is over the others, and the sum is that mean times the number of entries
    (never a 0 in place of the missing reward); a prefix with none left gets
    NaN.

    Args:
        continuation_rewards: shape (N, K).
        own_rewards: optional (N,), the reward of each original completion,
            counted as one more continuation.
        reduce: ``"mean"`` or ``"sum"``.

    Example:
        >>> continuation_accumulated_reward([[1.0, 0.0, 1.0]], [1.0], reduce="sum")
        array([3.])
        >>> continuation_accumulated_reward([[1.0, np.nan]])
        array([1.])
        >>> continuation_accumulated_reward([[1.0, np.nan]], [1.0], reduce="sum")
        array([3.])
    """
    rewards = as_float_array(continuation_rewards, "continuation_rewards")
    if rewards.ndim != 2:
        raise ShapeError(f"expected shape (N, K), got {rewards.shape}")
    if own_rewards is not None:
        own = as_float_array(own_rewards, "own_rewards")
        if own.shape != (rewards.shape[0],):
            raise ShapeError(f"own_rewards has shape {own.shape}, expected ({rewards.shape[0]},)")
        rewards = np.concatenate([rewards, own[:, None]], axis=1)
    if reduce not in ("mean", "sum"):
        raise ShapeError(f"reduce must be 'mean' or 'sum', got {reduce!r}")
    valid = ~np.isnan(rewards)
    totals = np.where(valid, rewards, 0.0).sum(axis=1)
    counts = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = totals / np.maximum(counts, 1)
        # a sum over K + 1 entries with some not applicable: scale the mean of the others,
        # so a missing reward counts as neither 0 nor 1
        reduced = mean if reduce == "mean" else mean * rewards.shape[1]
        result: FloatArray = np.where(counts > 0, reduced, np.nan)
    return result


class ProgressiveRetention:
    """PPPO's retained-prefix fraction η: start small, grow when learning stalls.

    η starts at ``start`` (15 %) and rises by ``step`` (5 %) up to ``end``
    (35 %) whenever the tracked score has not improved on its best for
    ``patience`` consecutive updates (PPPO, arXiv:2512.15274: the
    "beginning lock-in" shows within the first 15 % of tokens and settles by
    35 %; the paper grows η when validation accuracy stops improving). A
    trainer calls :meth:`update` once per step with the batch's mean reward.

    Example:
        >>> retention = ProgressiveRetention(patience=2)
        >>> [round(retention.update(score), 2) for score in [0.1, 0.2, 0.2, 0.2, 0.1, 0.1]]
        [0.15, 0.15, 0.15, 0.2, 0.2, 0.25]
    """

    def __init__(
        self, start: float = 0.15, step: float = 0.05, end: float = 0.35, patience: int = 10
    ) -> None:
        if not 0.0 < start <= end <= 1.0 or step < 0.0 or patience < 1:
            raise ShapeError("need 0 < start <= end <= 1, step >= 0 and patience >= 1")
        self.fraction, self.step, self.end, self.patience = start, step, end, patience
        self.best = -math.inf
        self.stalled = 0

    def update(self, score: float | None) -> float:
        """Record one step's score (None: no score this step); returns the new η."""
        if score is None or math.isnan(score):
            return self.fraction
        if score > self.best:
            self.best, self.stalled = score, 0
            return self.fraction
        self.stalled += 1
        if self.stalled >= self.patience:
            self.fraction = min(self.end, self.fraction + self.step)
            self.stalled = 0
        return self.fraction
