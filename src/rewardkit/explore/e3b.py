"""E3B: elliptical episodic bonus (Henaff et al. 2022, "Exploration via Elliptical
Episodic Bonuses").

b(s_t) = φ(s_t)ᵀ C_{t−1}⁻¹ φ(s_t), with C_{t−1} = λI + Σ_{i<t} φ(s_i) φ(s_i)ᵀ
summed within the current episode. With one-hot features this is 1/(λ + N_e(s)),
an episodic count. C⁻¹ is kept per environment and updated in O(k²) by the
Sherman–Morrison formula; it resets when an episode ends, by termination
*or* truncation.

Features φ are a fixed random projection of the flattened observation (or the
observation itself with ``projection_dim=None``); the paper learns φ with an
inverse-dynamics model, which this implementation does not.

Because the bonus depends on the episode so far, calling the term advances
each environment's episodic memory: call it once per transition, in time
order. ``update`` is a no-op (the features are fixed).

Example:
    >>> e3b = E3BBonus(ridge=1.0, projection_dim=None)
    >>> step = lambda obs, done=False: {"next_obs": np.array([obs], dtype=float),
    ...                                 "terminated": [done], "truncated": [False]}
    >>> [round(float(e3b(step([1.0, 0.0])).total[0]), 3) for _ in range(3)]
    [1.0, 0.5, 0.333]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, batch_size, get_column
from rewardkit.core.output import FloatArray
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm

__all__ = ["E3BBonus", "elliptical_bonus", "sherman_morrison_update"]


def elliptical_bonus(phi: FloatArray, inverse: FloatArray) -> float:
    """φᵀ C⁻¹ φ."""
    return float(phi @ inverse @ phi)


def sherman_morrison_update(inverse: FloatArray, phi: FloatArray) -> FloatArray:
    """(C + φφᵀ)⁻¹ from C⁻¹ = ``inverse``.

    Example:
        >>> inv = sherman_morrison_update(np.eye(2), np.array([1.0, 0.0]))
        >>> np.allclose(inv, np.linalg.inv(np.eye(2) + np.outer([1.0, 0.0], [1.0, 0.0])))
        True
    """
    u = inverse @ phi
    updated: FloatArray = inverse - np.outer(u, u) / (1.0 + phi @ u)
    return updated


@register("e3b_bonus")
class E3BBonus(RewardTerm):
    """Elliptical episodic bonus over (projected) observations; resets on episode end.

    Reads ``next_obs``, ``terminated``, ``truncated`` and, for vector envs,
    ``env`` (the environment index of each transition; default 0).
    """

    columns = ("next_obs", "terminated", "truncated")

    def __init__(
        self,
        beta: float = 1.0,
        ridge: float = 0.1,
        projection_dim: int | None = 32,
        seed: int = 0,
        name: str = "e3b_bonus",
    ) -> None:
        super().__init__(name)
        self.beta, self.ridge = float(beta), float(ridge)
        self.projection_dim, self.seed = projection_dim, seed
        self._projection: FloatArray | None = None
        self._inverse: dict[Any, FloatArray] = {}

    def features(self, observations: Any) -> FloatArray:
        flat = np.asarray(observations, dtype=np.float64).reshape(len(observations), -1)
        if self.projection_dim is None:
            return flat
        if self._projection is None or self._projection.shape[1] != flat.shape[1]:
            rng = np.random.default_rng(self.seed)
            scale = 1.0 / np.sqrt(self.projection_dim)
            self._projection = rng.standard_normal((self.projection_dim, flat.shape[1])) * scale
        features: FloatArray = flat @ self._projection.T
        return features

    def _compute(self, batch: Batch) -> FloatArray:
        n = batch_size(batch)
        phis = self.features(get_column(batch, "next_obs"))
        ended = np.asarray(get_column(batch, "terminated"), dtype=bool) | np.asarray(
            get_column(batch, "truncated"), dtype=bool
        )
        envs = batch.get("env", [0] * n)
        bonuses = np.empty(n)
        for i in range(n):
            env = envs[i]
            inverse = self._inverse.get(env)
            if inverse is None:
                inverse = np.eye(phis.shape[1]) / self.ridge
            bonuses[i] = self.beta * elliptical_bonus(phis[i], inverse)
            if ended[i]:  # the next observation belongs to a new episode
                self._inverse.pop(env, None)
            else:
                self._inverse[env] = sherman_morrison_update(inverse, phis[i])
        return bonuses

    def reset(self) -> None:
        """Forget every environment's episodic memory."""
        self._inverse.clear()
