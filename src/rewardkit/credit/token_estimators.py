"""Estimators that read the policy's own signals: rows of the estimator table.

Each wraps the pure functions of :mod:`rewardkit.credit.token_signals` around
GRPO's group advantage, and declares in ``requires`` what the trainer must
pass: ``token_logprobs`` and ``token_entropies`` (per completion, (T,) arrays
of the sampling policy, read in the same no-grad pass as the old log-probs)
or ``hidden_states`` (per completion, (T, d) last-layer states).

=====================  =========================================  ==================
name                   what it does                               requires
=====================  =========================================  ==================
``ppl_weight``         A_i·w_i, low-perplexity samples weigh more  token_logprobs
``position_bonus``     A + sign(A)·b_t, later tokens pushed more   (nothing)
``entropy_clip``       Clip_B: drop A<0 tokens that cut entropy    logprobs, entropies
``negative_only``      min(A, 0)                                   (nothing)
``rank_shaped``        VERL's ER/ERV/ERA advantage bonus           hidden_states
=====================  =========================================  ==================

A token an estimator drops gets advantage 0 (no policy gradient); it still
counts in a ``token_mean`` loss's denominator and in the KL term.

Example:
    >>> estimator = negative_only_estimator
    >>> out = estimator(np.array([1.0, 0.0]), np.array([0, 0]), [[5, 6], [7]], 0, 1)
    >>> [v.round(3).tolist() for v in out.values]
    [[0.0, 0.0], [-0.707]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.credit.group import grpo_advantages
from rewardkit.credit.token_signals import (
    RankBaselines,
    entropy_discriminator_keep,
    negative_only,
    perplexity_weights,
    position_bonus,
    rank_dynamics,
    rank_shaping,
)
from rewardkit.credit.token_types import TokenAdvantages, broadcast, check_rewards

__all__ = [
    "EntropyClipEstimator",
    "PerplexityEstimator",
    "PositionEstimator",
    "RankEstimator",
    "negative_only_estimator",
]


def _per_token(name: str, arrays: Sequence[Any], sequences: Sequence[Sequence[int]]) -> None:
    if len(arrays) != len(sequences) or any(
        np.shape(a)[0] != len(s) for a, s in zip(arrays, sequences, strict=True)
    ):
        raise ShapeError(f"{name} needs one array per completion, as long as its tokens")


def negative_only_estimator(
    rewards: Any, group: Any, sequences: Sequence[Sequence[int]], step: int, total: int
) -> TokenAdvantages:
    """GRPO's advantages with the positive ones zeroed: only relative negative gradients train."""
    values = check_rewards(rewards, group, sequences)
    return TokenAdvantages(broadcast(negative_only(grpo_advantages(values, group)), sequences))


@dataclass
class PerplexityEstimator:
    """GRPO's advantage times each sample's perplexity weight (:func:`perplexity_weights`)."""

    alpha: float = 0.01
    requires: frozenset[str] = field(default=frozenset({"token_logprobs"}), init=False)

    def __call__(
        self,
        rewards: Any,
        group: Any,
        sequences: Sequence[Sequence[int]],
        step: int,
        total: int,
        *,
        token_logprobs: Sequence[Any],
    ) -> TokenAdvantages:
        values = check_rewards(rewards, group, sequences)
        _per_token("token_logprobs", token_logprobs, sequences)
        weights = perplexity_weights(token_logprobs, group, self.alpha)
        return TokenAdvantages(broadcast(grpo_advantages(values, group) * weights, sequences))


@dataclass
class PositionEstimator:
    """GRPO's advantage plus the positional bonus (:func:`position_bonus`), applied on the
    steps between ``start`` and ``stop`` (fractions of the run: the paper's plateau stage;
    the default is the whole run)."""

    k: float = 15.0
    alpha: float = 0.1
    start: float = 0.0
    stop: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.start < self.stop <= 1.0:
            raise ConfigurationError("need 0 <= start < stop <= 1 (fractions of the run)")

    def __call__(
        self, rewards: Any, group: Any, sequences: Sequence[Sequence[int]], step: int, total: int
    ) -> TokenAdvantages:
        values = check_rewards(rewards, group, sequences)
        advantages = np.nan_to_num(grpo_advantages(values, group), nan=0.0)
        if not self.start <= step / max(total, 1) < self.stop:
            return TokenAdvantages(broadcast(advantages, sequences))
        return TokenAdvantages(
            [
                position_bonus(a, len(s), self.k, self.alpha)
                for a, s in zip(advantages, sequences, strict=False)
            ]
        )


@dataclass
class EntropyClipEstimator:
    """Clip_B: GRPO's advantages, without the negative-advantage tokens whose update would
    lower entropy most (:func:`entropy_discriminator_keep`, μ = 2.5)."""

    mu: float = 2.5
    requires: frozenset[str] = field(
        default=frozenset({"token_logprobs", "token_entropies"}), init=False
    )

    def __call__(
        self,
        rewards: Any,
        group: Any,
        sequences: Sequence[Sequence[int]],
        step: int,
        total: int,
        *,
        token_logprobs: Sequence[Any],
        token_entropies: Sequence[Any],
    ) -> TokenAdvantages:
        values = check_rewards(rewards, group, sequences)
        _per_token("token_logprobs", token_logprobs, sequences)
        _per_token("token_entropies", token_entropies, sequences)
        advantages = broadcast(grpo_advantages(values, group), sequences)
        keep = entropy_discriminator_keep(advantages, token_logprobs, token_entropies, self.mu)
        return TokenAdvantages(
            [np.where(k, a, 0.0) for a, k in zip(advantages, keep, strict=False)]
        )


@dataclass
class RankEstimator:
    """VERL's effective-rank advantage shaping (:func:`rank_shaping`).

    Each step reads (ER, ERV, ERA) of every completion's hidden states
    (:func:`rank_dynamics`, stride ``stride``), shapes the advantages against
    EMA baselines of the previous steps' batch means, then updates them. The
    bonus lands on the last token (``on="last"``, as the paper's code does) or
    on every token (``"all"``).
    """

    stride: int = 40
    window: int = 512
    ema: float = 0.3
    gain: float = 2.0
    lam: float = 1.0
    kappa: float = 2.0
    on: str = "last"
    requires: frozenset[str] = field(default=frozenset({"hidden_states"}), init=False)
    baselines: RankBaselines = field(init=False)

    def __post_init__(self) -> None:
        if self.on not in ("last", "all") or self.stride < 1 or self.kappa <= 0:
            raise ConfigurationError("need on in ('last', 'all'), stride >= 1 and kappa > 0")
        self.baselines = RankBaselines(self.ema)

    def __call__(
        self,
        rewards: Any,
        group: Any,
        sequences: Sequence[Sequence[int]],
        step: int,
        total: int,
        *,
        hidden_states: Sequence[Any],
    ) -> TokenAdvantages:
        values = check_rewards(rewards, group, sequences)
        _per_token("hidden_states", hidden_states, sequences)
        base = np.nan_to_num(grpo_advantages(values, group), nan=0.0)
        metrics = np.array([rank_dynamics(h, self.stride, self.window) for h in hidden_states])
        shaped = rank_shaping(base, metrics, self.baselines.values, self.gain, self.lam, self.kappa)
        shaped[np.isnan(values)] = 0.0
        self.baselines.update(
            dict(zip(("er", "erv", "era"), metrics.mean(axis=0).tolist(), strict=False))
        )
        if self.on == "all":
            return TokenAdvantages(broadcast(shaped, sequences))
        out = broadcast(base, sequences)
        for row, value in zip(out, shaped, strict=True):
            if row.size:
                row[-1] = value
        return TokenAdvantages(out)
