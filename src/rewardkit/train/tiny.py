"""Moved to :mod:`rewardkit.models.tiny`; this name stays for old imports."""

import warnings

from rewardkit.models.tiny import SPECIAL_TOKENS, build_char_tokenizer, build_tiny_gpt2

__all__ = ["SPECIAL_TOKENS", "build_char_tokenizer", "build_tiny_gpt2"]

warnings.warn(
    "rewardkit.train.tiny moved to rewardkit.models.tiny", DeprecationWarning, stacklevel=2
)
