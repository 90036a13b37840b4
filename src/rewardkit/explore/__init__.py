"""Intrinsic rewards for exploration: counts, SimHash counts, RND, RDD, E3B, NovelD, and
novelty search's novelty; and the scaler that makes any bonus scale-free.

Every bonus reads only what the agent sees (``obs``/``next_obs``, and episode
flags for the episodic ones; novelty search reads a ``descriptor`` of the
behaviour), is a rewardkit term, and learns in ``update(batch)``.
"""

from rewardkit.explore.counts import (
    CountBonus,
    EpisodicCountBonus,
    SimHashCountBonus,
    count_bonus,
)
from rewardkit.explore.e3b import E3BBonus, elliptical_bonus, sherman_morrison_update
from rewardkit.explore.normalize import IntrinsicReturnScaler, needs_scaling
from rewardkit.explore.noveld import NovelDBonus, noveld_bonus
from rewardkit.explore.novelty import NoveltySearchBonus, knn_novelty
from rewardkit.explore.rnd import RDDBonus, RNDBonus, RunningMeanStd, rdd_bound

__all__ = [
    "CountBonus",
    "E3BBonus",
    "EpisodicCountBonus",
    "IntrinsicReturnScaler",
    "NovelDBonus",
    "NoveltySearchBonus",
    "RDDBonus",
    "RNDBonus",
    "RunningMeanStd",
    "SimHashCountBonus",
    "count_bonus",
    "elliptical_bonus",
    "knn_novelty",
    "needs_scaling",
    "noveld_bonus",
    "rdd_bound",
    "sherman_morrison_update",
]
