"""Intrinsic rewards for exploration: counts, SimHash counts, RND, RDD, E3B, NovelD,
novelty search's novelty, a TopoNav-style topological map with its subgoal bonus, and
DrM's dormant ratio with its perturbation and exploration schedules; and the scaler that
makes any bonus scale-free.

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
from rewardkit.explore.dormant import (
    awake_exploration_std,
    collect_activations,
    dormant_exploration_std,
    dormant_ratio,
    layer_dormant_ratios,
    network_dormant_ratio,
    perturb_,
    perturb_factor,
)
from rewardkit.explore.e3b import E3BBonus, elliptical_bonus, sherman_morrison_update
from rewardkit.explore.normalize import IntrinsicReturnScaler, needs_scaling
from rewardkit.explore.noveld import NovelDBonus, noveld_bonus
from rewardkit.explore.novelty import NoveltySearchBonus, knn_novelty
from rewardkit.explore.rnd import RDDBonus, RNDBonus, RunningMeanStd, rdd_bound
from rewardkit.explore.topology import (
    GridNeighbours,
    TopologicalMap,
    bfs_distances,
    frontier_nodes,
    shortest_path,
)
from rewardkit.explore.toponav import TopoNavBonus, toponav_bonus

__all__ = [
    "CountBonus",
    "E3BBonus",
    "EpisodicCountBonus",
    "GridNeighbours",
    "IntrinsicReturnScaler",
    "NovelDBonus",
    "NoveltySearchBonus",
    "RDDBonus",
    "RNDBonus",
    "RunningMeanStd",
    "SimHashCountBonus",
    "TopoNavBonus",
    "TopologicalMap",
    "awake_exploration_std",
    "bfs_distances",
    "collect_activations",
    "count_bonus",
    "dormant_exploration_std",
    "dormant_ratio",
    "elliptical_bonus",
    "frontier_nodes",
    "knn_novelty",
    "layer_dormant_ratios",
    "needs_scaling",
    "network_dormant_ratio",
    "noveld_bonus",
    "perturb_",
    "perturb_factor",
    "rdd_bound",
    "sherman_morrison_update",
    "shortest_path",
    "toponav_bonus",
]
