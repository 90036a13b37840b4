"""Learned rewards and the small language models they, and the labs, are built on.

:mod:`rewardkit.models.tiny` builds a character tokenizer and a small GPT-2
from a config, with nothing downloaded. :mod:`rewardkit.models.preference`
trains a Bradley–Terry reward model on preference pairs (TRL's
``RewardTrainer``), :mod:`rewardkit.models.generative` a yes-token generative
one; :mod:`rewardkit.models.term` makes them, and ensembles of them, terms.
:mod:`rewardkit.models.frozen_head` fits a linear Bradley–Terry head on a
frozen causal LM's features (a real backbone such as SmolLM2, on a CPU), and
:mod:`rewardkit.models.frozen_process` a per-step logistic head on them (a PRM).
:mod:`rewardkit.models.process` is a process reward model (Math-Shepherd
labels) and :mod:`rewardkit.models.value` a value head on a frozen policy.
:mod:`rewardkit.models.feature_heads` holds MLP heads (BaseReward-style depth and
activation knobs, Ctrl-U-style uncertainty weighting) and their ensembles on such
features, :mod:`rewardkit.models.vpl` a reward conditioned on a latent user (VPL), and
:mod:`rewardkit.models.preference_data` the ways pairs are made: HERON's factor tree,
and pairs from a tree of shared prefixes. :mod:`rewardkit.models.cooper` updates a
reference-aware RM inside RL on verifier-chosen pairs (Cooper-style).
For control: :mod:`rewardkit.models.dynamics_reward` learns a dynamics reward that
filters a model's transitions (MOREC-style), :mod:`rewardkit.models.perceptual` a reward
from a few demonstrations' features (Sermanet et al.), and
:mod:`rewardkit.models.action_preferences` turns world-model and action-deviation
rewards into preference pairs (NORA-1.5).
"""

from rewardkit.models.action_preferences import (
    ActionPreferencePairs,
    action_deviation,
    action_preference_pairs,
    build_action_preferences,
    combined_action_reward,
    world_model_energy,
)
from rewardkit.models.base import RewardModel, load_saved_model
from rewardkit.models.cooper import (
    CooperStyleReward,
    FinalNumberCorruption,
    corrupt_final_number,
    reference_prompt,
)
from rewardkit.models.decomposition import (
    LatentRewardDecoder,
    PairwiseStepReward,
    ProgressEstimator,
    StepDecomposition,
)
from rewardkit.models.dynamics_reward import (
    DynamicsReward,
    DynamicsRewardTraining,
    ensemble_dynamics_reward,
    filter_probabilities,
    normalized_logits,
    select_candidates,
    truncation_mask,
)
from rewardkit.models.feature_heads import (
    HeadEnsemble,
    MLPRewardHead,
    ctrl_u_loss,
    fit_head_ensemble,
)
from rewardkit.models.frozen_head import FrozenHeadRewardModel
from rewardkit.models.frozen_process import FrozenHeadProcessRewardModel
from rewardkit.models.generative import (
    GenerativeRewardModel,
    GenerativeTraining,
    JudgeTemplate,
    yes_no_examples,
)
from rewardkit.models.perceptual import (
    PerceptualReward,
    PerceptualRewardTerm,
    segment_costs,
    segment_demonstration,
    segment_labels,
    step_distance,
    step_feature_scores,
)
from rewardkit.models.polar import (
    PolarStyleHead,
    fine_tune_on_preferences,
    policy_discrimination_triples,
    pretrain_policy_discriminator,
)
from rewardkit.models.preference import (
    ModelError,
    PreferenceRewardModel,
    RewardModelTraining,
    bradley_terry_loss,
)
from rewardkit.models.preference_data import (
    Leaf,
    TreeShape,
    chain_pairs,
    cut_prefix,
    heron_margins,
    heron_preferences,
    sample_tree,
    tree_pairs,
)
from rewardkit.models.process import (
    ProcessRewardModel,
    ProcessTraining,
    aggregate_steps,
    split_steps,
    step_labels,
)
from rewardkit.models.return_predictor import ReturnPredictor
from rewardkit.models.term import (
    ProcessRewardTerm,
    RewardEnsemble,
    RewardModelTerm,
    aggregate_ensemble,
    fit_ensemble,
    load_reward_model,
)
from rewardkit.models.tiny import SPECIAL_TOKENS, build_char_tokenizer, build_tiny_gpt2
from rewardkit.models.value import PolicyValueHead, ValueTerm, ValueTraining
from rewardkit.models.vpl import VPLRewardModel

__all__ = [
    "SPECIAL_TOKENS",
    "ActionPreferencePairs",
    "CooperStyleReward",
    "DynamicsReward",
    "DynamicsRewardTraining",
    "FinalNumberCorruption",
    "FrozenHeadProcessRewardModel",
    "FrozenHeadRewardModel",
    "GenerativeRewardModel",
    "GenerativeTraining",
    "HeadEnsemble",
    "JudgeTemplate",
    "LatentRewardDecoder",
    "Leaf",
    "MLPRewardHead",
    "ModelError",
    "PairwiseStepReward",
    "PerceptualReward",
    "PerceptualRewardTerm",
    "PolarStyleHead",
    "PolicyValueHead",
    "PreferenceRewardModel",
    "ProcessRewardModel",
    "ProcessRewardTerm",
    "ProcessTraining",
    "ProgressEstimator",
    "ReturnPredictor",
    "RewardEnsemble",
    "RewardModel",
    "RewardModelTerm",
    "RewardModelTraining",
    "StepDecomposition",
    "TreeShape",
    "VPLRewardModel",
    "ValueTerm",
    "ValueTraining",
    "action_deviation",
    "action_preference_pairs",
    "aggregate_ensemble",
    "aggregate_steps",
    "bradley_terry_loss",
    "build_action_preferences",
    "build_char_tokenizer",
    "build_tiny_gpt2",
    "chain_pairs",
    "combined_action_reward",
    "corrupt_final_number",
    "ctrl_u_loss",
    "cut_prefix",
    "ensemble_dynamics_reward",
    "filter_probabilities",
    "fine_tune_on_preferences",
    "fit_ensemble",
    "fit_head_ensemble",
    "heron_margins",
    "heron_preferences",
    "load_reward_model",
    "load_saved_model",
    "normalized_logits",
    "policy_discrimination_triples",
    "pretrain_policy_discriminator",
    "reference_prompt",
    "sample_tree",
    "segment_costs",
    "segment_demonstration",
    "segment_labels",
    "select_candidates",
    "split_steps",
    "step_distance",
    "step_feature_scores",
    "step_labels",
    "tree_pairs",
    "truncation_mask",
    "world_model_energy",
    "yes_no_examples",
]
