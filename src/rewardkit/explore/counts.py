"""Count-based exploration bonuses: exact counts and SimHash counts.

b(s') = β / √(N(s') + 1), N(s') the number of earlier visits to the
(hashed) observation. Exact counts key on the observation's bytes (for
discrete or small observations). SimHash (Tang et al. 2017, "#Exploration")
keys on the signs of k random projections of the flattened observation, so
nearby vectors share a count.

``__call__`` does not change the counts; ``update(batch)`` adds the batch's
visits.

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

__all__ = ["CountBonus", "SimHashCountBonus", "count_bonus"]


def count_bonus(counts: Any, beta: float = 1.0) -> FloatArray:
    """β / √(N + 1) for visit counts N (before the current visit).

    Example:
        >>> count_bonus([0, 3, 8], beta=0.5)
        array([0.5       , 0.25      , 0.16666667])
    """
    n = np.asarray(counts, dtype=np.float64)
    result: FloatArray = beta / np.sqrt(n + 1.0)
    return result


@register("count_bonus")
class CountBonus(RewardTerm):
    """Exact-count bonus over observations (reads ``next_obs``)."""

    columns = ("next_obs",)

    def __init__(self, beta: float = 0.01, name: str = "count_bonus") -> None:
        super().__init__(name)
        self.beta = float(beta)
        self.counts: Counter[bytes] = Counter()

    def keys(self, observations: Any) -> list[bytes]:
        array = np.asarray(observations)
        return [np.ascontiguousarray(row).tobytes() for row in array.reshape(len(array), -1)]

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
