"""Count-based exploration bonuses: exact counts, SimHash counts, episodic counts.

b(s') = β / √(N(s') + 1), N(s') the number of earlier visits to the
(hashed) observation. Exact counts key on the observation's bytes (for
discrete or small observations). SimHash (Tang et al. 2017, "#Exploration")
keys on the signs of k random projections of the flattened observation, so
nearby vectors share a count.

``__call__`` does not change the counts; ``update(batch)`` adds the batch's
visits. :class:`EpisodicCountBonus` counts within the current episode of each
environment instead (the "episodic count" baseline of E3B's paper; the
episodic factor of NovelD): its memory is read and written in order as a
rollout is scored, and is cleared when an episode is terminated *or*
truncated.

Example:
    >>> bonus = CountBonus(beta=1.0)
    >>> batch = {"next_obs": np.array([[0, 1], [0, 1], [2, 2]])}
    >>> bonus(batch).total
    array([1., 1., 1.])
    >>> bonus.update(batch)
    {'distinct_states': 2.0}
    >>> bonus(batch).total.round(3)
    array([0.577, 0.577, 0.707])
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.output import FloatArray
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm

__all__ = ["CountBonus", "EpisodicCountBonus", "SimHashCountBonus", "count_bonus", "exact_keys"]


def count_bonus(counts: Any, beta: float = 1.0) -> FloatArray:
    """β / √(N + 1) for visit counts N (before the current visit).

    Example:
        >>> count_bonus([0, 3, 8], beta=0.5)
        array([0.5       , 0.25      , 0.16666667])
    """
    n = np.asarray(counts, dtype=np.float64)
    result: FloatArray = beta / np.sqrt(n + 1.0)
    return result


def exact_keys(observations: Any) -> list[bytes]:
    """One hashable key per observation: the bytes of its flattened row."""
    array = np.asarray(observations)
    return [np.ascontiguousarray(row).tobytes() for row in array.reshape(len(array), -1)]


@register("count_bonus")
class CountBonus(RewardTerm):
    """Exact-count bonus over observations (reads ``next_obs``)."""

    columns = ("next_obs",)

    def __init__(self, beta: float = 0.01, name: str = "count_bonus") -> None:
        super().__init__(name)
        self.beta = float(beta)
        self.counts: Counter[bytes] = Counter()

    def keys(self, observations: Any) -> list[bytes]:
        return exact_keys(observations)

    def _compute(self, batch: Batch) -> FloatArray:
        keys = self.keys(get_column(batch, "next_obs"))
        return count_bonus([self.counts[k] for k in keys], self.beta)

    def update(self, batch: Batch) -> dict[str, float]:
        self.counts.update(self.keys(get_column(batch, "next_obs")))
        return {"distinct_states": float(len(self.counts))}


@register("simhash_count_bonus")
class SimHashCountBonus(CountBonus):
    """Count bonus over SimHash codes sgn(A x) of flattened observations (A ~ N(0, 1)^{k×d})."""

    def __init__(
        self, beta: float = 0.01, bits: int = 32, seed: int = 0, name: str = "simhash_count_bonus"
    ) -> None:
        super().__init__(beta, name)
        self.bits, self.seed = int(bits), int(seed)
        self._projection: FloatArray | None = None

    def keys(self, observations: Any) -> list[bytes]:
        flat = np.asarray(observations, dtype=np.float64).reshape(len(observations), -1)
        if self._projection is None or self._projection.shape[1] != flat.shape[1]:
            rng = np.random.default_rng(self.seed)
            self._projection = rng.standard_normal((self.bits, flat.shape[1]))
        codes = (flat @ self._projection.T) > 0
        return [np.packbits(code).tobytes() for code in codes]


def earlier_visits_in_episode(episodes: dict[Any, Counter[bytes]], batch: Batch) -> FloatArray:
    """N_ep(s'): the earlier visits to each row's ``next_obs`` in its env's current episode,
    counting the row's visit into ``episodes`` (env → counts), which a row that ends its
    episode (``terminated`` or ``truncated``) clears. Rows are in time order."""
    observations = np.asarray(get_column(batch, "next_obs"))
    ended = np.asarray(get_column(batch, "terminated"), dtype=bool) | np.asarray(
        get_column(batch, "truncated"), dtype=bool
    )
    envs = batch.get("env", [0] * len(observations))
    earlier = np.empty(len(observations))
    for i, key in enumerate(exact_keys(observations)):
        counts = episodes.setdefault(envs[i], Counter())
        earlier[i] = counts[key]
        if ended[i]:  # the next observation belongs to a new episode
            del episodes[envs[i]]
        else:
            counts[key] += 1
    return earlier


@register("episodic_count_bonus")
class EpisodicCountBonus(RewardTerm):
    """β / √(N_ep(s') + 1), N_ep the earlier visits to s' in this episode of this env.

    Reads ``next_obs``, ``terminated``, ``truncated`` and, for vector envs, ``env``
    (rows in time order, as a rollout flattened time-major). After a row that
    ends an episode, that env's counts start again from zero.

    Example:
        >>> bonus = EpisodicCountBonus(beta=1.0)
        >>> batch = {"next_obs": np.array([[1], [1], [1], [1]]),
        ...          "terminated": np.array([False, False, True, False]),
        ...          "truncated": np.zeros(4, dtype=bool)}
        >>> bonus(batch).total.round(3)   # 1, 1/√2, 1/√3, then a new episode
        array([1.   , 0.707, 0.577, 1.   ])
    """

    columns = ("next_obs", "terminated", "truncated")

    def __init__(self, beta: float = 0.01, name: str = "episodic_count_bonus") -> None:
        super().__init__(name)
        self.beta = float(beta)
        self._episodes: dict[Any, Counter[bytes]] = {}

    def _compute(self, batch: Batch) -> FloatArray:
        return count_bonus(earlier_visits_in_episode(self._episodes, batch), self.beta)

    def reset(self) -> None:
        """Forget every environment's episode."""
        self._episodes.clear()
