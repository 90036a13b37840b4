"""Score a rollout with a term: one place for what every control loop does with a reward.

A trainer (our PPO), an SB3 callback and a Gymnasium wrapper all do the same
four things with a reward term after collecting transitions: build the flat
columnar batch, score it, turn samples without a reward into a number the
optimizer can use, and log the per-term means (and the stateful term's
``update`` metrics). :func:`score_rollout` does them once.

A sample whose status is not OK (not applicable, timeout, error) gets
``fill`` (0.0 by default) in ``rewards``; it is never silent: the share of
such samples is logged as ``{prefix}/{term}/not_ok_frac``, and the output
with its NaNs and statuses stays in :attr:`ScoredRollout.output`.

Example:
    >>> from rewardkit.core.builtin import column
    >>> scored = score_rollout(column("score"), {"score": [1.0, None, 3.0]}, prefix="bonus")
    >>> scored.rewards
    array([1., 0., 3.])
    >>> scored.metrics
    {'bonus/score': 2.0, 'bonus/score/not_ok_frac': 0.3333333333333333}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch
from rewardkit.core.errors import ShapeError
from rewardkit.core.output import FloatArray, RewardOutput
from rewardkit.core.term import Term

__all__ = [
    "OnlineScorer",
    "ScoredRollout",
    "flat_rollout_batch",
    "merge_batches",
    "score_rollout",
    "update_metrics",
]


@dataclass(frozen=True)
class ScoredRollout:
    """Rewards ready for an optimizer, the term's full output, and what to log."""

    rewards: FloatArray
    output: RewardOutput
    metrics: dict[str, float] = field(default_factory=dict)


def flat_rollout_batch(**columns: Any) -> dict[str, np.ndarray]:
    """A time-major (T, N, ...) rollout as a flat batch of T·N transitions, plus ``env``.

    Each column keeps its trailing shape; row ``t · N + i`` is step t of env i,
    and the ``env`` column holds i.

    Example:
        >>> batch = flat_rollout_batch(reward=np.array([[1.0, 2.0], [3.0, 4.0]]))
        >>> batch["reward"].tolist(), batch["env"].tolist()
        ([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 1])
    """
    if not columns:
        raise ShapeError("flat_rollout_batch needs at least one column")
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    shapes = {name: array.shape[:2] for name, array in arrays.items()}
    steps_envs = next(iter(shapes.values()))
    if any(len(shape) < 2 or shape != steps_envs for shape in shapes.values()):
        raise ShapeError(f"rollout columns must share a leading (T, N) shape, got {shapes}")
    steps, envs = steps_envs
    batch = {name: a.reshape(steps * envs, *a.shape[2:]) for name, a in arrays.items()}
    batch["env"] = np.tile(np.arange(envs), steps)
    return batch


def update_metrics(term: Term, batch: Batch, prefix: str) -> dict[str, float]:
    """Call ``term.update(batch)`` and name its metrics ``{prefix}/{term}/{key}``."""
    return {
        f"{prefix}/{term.name}/{key}": float(value)
        for key, value in (term.update(batch) or {}).items()
    }


def _term_means(output: RewardOutput, prefix: str) -> dict[str, float]:
    means = {}
    for name, values in output.terms.items():
        finite = values[~np.isnan(values)]
        if finite.size:
            means[f"{prefix}/{name}"] = float(finite.mean())
    return means


def score_rollout(
    term: Term,
    batch: Batch,
    *,
    fill: float = 0.0,
    prefix: str = "reward",
    update: bool = False,
) -> ScoredRollout:
    """Score ``batch`` with ``term``; samples without a reward get ``fill``.

    Args:
        term: any term (a composed reward, a shaping term, a bonus).
        batch: the rollout, e.g. from :func:`flat_rollout_batch`.
        fill: the reward given to samples whose status is not OK.
        prefix: logging prefix of the metrics.
        update: call the term's ``update`` with the batch after scoring it
            (stateful bonuses such as RND learn from the rollout they scored).
    """
    output = term(batch)
    rewards: FloatArray = np.where(output.ok, output.total, float(fill))
    metrics = _term_means(output, prefix)
    metrics[f"{prefix}/{term.name}/not_ok_frac"] = (
        float(np.mean(~output.ok)) if len(rewards) else 0.0
    )
    if update:
        metrics.update(update_metrics(term, batch, prefix))
    return ScoredRollout(rewards, output, metrics)


def merge_batches(batches: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Concatenate batches that share their columns (e.g. steps gathered between updates)."""
    if not batches:
        raise ShapeError("no batches to merge")
    return {key: np.concatenate([np.asarray(b[key]) for b in batches]) for key in batches[0]}


class OnlineScorer:
    """What an env wrapper does each step: score the step's transitions, update on schedule.

    Shared by the Gymnasium wrappers and the SB3 ``VecEnvWrapper``: each step
    scores a batch of live transitions (samples without a reward get ``fill``),
    keeps them, and every ``update_every`` steps calls ``term.update`` with the
    transitions since the last update.

    Example:
        >>> from rewardkit.core.builtin import column
        >>> scorer = OnlineScorer(column("reward"), update_every=2)
        >>> scorer.step({"reward": np.array([1.0, np.nan])}).rewards
        array([1., 0.])
    """

    def __init__(self, term: Term, update_every: int = 1, fill: float = 0.0) -> None:
        if int(update_every) < 1:
            raise ShapeError(f"update_every must be at least 1, got {update_every}")
        self.term = term
        self.update_every = int(update_every)
        self.fill = float(fill)
        self._pending: list[Mapping[str, Any]] = []
        self._steps = 0

    def step(self, batch: Mapping[str, Any] | None) -> ScoredRollout | None:
        """Score this step's transitions (None or an empty batch: nothing to score)."""
        scored = None
        if batch is not None and len(next(iter(batch.values()))):
            scored = score_rollout(self.term, batch, fill=self.fill)
            self._pending.append(batch)
        self._steps += 1
        if self._steps % self.update_every == 0 and self._pending:
            self.term.update(merge_batches(self._pending))
            self._pending = []
        return scored
