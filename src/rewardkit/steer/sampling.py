"""Sampling completions from a causal LM, with each sample's log-ratio to a reference.

The sampler lives in :mod:`rewardkit.lm` (:func:`rewardkit.lm.sampling.sample_completions`,
:func:`rewardkit.lm.logprobs.completion_log_probs`), where the trainer, the
steering methods and the labs share it; this module keeps the names steering
code imports. See :mod:`rewardkit.lm.sampling` for the log-ratio (Schulman's k1
estimate of KL(π‖π_ref) per sample), read at the sampling temperature.

Example:
    >>> from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("0123456789+=")
    >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2)
    >>> samples = sample_completions(model, tokenizer, ["1+1="], k=3, max_new_tokens=4,
    ...                              reference=model)
    >>> len(samples.texts), [round(float(v), 6) for v in samples.log_ratio]
    (3, [0.0, 0.0, 0.0])
"""

from __future__ import annotations

from rewardkit.lm.logprobs import completion_log_probs
from rewardkit.lm.sampling import Samples, sample_completions

__all__ = ["Samples", "completion_log_probs", "sample_completions"]
