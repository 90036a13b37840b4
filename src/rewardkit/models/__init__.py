"""Learned rewards and the small language models they, and the labs, are built on.

:mod:`rewardkit.models.tiny` builds a character tokenizer and a small GPT-2
from a config, with nothing downloaded.
"""

from rewardkit.models.tiny import SPECIAL_TOKENS, build_char_tokenizer, build_tiny_gpt2

__all__ = ["SPECIAL_TOKENS", "build_char_tokenizer", "build_tiny_gpt2"]
