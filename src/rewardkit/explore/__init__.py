"""Intrinsic rewards for exploration: counts, SimHash counts, RND, RDD, E3B, NovelD.

Every bonus reads only what the agent sees (``next_obs``, and episode flags
for the episodic one), is a rewardkit term, and learns in ``update(batch)``.
"""

from rewardkit.explore.counts import (
    CountBonus,
    EpisodicCountBonus,
    SimHashCountBonus,
    count_bonus,
)
from rewardkit.explore.e3b import E3BBonus, elliptical_bonus, sherman_morrison_update
from rewardkit.explore.noveld import NovelDBonus, noveld_bonus
from rewardkit.explore.rnd import RDDBonus, RNDBonus, RunningMeanStd, rdd_bound

__all__ = [
    "CountBonus",
    "E3BBonus",
    "EpisodicCountBonus",
    "NovelDBonus",
    "RDDBonus",
    "RNDBonus",
    "RunningMeanStd",
    "SimHashCountBonus",
    "count_bonus",
    "elliptical_bonus",
    "noveld_bonus",
    "rdd_bound",
    "sherman_morrison_update",
]
