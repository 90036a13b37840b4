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
"""

from rewardkit.models.base import RewardModel, load_saved_model
from rewardkit.models.decomposition import (
    LatentRewardDecoder,
    ProgressEstimator,
    StepDecomposition,
)
from rewardkit.models.frozen_head import FrozenHeadRewardModel
from rewardkit.models.frozen_process import FrozenHeadProcessRewardModel
from rewardkit.models.generative import (
    GenerativeRewardModel,
    GenerativeTraining,
    JudgeTemplate,
    yes_no_examples,
)
from rewardkit.models.preference import (
    ModelError,
    PreferenceRewardModel,
    RewardModelTraining,
    bradley_terry_loss,
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

__all__ = [
    "SPECIAL_TOKENS",
    "FrozenHeadProcessRewardModel",
    "FrozenHeadRewardModel",
    "GenerativeRewardModel",
    "GenerativeTraining",
    "JudgeTemplate",
    "LatentRewardDecoder",
    "ModelError",
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
    "ValueTerm",
    "ValueTraining",
    "aggregate_ensemble",
    "aggregate_steps",
    "bradley_terry_loss",
    "build_char_tokenizer",
    "build_tiny_gpt2",
    "fit_ensemble",
    "load_reward_model",
    "load_saved_model",
    "split_steps",
    "step_labels",
    "yes_no_examples",
]
