"""Reference statistics for tests of the running normalizers, computed directly."""

import numpy as np

#: RunningMeanStd's prior: this many pseudo-samples of mean 0 and variance 1
PRIOR = 1e-4


def variance_with_prior(values, prior: float = PRIOR) -> float:
    """The variance RunningMeanStd reaches after seeing ``values`` (in any batches):
    the pooled variance of the values and the prior's pseudo-samples."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    pooled = prior * 1.0 + n * values.var() + values.mean() ** 2 * prior * n / (n + prior)
    return float(pooled / (n + prior))


def constant_bonus_scale(bonus: float, gamma: float, steps: int, envs: int) -> float:
    """σ_R after one rollout of a constant bonus: the running sums
    bonus · (1 + γ + ... + γ^t) of every step and env."""
    sums = np.repeat([bonus * (1 - gamma ** (t + 1)) / (1 - gamma) for t in range(steps)], envs)
    return float(np.sqrt(variance_with_prior(sums) + 1e-8))
