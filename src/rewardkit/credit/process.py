"""Step-level credit from a process reward: outcome advantage plus the step's process return.

A process reward gives each step k of completion i a reward r_{i,k} (a PRM's
score, refined by Clip or Delta, :mod:`rewardkit.shaping.process`, or an
implicit PRM's log-ratio). Without a critic, each token of step k gets

    A_{i,t} = A_i + w · (G_{i,k} − b_i),   G_{i,k} = Σ_{j ≥ k} r̃_{i,j}

where A_i is GRPO's group advantage of the outcome reward, G_{i,k} the
process return from step k (γ = 1, as in Gao et al. 2024's PPO runs), and b_i
the mean of G over every step of every solution in i's group: a critic-free
stand-in for PPO's value baseline, centring the step advantages of a group as
OPRL centres its step rewards. Tokens after the last step (an answer written
after the steps) get A_i alone.
A sample whose outcome is not applicable (NaN) gets 0 on every token and is
left out of its siblings' baselines.

That baseline is one number per group, so with ``credit="token"`` a further step
whose return is above it adds tokens of positive advantage even where the
refinement keeps the return flat (Delta: a repeated step of score r has G = r).
``credit="solution"`` credits the whole solution instead, as an outcome-level
reward: every token of solution i gets

    A_{i,t} = A_i + w · (G_{i,1} − mean over i's group of G_{·,1}),

so a refinement that bounds the return also bounds what an extra step can earn.

``step_ends[i]`` are the (exclusive) token offsets at which completion i's
steps end, ascending; ``step_rewards[i]`` has one reward per step.

Example:
    >>> out = process_advantages(
    ...     np.array([1.0, 0.0]), np.array([0, 0]), [[1, 2, 3], [4, 5]],
    ...     step_rewards=[np.array([0.5, 0.5]), np.array([0.2])],
    ...     step_ends=[np.array([1, 2]), np.array([1])], weight=1.0)
    >>> [v.round(3).tolist() for v in out]
    [[1.14, 0.64, 0.707], [-1.074, -0.707]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.credit._arrays import FloatArray
from rewardkit.credit.group import grpo_advantages
from rewardkit.credit.token_types import TokenAdvantages, check_rewards
from rewardkit.lm.tokens import token_ends
from rewardkit.shaping.process import REFINEMENTS, Refinement, refine_step_rewards

__all__ = [
    "ProcessEstimator",
    "ProcessStepRewards",
    "StepRewards",
    "check_step_layout",
    "process_advantages",
    "process_returns",
]

#: what a trainer's ``step_rewards=`` is: the reward batch → (per completion, its (K_i,)
#: step rewards; their token end offsets)
StepRewards = Callable[[Mapping[str, Any]], tuple[list[FloatArray], list[np.ndarray]]]


def process_returns(step_rewards: Any) -> FloatArray:
    """G_k = Σ_{j ≥ k} r_j for one solution's (K,) step rewards (the reverse cumulative sum).

    Example:
        >>> process_returns([0.5, 0.25, 0.25]).tolist()
        [1.0, 0.5, 0.25]
    """
    values = np.asarray(step_rewards, dtype=np.float64)
    if values.ndim != 1:
        raise ShapeError(f"step rewards must be 1-D, got shape {values.shape}")
    return np.cumsum(values[::-1])[::-1].copy()


def check_step_layout(
    step_rewards: Sequence[Any], step_ends: Sequence[Any], sequences: Sequence[Sequence[int]]
) -> list[tuple[FloatArray, npt.NDArray[np.int64]]]:
    """Per completion, its (K_i,) step rewards (finite or NaN; ±inf refused) and (K_i,)
    integer step ends, ascending within its tokens (what the ``process`` and ``oprl``
    estimators read).

    Raises:
        ShapeError: counts, shapes, ends or an infinite reward that do not fit.
    """
    n = len(sequences)
    if len(step_rewards) != n or len(step_ends) != n:
        raise ShapeError(
            f"{n} sequences need as many step_rewards and step_ends, got "
            f"{len(step_rewards)} and {len(step_ends)}"
        )
    out = []
    for i, (rewards, ends) in enumerate(zip(step_rewards, step_ends, strict=True)):
        r, e = np.asarray(rewards, dtype=np.float64), np.asarray(ends)
        if e.size and not np.issubdtype(e.dtype, np.integer):
            raise ShapeError(f"completion {i}: step ends must be ints, got {e.dtype}")
        if r.ndim != 1 or r.shape != e.shape:
            raise ShapeError(f"completion {i}: {r.shape} step rewards but {e.shape} step ends")
        if np.isinf(r).any():
            raise ShapeError(f"completion {i}: an infinite step reward ({r.tolist()})")
        e = e.astype(np.int64)
        if e.size and (e[0] < 0 or np.any(np.diff(e) < 0) or e[-1] > len(sequences[i])):
            raise ShapeError(
                f"completion {i}: step ends {e.tolist()} must ascend within its "
                f"{len(sequences[i])} tokens"
            )
        out.append((r, e))
    return out


def process_advantages(
    rewards: Any,
    group: Any,
    sequences: Sequence[Sequence[int]],
    *,
    step_rewards: Sequence[Any],
    step_ends: Sequence[Any],
    weight: float = 1.0,
    credit: str = "token",
) -> list[FloatArray]:
    """Per-token A_i + w·(G_{i,k} − b_i) (``credit="token"``) or A_i + w·(G_{i,1} −
    mean G_{·,1}) on every token (``credit="solution"``); see the module docs. A NaN
    outcome gives 0 on every token.

    A step reward that is NaN makes its solution's process part unusable: that
    solution keeps its outcome advantage and is left out of the baselines, as is
    a solution whose outcome is NaN.
    """
    outcome = check_rewards(rewards, group, sequences)
    steps = check_step_layout(step_rewards, step_ends, sequences)
    labels = np.asarray(group)
    base = np.nan_to_num(grpo_advantages(outcome, labels), nan=0.0)
    usable = np.array([not np.isnan(outcome[i]) and not np.isnan(r).any()
                       for i, (r, _) in enumerate(steps)])  # fmt: skip
    if credit not in ("token", "solution"):
        raise ConfigurationError(f"credit must be 'token' or 'solution', got {credit!r}")
    returns = [process_returns(r) if usable[i] else np.zeros(0) for i, (r, _) in enumerate(steps)]
    if credit == "solution":  # the whole solution's return, once: G_{i,1} (0 with no step)
        returns = [r[:1] if len(r) else np.zeros(int(usable[i])) for i, r in enumerate(returns)]
    baselines: dict[Any, float] = {}
    for label in np.unique(labels):
        pooled = [returns[i] for i in np.flatnonzero(labels == label)]
        flat = np.concatenate(pooled) if pooled else np.zeros(0)
        baselines[label] = float(flat.mean()) if flat.size else 0.0
    result = []
    for i, (_, ends) in enumerate(steps):
        if np.isnan(outcome[i]):
            result.append(np.zeros(len(sequences[i])))
            continue
        values = np.full(len(sequences[i]), base[i])
        if credit == "solution":
            if usable[i]:
                values += weight * (returns[i][0] - baselines[labels[i]])
            result.append(values)
            continue
        starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
        for start, end, g in zip(starts, ends, returns[i], strict=False):
            values[start:end] += weight * (g - baselines[labels[i]])
        result.append(values)
    return result


@dataclass
class ProcessEstimator:
    """A token estimator over step rewards: :func:`process_advantages` after a refinement.

    The trainer passes ``step_rewards`` (per completion, its (K_i,) raw process
    rewards) and ``step_ends`` (their token end offsets); see
    :class:`rewardkit.train.GRPOTrainer`'s ``step_rewards=``.

    Args:
        refinement: ``none`` (the PRM's rewards as they are), ``clip``, ``delta`` or
            ``clip_delta`` (Gao et al. 2024, :mod:`rewardkit.shaping.process`).
        eta: Clip's threshold.
        weight: w, the process part's weight beside the outcome advantage.
        credit: ``token`` (each step's tokens get its return) or ``solution`` (every token
            gets the solution's whole return), see the module docs.

    Example:
        >>> estimator = ProcessEstimator(refinement="delta")
        >>> out = estimator(np.array([1.0, 1.0]), np.array([0, 0]), [[1, 1, 2], [1, 2]], 0, 1,
        ...                 step_rewards=[[0.9, 0.9, 0.95], [0.9, 0.95]],
        ...                 step_ends=[[1, 2, 3], [1, 2]])
        >>> [v.round(2).tolist() for v in out.values]  # the repeated step's tokens gain
        [[0.36, 0.36, -0.54], [0.36, -0.54]]
        >>> solution = ProcessEstimator(refinement="delta", credit="solution")
        >>> out = solution(np.array([1.0, 1.0]), np.array([0, 0]), [[1, 1, 2], [1, 2]], 0, 1,
        ...                step_rewards=[[0.9, 0.9, 0.95], [0.9, 0.95]],
        ...                step_ends=[[1, 2, 3], [1, 2]])
        >>> [v.round(2).tolist() for v in out.values]  # the same return: nothing to gain
        [[0.0, 0.0, 0.0], [0.0, 0.0]]
    """

    refinement: Refinement = "none"
    eta: float = 0.0
    weight: float = 1.0
    credit: str = "token"
    requires: frozenset[str] = field(default=frozenset({"step_rewards", "step_ends"}), init=False)

    def __post_init__(self) -> None:
        if self.refinement not in REFINEMENTS:
            raise ConfigurationError(
                f"unknown refinement {self.refinement!r}; known: {REFINEMENTS}"
            )
        if not np.isfinite(self.weight) or self.weight < 0:
            raise ConfigurationError(f"weight must be finite and ≥ 0, got {self.weight}")
        if self.credit not in ("token", "solution"):
            raise ConfigurationError(f"credit must be 'token' or 'solution', got {self.credit!r}")

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
        raw = [np.asarray(r, dtype=np.float64) for r in step_rewards]
        finite = [r if not np.isnan(r).any() else None for r in raw]
        refined = refine_step_rewards(
            [r if r is not None else np.zeros(0) for r in finite], self.refinement, self.eta
        )
        # a solution the PRM could not score keeps NaN: process_advantages leaves it out
        usable = [
            refined[i] if finite[i] is not None else np.full(len(raw[i]), np.nan)
            for i in range(len(raw))
        ]
        values = process_advantages(
            rewards, group, sequences, step_rewards=usable, step_ends=step_ends,
            weight=self.weight, credit=self.credit,
        )  # fmt: skip
        return TokenAdvantages(values)


class ProcessStepRewards:
    """A trainer's ``step_rewards=`` from a process reward model: each completion split at
    the PRM's separator, each step scored by the PRM, each step's end found in its tokens.

    Args:
        prm: a model with ``separator`` and ``step_scores(prompts, completions)``
            (:class:`~rewardkit.models.ProcessRewardModel`,
            :class:`~rewardkit.models.FrozenHeadProcessRewardModel`).
        tokenizer: the policy's tokenizer (the one ``completion_ids`` are in).

    Example:
        >>> from rewardkit.lm.tiny import build_char_tokenizer
        >>> class Half:  # every step scores 0.5
        ...     separator = ","
        ...     def step_scores(self, prompts, completions):
        ...         return [np.full(len(c.split(",")), 0.5) for c in completions], None
        >>> from rewardkit.lm.tokens import encode
        >>> tokenizer = build_char_tokenizer("0123456789,>")
        >>> ids = encode(tokenizer, "14,21>21")
        >>> rewards, ends = ProcessStepRewards(Half(), tokenizer)(
        ...     {"prompt": ["5+9+7="], "completion": ["14,21>21"], "completion_ids": [ids]})
        >>> rewards[0].tolist(), ends[0].tolist()
        ([0.5, 0.5], [3, 8])
    """

    def __init__(self, prm: Any, tokenizer: Any) -> None:
        if not getattr(prm, "separator", None) or not hasattr(prm, "step_scores"):
            raise ConfigurationError("a process reward model needs a separator and step_scores()")
        self.prm, self.tokenizer = prm, tokenizer

    def __call__(self, batch: Mapping[str, Any]) -> tuple[list[FloatArray], list[np.ndarray]]:
        from rewardkit.models.process import split_steps

        prompts, texts = list(batch["prompt"]), list(batch["completion"])
        scores, truncated = self.prm.step_scores(prompts, texts)
        cut = np.zeros(len(texts), bool) if truncated is None else np.asarray(truncated, bool)
        rewards, ends = [], []
        for index, (text, ids, score) in enumerate(
            zip(texts, batch["completion_ids"], scores, strict=True)
        ):
            steps = split_steps(text, self.prm.separator)
            char_ends = np.cumsum([len(step) for step in steps]).tolist()
            if len(score) != len(steps):
                raise ShapeError(f"the PRM scored {len(score)} of {len(steps)} steps")
            # a text the PRM read cut short has no trustworthy step scores: NaN, so the
            # estimator keeps its outcome advantage and leaves it out of the baselines
            value = np.asarray(score, dtype=np.float64)
            rewards.append(np.full(len(value), np.nan) if cut[index] else value)
            ends.append(np.asarray(token_ends(self.tokenizer, ids, char_ends), dtype=np.int64))
        return rewards, ends
