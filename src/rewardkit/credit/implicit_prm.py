"""OPRL's implicit PRM (math): step rewards, trajectory DPO, two-level advantages.

OPRL / iStar: Liu et al. 2025, "Online Process Reward Learning for Agentic RL",
arXiv 2509.19199 (v3: "Agentic Reinforcement Learning with Implicit Step Rewards"),
§3.1. An implicit PRM π_φ (a language model) gives step t of a trajectory (its
reasoning and action a_t, all its tokens) the reward

    r_φ(o_{1:t}, a_t) = β · log π_φ(a_t | o_{1:t}, x) / π_θold(a_t | o_{1:t}, x)   (Eq. 1)

against π_θold, the policy's snapshot before the update. π_φ learns online, by
trajectory DPO on the policy's own rollouts, labelled by the outcome reward (τ⁺:
outcome > 0 on WebShop and Sokoban, > 6 on SOTOPIA; footnote 2):

    J_PRM = −E log σ(β [log π_φ/π_θold (τ⁺) − log π_φ/π_θold (τ⁻)])           (Eq. 2)

The advantages, per group of the N rollouts of one task (Eq. 3-5; §4: α = 1, β = 0.05):

    A^E(τ_i) = (r_o(τ_i) − mean R_o) / std R_o        R_o: the N outcomes
    A^S(a_t^i) = (r_φ(a_t^i) − mean R_s) / std R_s    R_s: all step rewards of the N
    A(a_t^i) = A^E(τ_i) + α · A^S(a_t^i)

A^S normalises the step reward itself (no return), pooled over every step of the
group. std is the sample std (ddof=1, ``torch.std`` in the authors' code) plus ε; a
pool of one value gets 0. A NaN outcome (not applicable) is a status: its trajectory
gets NaN advantages and is left out of every statistic (the trainer masks it).

Implemented: Eq. 1 from per-token log-probs, the Eq. 2 loss on sequence log-prob
sums (torch), pair forming, Eq. 3-5, step values spread onto tokens. Elsewhere: the
token estimator (:mod:`rewardkit.credit.oprl`) and the online PRM training loop with a
model (:mod:`rewardkit.train.implicit_prm`). Not here: the clipped policy loss (Eq. 6).
The paper does not say how pairs are matched; the authors' code pairs every τ⁺ with
every τ⁻ of its group, as here.
That code averages the step rewards of a trajectory in the loss; Eq. 2 (here) sums.

Example:
    >>> r = implicit_step_rewards([np.array([-1.0, -2.0, -1.0])], [np.array([-1.5, -2.0, -2.0])],
    ...                           [np.array([2, 3])], beta=0.5)
    >>> r[0].tolist()
    [0.25, 0.5]
    >>> out = oprl_advantages(np.array([1.0, 0.0]), [np.array([0.2, 0.4]), np.array([0.0])], 2)
    >>> [a.round(3).tolist() for a in out.combined]
    [[0.707, 1.707], [-1.707]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.credit._arrays import FloatArray, as_float_array, check_epsilon, check_finite

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "OPRLAdvantages",
    "implicit_step_rewards",
    "oprl_advantages",
    "oprl_group_advantages",
    "outcome_pairs",
    "step_to_token_advantages",
    "trajectory_dpo_loss",
]

IntArray = npt.NDArray[np.int64]
Arrays = Sequence[Any]  # one 1-D array per trajectory


def _beta(beta: float) -> float:
    value = float(beta)
    if not (np.isfinite(value) and value > 0):
        raise ConfigurationError(f"beta must be finite and > 0 (the paper: 0.05), got {beta}")
    return value


def _ends(ends: Any, i: int, length: int | None = None) -> IntArray:
    """Step ends of trajectory i: 1-D ints, strictly increasing, first > 0, last = length."""
    e = np.asarray(ends)
    if e.ndim != 1 or (e.size and not np.issubdtype(e.dtype, np.integer)):
        raise ShapeError(f"trajectory {i}: step_ends must be a 1-D array of ints, got {e!r}")
    e = e.astype(np.int64)
    total = int(e[-1]) if e.size else 0
    if length is not None and total != length:
        raise ShapeError(f"trajectory {i}: the last step end is {total}, expected {length} tokens")
    if e.size and (e[0] <= 0 or np.any(np.diff(e) <= 0)):
        raise ShapeError(f"trajectory {i}: step ends {e.tolist()} must rise strictly from > 0")
    return e


def implicit_step_rewards(
    policy_logp: Arrays, reference_logp: Arrays, step_ends: Arrays, beta: float
) -> list[FloatArray]:
    """Per trajectory, (K_i,) r_k = β · Σ_{t in step k} (log π_φ(y_t) − log π_ref(y_t)) (Eq. 1).

    ``policy_logp[i]`` and ``reference_logp[i]`` are (L_i,) log-probs of trajectory i's
    action tokens under π_φ and π_ref (π_θold in OPRL); ``step_ends[i]`` are (K_i,)
    exclusive token ends, strictly rising, the last = L_i. β > 0.
    """
    beta = _beta(beta)
    if not len(policy_logp) == len(reference_logp) == len(step_ends):
        counts = (len(policy_logp), len(reference_logp), len(step_ends))
        raise ShapeError(f"policy_logp, reference_logp, step_ends: {counts}; one per trajectory")
    out = []
    for i, (pol, ref, ends) in enumerate(zip(policy_logp, reference_logp, step_ends, strict=True)):
        p, r = as_float_array(pol, "policy_logp"), as_float_array(ref, "reference_logp")
        if p.ndim != 1 or p.shape != r.shape:
            raise ShapeError(f"trajectory {i}: log-probs {p.shape}, {r.shape} must be 1-D, equal")
        check_finite(p, f"policy_logp[{i}]")
        check_finite(r, f"reference_logp[{i}]")
        e = _ends(ends, i, p.size)
        starts = np.concatenate([[0], e[:-1]]).astype(np.int64)
        out.append(beta * np.add.reduceat(p - r, starts) if e.size else np.zeros(0))
    return out


def trajectory_dpo_loss(
    chosen_policy: Tensor,
    chosen_ref: Tensor,
    rejected_policy: Tensor,
    rejected_ref: Tensor,
    beta: float,
) -> Tensor:
    """mean −log σ(β[(c_pol − c_ref) − (r_pol − r_ref)]) over pairs (Eq. 2).

    Each argument is (P,): a trajectory's log-prob summed over its action tokens,
    under the PRM (``*_policy``) or the reference π_θold (``*_ref``, no gradient needed).

    Example:
        >>> import torch
        >>> z = torch.zeros(1)
        >>> round(trajectory_dpo_loss(z, z, z, z, beta=0.05).item(), 4)  # log 2
        0.6931
    """
    import torch
    from torch.nn.functional import logsigmoid

    beta = _beta(beta)
    args = {"chosen_policy": chosen_policy, "chosen_ref": chosen_ref}
    args |= {"rejected_policy": rejected_policy, "rejected_ref": rejected_ref}
    for name, value in args.items():
        if not isinstance(value, torch.Tensor) or value.ndim != 1 or value.numel() == 0:
            raise ShapeError(f"{name} must be a non-empty 1-D tensor (one value per pair)")
        if value.shape != chosen_policy.shape:
            raise ShapeError(f"{name} {tuple(value.shape)} != {tuple(chosen_policy.shape)}")
        if not bool(torch.isfinite(value).all()):
            raise ShapeError(f"{name} holds NaN or inf: log-prob sums must be finite")
    margin = (chosen_policy - chosen_ref) - (rejected_policy - rejected_ref)
    return -logsigmoid(beta * margin).mean()


def outcome_pairs(outcomes: Any, groups: Any, threshold: float = 0.0) -> tuple[IntArray, IntArray]:
    """(chosen, rejected) indices: each τ with outcome > threshold paired with each τ of its
    group with outcome ≤ threshold (NaN outcomes take no part). The paper's threshold is
    0 (WebShop, Sokoban) or 6 (SOTOPIA).

    Example:
        >>> outcome_pairs([1.0, 0.0, 0.0, 1.0, 1.0], [0, 0, 0, 1, 1])
        (array([0, 0]), array([1, 2]))
    """
    values = as_float_array(outcomes, "outcomes")
    labels = np.asarray(groups)
    if values.ndim != 1 or labels.shape != values.shape:
        raise ShapeError(f"outcomes {values.shape} and groups {labels.shape} must be (N,)")
    if np.any(np.isinf(values)):
        raise ShapeError("outcomes contain ±inf; clip them or mark them not applicable (NaN)")
    chosen: list[int] = []
    rejected: list[int] = []
    _, first = np.unique(labels, return_index=True)
    for label in labels[np.sort(first)]:
        members = np.flatnonzero(labels == label)
        good = [int(i) for i in members if values[i] > threshold]
        bad = [int(i) for i in members if values[i] <= threshold]  # NaN is neither
        chosen += [c for c in good for _ in bad]
        rejected += [r for _ in good for r in bad]
    return np.array(chosen, dtype=np.int64), np.array(rejected, dtype=np.int64)


@dataclass(frozen=True)
class OPRLAdvantages:
    """OPRL's advantages: ``episode`` (N,) A^E; ``step`` and ``combined``, per trajectory
    (K_i,) A^S and A = A^E + α·A^S. NaN where the outcome is not applicable."""

    episode: FloatArray
    step: list[FloatArray]
    combined: list[FloatArray]


def _zscore(values: FloatArray, epsilon: float) -> FloatArray:
    out: FloatArray = np.zeros_like(values)
    if values.size >= 2:
        out = (values - values.mean()) / (values.std(ddof=1) + epsilon)
    return out


def oprl_advantages(
    outcomes: Any, step_rewards: Arrays, group_size: int, alpha: float = 1.0, epsilon: float = 1e-6
) -> OPRLAdvantages:
    """Eq. 3-5 (module docs): ``outcomes`` (N,), NaN = not applicable; ``step_rewards[i]``
    (K_i,), finite where the outcome is applicable; trajectory i is in group
    i // ``group_size``; ``alpha`` weighs A^S; ``epsilon`` is added to each std.
    :func:`oprl_group_advantages` takes group ids instead."""
    values = as_float_array(outcomes, "outcomes")
    n = values.shape[0] if values.ndim == 1 else -1
    if n < 0 or len(step_rewards) != n:
        raise ShapeError(f"outcomes {values.shape} must be ({len(step_rewards)},)")
    g = int(group_size) if isinstance(group_size, int | np.integer) else 0
    if isinstance(group_size, bool) or g < 1 or n % g:
        raise ConfigurationError(f"group_size must be an int >= 1 dividing {n}, not {group_size}")
    return oprl_group_advantages(values, step_rewards, np.arange(n) // g, alpha, epsilon)


def oprl_group_advantages(
    outcomes: Any, step_rewards: Arrays, groups: Any, alpha: float = 1.0, epsilon: float = 1e-6
) -> OPRLAdvantages:
    """:func:`oprl_advantages` with a group id per trajectory (``groups`` (N,), any
    hashable labels, members need not be contiguous).

    Example:
        >>> out = oprl_group_advantages(np.array([1.0, 0.0, 0.0]),
        ...     [np.array([0.2, 0.4]), np.array([0.1]), np.array([0.0])], groups=[7, 9, 7])
        >>> out.episode.round(3).tolist()  # groups {0, 2} and {1}
        [0.707, 0.0, -0.707]
    """
    epsilon = check_epsilon(epsilon)
    if not np.isfinite(alpha):
        raise ConfigurationError(f"alpha must be finite, got {alpha}")
    values = as_float_array(outcomes, "outcomes")
    labels = np.asarray(groups)
    n = values.shape[0] if values.ndim == 1 else -1
    if n < 0 or len(step_rewards) != n:
        raise ShapeError(f"outcomes {values.shape} must be ({len(step_rewards)},)")
    if labels.shape != (n,):
        raise ShapeError(f"groups {labels.shape} must be ({n},): one group id per trajectory")
    if np.any(np.isinf(values)):
        raise ShapeError("outcomes contain ±inf; clip them or mark them not applicable (NaN)")
    steps = [as_float_array(s, f"step_rewards[{i}]") for i, s in enumerate(step_rewards)]
    for i, s in enumerate(steps):
        if s.ndim != 1:
            raise ShapeError(f"step_rewards[{i}] must be 1-D (one reward per step), got {s.shape}")
        if not np.isnan(values[i]):
            check_finite(s, f"step_rewards[{i}]")
    episode = np.full(n, np.nan)
    step = [np.full(s.shape, np.nan) for s in steps]
    for label in np.unique(labels):
        live = [int(i) for i in np.flatnonzero(labels == label) if not np.isnan(values[i])]
        episode[live] = _zscore(values[live], epsilon)
        pooled = _zscore(np.concatenate([steps[i] for i in live] + [np.zeros(0)]), epsilon)
        offsets = np.cumsum([0] + [steps[i].size for i in live])
        for k, i in enumerate(live):
            step[i] = pooled[offsets[k] : offsets[k + 1]]
    combined = [episode[i] + alpha * step[i] for i in range(n)]
    return OPRLAdvantages(episode, step, combined)


def step_to_token_advantages(step_values: Arrays, step_ends: Arrays) -> list[FloatArray]:
    """Each step's value repeated over its tokens [ends[k−1], ends[k]) (NaN kept).

    Example:
        >>> step_to_token_advantages([np.array([1.0, -2.0])], [np.array([2, 3])])[0].tolist()
        [1.0, 1.0, -2.0]
    """
    if len(step_values) != len(step_ends):
        raise ShapeError(f"{len(step_values)} step_values but {len(step_ends)} step_ends")
    out = []
    for i, (vals, ends) in enumerate(zip(step_values, step_ends, strict=True)):
        v, e = as_float_array(vals, f"step_values[{i}]"), _ends(ends, i)
        if v.shape != e.shape:
            raise ShapeError(f"trajectory {i}: {v.shape} step values but {e.shape} step ends")
        out.append(np.repeat(v, np.diff(np.concatenate([[0], e]))))
    return out
