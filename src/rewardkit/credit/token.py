"""Token-level credit for sampled completions: the estimator table a trainer draws from.

An *estimator* turns a batch of scored completions into per-token
advantages:

    estimator(rewards, group, sequences, step, total_steps, **extras) -> TokenAdvantages

``rewards`` (N,) are the reward totals (NaN = not applicable), ``group`` the
prompt id of each sample, ``sequences`` the completion token ids. An
estimator that needs more declares it in ``requires`` and the trainer passes
it by keyword: ``channels`` (the reward's per-part arrays, name → (N,)), or
``continuation_rewards`` (N, K) for PPPO, with the prefix lengths it asks for
in ``prefix_lengths``, or ``turn_rewards`` (N, T) and ``turn_spans`` for
multi-turn episodes (:class:`TurnEstimator`).

The not-applicable policy lives here, once: a NaN reward is left out of every
statistic (group means, prefix trees), and its sample gets advantage 0 on
every token, so it neither trains nor moves its siblings' baselines.

Example:
    >>> rewards, group = np.array([1.0, 0.0, np.nan]), np.zeros(3)
    >>> out = ESTIMATORS["grpo"](rewards, group, [[5, 6], [7], [8]], 0, 1)
    >>> [v.round(3).tolist() for v in out.values]
    [[0.707, 0.707], [-0.707], [0.0]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict, runtime_checkable

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.credit._arrays import FloatArray, as_float_array
from rewardkit.credit.channels import hdpo_advantages, multi_channel_advantages
from rewardkit.credit.group import dr_grpo_advantages, grpo_advantages, rloo_advantages
from rewardkit.credit.oprl import OPRLEstimator
from rewardkit.credit.process import ProcessEstimator
from rewardkit.credit.steps import (
    ProgressiveRetention,
    continuation_accumulated_reward,
    prefix_retention_lengths,
)
from rewardkit.credit.token_estimators import (
    EntropyClipEstimator,
    PerplexityEstimator,
    PositionEstimator,
    RankEstimator,
    negative_only_estimator,
)
from rewardkit.credit.token_types import (
    ChannelLoss,
    Estimator,
    TokenAdvantages,
    broadcast,
)
from rewardkit.credit.token_types import (
    check_rewards as _check,
)
from rewardkit.credit.tree import sibling_advantages, tempo_advantages
from rewardkit.credit.turns import turn_advantages, turn_token_advantages

__all__ = [
    "ESTIMATORS",
    "ESTIMATOR_NAMES",
    "ChannelEstimator",
    "ChannelLoss",
    "Estimator",
    "EstimatorExtras",
    "PPPOEstimator",
    "PrefixEstimator",
    "TokenAdvantages",
    "TurnEstimator",
    "broadcast",
    "make_estimator",
]


class EstimatorExtras(TypedDict, total=False):
    """What an estimator may ask for beyond rewards, groups and sequences: the names in
    its ``requires``, passed by keyword.

    Attributes:
        channels: the reward's per-part arrays, name → (N,) (HDPO, GDPO).
        continuation_rewards: (N, K) rewards of K continuations of each prefix (PPPO).
        turn_rewards: (N, T) per-turn rewards of multi-turn episodes.
        turn_spans: each episode's (start, end) token span per turn.
        token_logprobs: per completion, (T,) log-probs of its tokens under the sampling
            policy (at the sampling temperature).
        token_entropies: per completion, (T,) entropies of the sampling policy.
        reference_logprobs: per completion, (T,) log-probs of its tokens under the
            trainer's reference (initial) policy (BRAIn's prior).
        hidden_states: per completion, (T, d) last-layer hidden states at its tokens (the
            state after reading token t, as a rollout engine's decode step has it).
        step_rewards: per completion, (K,) process rewards of its steps.
        step_ends: per completion, (K,) token offsets at which its steps end.
    """

    channels: Mapping[str, FloatArray]
    continuation_rewards: FloatArray
    turn_rewards: FloatArray
    turn_spans: Sequence[Sequence[tuple[int, int]]]
    token_logprobs: Sequence[FloatArray]
    token_entropies: Sequence[FloatArray]
    reference_logprobs: Sequence[FloatArray]
    hidden_states: Sequence[FloatArray]
    step_rewards: Sequence[FloatArray]
    step_ends: Sequence[npt.NDArray[np.int64]]


@runtime_checkable
class PrefixEstimator(Protocol):
    """An estimator that trains prefixes scored by their continuations (PPPO): the trainer
    samples ``continuations`` completions from each of its ``prefix_lengths``."""

    continuations: int

    def prefix_lengths(self, sequences: Sequence[Sequence[int]]) -> npt.NDArray[np.int64]: ...


def _sequence_level(fn: Callable[[FloatArray, Any], Any]) -> Estimator:
    def estimate(
        rewards: Any, group: Any, sequences: Sequence[Sequence[int]], step: int, total: int
    ) -> TokenAdvantages:
        values = _check(rewards, group, sequences)
        return TokenAdvantages(broadcast(fn(values, group), sequences))

    estimate.__doc__ = f"Sequence-level {fn.__name__}, broadcast over each completion's tokens."
    return estimate


def _token_level(fn: Callable[..., list[FloatArray]]) -> Estimator:
    """A prefix-tree estimator over the applicable samples only; NaN samples get 0."""

    def estimate(
        rewards: Any, group: Any, sequences: Sequence[Sequence[int]], step: int, total: int
    ) -> TokenAdvantages:
        values = _check(rewards, group, sequences)
        keep = np.flatnonzero(~np.isnan(values))
        result = [np.zeros(len(s)) for s in sequences]
        if keep.size:
            labels = np.asarray(group)[keep]
            inner = fn([sequences[int(i)] for i in keep], values[keep], labels)
            for index, advantages in zip(keep, inner, strict=True):
                result[index] = np.asarray(advantages, dtype=np.float64)
        return TokenAdvantages(result)

    estimate.__doc__ = f"Token-level {fn.__name__} on the prefix tree of each group."
    return estimate


def _linear_prefix_retention(
    rewards: Any, group: Any, sequences: Sequence[Sequence[int]], step: int, total: int
) -> TokenAdvantages:
    """GRPO advantages, training a leading fraction that grows linearly 20 % → 100 %.

    This is PPPO's prefix retention alone, with a step schedule; the whole
    method (continuations, plateau schedule) is :class:`PPPOEstimator`.
    """
    base = _sequence_level(grpo_advantages)(rewards, group, sequences, step, total)
    lengths = prefix_retention_lengths([len(s) for s in sequences], step, total)
    return TokenAdvantages(base.values, lengths)


@dataclass
class ChannelEstimator:
    """Advantages per reward channel (parts of the reward's breakdown), combined.

    ``kind="hdpo"``: ``channels = (accuracy, efficiency)``; efficiency is
    normalized over each group's correct samples (:func:`hdpo_advantages`) and,
    with ``separate_losses`` (the paper's form), trained by its own clipped
    loss with weight ``weight``; otherwise added to the accuracy advantage.
    ``kind="gdpo"``: every channel normalized per group, summed with
    ``weights``, normalized over the batch.
    """

    channels: tuple[str, ...]
    kind: str = "hdpo"
    weight: float = 0.15
    weights: tuple[float, ...] | None = None
    separate_losses: bool = True
    requires: frozenset[str] = field(default=frozenset({"channels"}), init=False)

    def __post_init__(self) -> None:
        if self.kind not in ("hdpo", "gdpo"):
            raise ConfigurationError(f"kind must be 'hdpo' or 'gdpo', got {self.kind!r}")
        if self.kind == "hdpo" and len(self.channels) != 2:
            raise ConfigurationError("HDPO takes two channels: (accuracy, efficiency) part names")
        if self.weights is not None and len(self.weights) != len(self.channels):
            raise ConfigurationError("weights needs one number per channel")

    def __call__(
        self,
        rewards: Any,
        group: Any,
        sequences: Sequence[Sequence[int]],
        step: int,
        total: int,
        *,
        channels: Mapping[str, Any],
    ) -> TokenAdvantages:
        _check(rewards, group, sequences)
        missing = [name for name in self.channels if name not in channels]
        if missing:
            raise ConfigurationError(
                f"the reward has no parts named {missing}; its parts are {sorted(channels)}"
            )
        if self.kind == "gdpo":
            weights = dict(
                zip(self.channels, self.weights or [1.0] * len(self.channels), strict=True)
            )
            columns = {name: channels[name] for name in self.channels}
            out = multi_channel_advantages(columns, group, weights=weights, batch_normalize=True)
            return TokenAdvantages(broadcast(out.combined, sequences))
        accuracy, efficiency = (channels[name] for name in self.channels)
        hdpo = hdpo_advantages(accuracy, efficiency, group, weight=self.weight)
        if not self.separate_losses:
            return TokenAdvantages(broadcast(hdpo.combined, sequences))
        eff = hdpo.per_channel["efficiency"]
        extra = ChannelLoss("efficiency", self.weight, broadcast(eff, sequences), eff != 0.0)
        return TokenAdvantages(
            broadcast(hdpo.per_channel["accuracy"], sequences), channel_losses=(extra,)
        )


@dataclass
class PPPOEstimator:
    """PPPO ("Well Begun, Half Done", Sun et al., arXiv:2512.15274): train prefixes only,
    scored by the continuations they lead to.

    Each step keeps the first ⌊η·|o_i|⌋ tokens of completion o_i (at least
    one) as its prefix b_i. The trainer samples ``continuations`` (G)
    completions from each prefix and scores them; the prefix's reward is

        R_i = Σ_{j=1..G} r(b_i ⊕ c_j) + r(o_i)      (continuation accumulated reward)

    and its advantage is GRPO's over the group, trained on the prefix tokens
    only. η follows :class:`~rewardkit.credit.steps.ProgressiveRetention`:
    15 % at the start, +5 % whenever the batch reward has not improved for
    ``patience`` steps, up to 35 %.
    """

    continuations: int = 8
    retention: ProgressiveRetention = field(default_factory=ProgressiveRetention)
    requires: frozenset[str] = field(default=frozenset({"continuation_rewards"}), init=False)

    def __post_init__(self) -> None:
        if self.continuations < 1:
            raise ConfigurationError("PPPO needs at least one continuation per prefix")

    def prefix_lengths(self, sequences: Sequence[Sequence[int]]) -> npt.NDArray[np.int64]:
        """Tokens kept per completion at the current retention η."""
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        keep = np.floor(self.retention.fraction * lengths + 1e-9).astype(np.int64)
        kept: npt.NDArray[np.int64] = np.minimum(lengths, np.maximum(keep, 1))
        return kept

    def __call__(
        self,
        rewards: Any,
        group: Any,
        sequences: Sequence[Sequence[int]],
        step: int,
        total: int,
        *,
        continuation_rewards: Any,
    ) -> TokenAdvantages:
        values = _check(rewards, group, sequences)
        lengths = self.prefix_lengths(sequences)
        accumulated = continuation_accumulated_reward(continuation_rewards, values, reduce="sum")
        advantages = grpo_advantages(accumulated, group)
        self.retention.update(float(np.nanmean(values)) if np.any(~np.isnan(values)) else None)
        return TokenAdvantages(broadcast(advantages, sequences), lengths)


@dataclass
class TurnEstimator:
    """A token estimator over turn rewards: :func:`turn_advantages` on each turn's tokens.

    The trainer passes ``turn_rewards`` (N, T) and ``turn_spans`` (each
    episode's model-token span per turn). ``rewards`` (the outcomes) only mark
    which episodes are applicable.

    Example:
        >>> estimator = TurnEstimator(gamma=1.0)
        >>> out = estimator(np.array([1.0, 0.0]), np.array([0, 0]), [[5, 6, 7], [5, 6, 7]], 0, 1,
        ...                 turn_rewards=np.array([[0.3, 1.0], [-0.1, 0.0]]),
        ...                 turn_spans=[[(0, 1), (2, 3)]] * 2)
        >>> out.values[0].round(2).tolist()  # token 1 is the environment's
        [1.41, 0.0, 1.41]
    """

    gamma: float = 1.0
    requires: frozenset[str] = field(default=frozenset({"turn_rewards", "turn_spans"}), init=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigurationError(f"gamma must be in [0, 1], got {self.gamma}")

    def __call__(
        self,
        rewards: Any,
        group: Any,
        sequences: Sequence[Sequence[int]],
        step: int,
        total: int,
        *,
        turn_rewards: Any,
        turn_spans: Sequence[Sequence[tuple[int, int]]],
    ) -> TokenAdvantages:
        outcome = as_float_array(rewards, "rewards")
        per_turn = as_float_array(turn_rewards, "turn_rewards").copy()
        if per_turn.ndim != 2 or per_turn.shape[0] != len(sequences):
            raise ShapeError(
                f"turn_rewards must have shape ({len(sequences)}, T), got {per_turn.shape}"
            )
        if outcome.shape != (len(sequences),):
            raise ShapeError(f"rewards must have shape ({len(sequences)},)")
        per_turn[np.isnan(outcome)] = np.nan
        advantages = turn_advantages(per_turn, group, self.gamma)
        return TokenAdvantages(
            turn_token_advantages(advantages, turn_spans, [len(s) for s in sequences])
        )


#: name → estimator(rewards, group, sequences, step, total_steps)
ESTIMATORS: dict[str, Estimator] = {
    "grpo": _sequence_level(grpo_advantages),
    "rloo": _sequence_level(rloo_advantages),
    "dr_grpo": _sequence_level(dr_grpo_advantages),
    "tempo": _token_level(tempo_advantages),
    "sibling": _token_level(sibling_advantages),
    "prefix_retention": _linear_prefix_retention,
    "negative_only": negative_only_estimator,
}

#: estimators built from parameters (a fresh, possibly stateful object per run)
FACTORIES: dict[str, Callable[..., Estimator]] = {
    "pppo": PPPOEstimator,
    "hdpo": lambda **p: ChannelEstimator(kind="hdpo", **p),
    "gdpo": lambda **p: ChannelEstimator(kind="gdpo", **p),
    "turn": TurnEstimator,
    "ppl_weight": PerplexityEstimator,
    "position_bonus": PositionEstimator,
    "entropy_clip": EntropyClipEstimator,
    "rank_shaped": RankEstimator,
    "process": ProcessEstimator,
    "oprl": OPRLEstimator,
}


#: every estimator name a trainer config may use
ESTIMATOR_NAMES = tuple(sorted([*ESTIMATORS, *FACTORIES]))


def make_estimator(name: str, **params: Any) -> Estimator:
    """The estimator called ``name``, built with ``params`` where it takes any.

    Example:
        >>> make_estimator("hdpo", channels=("correct", "brevity")).weight
        0.15
    """
    if name in ESTIMATORS:
        if params:
            raise ConfigurationError(
                f"estimator {name!r} takes no parameters, got {sorted(params)}"
            )
        return ESTIMATORS[name]
    if name in FACTORIES:
        try:
            return FACTORIES[name](**params)
        except TypeError as exc:
            raise ConfigurationError(f"estimator {name!r}: {exc}") from None
    raise ConfigurationError(f"unknown estimator {name!r}; choose from {list(ESTIMATOR_NAMES)}")
