"""The types every token estimator shares: its result, and the shape checks.

An estimator returns :class:`TokenAdvantages`: per-token advantages, which
leading tokens to train, and further separately clipped losses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import ShapeError
from rewardkit.credit._arrays import FloatArray

__all__ = ["ChannelLoss", "Estimator", "TokenAdvantages", "broadcast", "check_rewards"]


@dataclass(frozen=True)
class ChannelLoss:
    """A further advantage trained by its own clipped policy loss, with weight ``weight``.

    ``rows`` marks the samples the loss covers (HDPO: those with a non-zero
    efficiency advantage).
    """

    name: str
    weight: float
    values: list[FloatArray]
    rows: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class TokenAdvantages:
    """Per-token advantages, which leading tokens to train (None: all), and further losses."""

    values: list[FloatArray]
    train_lengths: npt.NDArray[np.int64] | None = None
    channel_losses: tuple[ChannelLoss, ...] = ()


Estimator = Callable[..., TokenAdvantages]


def check_rewards(rewards: Any, group: Any, sequences: Sequence[Sequence[int]]) -> FloatArray:
    """``rewards`` as float64 (N,), N = len(sequences), and ``group`` of the same shape."""
    values = np.asarray(rewards, dtype=np.float64)
    if values.shape != (len(sequences),) or np.asarray(group).shape != (len(sequences),):
        raise ShapeError(
            f"{len(sequences)} sequences need rewards and group of shape ({len(sequences)},), "
            f"got {values.shape} and {np.asarray(group).shape}"
        )
    return values


def broadcast(per_sequence: Any, sequences: Sequence[Sequence[int]]) -> list[FloatArray]:
    """One advantage per sequence, repeated over its tokens (NaN → 0)."""
    values = np.nan_to_num(np.asarray(per_sequence, dtype=np.float64), nan=0.0)
    return [np.full(len(s), a) for s, a in zip(sequences, values, strict=True)]
