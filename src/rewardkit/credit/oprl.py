"""OPRL-style token advantages: the outcome's group advantage plus the step's, per token.

OPRL / iStar (Liu et al. 2025, arXiv 2509.19199, Eq. 3-5). For completion i of a
group, with outcome r_o(τ_i) and step rewards r_{i,k} (an implicit PRM's, Eq. 1):

    A^E_i = (r_o(τ_i) − mean R_o) / (std R_o + ε)        R_o: the group's outcomes
    A^S_{i,k} = (r_{i,k} − mean R_s) / (std R_s + ε)     R_s: every step reward of the group
    A_{i,t} = A^E_i + α · A^S_{i,k}                      for each token t of step k

std is the sample std (ddof=1); a pool of one value gets 0
(:func:`~rewardkit.credit.implicit_prm.oprl_group_advantages`). Groups are the
``group`` ids the trainer passes, any labels, members anywhere in the batch.
Tokens after the last step end (an EOS the steps do not cover) get A^E_i alone.

The not-applicable policy is the estimator table's (:mod:`rewardkit.credit.token`)
and :class:`~rewardkit.credit.process.ProcessEstimator`'s: a NaN outcome gives its
completion 0 on every token and leaves it out of every statistic; a completion whose
step rewards hold a NaN keeps A^E_i on every token and stays out of the step pool.

What is OPRL's here: Eq. 3-5 with α (the paper: α = 1) and the step pool. What is
not: the paper's default episode advantage is RLOO's (here A^E is always the group
z-score of Eq. 3), and its policy loss is a clipped surrogate with no KL; with
:class:`~rewardkit.train.GRPOTrainer` the trainer's own loss (clip, KL, aggregation)
is used. Hence "OPRL-style".

Example:
    >>> out = OPRLEstimator(alpha=1.0)(np.array([1.0, 0.0]), np.array([0, 0]),
    ...     [[5, 6, 7, 2], [8, 2]], 0, 1,
    ...     step_rewards=[np.array([0.2, 0.4]), np.array([0.0])],
    ...     step_ends=[np.array([2, 3]), np.array([1])])
    >>> [v.round(3).tolist() for v in out.values]  # the EOS after the steps: A^E alone
    [[0.707, 0.707, 1.707, 0.707], [-1.707, -0.707]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.credit._arrays import FloatArray
from rewardkit.credit.implicit_prm import oprl_group_advantages
from rewardkit.credit.process import check_step_layout
from rewardkit.credit.token_types import TokenAdvantages, check_rewards

__all__ = ["OPRLEstimator", "oprl_token_advantages"]


def oprl_token_advantages(
    rewards: Any,
    group: Any,
    sequences: Sequence[Sequence[int]],
    *,
    step_rewards: Sequence[Any],
    step_ends: Sequence[Any],
    alpha: float = 1.0,
    epsilon: float = 1e-6,
) -> list[FloatArray]:
    """Per completion, (T_i,) A^E_i + α·A^S_{i,k} on the tokens of step k (module docs).

    Args:
        rewards: (N,) outcomes, NaN = not applicable.
        group: (N,) group ids.
        sequences: the completions' token ids (only their lengths are read).
        step_rewards: per completion, (K_i,) step rewards.
        step_ends: per completion, (K_i,) exclusive token ends of its steps, ascending.
        alpha: α, the step advantage's weight.
        epsilon: ε, added to each std.
    """
    outcome = check_rewards(rewards, group, sequences)
    steps = check_step_layout(step_rewards, step_ends, sequences)
    usable = [not np.isnan(outcome[i]) and not np.isnan(r).any() for i, (r, _) in enumerate(steps)]
    pooled = [r if usable[i] else np.zeros(0) for i, (r, _) in enumerate(steps)]
    adv = oprl_group_advantages(outcome, pooled, np.asarray(group), alpha, epsilon)
    result = []
    for i, (_, ends) in enumerate(steps):
        if np.isnan(outcome[i]):
            result.append(np.zeros(len(sequences[i])))
            continue
        values = np.full(len(sequences[i]), adv.episode[i])
        starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
        for start, end, a in zip(starts, ends, adv.step[i], strict=False):
            values[start:end] += alpha * a
        result.append(values)
    return result


@dataclass
class OPRLEstimator:
    """A token estimator over step rewards: :func:`oprl_token_advantages`.

    The trainer passes ``step_rewards`` and ``step_ends``, e.g. from
    :class:`rewardkit.train.implicit_prm.ImplicitPRMStepRewards` (the online implicit
    PRM) through :class:`rewardkit.train.GRPOTrainer`'s ``step_rewards=``.

    Args:
        alpha: α, the step advantage's weight (the paper: 1); finite and ≥ 0.
        epsilon: ε, added to each std.
    """

    alpha: float = 1.0
    epsilon: float = 1e-6
    requires: frozenset[str] = field(default=frozenset({"step_rewards", "step_ends"}), init=False)

    def __post_init__(self) -> None:
        if not np.isfinite(self.alpha) or self.alpha < 0:
            raise ConfigurationError(f"alpha must be finite, ≥ 0 (paper: 1), got {self.alpha}")
        if not np.isfinite(self.epsilon) or self.epsilon < 0:
            raise ConfigurationError(f"epsilon must be finite and ≥ 0, got {self.epsilon}")

    def __call__(
        self,
        rewards: Any,
        group: Any,
        sequences: Sequence[Sequence[int]],
        step: int,
        total: int,
        *,
        step_rewards: Sequence[Any],
        step_ends: Sequence[Any],
    ) -> TokenAdvantages:
        values = oprl_token_advantages(
            rewards, group, sequences, step_rewards=step_rewards, step_ends=step_ends,
            alpha=self.alpha, epsilon=self.epsilon,
        )  # fmt: skip
        return TokenAdvantages(values)
