"""NovelD: the novelty difference between consecutive states, paid on a state's first visit
in the episode.

NovelD (Zhang et al. 2021, "NovelD: A Simple yet Effective Exploration
Criterion") rewards crossing from known into unknown territory, not being in
unknown territory:

    b(s_t, s_{t+1}) = β · max(N(s_{t+1}) − α · N(s_t), 0) · 1[N_e(s_{t+1}) = 1],

N the novelty of a state (RND's prediction distance ‖f_θ(s) − g(s)‖ up to the
constant 1/√d, observations normalized as in RND, divided by a running std of
that distance so that one β fits every task), N_e(s_{t+1}) the number of visits to s_{t+1} in the
current episode, counting this one (the episodic restriction: a state pays
once per episode). α = 0.5 as in the paper.

Reads ``obs``, ``next_obs``, ``terminated``, ``truncated`` and, for vector
envs, ``env`` (rows in time order, as a rollout flattened time-major). Scoring
a batch advances the episodic counts, as scoring a rollout once does (like
:class:`~rewardkit.explore.counts.EpisodicCountBonus`): score each rollout
once, and :meth:`NovelDBonus.reset` between runs. A row whose novelty is not
finite scores NaN (not applicable) and is left out of the statistics.

Example:
    >>> noveld_bonus(np.array([1.0, 3.0, 3.0]), np.array([4.0, 1.0, 3.0]),
    ...              np.array([True, True, False]), alpha=0.5).tolist()
    [3.5, 0.0, 0.0]
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.core.output import FloatArray
from rewardkit.core.registry import register
from rewardkit.explore.counts import earlier_visits_in_episode
from rewardkit.explore.rnd import RunningMeanStd, _Distillation

__all__ = ["NovelDBonus", "noveld_bonus"]


def noveld_bonus(
    novelty: Any, next_novelty: Any, first_visit: Any, alpha: float = 0.5, beta: float = 1.0
) -> FloatArray:
    """β · max(N(s') − α N(s), 0) on a first visit in the episode, else 0 (see the module docs).

    Args:
        novelty: N(s_t), shape (B,).
        next_novelty: N(s_{t+1}), shape (B,).
        first_visit: True where s_{t+1} is visited for the first time in its episode.
        alpha: the weight of the state left behind.
        beta: the bonus's scale.
    """
    before = np.asarray(novelty, dtype=np.float64)
    after = np.asarray(next_novelty, dtype=np.float64)
    first = np.asarray(first_visit, dtype=bool)
    if before.shape != after.shape or first.shape != after.shape or after.ndim != 1:
        raise ShapeError(
            f"novelty {before.shape}, next_novelty {after.shape} and first_visit {first.shape} "
            "must all have shape (B,)"
        )
    if not (np.isfinite(before).all() and np.isfinite(after).all()):
        raise ShapeError("novelty values must be finite")
    if alpha < 0 or beta < 0:
        raise ConfigurationError("alpha and beta must be non-negative")
    bonus: FloatArray = beta * np.maximum(after - alpha * before, 0.0) * first
    return bonus


@register("noveld_bonus")
class NovelDBonus(_Distillation):
    """NovelD over RND's novelty, normalized by the running std of the novelty.

    ``update(batch)`` trains RND's predictor on ``next_obs`` and updates the
    novelty's statistics; scoring a batch advances the episodic counts.
    """

    columns = ("obs", "next_obs", "terminated", "truncated")

    def __init__(
        self,
        beta: float = 1.0,
        alpha: float = 0.5,
        feature_dim: int = 64,
        hidden: int = 128,
        learning_rate: float = 1e-4,
        seed: int = 0,
        name: str = "noveld_bonus",
    ) -> None:
        super().__init__(feature_dim, hidden, learning_rate, seed, name)
        if alpha < 0 or beta < 0:
            raise ConfigurationError("alpha and beta must be non-negative")
        self.alpha, self.beta = float(alpha), float(beta)
        self.novelty_stats = RunningMeanStd(())
        self._episodes: dict[Any, Counter[bytes]] = {}

    def distance(self, observations: Any) -> FloatArray:
        """RND's prediction distance ‖f_θ(s) − g(s)‖/√d (the root of its mean squared error)."""
        root: FloatArray = np.sqrt(self.raw_bonus(observations))
        return root

    def novelty(self, observations: Any) -> FloatArray:
        """N(s): the distance divided by the running std of the distance."""
        scaled: FloatArray = self.distance(observations) / np.sqrt(self.novelty_stats.var + 1e-8)
        return scaled

    def first_visits(self, batch: Batch) -> np.ndarray:
        """Whether each ``next_obs`` is new in its episode (and count it)."""
        first: np.ndarray = earlier_visits_in_episode(self._episodes, batch) == 0
        return first

    def _compute(self, batch: Batch) -> FloatArray:
        before = self.novelty(get_column(batch, "obs"))
        after = self.novelty(get_column(batch, "next_obs"))
        first = self.first_visits(batch)  # the visits happened, whatever their novelty
        finite = np.isfinite(before) & np.isfinite(after)
        bonus = np.full(len(first), np.nan)  # NaN: not applicable, never a crash
        bonus[finite] = noveld_bonus(before[finite], after[finite], first[finite], self.alpha,
                                     self.beta)  # fmt: skip
        return bonus

    def update(self, batch: Batch, epochs: int = 1) -> dict[str, float]:
        observations = np.asarray(get_column(batch, "next_obs"), dtype=np.float64)
        flat = observations.reshape(len(observations), -1)
        usable = np.isfinite(flat).all(axis=1)
        if not usable.any():
            return {"loss": float("nan"), "distance": float("nan")}
        distance = self.distance(flat[usable])
        self.novelty_stats.update(distance)
        loss = self._train(flat[usable], epochs)
        return {"loss": loss, "distance": float(distance.mean())}

    def reset(self) -> None:
        """Forget every environment's episode."""
        self._episodes.clear()
