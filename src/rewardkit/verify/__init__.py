"""Verifiable rewards for language models."""

from rewardkit.verify.text import completion_text, exact_match, length_linear, regex_match

__all__ = ["completion_text", "exact_match", "length_linear", "regex_match"]
