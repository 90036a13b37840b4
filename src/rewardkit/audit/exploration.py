"""Is RL shrinking the model? Exploration statistics of sampled groups, as log keys.

Pure functions over one evaluation's samples (n completions per problem):

- :func:`pass_at_k`: the unbiased estimator of Chen et al. (2021, "Evaluating
  Large Language Models Trained on Code"), per problem with n samples of which
  c are correct:

      pass@k = 1 − C(n − c, k) / C(n, k)   (= 1 when n − c < k)

  computed as 1 − Π_{i=n−c+1..n} (1 − k / i), stable for large n;
- :func:`pass_at_k_curve`: its mean over problems for each k; the
  capability-boundary debate ("The Debate on RLVR Reasoning Capability
  Boundary") reads pass@1 against pass@k for large k before and after RL;
- :func:`distinct_ratio`: distinct answers / samples per problem, B-STaR's
  diversity signal;
- :func:`reward_discriminability`: how well a reward separates right from
  wrong samples (ROC AUC over problems that have both), B-STaR's
  exploitation signal.

:func:`exploration_record` turns them into one log record (``pass@k``,
``distinct_ratio``, ``reward_auc``) that the streaming monitors of
:mod:`rewardkit.audit.monitors` and :mod:`rewardkit.audit.boundary` read.

Example:
    >>> round(pass_at_k(n=4, correct=1, k=2), 4)  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    0.5
    >>> pass_at_k_curve([[1, 0, 0, 0], [1, 1, 1, 1]], ks=(1, 4))
    {1: 0.625, 4: 1.0}
    >>> distinct_ratio([["12", "12", "13", "12"]])
    0.5
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.audit.overoptimization import paired_accuracy
from rewardkit.core.errors import ConfigurationError

__all__ = [
    "distinct_ratio",
    "exploration_record",
    "pass_at_k",
    "pass_at_k_curve",
    "reward_discriminability",
]


def pass_at_k(n: int, correct: int, k: int) -> float:
    """Unbiased pass@k of one problem: n samples, ``correct`` of them right.

    Args:
        n: samples drawn (n >= k).
        correct: how many were right (0 <= correct <= n).
        k: the budget.

    Returns:
        1 − C(n − c, k) / C(n, k).

    Raises:
        ConfigurationError: k > n, or counts out of range.

    Example:
        >>> pass_at_k(10, 0, 5), pass_at_k(10, 10, 1), round(pass_at_k(10, 3, 1), 2)
        (0.0, 1.0, 0.3)
    """
    if not 0 <= correct <= n or k < 1:
        raise ConfigurationError(f"need 0 <= correct <= n and k >= 1, got n={n} c={correct} k={k}")
    if k > n:
        raise ConfigurationError(f"pass@{k} needs at least {k} samples per problem, got {n}")
    if n - correct < k:
        return 1.0
    factors = 1.0 - k / np.arange(n - correct + 1, n + 1, dtype=np.float64)
    return float(1.0 - np.prod(factors))


def pass_at_k_curve(
    outcomes: Sequence[Sequence[Any]], ks: Sequence[int] = (1, 2, 4, 8, 16, 32, 64)
) -> dict[int, float]:
    """Mean unbiased pass@k over problems, for each k no larger than the samples per problem.

    Args:
        outcomes: per problem, each sample's correctness (1/0, bool; NaN, a sample
            that could not be scored, is dropped from that problem's n).
        ks: budgets; those above a problem's sample count are skipped for all.

    Returns:
        k → mean pass@k.
    """
    counts = []
    for row in outcomes:
        values = np.asarray(row, dtype=np.float64)
        values = values[~np.isnan(values)]
        if values.size:  # a problem none of whose samples could be scored says nothing
            counts.append((values.size, int((values > 0.5).sum())))
    if not counts:
        raise ConfigurationError("pass@k needs at least one problem with a scored sample")
    smallest = min(n for n, _ in counts)
    return {
        int(k): float(np.mean([pass_at_k(n, c, k) for n, c in counts])) for k in ks if k <= smallest
    }


def distinct_ratio(answers: Sequence[Sequence[Any]]) -> float:
    """Mean over problems of (distinct answers / samples); None answers count as one kind.

    Example:
        >>> distinct_ratio([["a", "b"], ["a", "a"]])
        0.75
    """
    ratios = [len(set(row)) / len(row) for row in answers if len(row)]
    if not ratios:
        raise ConfigurationError("distinct_ratio needs at least one non-empty group")
    return float(np.mean(ratios))


def reward_discriminability(
    rewards: Sequence[Sequence[float]], correct: Sequence[Sequence[Any]]
) -> float:
    """ROC AUC of the reward for right vs wrong samples, within problems, pooled: the
    :func:`~rewardkit.audit.overoptimization.paired_accuracy` of ragged rows.

    A NaN reward or label leaves its sample out; ties count half. NaN if no
    problem has both a right and a wrong sample (nothing to discriminate).

    Example:
        >>> reward_discriminability([[0.9, 0.1, 0.5]], [[1, 0, 0]])
        1.0
    """
    if len(rewards) != len(correct) or not len(rewards):
        raise ConfigurationError("reward_discriminability needs one row of labels per row")
    width = max(len(row) for row in rewards)

    def table(rows: Sequence[Sequence[Any]]) -> np.ndarray:
        if any(len(row) > width for row in rows):
            raise ConfigurationError("each row of labels must be as long as its rewards")
        return np.array([[*map(float, row), *[np.nan] * (width - len(row))] for row in rows])

    scores, labels = table(rewards), table(correct)
    keep = ~np.isnan(scores) & ~np.isnan(labels)
    return paired_accuracy(scores, (labels > 0.5).astype(np.float64), keep)


def exploration_record(
    correct: Sequence[Sequence[Any]],
    answers: Sequence[Sequence[Any]] | None = None,
    rewards: Sequence[Sequence[float]] | None = None,
    ks: Sequence[int] = (1, 4, 16, 64),
) -> dict[str, float]:
    """One log record of exploration statistics: ``pass@k`` for each k, and, when given,
    ``distinct_ratio`` and ``reward_auc``.

    Example:
        >>> exploration_record([[1, 0], [0, 0]], answers=[["3", "4"], ["5", "5"]], ks=(1, 2))
        {'pass@1': 0.25, 'pass@2': 0.5, 'distinct_ratio': 0.75}
    """
    record = {f"pass@{k}": v for k, v in pass_at_k_curve(correct, ks).items()}
    if answers is not None:
        record["distinct_ratio"] = distinct_ratio(answers)
    if rewards is not None:
        record["reward_auc"] = reward_discriminability(rewards, correct)
    return record
