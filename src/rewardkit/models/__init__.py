"""Learned rewards and the small language models they, and the labs, are built on.

:mod:`rewardkit.models.tiny` builds a character tokenizer and a small GPT-2
from a config, with nothing downloaded. :mod:`rewardkit.models.preference`
trains a Bradley–Terry reward model on preference pairs (TRL's
``RewardTrainer``), :mod:`rewardkit.models.generative` a yes-token generative
one; :mod:`rewardkit.models.term` makes them, and ensembles of them, terms.
"""

from rewardkit.models.generative import GenerativeRewardModel, GenerativeTraining, yes_no_examples
from rewardkit.models.preference import (
    ModelError,
    PreferenceRewardModel,
    RewardModelTraining,
    bradley_terry_loss,
)
from rewardkit.models.term import (
    RewardEnsemble,
    RewardModelTerm,
    aggregate_ensemble,
    load_reward_model,
)
from rewardkit.models.tiny import SPECIAL_TOKENS, build_char_tokenizer, build_tiny_gpt2

__all__ = [
    "SPECIAL_TOKENS",
    "GenerativeRewardModel",
    "GenerativeTraining",
    "ModelError",
    "PreferenceRewardModel",
    "RewardEnsemble",
    "RewardModelTerm",
    "RewardModelTraining",
    "aggregate_ensemble",
    "bradley_terry_loss",
    "build_char_tokenizer",
    "build_tiny_gpt2",
    "load_reward_model",
    "yes_no_examples",
]
