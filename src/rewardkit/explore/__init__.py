"""Intrinsic rewards for exploration: counts, SimHash counts, RND, RDD, E3B, NovelD,
novelty search's novelty, a TopoNav-style topological map with its subgoal bonus,
DrM's dormant ratio with its perturbation and exploration schedules, a TAXONS-style
learned behaviour space and SERENE-style emitters; CIP-style causal weights, a
counterfactual swap and an empowerment bonus; and the scaler that makes any bonus
scale-free.

Every bonus reads only what the agent sees (``obs``/``next_obs``, and episode
flags for the episodic ones; novelty search reads a ``descriptor`` of the
behaviour), is a rewardkit term, and learns in ``update(batch)``.
"""

from rewardkit.explore.behaviour_space import (
    AutoencoderDescriptor,
    as_images,
    is_training_step,
    taxons_criterion,
    taxons_score,
)
from rewardkit.explore.causal import (
    CausalEmpowermentBonus,
    CausalWeights,
    causal_reward_weights,
    counterfactual_swap,
    scaled_softmax,
)
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
from rewardkit.explore.emitters import (
    BudgetScheduler,
    Emitter,
    EmitterPool,
    Mutation,
    emitter_improvement,
    gaussian_mutation,
    initial_mutation_scale,
    next_phase,
    resample_mutation,
)
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
    "AutoencoderDescriptor",
    "BudgetScheduler",
    "CausalEmpowermentBonus",
    "CausalWeights",
    "CountBonus",
    "E3BBonus",
    "Emitter",
    "EmitterPool",
    "EpisodicCountBonus",
    "GridNeighbours",
    "IntrinsicReturnScaler",
    "Mutation",
    "NovelDBonus",
    "NoveltySearchBonus",
    "RDDBonus",
    "RNDBonus",
    "RunningMeanStd",
    "SimHashCountBonus",
    "TopoNavBonus",
    "TopologicalMap",
    "as_images",
    "awake_exploration_std",
    "bfs_distances",
    "causal_reward_weights",
    "collect_activations",
    "count_bonus",
    "counterfactual_swap",
    "dormant_exploration_std",
    "dormant_ratio",
    "elliptical_bonus",
    "emitter_improvement",
    "frontier_nodes",
    "gaussian_mutation",
    "initial_mutation_scale",
    "is_training_step",
    "knn_novelty",
    "layer_dormant_ratios",
    "needs_scaling",
    "network_dormant_ratio",
    "next_phase",
    "noveld_bonus",
    "perturb_",
    "perturb_factor",
    "rdd_bound",
    "resample_mutation",
    "scaled_softmax",
    "sherman_morrison_update",
    "shortest_path",
    "taxons_criterion",
    "taxons_score",
    "toponav_bonus",
]
