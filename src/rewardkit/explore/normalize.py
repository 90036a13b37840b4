"""Scale-free intrinsic rewards: divide by the running std of the discounted intrinsic return.

A bonus's raw size depends on the task (how many states there are, how fast
a predictor learns), so a fixed β that helps on one task swamps the task
reward on the next. RND (Burda et al. 2018, "Exploration by Random Network
Distillation", §2.4) removes the scale: each environment keeps a running
discounted sum of its intrinsic rewards, never reset at episode ends
(the intrinsic stream is non-episodic),

    R_t = γ · R_{t−1} + b_t,

and the bonus is divided by the running standard deviation σ_R of those sums
over every environment and step seen so far:

    b̃_t = b_t / σ_R.

Any positive rescaling of b cancels, so β of every bonus stops mattering and
only the weight of the intrinsic advantage remains (one default for every
bonus and task). :class:`IntrinsicReturnScaler` applies this to a time-major
(T, N) rollout; :func:`forward_discounted_sums` is the filter alone;
:func:`needs_scaling` says whether a bonus still needs it (RND normalizes
itself, as in its paper). β cancels up to the statistics' prior, worth 1e-4
of a sum with variance 1: negligible after one rollout unless the sums are
tiny (below ~1e-3).

Example:
    >>> scaler = IntrinsicReturnScaler(gamma=0.0)
    >>> small = scaler(np.array([[1.0, 3.0], [1.0, 3.0]]))
    >>> large = IntrinsicReturnScaler(gamma=0.0)(np.array([[100.0, 300.0], [100.0, 300.0]]))
    >>> bool(np.allclose(small, large, rtol=1e-3))   # β cancels
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.core.output import FloatArray
from rewardkit.explore.rnd import RunningMeanStd

__all__ = ["IntrinsicReturnScaler", "forward_discounted_sums", "needs_scaling"]


def needs_scaling(bonus: Any) -> bool:
    """False for a bonus that divides itself by σ_R (``normalizes_itself = True``)."""
    return not getattr(bonus, "normalizes_itself", False)


def forward_discounted_sums(
    rewards: Any, carry: Any, gamma: float
) -> tuple[FloatArray, FloatArray]:
    """R_t = γ R_{t−1} + b_t down the time axis of ``rewards`` (T, N), starting from
    ``carry`` (N,); returns (R of every step (T, N), R of the last step (N,)).

    Example:
        >>> sums, last = forward_discounted_sums(np.array([[1.0], [1.0], [1.0]]), np.zeros(1), 0.5)
        >>> sums.ravel().tolist(), last.tolist()
        ([1.0, 1.5, 1.75], [1.75])
    """
    values = np.asarray(rewards, dtype=np.float64)
    running = np.asarray(carry, dtype=np.float64).copy()
    if values.ndim != 2 or running.shape != values.shape[1:]:
        raise ShapeError(f"rewards must be (T, N) and carry (N,), got {values.shape}, "
                         f"{running.shape}")  # fmt: skip
    sums = np.empty_like(values)
    for t, row in enumerate(values):
        running = gamma * running + row
        sums[t] = running
    return sums, running


class IntrinsicReturnScaler:
    """Divides each rollout's intrinsic rewards by σ_R, the running std of the discounted
    intrinsic return (see the module docs). Thin state: one running sum per environment
    and the statistics of every sum seen.

    Args:
        gamma: the intrinsic discount of the running sums (RND: 0.99).
        epsilon: added to the variance before the square root.
    """

    def __init__(self, gamma: float = 0.99, epsilon: float = 1e-8) -> None:
        if not 0.0 <= gamma <= 1.0:
            raise ConfigurationError(f"gamma must be in [0, 1], got {gamma}")
        self.gamma, self.epsilon = float(gamma), float(epsilon)
        self.stats = RunningMeanStd(())
        self._running: FloatArray | None = None

    @property
    def scale(self) -> float:
        """σ_R, the divisor of the next rollout's rewards."""
        return float(np.sqrt(self.stats.var + self.epsilon))

    def __call__(self, rewards: Any) -> FloatArray:
        """Update the statistics with this rollout's sums, then return ``rewards`` / σ_R.

        Raises:
            ShapeError: for rewards that are not a finite (T, N) array, or a change of N.
        """
        values = np.asarray(rewards, dtype=np.float64)
        if values.ndim != 2:
            raise ShapeError(f"intrinsic rewards must be time-major (T, N), got {values.shape}")
        if values.size == 0:
            return values.copy()
        if not np.isfinite(values).all():
            raise ShapeError("intrinsic rewards must be finite; fill samples without a bonus "
                             "first (score_rollout does)")  # fmt: skip
        if self._running is None:
            self._running = np.zeros(values.shape[1])
        sums, self._running = forward_discounted_sums(values, self._running, self.gamma)
        self.stats.update(sums.ravel())
        scaled: FloatArray = values / self.scale
        return scaled
