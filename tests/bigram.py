"""A bigram language model whose every log-probability is known by hand.

Vocabulary (the char tokenizer of "ab>"): <pad> 0, <bos> 1, <eos> 2, <unk> 3,
a 4, b 5, > 6. The next token's distribution depends only on the previous
token: Q_A after "a", Q_DEFAULT after anything else. Hidden states are the
one-hot of the token at each position (layer 0) and twice it (layer 1).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from rewardkit.lm.tiny import build_char_tokenizer

A, B, GT = 4, 5, 6
Q_DEFAULT = np.array([0.05, 0.05, 0.10, 0.05, 0.50, 0.15, 0.10])
Q_A = np.array([0.05, 0.05, 0.10, 0.05, 0.10, 0.55, 0.10])
#: p(<eos>) after anything but "a"
EOS_DEFAULT = float(Q_DEFAULT[2])


def entropy(q: np.ndarray) -> float:
    return float(-(q * np.log(q)).sum())


class BigramLM(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        table = np.tile(np.log(Q_DEFAULT), (7, 1))
        table[A] = np.log(Q_A)
        self.table = torch.nn.Parameter(torch.tensor(table, dtype=torch.float32))
        self.config = SimpleNamespace(n_positions=64, num_hidden_layers=1, hidden_size=7)

    def forward(self, input_ids: Any, attention_mask: Any = None, position_ids: Any = None,
                output_hidden_states: bool = False) -> Any:  # fmt: skip
        logits = self.table[input_ids]
        hidden = None
        if output_hidden_states:
            onehot = torch.nn.functional.one_hot(input_ids, 7).float()
            hidden = (onehot, 2 * onehot)
        return SimpleNamespace(logits=logits, hidden_states=hidden)


def make_bigram() -> tuple[BigramLM, Any]:
    """The model (in eval mode) and its tokenizer."""
    return BigramLM().eval(), build_char_tokenizer("ab>")
