"""Group-relative advantages for completions: GRPO, Dr. GRPO, RLOO.

Multi-reward advantages (GDPO, HDPO) are in :mod:`rewardkit.credit.channels`.

Each prompt is sampled G times; the completions of one prompt form a group
(``group`` holds any hashable id per sample). A reward of NaN means *not
applicable* (a verifier timeout, say): it is left out of its group's
statistics and its own advantage is 0, so it neither trains nor shifts the
baseline of its siblings. A group with no applicable sample gets advantage 0
everywhere and an :class:`~rewardkit.core.errors.EmptyGroupWarning`. A group
with one applicable sample has no baseline, so its advantage is 0 too.

Standard deviations are sample standard deviations (``ddof=1``), as TRL and
verl compute them with ``torch.std``.

Example:
    >>> rewards = np.array([1.0, 0.0, 1.0, 1.0])
    >>> group = np.array([0, 0, 1, 1])
    >>> dr_grpo_advantages(rewards, group)
    array([ 0.5, -0.5,  0. ,  0. ])
    >>> rloo_advantages(rewards, group)
    array([ 1., -1.,  0.,  0.])
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import EmptyGroupWarning, ShapeError
from rewardkit.credit._arrays import FloatArray, as_float_array, check_epsilon, like

__all__ = [
    "GroupStatistics",
    "dr_grpo_advantages",
    "group_advantages",
    "group_statistics",
    "grpo_advantages",
    "rloo_advantages",
]

Scale = Literal["group", "batch", "none"]


@dataclass(frozen=True)
class _Groups:
    inverse: npt.NDArray[np.intp]  # sample → group index
    labels: npt.NDArray[Any]
    count: FloatArray  # applicable samples per group
    mean: FloatArray  # NaN where count == 0
    std: FloatArray  # ddof=1; NaN where count < 2


def _group_index(group: Any, n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[Any]]:
    if type(group).__module__.startswith("torch"):
        group = group.detach().cpu().numpy()
    labels_in = np.asarray(group)
    if labels_in.shape != (n,):
        raise ShapeError(f"group has shape {labels_in.shape}, expected ({n},): one id per sample")
    try:
        labels, inverse = np.unique(labels_in, return_inverse=True)
    except TypeError:
        raise ShapeError("group ids must be all of one comparable type (ints or strings)") from None
    return inverse.reshape(-1).astype(np.intp), labels


#: rewards above this in magnitude are rescaled before the group statistics
HUGE_REWARD = 1e100


def _rewards_vector(rewards: Any) -> FloatArray:
    values = as_float_array(rewards, "rewards")
    if values.ndim != 1:
        raise ShapeError(f"rewards must have shape (N,), got {values.shape}")
    if np.any(np.isinf(values)):
        raise ShapeError("rewards contain ±inf; clip them or mark the sample not applicable (NaN)")
    return values


def _moments(values: FloatArray, group: Any) -> _Groups:
    inverse, labels = _group_index(group, values.shape[0])
    valid = ~np.isnan(values)
    filled = np.where(valid, values, 0.0)
    n_groups = labels.shape[0]
    count = np.bincount(inverse, weights=valid.astype(np.float64), minlength=n_groups)
    total = np.bincount(inverse, weights=filled, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        centered = np.where(valid, values - mean[inverse], 0.0)
        sq = np.bincount(inverse, weights=centered * centered, minlength=n_groups)
        std = np.sqrt(sq / (count - 1.0))
    std = np.where(count >= 2, std, np.nan)
    return _Groups(inverse, labels, count.astype(np.float64), mean, std)


def _warn_empty(groups: _Groups) -> None:
    empty = groups.labels[groups.count == 0]
    if empty.size:
        shown = ", ".join(map(str, empty[:5])) + (" ..." if empty.size > 5 else "")
        warnings.warn(
            f"{empty.size} group(s) had no applicable reward (all NaN): {shown}; "
            "their advantages are 0. Check the verifier's statuses for these prompts.",
            EmptyGroupWarning,
            stacklevel=3,
        )


def _centered(values: FloatArray, groups: _Groups) -> FloatArray:
    """r − mean_g, with 0 for NaN samples and for groups of fewer than 2."""
    usable = ~np.isnan(values) & (groups.count[groups.inverse] >= 2)
    return np.where(usable, values - groups.mean[groups.inverse], 0.0)


def group_advantages(
    rewards: Any,
    group: Any,
    *,
    scale: Scale = "group",
    epsilon: float = 1e-6,
) -> Any:
    """A_i = (r_i − mean_g(i)) / (σ + ε).

    Args:
        rewards: shape (N,); NaN = not applicable.
        group: shape (N,), the prompt id of each sample.
        scale: ``"group"``: σ = std of the sample's group (GRPO, Shao et al.
            2024, DeepSeekMath). ``"batch"``: σ = std over the whole batch
            (TRL's ``scale_rewards="batch"``). ``"none"``: no division
            (Dr. GRPO, Liu et al. 2025, "Understanding R1-Zero-Like
            Training", which shows the std term biases toward easy and hard
            prompts).
        epsilon: added to σ.

    Example:
        >>> group_advantages([1.0, 0.0, 0.0, 0.0], [0, 0, 1, 1], scale="none")
        array([ 0.5, -0.5,  0. ,  0. ])
    """
    epsilon = check_epsilon(epsilon)
    raw = _rewards_vector(rewards)
    # rescale by a power of two (exact) so sums and squares of huge rewards (1e308) do not
    # overflow; the advantages are scale-free apart from ε, which is rescaled with them
    magnitude = float(np.nanmax(np.abs(raw))) if np.any(~np.isnan(raw)) else 0.0
    factor = 2.0 ** np.floor(np.log2(magnitude)) if magnitude > HUGE_REWARD else 1.0
    values = raw / factor
    epsilon = epsilon / factor
    groups = _moments(values, group)
    _warn_empty(groups)
    centered = _centered(values, groups)
    if scale == "none":
        with np.errstate(over="raise"):
            try:
                result = centered * factor
            except FloatingPointError:
                raise ShapeError(
                    "rewards differ by more than the largest float within a group; rescale them"
                ) from None
    elif scale == "group":
        sigma = np.nan_to_num(groups.std[groups.inverse], nan=0.0) + epsilon
        # σ + ε = 0 only with ε = 0 in a group without spread, where r − mean is 0 too
        result = np.divide(centered, sigma, out=np.zeros_like(centered), where=sigma > 0)
    elif scale == "batch":
        finite = values[~np.isnan(values)]
        sigma_batch = float(np.std(finite, ddof=1)) if finite.size >= 2 else 0.0
        result = centered / (sigma_batch + epsilon)
    else:
        raise ValueError(f"scale must be 'group', 'batch' or 'none', got {scale!r}")
    return like(result, rewards)


def grpo_advantages(rewards: Any, group: Any, *, epsilon: float = 1e-6) -> Any:
    """GRPO: (r − mean_g) / (std_g + ε) (Shao et al. 2024, DeepSeekMath).

    Example:
        >>> grpo_advantages([1.0, 0.0, 0.5], [0, 0, 0]).round(3)
        array([ 1., -1.,  0.])
    """
    return group_advantages(rewards, group, scale="group", epsilon=epsilon)


def dr_grpo_advantages(rewards: Any, group: Any) -> Any:
    """Dr. GRPO: r − mean_g, no std scaling (Liu et al. 2025)."""
    return group_advantages(rewards, group, scale="none")


def rloo_advantages(rewards: Any, group: Any) -> Any:
    """REINFORCE leave-one-out: A_i = r_i − mean_{j ≠ i, j ∈ g(i)} r_j.

    Ahmadian et al. 2024, "Back to Basics: Revisiting REINFORCE Style
    Optimization for Learning from Human Feedback in LLMs". Equivalently
    A_i = n/(n − 1) · (r_i − mean_g) over the n applicable samples of the group.

    Example:
        >>> rloo_advantages([3.0, 1.0, 2.0], [0, 0, 0])
        array([ 1.5, -1.5,  0. ])
    """
    values = _rewards_vector(rewards)
    groups = _moments(values, group)
    _warn_empty(groups)
    count = groups.count[groups.inverse]
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(count >= 2, count / (count - 1.0), 0.0)
    return like(factor * _centered(values, groups), rewards)


@dataclass(frozen=True)
class GroupStatistics:
    """What a batch of groups looks like, for logging.

    Attributes:
        n_groups: number of groups.
        n_empty: groups with no applicable reward (advantage 0).
        n_singleton: groups with exactly one applicable reward (advantage 0).
        n_zero_variance: groups of ≥ 2 applicable rewards that are all equal
            (no learning signal under GRPO/RLOO).
        frac_zero_variance: share of groups with no signal at all
            (empty + singleton + zero variance) / n_groups.
        frac_not_applicable: share of samples with a NaN reward.
    """

    n_groups: int
    n_empty: int
    n_singleton: int
    n_zero_variance: int
    frac_zero_variance: float
    frac_not_applicable: float


def group_statistics(rewards: Any, group: Any, *, tolerance: float = 1e-12) -> GroupStatistics:
    """Count groups without learning signal.

    Example:
        >>> group_statistics([1.0, 1.0, 0.0, 1.0, np.nan, np.nan], [0, 0, 1, 1, 2, 2])
        GroupStatistics(n_groups=3, n_empty=1, n_singleton=0, n_zero_variance=1, \
frac_zero_variance=0.6666666666666666, frac_not_applicable=0.3333333333333333)
    """
    values = _rewards_vector(rewards)
    groups = _moments(values, group)
    n_groups = int(groups.labels.shape[0])
    n_empty = int(np.sum(groups.count == 0))
    n_singleton = int(np.sum(groups.count == 1))
    n_zero = int(np.sum((groups.count >= 2) & (np.nan_to_num(groups.std, nan=1.0) <= tolerance)))
    return GroupStatistics(
        n_groups=n_groups,
        n_empty=n_empty,
        n_singleton=n_singleton,
        n_zero_variance=n_zero,
        frac_zero_variance=(n_empty + n_singleton + n_zero) / n_groups,
        frac_not_applicable=float(np.mean(np.isnan(values))),
    )
