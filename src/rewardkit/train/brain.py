"""BRAIn-style loss: distil a reward-conditioned posterior into the policy with
self-normalised importance weights and a self-normalised baseline.

Pandey et al. 2024, "BRAIn: Bayesian Reward-conditioned Amortized Inference for
natural language generation from feedback" (ICML 2024, arXiv:2402.02479), §4.

The target on a prompt x is the reward-conditioned posterior of the reference
(SFT) model, p(y | x, G=1) ∝ p_ref(y|x) · exp(s · r(x, y)). From n samples
y_1..y_n of a proposal q' (the old policy, the SFT model, ...):

    log w_i = log p_ref(y_i) + s · r_i − log q'(y_i),    α̂ = softmax(log w)
    log v_i = log q_θ(y_i) − log q'(y_i),                 β̂ = softmax(log v)
    L(θ)    = − Σ_i sg(α̂_i − β̂_i) · log q_θ(y_i),   ∇L = Σ_i (β̂_i − α̂_i) ∇ log q_θ(y_i)

sg is stop-gradient; L is averaged over the G prompts (groups). With the
unnormalised weights (p/q')/n alone the estimator is DPG's, with ((p − q_θ)/q')/n
it is GDC++'s; normalising both is BRAIn's variance-reducing self-normalised
baseline. It is biased for KL(posterior ‖ q_θ) but unbiased for the paper's
self-normalised KL (Theorem 4.2), zero only when q_θ is the posterior; on the
sample, ∇L = 0 exactly when β̂ = α̂.

Implemented: the BRAIn gradient's α̂ and β̂. Not implemented (hence
"BRAIn-style"): the paper's goodness likelihood p(G=1 | x, y) built from the
reward model (with Bradley–Terry rewards its posterior is the PPO optimum);
here ``rewards`` is taken to be log p(G=1 | x, y) up to a per-prompt constant.
``scale`` (s) is this module's knob, not confirmed from the paper; s = 1/β makes
the target the KL-regularised optimum p_ref · exp(r/β). The sampling loop (which
proposal, how many samples, when it is refreshed) is the caller's, who passes
the samples' log q'.

Example:
    >>> import torch
    >>> half = np.log([[0.5, 0.5]])
    >>> brain_style_targets(half, [[0.0, np.log(3.0)]], half)  # ∝ 1 : 3
    array([[0.25, 0.75]])
    >>> policy = torch.log(torch.tensor([[0.8, 0.2]], dtype=torch.float64)).requires_grad_()
    >>> loss = brain_style_loss(policy, half, [[0.0, np.log(3.0)]], half)
    >>> round(loss.item(), 4)  # 0.55 · log 4
    0.7625
    >>> loss.backward(); policy.grad  # β̂ − α̂
    tensor([[ 0.5500, -0.5500]], dtype=torch.float64)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.credit.token_types import TokenAdvantages, broadcast, check_rewards

__all__ = ["BRAInStyleEstimator", "brain_style_loss", "brain_style_targets", "snis_weights"]

FloatArray = npt.NDArray[np.float64]


def _as_array(x: Any, name: str) -> FloatArray:
    """``x`` (array-like or torch tensor) as a float64 numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ShapeError(f"{name} must be numeric, got {type(x).__name__}") from None


def _grouped(x: Any, name: str) -> FloatArray:
    """A finite (G, n) array, n >= 1, or a ShapeError saying what is wrong."""
    array = _as_array(x, name)
    if array.ndim != 2 or array.shape[1] == 0:
        raise ShapeError(f"{name} must have shape (G, n), n >= 1 samples a row; got {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ShapeError(
            f"{name} must be finite; got {array[row, col]} at [{row}, {col}] "
            f"({int(bad.sum())} non-finite value(s) in all)"
        )
    return array


def _same_shape(ref: FloatArray, **others: FloatArray) -> None:
    for name, array in others.items():
        if array.shape != ref.shape:
            raise ShapeError(f"{name} has shape {array.shape}, ref_logp has {ref.shape}")


def snis_weights(log_weights: Any) -> FloatArray:
    """Self-normalised importance weights over the last axis: ŵ_i = w_i / Σ_j w_j.

    ŵ = softmax(log w), computed after subtracting each group's maximum, so log
    weights of any magnitude are safe. A log weight of −inf gets weight 0.

    Args:
        log_weights: log w, shape (..., n), n >= 1; leading axes are groups.

    Returns:
        float64 array of the same shape; each group sums to 1.

    Raises:
        ShapeError: no last axis or an empty one; a NaN or +inf log weight; a group
            whose log weights are all −inf (its weights are undefined).

    Example:
        >>> snis_weights([[0.0, np.log(3.0), -np.inf]])
        array([[0.25, 0.75, 0.  ]])
    """
    lw = _as_array(log_weights, "log_weights")
    if lw.ndim == 0 or lw.shape[-1] == 0:
        raise ShapeError(f"log_weights must have a non-empty last axis; got shape {lw.shape}")
    bad = np.isnan(lw) | np.isposinf(lw)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ShapeError(
            f"log_weights must be finite or -inf; got {lw[where]} at {list(where)}: "
            "check the log-probabilities and rewards that built them"
        )
    dead = np.all(np.isneginf(lw), axis=-1)
    if dead.any():
        found = np.argwhere(np.atleast_1d(dead))[:5]
        groups = [int(g[0]) if len(g) == 1 else tuple(map(int, g)) for g in found]
        raise ShapeError(
            f"every log weight is -inf in group(s) {groups}: the weights are undefined; "
            "drop such groups or give at least one sample a finite log weight"
        )
    w = np.exp(lw - lw.max(axis=-1, keepdims=True))  # exp(-inf) = 0
    return np.asarray(w / w.sum(axis=-1, keepdims=True), dtype=np.float64)


def _check_scale(scale: float) -> float:
    number = isinstance(scale, (int, float)) and not isinstance(scale, bool)
    if not number or not math.isfinite(scale) or scale < 0:
        raise ConfigurationError(
            f"scale must be a finite number >= 0 (1/beta of a KL-regularised target), got {scale!r}"
        )
    return float(scale)


def brain_style_targets(
    ref_logp: Any, rewards: Any, proposal_logp: Any, scale: float = 1.0
) -> FloatArray:
    """Self-normalised importance weights α̂ of the posterior p_ref · exp(s · r).

    α̂_i = w_i / Σ_j w_j,   log w_i = log p_ref(y_i|x) + s · r_i − log q'(y_i|x)

    Args:
        ref_logp: sequence log-probs under the reference (prior) model, shape (G, n).
        rewards: r_i, the log-likelihood of goodness up to a per-prompt constant, (G, n).
        proposal_logp: sequence log-probs under the proposal that drew the samples, (G, n).
        scale: s >= 0, the multiplier of r (s = 1/β of a KL-regularised objective).

    Returns:
        α̂, float64, shape (G, n); each row sums to 1.

    Example:
        >>> brain_style_targets([[0.0, 0.0]], [[1.0, 1.0]], [[0.0, np.log(3.0)]])  # ∝ 1 : 1/3
        array([[0.75, 0.25]])
    """
    s = _check_scale(scale)
    ref = _grouped(ref_logp, "ref_logp")
    r = _grouped(rewards, "rewards")
    proposal = _grouped(proposal_logp, "proposal_logp")
    _same_shape(ref, rewards=r, proposal_logp=proposal)
    return snis_weights(ref + s * r - proposal)


def brain_style_loss(
    policy_logp: Any, ref_logp: Any, rewards: Any, proposal_logp: Any, scale: float = 1.0
) -> Any:
    """The BRAIn-style surrogate loss, mean over groups of −Σ_i sg(α̂_i − β̂_i) · log q_θ(y_i).

    α̂ is :func:`brain_style_targets`; β̂ = softmax(log q_θ − log q') is computed from a
    detached copy, so the gradient with respect to ``policy_logp`` is (β̂ − α̂)/G.

    Args:
        policy_logp: torch tensor (G, n), log q_θ(y_i|x) of each sample, with grad.
        ref_logp: (G, n) log-probs under the reference model (array or tensor).
        rewards: (G, n) rewards r_i.
        proposal_logp: (G, n) log-probs under the proposal that drew the samples.
        scale: s >= 0, the multiplier of r.

    Returns:
        a scalar torch tensor, of ``policy_logp``'s dtype and device.
    """
    import torch

    if not isinstance(policy_logp, torch.Tensor):
        kind = type(policy_logp).__name__
        raise ShapeError(f"policy_logp must be a torch tensor with the policy's grad, got {kind}")
    alpha = brain_style_targets(ref_logp, rewards, proposal_logp, scale)
    current = _grouped(policy_logp, "policy_logp")
    proposal = _as_array(proposal_logp, "proposal_logp")
    _same_shape(alpha, policy_logp=current)
    beta = snis_weights(current - proposal)
    coef = torch.as_tensor(alpha - beta, dtype=policy_logp.dtype, device=policy_logp.device)
    return -(coef * policy_logp).sum(dim=-1).mean()


@dataclass
class BRAInStyleEstimator:
    """The BRAIn-style gradient as a GRPO estimator, on-policy: the proposal q' is the
    policy that sampled, the prior p_ref the trainer's reference (initial) policy.

    Per group of n samples, α̂ = :func:`brain_style_targets` (log p_ref, s·r, log q') and
    β̂ = softmax(log q_θ − log q') = 1/n, because q_θ = q' when the samples are drawn;
    every token of sample i gets the advantage A_i = n · (α̂_i − 1/n). With one pass over
    the samples (``ppo_epochs=1``, where the clipped ratio is 1) and ``token_mean``
    aggregation, the policy gradient is Σ_i (α̂_i − β̂_i) ∇ log q_θ(y_i) times a positive
    constant: the BRAIn gradient of :func:`brain_style_loss` (``dr_grpo`` too, not
    ``sequence_mean``), provided ``kl_coef=0`` (the KL term adds its own gradient), no
    ``auxiliary_loss`` and no channel losses, and sampling at temperature 1 (the
    log-probs are read at the sampling temperature, so at T ≠ 1 the prior is the tempered
    reference). With more passes the clipped surrogate stands in for β̂'s update. The
    trainer keeps the reference policy when an estimator requires ``reference_logprobs``,
    and refuses multi-turn episodes (the environment's tokens would enter the weights).

    Args:
        scale: s >= 0 (s = 1/β: the target is p_ref · exp(r/β)).

    Example:
        >>> estimator = BRAInStyleEstimator(scale=1.0)
        >>> out = estimator([0.0, np.log(3.0)], [0, 0], [[5], [6]], 0, 1,
        ...                 token_logprobs=[[-0.7], [-0.7]], reference_logprobs=[[-0.7], [-0.7]])
        >>> [round(float(v[0]), 2) for v in out.values]  # 2 · (0.25 − 0.5), 2 · (0.75 − 0.5)
        [-0.5, 0.5]
    """

    scale: float = 1.0
    requires: frozenset[str] = field(
        default=frozenset({"token_logprobs", "reference_logprobs"}), init=False
    )

    def __post_init__(self) -> None:
        _check_scale(self.scale)

    def __call__(
        self,
        rewards: Any,
        group: Any,
        sequences: Sequence[Sequence[int]],
        step: int,
        total: int,
        *,
        token_logprobs: Sequence[Any],
        reference_logprobs: Sequence[Any],
    ) -> TokenAdvantages:
        values = check_rewards(rewards, group, sequences)
        if not np.isfinite(values).all():
            raise ShapeError("BRAIn needs a finite reward for every sample (log p(G=1|x,y))")
        if len(token_logprobs) != len(sequences) or len(reference_logprobs) != len(sequences):
            raise ShapeError(f"{len(sequences)} sequences need as many log-prob rows")
        proposal = np.array([float(np.sum(row)) for row in token_logprobs])
        prior = np.array([float(np.sum(row)) for row in reference_logprobs])
        owners = np.asarray(group)
        advantages = np.zeros(len(values))
        for g in np.unique(owners):
            rows = np.flatnonzero(owners == g)
            alpha = brain_style_targets(prior[rows][None], values[rows][None],
                                        proposal[rows][None], self.scale)[0]  # fmt: skip
            advantages[rows] = len(rows) * (alpha - 1.0 / len(rows))
        return TokenAdvantages(broadcast(advantages, sequences))
