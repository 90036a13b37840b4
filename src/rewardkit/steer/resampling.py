"""Importance weights and resampling for sequential Monte Carlo.

Weights live in log space. The effective sample size of normalized weights
w is ESS = 1 / Σ w_i² (= K for uniform weights, 1 when one particle has
all the weight). Resampling draws K ancestor indices so that particle i is
chosen w_i·K times in expectation:

- multinomial: K independent draws from Categorical(w);
- systematic: one uniform u ~ U[0, 1/K), then the points u + j/K, j = 0…K−1,
  each read off the cumulative weights (Kitagawa 1996): lower variance, and
  particle i is drawn ⌊K w_i⌋ or ⌈K w_i⌉ times;
- greedy: every one of the K is the heaviest particle (a tie broken at random;
  equal weights change nothing). Not unbiased: it is the selection step of
  blockwise value-guided decoding, a search, not of SMC.

Example:
    >>> import numpy as np
    >>> effective_sample_size(np.log([0.25, 0.25, 0.25, 0.25]))
    4.0
    >>> systematic_resample(np.array([0.5, 0.5, 0.0, 0.0]), np.random.default_rng(0)).tolist()
    [0, 0, 1, 1]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rewardkit.core.errors import BatchError

__all__ = [
    "RESAMPLERS",
    "effective_sample_size",
    "greedy_resample",
    "multinomial_resample",
    "normalize_log_weights",
    "systematic_resample",
]


def normalize_log_weights(log_weights: Any) -> np.ndarray:
    """exp(log w − logsumexp(log w)): normalized weights, computed stably.

    Raises:
        BatchError: a weight is NaN or +inf (a potential returned an invalid
            value), or every weight is −inf (no particle survives).
    """
    log_weights = np.asarray(log_weights, dtype=np.float64)
    if np.isnan(log_weights).any() or np.isposinf(log_weights).any():
        raise BatchError(
            "a particle's log weight is NaN or +inf: potentials must return finite numbers "
            "(NaN potentials count as neutral before they reach the weights)"
        )
    top = log_weights.max()
    if np.isneginf(top):
        raise BatchError("every particle has zero weight: no particle satisfies the potential")
    weights = np.exp(log_weights - top)
    result: np.ndarray = weights / weights.sum()
    return result


def effective_sample_size(log_weights: Any) -> float:
    """1 / Σ w_i² of the normalized weights."""
    weights = normalize_log_weights(log_weights)
    return float(1.0 / np.sum(weights**2))


def _check(weights: np.ndarray) -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 1 or weights.size == 0 or not np.isclose(weights.sum(), 1.0):
        raise BatchError("resampling needs a non-empty vector of weights that sums to 1")
    return weights


def multinomial_resample(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """K ancestor indices drawn independently with probabilities ``weights``."""
    weights = _check(weights)
    return rng.choice(weights.size, size=weights.size, p=weights)


def systematic_resample(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """K ancestor indices by systematic resampling (see the module docs)."""
    weights = _check(weights)
    count = weights.size
    points = (rng.random() + np.arange(count)) / count
    cumulative = np.cumsum(weights)
    cumulative[-1] = 1.0  # rounding must not leave the last point uncovered
    return np.searchsorted(cumulative, points, side="right")


def greedy_resample(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """K copies of the heaviest particle, a tie broken at random by ``rng``; equal weights
    (nothing to choose by) keep every particle as it is.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> greedy_resample(np.array([0.2, 0.5, 0.3]), rng).tolist()
        [1, 1, 1]
        >>> greedy_resample(np.array([0.25, 0.25, 0.25, 0.25]), rng).tolist()
        [0, 1, 2, 3]
    """
    weights = _check(weights)
    if np.allclose(weights, weights[0], rtol=1e-9, atol=0.0):
        return np.arange(weights.size)
    best = np.flatnonzero(np.isclose(weights, weights.max(), rtol=1e-9, atol=0.0))
    return np.full(weights.size, int(rng.choice(best)))


#: resampling scheme by name
RESAMPLERS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "systematic": systematic_resample,
    "multinomial": multinomial_resample,
    "greedy": greedy_resample,
}
