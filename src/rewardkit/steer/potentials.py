"""Feynman–Kac potentials over intermediate rewards, and terms that judge prefixes.

FK steering (Singhal et al. 2025, "A General Framework for Inference-time
Scaling and Steering of Diffusion Models") targets

    p̃(x) ∝ p(x) · exp(λ r(x))

by weighting particles after each step t with a potential G_t built from the
rewards r_1 … r_t of the particle's intermediate states:

- ``difference``: G_t = exp(λ (r_t − r_{t−1})), with r_0 = 0;
- ``max``:        G_t = exp(λ max_{s ≤ t} r_s);
- ``sum``:        G_t = exp(λ Σ_{s ≤ t} r_s).

For the target to be p(x)·exp(λ r(x)), the product of a particle's
potentials must equal exp(λ r(x)) at the end: ``difference`` telescopes to
it by itself; for ``max`` and ``sum`` the final potential is the correction
G_T = exp(λ r_T) / Π_{t<T} G_t. Particles of one prompt share a clock, as in
FK steering: one that completes early (EOS) keeps its final text and keeps
receiving potentials from its reward, and every particle of the prompt is
corrected together once all are complete (``final``), so a particle is never
favoured merely for finishing first. A reward of NaN (a term that cannot
judge a prefix) adds nothing to the particle's reward history: under
``difference`` its G_t is 1; under ``max`` and ``sum`` it is built from the
history so far.

:func:`fk_log_potential` is the pure step; :class:`TermPotential` turns any
rewardkit term into the rewards of particles' texts (see its docs for the
``partial`` convention).

Example:
    >>> state = FKState.start(2)
    >>> fk_log_potential(state, np.array([0.5, 0.2]), np.array([False, True]), "difference", 2.0)
    array([1. , 0.4])
    >>> fk_log_potential(state, np.array([0.7, 0.9]), np.array([True, True]), "difference", 2.0)
    array([0.4, 0. ])
    >>> state.log_product.round(6).tolist()  # exp(λ r) for both: 2 · 0.7 and 2 · 0.2
    [1.4, 0.4]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.term import Term, as_term

__all__ = ["POTENTIALS", "FKState", "PotentialKind", "TermPotential", "fk_log_potential"]

PotentialKind = Literal["difference", "max", "sum"]
POTENTIALS: tuple[PotentialKind, ...] = ("difference", "max", "sum")


@dataclass
class FKState:
    """Per particle: last reward, running max and sum, Σ log G so far, and whether complete."""

    last: np.ndarray
    running_max: np.ndarray
    running_sum: np.ndarray
    log_product: np.ndarray
    done: np.ndarray

    @classmethod
    def start(cls, count: int) -> FKState:
        return cls(
            last=np.zeros(count),
            running_max=np.full(count, -np.inf),
            running_sum=np.zeros(count),
            log_product=np.zeros(count),
            done=np.zeros(count, dtype=bool),
        )

    def select(self, indices: np.ndarray) -> None:
        """Keep the particles at ``indices`` (after resampling), in that order."""
        for name in ("last", "running_max", "running_sum", "log_product", "done"):
            setattr(self, name, getattr(self, name)[indices].copy())


def fk_log_potential(
    state: FKState, rewards: np.ndarray, final: np.ndarray, kind: PotentialKind, lam: float
) -> np.ndarray:
    """log G_t of each particle for this step's ``rewards``; updates ``state`` in place.

    ``final`` marks particles corrected at this step: their product becomes
    exp(λ r) with r their last judged reward (0 if none was). Particles
    already corrected get 0 from then on.
    """
    if kind not in POTENTIALS:
        raise ConfigurationError(f"potential must be one of {POTENTIALS}, got {kind!r}")
    rewards = np.asarray(rewards, dtype=np.float64)
    final = np.asarray(final, dtype=bool)
    if np.isinf(rewards).any():
        raise BatchError("a potential's reward is infinite: rewards must be finite or NaN")
    judged = ~np.isnan(rewards) & ~state.done  # a done particle's text no longer changes
    value = np.where(judged, rewards, 0.0)
    state.running_max = np.where(judged, np.maximum(state.running_max, value), state.running_max)
    state.running_sum = state.running_sum + value
    if kind == "difference":
        step = np.where(judged, lam * (value - state.last), 0.0)
    elif kind == "max":
        step = np.where(np.isfinite(state.running_max), lam * state.running_max, 0.0)
    else:
        step = lam * state.running_sum
    state.last = np.where(judged, value, state.last)
    correct = final & ~state.done
    # the correction: the product becomes exp(λ r), whatever the steps before gave
    step = np.where(correct, lam * state.last - state.log_product, step)
    step = np.where(state.done, 0.0, step)
    state.log_product = state.log_product + step
    state.done = state.done | final
    result: np.ndarray = step
    return result


class TermPotential:
    """The rewards of particles' texts under a rewardkit term.

    The term sees a batch with ``prompt``, ``completion`` (the particle's text
    so far), the prompt's extra columns (``answer``, ...) and ``partial``: a
    bool per row, True while the text is a prefix. A term that can judge
    prefixes says so with a class attribute ``scores_partial = True`` (or
    ``partial=True`` here); any other term is asked only about complete
    texts, and prefixes get NaN: a neutral weight.

    A complete text whose reward is NaN or not ``ok`` (no answer, a timeout)
    counts as ``missing_reward`` (default 0), and is counted in
    :attr:`missing`, so it is never silent.

    Args:
        term: any rewardkit term (a verifier, a composed spec, a learned RM).
        partial: whether the term judges prefixes (default: its ``scores_partial``).
        missing_reward: the reward of a complete text the term cannot score.
    """

    def __init__(self, term: Term, partial: bool | None = None, missing_reward: float = 0.0):
        self.term = as_term(term)
        self.partial = bool(
            getattr(self.term, "scores_partial", False) if partial is None else partial
        )
        if not np.isfinite(missing_reward):
            raise ConfigurationError("missing_reward must be a finite number")
        self.missing_reward = float(missing_reward)
        self.evaluations = 0
        self.missing = 0

    def __call__(
        self,
        prompts: Sequence[str],
        texts: Sequence[str],
        complete: np.ndarray,
        columns: Mapping[str, Sequence[Any]] | None = None,
    ) -> np.ndarray:
        """Rewards of ``texts`` (NaN where a prefix cannot be judged)."""
        complete = np.asarray(complete, dtype=bool)
        rows = (np.arange(len(texts)) if self.partial else np.flatnonzero(complete)).tolist()
        rewards = np.full(len(texts), np.nan)
        if not rows:
            return rewards
        batch: dict[str, Any] = {
            "prompt": [prompts[i] for i in rows],
            "completion": [texts[i] for i in rows],
            "partial": ~complete[rows],
        }
        for key, values in (columns or {}).items():
            batch[key] = [values[i] for i in rows]
        out = self.term(batch)
        self.evaluations += len(rows)
        scores = np.where(out.ok, out.total, np.nan)
        unscored = complete[rows] & np.isnan(scores)
        self.missing += int(unscored.sum())
        scores[unscored] = self.missing_reward
        rewards[rows] = scores
        return rewards
