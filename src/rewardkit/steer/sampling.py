"""Sampling completions from a causal LM, with each sample's log-ratio to a reference.

The sampler lives in :mod:`rewardkit.lm` (:func:`rewardkit.lm.sampling.sample_completions`,
:func:`rewardkit.lm.logprobs.completion_log_probs`), where the trainer, the
steering methods and the labs share it; this module keeps the names steering
code imports. See :mod:`rewardkit.lm.sampling` for the log-ratio (Schulman's k1
estimate of KL(π‖π_ref) per sample), read at the sampling temperature.

Example:
    >>> from rewardkit.lm import sampling
    >>> sample_completions is sampling.sample_completions
    True
"""

from __future__ import annotations

from rewardkit.lm.logprobs import completion_log_probs
from rewardkit.lm.sampling import Samples, sample_completions

__all__ = ["Samples", "completion_log_probs", "sample_completions"]
