"""Tiny language models built from scratch: a character tokenizer and a small GPT-2.

They live in :mod:`rewardkit.lm.tiny` (the causal-LM layer, below every package
that builds one); this module keeps the names where the models, the labs and
the tests import them.

Example:
    >>> tokenizer = build_char_tokenizer("0123456789+=")
    >>> tokenizer.decode(tokenizer("12+3")["input_ids"])
    '12+3'
"""

from __future__ import annotations

from rewardkit.lm.tiny import SPECIAL_TOKENS, build_char_tokenizer, build_tiny_gpt2

__all__ = ["SPECIAL_TOKENS", "build_char_tokenizer", "build_tiny_gpt2"]
