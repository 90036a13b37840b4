"""What the sampling policy said about its own samples, for the estimators that read it.

The GRPO trainer fills one :class:`PolicySignals` a step: the per-token
log-probs and entropies come from the no-grad pass that computes the old
log-probs anyway; the last layer's hidden states cost one more no-grad
forward pass, made only when an estimator ``requires`` them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardkit.lm.padding import position_ids

__all__ = ["PolicySignals"]


@dataclass
class PolicySignals:
    """What the sampling policy said about its own samples, for estimators that read it:
    per-token log-probs and entropies (from the no-grad pass of the old log-probs), and
    the last layer's hidden states at the completion's tokens, on demand (one more
    no-grad forward pass)."""

    ids: Any
    attention: Any
    width: int
    logprobs: Any
    entropies: Any
    reference: Any = None  # the reference (initial) policy's per-token log-probs, if kept
    logged: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def per_sequence(values: Any, lengths: list[int]) -> list[np.ndarray]:
        table = values.double().numpy()
        return [table[i, :n].copy() for i, n in enumerate(lengths)]

    def hidden_states(self, model: Any, lengths: list[int]) -> list[np.ndarray]:
        import torch

        with torch.no_grad():
            out = model(
                input_ids=self.ids,
                attention_mask=self.attention,
                position_ids=position_ids(self.attention),
                output_hidden_states=True,
            )
        table = out.hidden_states[-1][:, self.width :].double().numpy()
        return [table[i, :n].copy() for i, n in enumerate(lengths)]
