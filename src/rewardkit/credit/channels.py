"""Multi-channel advantages: one advantage per reward channel, each over its own samples.

A reward with several channels (correctness, format, brevity, tool cost)
can be collapsed into one scalar before the advantage, as plain GRPO does,
or kept apart: each channel k gets its own group-normalized advantage,
computed only over the samples eligible for it (its *gate*), and the
advantages are combined afterwards:

    A_k,i = (r_k,i − mean_{j ∈ g(i), gate_k,j} r_k,j) / (std_{…} r_k + ε)   if gate_k,i, else 0
    A_i   = Σ_k w_k · A_k,i           (optionally batch-normalized)

Two published methods are presets of it:

- **GDPO** (Liu et al. 2026, "GDPO: Group reward-Decoupled Normalization
  Policy Optimization for Multi-reward RL Optimization"): no gates, weighted
  sum, then normalization over the batch (:func:`gdpo_advantages`).
- **HDPO** (Hierarchical Decoupled Policy Optimization; "Act Wisely:
  Cultivating Meta-Cognitive Tool Use in Agentic Multimodal Models",
  arXiv:2604.08545): an accuracy channel over all samples, and an efficiency
  channel normalized only over the *correct* samples of each group (the
  "qualifying set" Q; a group with |Q| < 2 gives 0), weight 0.15
  (:func:`hdpo_advantages`). The paper trains the two channels with two
  separately clipped policy losses, L = w_acc·L(A_acc) + w_eff·L(A_eff);
  :class:`ChannelAdvantages` keeps the channels apart so a trainer can do
  that, and also gives their weighted sum.

A NaN reward (not applicable) is not eligible for its channel; a sample
gets advantage 0 in a channel it is not eligible for.

Example:
    >>> correct = np.array([1.0, 1.0, 1.0, 0.0])
    >>> brevity = np.array([0.9, 0.5, 0.1, 1.0])   # the wrong answer is the shortest
    >>> out = hdpo_advantages(correct, brevity, group=[0, 0, 0, 0], weight=1.0)
    >>> out.per_channel["efficiency"].round(3)     # only the correct ones compete on length
    array([ 1.,  0., -1.,  0.])
    >>> out.combined.round(3)
    array([ 1.5,  0.5, -0.5, -1.5])
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import EmptyGroupWarning, ShapeError
from rewardkit.credit._arrays import (
    FloatArray,
    as_float_array,
    check_epsilon,
    check_finite,
    like,
)
from rewardkit.credit.group import Scale, group_advantages

__all__ = [
    "ChannelAdvantages",
    "gdpo_advantages",
    "hdpo_advantages",
    "multi_channel_advantages",
]


@dataclass(frozen=True)
class ChannelAdvantages:
    """Per-channel advantages, their weights, and the weighted (maybe normalized) sum.

    Attributes:
        per_channel: name → advantage, shape (N,); 0 where not eligible.
        eligible: name → which samples entered the channel's statistics.
        weights: name → w_k.
        combined: Σ_k w_k A_k, shape (N,), batch-normalized if asked.
    """

    per_channel: dict[str, FloatArray]
    eligible: dict[str, npt.NDArray[np.bool_]]
    weights: dict[str, float]
    combined: FloatArray


def _channel_columns(channels: Any) -> dict[str, FloatArray]:
    if isinstance(channels, Mapping):
        columns = {str(k): as_float_array(v, f"channel {k!r}") for k, v in channels.items()}
    else:
        matrix = as_float_array(channels, "channels")
        if matrix.ndim != 2:
            raise ShapeError(f"channels must be a mapping or shape (N, K), got {matrix.shape}")
        columns = {str(k): matrix[:, k] for k in range(matrix.shape[1])}
    if not columns:
        raise ShapeError("multi_channel_advantages needs at least one channel")
    shapes = {name: column.shape for name, column in columns.items()}
    n = next(iter(shapes.values()))
    if any(len(shape) != 1 or shape != n for shape in shapes.values()):
        raise ShapeError(f"every channel must have shape (N,), got {shapes}")
    return columns


def multi_channel_advantages(
    channels: Any,
    group: Any,
    *,
    gates: Mapping[str, Any] | None = None,
    weights: Mapping[str, float] | None = None,
    scale: Scale = "group",
    batch_normalize: bool = False,
    epsilon: float = 1e-6,
) -> ChannelAdvantages:
    """An advantage per reward channel, each over its eligible samples, and their sum.

    Args:
        channels: name → rewards (N,), or an (N, K) array (names "0".."K-1").
            NaN = not applicable: not eligible for that channel.
        group: prompt id per sample, shape (N,).
        gates: name → boolean (N,): which samples the channel is computed
            over (e.g. efficiency among correct samples only). Default: all.
        weights: name → w_k; default 1 for every channel.
        scale: per-channel normalization, as in :func:`group_advantages`.
        batch_normalize: normalize the weighted sum over the batch (GDPO);
            samples with no eligible channel get 0 and stay out of it.
        epsilon: added to each standard deviation.

    Raises:
        ShapeError: on mismatched shapes or gates/weights naming no channel.
    """
    columns = _channel_columns(channels)
    n = next(iter(columns.values())).shape[0]
    for what, names in (("gates", gates or {}), ("weights", weights or {})):
        unknown = set(names) - set(columns)
        if unknown:
            raise ShapeError(
                f"{what} name unknown channels {sorted(unknown)}; have {list(columns)}"
            )
    w = {name: float((weights or {}).get(name, 1.0)) for name in columns}
    check_finite(np.array(list(w.values())), "weights")
    epsilon = check_epsilon(epsilon)
    per_channel, eligible = {}, {}
    for name, rewards in columns.items():
        gate = np.ones(n, dtype=bool)
        if gates is not None and name in gates:
            gate = np.asarray(gates[name], dtype=bool)
            if gate.shape != (n,):
                raise ShapeError(f"gate of {name!r} has shape {gate.shape}, expected ({n},)")
        eligible[name] = gate & ~np.isnan(rewards)
        with warnings.catch_warnings():
            if gates is not None and name in gates:  # a group with no eligible sample is normal
                warnings.simplefilter("ignore", EmptyGroupWarning)
            values = np.where(eligible[name], rewards, np.nan)
            per_channel[name] = np.asarray(
                group_advantages(values, group, scale=scale, epsilon=epsilon), dtype=np.float64
            )
    combined = sum(w[name] * per_channel[name] for name in columns)
    combined = np.asarray(combined, dtype=np.float64)
    if batch_normalize:
        applicable = np.any(np.stack(list(eligible.values())), axis=0)
        pooled = combined[applicable]
        if pooled.size >= 2:
            combined = (combined - pooled.mean()) / (pooled.std(ddof=1) + epsilon)
        combined = np.where(applicable, combined, 0.0)
    return ChannelAdvantages(per_channel, eligible, w, combined)


def hdpo_advantages(
    accuracy: Any,
    efficiency: Any,
    group: Any,
    *,
    weight: float = 0.15,
    correct_at: float = 1.0,
    epsilon: float = 1e-6,
) -> ChannelAdvantages:
    """HDPO: GRPO on accuracy; efficiency normalized over each group's correct samples only.

    A_acc = GRPO(accuracy) over the group; A_eff,i = (e_i − mean_Q e) /
    (std_Q e + ε) for i ∈ Q = {correct samples of the group}, 0 otherwise and
    0 when |Q| < 2. Combined: A_acc + weight · A_eff (channels "accuracy"
    and "efficiency"; the paper's w_tool = 0.15).

    Args:
        accuracy: correctness reward per sample (N,).
        efficiency: efficiency reward per sample (N,), e.g. brevity or 1/(tool calls + 1).
        group: prompt id per sample.
        weight: w_eff relative to the accuracy channel's 1.
        correct_at: a sample is correct when ``accuracy >= correct_at``.
    """
    acc = as_float_array(accuracy, "accuracy")
    correct = np.nan_to_num(acc, nan=-np.inf) >= correct_at
    return multi_channel_advantages(
        {"accuracy": acc, "efficiency": efficiency},
        group,
        gates={"efficiency": correct},
        weights={"accuracy": 1.0, "efficiency": weight},
        epsilon=epsilon,
    )


def gdpo_advantages(
    rewards: Any,
    group: Any,
    weights: Any = None,
    *,
    epsilon: float = 1e-6,
) -> Any:
    """GDPO: normalize each reward within its group, sum, then normalize the batch.

    A_k,i = (r_k,i − mean_g r_k) / (std_g r_k + ε);  S_i = Σ_k w_k A_k,i;
    A_i = (S_i − mean S) / (std S + ε).

    Liu et al. 2026, "GDPO: Group reward-Decoupled Normalization Policy
    Optimization for Multi-reward RL Optimization": normalizing the *sum* of
    several rewards (GRPO) maps distinct reward combinations to identical
    advantages; decoupling keeps them apart. A NaN in reward k contributes
    0 to S_i; a sample with every reward NaN gets advantage 0 and is left out
    of the batch statistics. The preset of :func:`multi_channel_advantages`
    without gates and with ``batch_normalize=True``.

    Args:
        rewards: shape (N, K), one column per reward function.
        group: shape (N,).
        weights: shape (K,), default all 1.

    Example:
        >>> r = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
        >>> gdpo_advantages(r, [0, 0, 0, 0]).round(3)
        array([ 1.225,  0.   ,  0.   , -1.225])
    """
    values = as_float_array(rewards, "rewards")
    if values.ndim != 2:
        raise ShapeError(
            f"rewards must have shape (N, K) for K reward functions, got {values.shape}"
        )
    k = values.shape[1]
    w = np.ones(k) if weights is None else as_float_array(weights, "weights")
    check_finite(w, "weights")
    epsilon = check_epsilon(epsilon)
    if w.shape != (k,):
        raise ShapeError(f"weights has shape {w.shape}, expected ({k},)")
    out = multi_channel_advantages(
        values,
        group,
        weights={str(j): float(w[j]) for j in range(k)},
        batch_normalize=True,
        epsilon=epsilon,
    )
    return like(out.combined, rewards)
