"""Learned rewards and the small language models they, and the labs, are built on.

:mod:`rewardkit.models.tiny` builds a character tokenizer and a small GPT-2
from a config, with nothing downloaded. :mod:`rewardkit.models.preference`
trains a Bradley–Terry reward model on preference pairs (TRL's
``RewardTrainer``); :mod:`rewardkit.models.term` makes it, and ensembles of
it, terms.
"""

from rewardkit.models.preference import (
    ModelError,
    PreferenceRewardModel,
    RewardModelTraining,
    bradley_terry_loss,
)
from rewardkit.models.term import RewardEnsemble, RewardModelTerm, aggregate_ensemble
from rewardkit.models.tiny import SPECIAL_TOKENS, build_char_tokenizer, build_tiny_gpt2

__all__ = [
    "SPECIAL_TOKENS",
    "ModelError",
    "PreferenceRewardModel",
    "RewardEnsemble",
    "RewardModelTerm",
    "RewardModelTraining",
    "aggregate_ensemble",
    "bradley_terry_loss",
    "build_char_tokenizer",
    "build_tiny_gpt2",
]
