"""Token credit from the policy's own signals: perplexity, position, entropy, hidden-state rank.

Pure functions over per-token arrays, and the estimators built on them (rows
of the estimator table in :mod:`rewardkit.credit.token`). Each starts from
GRPO's group-normalized advantage A_i = (r_i − mean_g r) / std_g r.

- :func:`perplexity_weights` ("Decomposing the Entropy-Performance
  Exchange", Wang et al., arXiv:2508.02260; from its code): logPPL_i =
  −mean_t log π_old(o_t); within each group, outside [Q1 − 1.5·IQR,
  Q3 + 1.5·IQR] dropped, z_i = (logPPL_i − μ)/σ, and w_i = clip(1 − α·z_i,
  0.8, 1.2) with α = 0.01: low-perplexity samples weigh more.
- :func:`position_bonus` (same paper): r_t = (t − 1)/L, b_t =
  min(α·σ(k(r_t − 0.5)), 0.5·|A|), A'_t = A + sign(A)·b_t, with k = 15,
  α = 0.1: tokens near the end get a larger push.
- :func:`entropy_discriminator_keep` ("On the Entropy Dynamics in
  Reinforcement Fine-Tuning", arXiv:2602.03392, Clip_B): a token's first-order
  entropy change under its update is ΔH ≈ −ε·S with S = p(H + log p)
  (Theorem 3.2). A negative advantage pushes the token's logit down (ε < 0),
  so ΔH ≈ |ε|·S: a token with S far below the batch's mean would *lower*
  entropy most. Over the batch's tokens, a negative-advantage token is kept
  only if S − E[S] ≥ −μ·σ_S (μ = 2.5): those updates, the road to entropy
  collapse, are clipped.
- :func:`negative_only` ("The Debate on RLVR Reasoning Capability
  Boundary", arXiv:2510.04028): train on relative negative gradients only,
  A_i ← min(A_i, 0).
- :func:`effective_rank`, :func:`rank_dynamics`, :func:`rank_shaping`
  (VERL, "Velocity-Exploiting Rank-Learning", arXiv:2509.23808; from its
  code): ER(Z) = exp(−Σ_j p_j log p_j), p_j = σ_j / Σσ over the singular values
  of the row-centred hidden states; ERV and ERA its first and second
  differences over growing prefixes (stride s); the advantage gets
  min(ReLU(aux), |A|/κ) with aux = λ·Σ_m tanh(d_m)·w_m, d_m the metric's
  relative deviation from an EMA of past batch means, w = β·w_explore +
  (1 − β)·w_exploit, β = sigmoid(g·d_ERA).

Example:
    >>> negative_only(np.array([1.0, -0.5, 0.0])).tolist()
    [0.0, -0.5, 0.0]
    >>> round(effective_rank(np.eye(4)), 3)  # four equal directions (rows centred: rank 3)
    3.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.credit._arrays import FloatArray

__all__ = [
    "RankBaselines",
    "effective_rank",
    "entropy_discriminator",
    "entropy_discriminator_keep",
    "negative_only",
    "perplexity_weights",
    "position_bonus",
    "rank_dynamics",
    "rank_shaping",
]


def negative_only(advantages: Any) -> FloatArray:
    """A ← min(A, 0): only the relative negative gradients train (NaN stays NaN)."""
    a = np.asarray(advantages, dtype=np.float64)
    return np.where(a > 0, 0.0, a)


def perplexity_weights(
    token_log_probs: Sequence[Any],
    group: Any,
    alpha: float = 0.01,
    bounds: tuple[float, float] = (0.8, 1.2),
) -> FloatArray:
    """Per-sample weights w_i = clip(1 − α·z_i, lo, hi) from each sample's log-perplexity.

    z_i standardizes logPPL_i = −mean_t log π(o_t) within its group over the
    samples inside the group's Tukey fences (σ < 1e-6 counts as 1); an outlier
    gets its z from the inliers' μ and σ too.

    Example:
        >>> lp = [np.log([0.9, 0.9]), np.log([0.5, 0.5]), np.log([0.1, 0.1])]
        >>> perplexity_weights(lp, [0, 0, 0], alpha=0.1).round(3).tolist()
        [1.1, 1.037, 0.863]
    """
    labels = np.asarray(group)
    if labels.shape != (len(token_log_probs),):
        raise ShapeError(f"group must have shape ({len(token_log_probs)},), got {labels.shape}")
    log_ppl = np.array(
        [-float(np.mean(lp)) if len(lp) else np.nan for lp in token_log_probs], dtype=np.float64
    )
    z = np.zeros_like(log_ppl)
    for g in np.unique(labels):
        rows = np.flatnonzero((labels == g) & ~np.isnan(log_ppl))
        if rows.size == 0:
            continue
        values = log_ppl[rows]
        q1, q3 = np.percentile(values, [25, 75])
        inside = values[(values >= q1 - 1.5 * (q3 - q1)) & (values <= q3 + 1.5 * (q3 - q1))]
        mu, sigma = float(inside.mean()), float(inside.std())
        z[rows] = (values - mu) / (sigma if sigma >= 1e-6 else 1.0)
    return np.clip(1.0 - alpha * z, *bounds)


def position_bonus(
    advantage: float, length: int, k: float = 15.0, alpha: float = 0.1
) -> FloatArray:
    """A'_t = A + sign(A)·min(α·σ(k((t − 1)/L − 0.5)), 0.5·|A|) over a sequence of length L.

    Example:
        >>> position_bonus(1.0, 3, k=15.0, alpha=0.1).round(4).tolist()
        [1.0001, 1.0076, 1.0924]
    """
    if length == 0:
        return np.zeros(0)
    relative = np.arange(length, dtype=np.float64) / length
    bonus = np.minimum(alpha / (1.0 + np.exp(-k * (relative - 0.5))), 0.5 * abs(advantage))
    shifted: FloatArray = advantage + np.sign(advantage) * bonus
    return shifted


def entropy_discriminator(log_probs: Any, entropies: Any) -> FloatArray:
    """S = p·(H + log p) of each sampled token: ΔH ≈ −ε·S when its logit moves by ε.

    Example:
        >>> entropy_discriminator(np.log([0.5]), [np.log(2.0)]).round(6).tolist()  # p = e^-H
        [0.0]
    """
    lp = np.asarray(log_probs, dtype=np.float64)
    return np.exp(lp) * (np.asarray(entropies, dtype=np.float64) + lp)


def entropy_discriminator_keep(
    advantages: Sequence[Any],
    log_probs: Sequence[Any],
    entropies: Sequence[Any],
    mu: float = 2.5,
) -> list[np.ndarray]:
    """Clip_B's token mask: a token with A < 0 stays only if S − E[S] ≥ −μ·σ_S (batch-wide).

    Returns per sequence a bool array (True: the token trains).
    """
    s = [entropy_discriminator(lp, h) for lp, h in zip(log_probs, entropies, strict=True)]
    flat = np.concatenate(s) if s else np.zeros(0)
    if flat.size == 0:
        return [np.ones(0, dtype=bool) for _ in s]
    mean, std = float(flat.mean()), float(flat.std())
    keep = []
    for a, row in zip(advantages, s, strict=True):
        adv = np.broadcast_to(np.asarray(a, dtype=np.float64), row.shape)
        ok = (adv >= 0) | (row - mean >= -mu * std) if std >= 1e-12 else np.ones(row.shape, bool)
        keep.append(np.asarray(ok, dtype=bool))
    return keep


def effective_rank(hidden: Any) -> float:
    """ER = exp(H(σ/Σσ)) of the row-centred (T, d) hidden states (Roy & Vetterli 2007).

    0 for fewer than two rows (nothing spans a direction).
    """
    z = np.asarray(hidden, dtype=np.float64)
    if z.ndim != 2:
        raise ShapeError(f"hidden states must be (T, d), got shape {z.shape}")
    if z.shape[0] < 2:
        return 0.0
    sigma = np.linalg.svd(z - z.mean(axis=0), compute_uv=False)
    total = float(sigma.sum())
    if total <= 0:
        return 0.0
    p = sigma / total
    return float(np.exp(-(p * np.log(p + 1e-8)).sum()))


def rank_dynamics(hidden: Any, stride: int = 40, window: int = 512) -> tuple[float, float, float]:
    """(ER, ERV, ERA) of one response's last ``window`` hidden states.

    ER_j is the effective rank of the prefix of the first t_j + 1 tokens, t_j = j·s
    (as the paper's code does);
    ERV_j = ER_j − mean(ER_1..ER_{j−1}); ERA_j = ERV_j − ERV_{j−1}; ERV and
    ERA are the means over j (0 when the response is shorter than 2·s).
    """
    z = np.asarray(hidden, dtype=np.float64)[-window:]
    er = effective_rank(z)
    points = [effective_rank(z[: t + 1]) for t in range(stride, z.shape[0], stride)]
    if len(points) < 2:
        return er, 0.0, 0.0
    velocity = [points[j] - float(np.mean(points[:j])) for j in range(1, len(points))]
    acceleration = [velocity[j] - velocity[j - 1] for j in range(1, len(velocity))]
    return er, float(np.mean(velocity)), float(np.mean(acceleration)) if acceleration else 0.0


@dataclass
class RankBaselines:
    """EMA baselines μ_m of the batch means of ER, ERV, ERA: μ ← (1 − α)μ + α·mean."""

    alpha: float = 0.3
    values: dict[str, float] = field(default_factory=dict)

    def update(self, means: dict[str, float]) -> None:
        for key, value in means.items():
            old = self.values.get(key)
            self.values[key] = value if old is None else (1 - self.alpha) * old + self.alpha * value


def rank_shaping(
    advantages: Any,
    metrics: Any,
    baselines: dict[str, float],
    gain: float = 2.0,
    lam: float = 1.0,
    kappa: float = 2.0,
) -> FloatArray:
    """A + min(ReLU(aux), |A|/κ) per sample, from its (ER, ERV, ERA) row of ``metrics`` (N, 3).

    d_m = clip((m − μ_m)/(|μ_m| + 1e-8), −5, 5); β = sigmoid(g·d_ERA);
    aux = λ·(β·tanh(d_ER) + (1 − β)·tanh(d_ERV)) (w_explore picks ER, w_exploit ERV).
    Without baselines yet (the first step), A is returned unchanged.
    """
    a = np.asarray(advantages, dtype=np.float64)
    m = np.asarray(metrics, dtype=np.float64).reshape(len(a), 3)
    if not {"er", "erv", "era"} <= set(baselines):
        return a.copy()
    mu = np.array([baselines["er"], baselines["erv"], baselines["era"]])
    d = np.clip((m - mu) / (np.abs(mu) + 1e-8), -5.0, 5.0)
    beta = 1.0 / (1.0 + np.exp(-gain * d[:, 2]))
    aux = lam * (beta * np.tanh(d[:, 0]) + (1 - beta) * np.tanh(d[:, 1]))
    shaped: FloatArray = a + np.minimum(np.maximum(aux, 0.0), np.abs(a) / kappa)
    return shaped


def check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigurationError(f"{name} must be > 0, got {value}")
