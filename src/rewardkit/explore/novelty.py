"""Novelty search's novelty: the mean distance to the k nearest behaviours seen so far.

Novelty search (Lehman & Stanley 2011, "Abandoning Objectives: Evolution
through the Search for Novelty Alone") selects for behaviour unlike what has
been seen, not for the objective. With b(x) a behaviour descriptor (in a maze,
where the agent ends), the novelty of x is

    ρ(x) = (1/k) Σ_{i=1..k} ‖b(x) − μ_i‖,

μ_1..μ_k the k nearest neighbours of b(x) among the archive of past novel
behaviours and the current batch (x itself left out); k = 15 as in the
paper's maze runs. A behaviour joins the archive when ρ exceeds a threshold
ρ_min that adapts, as the paper's does: lowered by 5 % after ``patience``
batches with no addition, raised by 20 % when more than ``max_added`` join
in one batch (our constants).

:class:`NoveltySearchBonus` is that as a term (``novelty_search``): it reads
the ``descriptor`` column, scores each row's ρ, and ``update`` fills the
archive. A row whose descriptor is not finite scores NaN and never joins.

Example:
    >>> knn_novelty(np.array([[0.0], [3.0]]), np.array([[0.0], [1.0], [3.0]]), k=1,
    ...             skip_self=True).tolist()
    [1.0, 2.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.core.output import FloatArray
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm

__all__ = ["NoveltySearchBonus", "knn_novelty"]


def knn_novelty(queries: Any, reference: Any, k: int = 15, skip_self: bool = False) -> FloatArray:
    """Mean Euclidean distance from each query (B, D) to its k nearest rows of
    ``reference`` (M, D). ``skip_self``: each query is itself a row of ``reference``,
    and its own distance (the smallest, 0) is left out. Fewer than k neighbours: the
    mean over those there are; none: 0.

    Raises:
        ShapeError: for descriptors of different widths, or not 2-D.
        ConfigurationError: for k < 1.
    """
    points = np.asarray(queries, dtype=np.float64)
    seen = np.asarray(reference, dtype=np.float64)
    if points.ndim != 2 or seen.ndim != 2 or points.shape[1] != seen.shape[1]:
        raise ShapeError(
            f"queries (B, D) and reference (M, D) must share D, got {points.shape}, {seen.shape}"
        )
    if k < 1:
        raise ConfigurationError(f"k must be >= 1, got {k}")
    skip = int(skip_self)
    neighbours = min(k, seen.shape[0] - skip)
    if neighbours <= 0 or points.shape[0] == 0:
        return np.zeros(points.shape[0])
    distances = np.linalg.norm(points[:, None, :] - seen[None, :, :], axis=2)
    nearest = np.partition(distances, skip + neighbours - 1, axis=1)[:, : skip + neighbours]
    nearest.sort(axis=1)
    novelty: FloatArray = nearest[:, skip:].mean(axis=1)
    return novelty


@register("novelty_search")
class NoveltySearchBonus(RewardTerm):
    """ρ(x) against the archive and the batch (see the module docs); ``update`` archives
    the rows whose ρ exceeds the adaptive threshold.

    Args:
        k: neighbours in the mean.
        threshold: the initial ρ_min.
        patience: batches without an addition before ρ_min is lowered by 5 %.
        max_added: more additions than this in one batch raise ρ_min by 20 %.
    """

    columns = ("descriptor",)

    def __init__(
        self,
        k: int = 15,
        threshold: float = 1.0,
        patience: int = 5,
        max_added: int = 4,
        name: str = "novelty_search",
    ) -> None:
        super().__init__(name)
        if k < 1 or not threshold > 0 or patience < 1 or max_added < 0:
            raise ConfigurationError(
                "k and patience must be >= 1, threshold > 0 and max_added >= 0"
            )
        self.k, self.threshold = int(k), float(threshold)
        self.patience, self.max_added = int(patience), int(max_added)
        self.archive: FloatArray | None = None
        self._quiet = 0

    def _descriptors(self, batch: Batch) -> FloatArray:
        values = np.asarray(get_column(batch, "descriptor"), dtype=np.float64)
        width = self.archive.shape[1] if self.archive is not None else None
        if len(values) == 0:
            return np.zeros((0, width or 0))
        descriptors: FloatArray = values.reshape(len(values), -1)
        if width is not None and descriptors.shape[1] != width:
            raise ShapeError(
                f"descriptors have {descriptors.shape[1]} values, the archive's {width}"
            )
        return descriptors

    def _novelty(self, descriptors: FloatArray) -> FloatArray:
        finite = np.isfinite(descriptors).all(axis=1)
        novelty = np.full(len(descriptors), np.nan)
        if not finite.any():
            return novelty
        batch = descriptors[finite]
        reference = batch if self.archive is None else np.concatenate([self.archive, batch])
        novelty[finite] = knn_novelty(batch, reference, self.k, skip_self=True)
        return novelty

    def _compute(self, batch: Batch) -> FloatArray:
        return self._novelty(self._descriptors(batch))

    def update(self, batch: Batch) -> dict[str, float]:
        descriptors = self._descriptors(batch)
        novelty = self._novelty(descriptors)
        joins = np.nan_to_num(novelty, nan=-np.inf) > self.threshold
        if joins.any():
            new = descriptors[joins]
            self.archive = new if self.archive is None else np.concatenate([self.archive, new])
        added = int(joins.sum())
        self._quiet = 0 if added else self._quiet + 1
        if self._quiet >= self.patience:
            self.threshold *= 0.95
            self._quiet = 0
        if added > self.max_added:
            self.threshold *= 1.2
        size = 0 if self.archive is None else len(self.archive)
        return {"archive_size": float(size), "added": float(added), "threshold": self.threshold}
