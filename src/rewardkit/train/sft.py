"""Supervised fitting of a causal LM on token sequences, the loss on the marked tokens only.

Warm starts use it: the lab's arithmetic tasks (``bench.warmstart``) and the
multi-turn guessing game, whose environment tokens are in the context but not
in the loss.

Example:
    >>> import random
    >>> from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("ab")
    >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=32, n_head=2)
    >>> ids = tokenizer("abab", add_special_tokens=False)["input_ids"]
    >>> losses = fit_sequences(model, tokenizer, lambda rng: [(ids, [0, 1, 1, 1])] * 8,
    ...                        steps=30, learning_rate=1e-2, show=False)
    >>> losses[-1] < losses[0]
    True
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.progress import progress
from rewardkit.lm.padding import right_pad

__all__ = ["SequenceBatch", "fit_sequences"]

#: a batch of (token ids, 0/1 loss mask of the same length)
SequenceBatch = list[tuple[Sequence[int], Sequence[int]]]


def fit_sequences(
    model: Any,
    tokenizer: Any,
    sample_batch: Callable[[random.Random], SequenceBatch],
    steps: int,
    learning_rate: float = 2e-3,
    seed: int = 0,
    show: bool = True,
) -> list[float]:
    """``steps`` AdamW steps of next-token cross-entropy on batches from ``sample_batch``;
    token t is in the loss when its mask is 1. Returns each step's loss; leaves the model
    in eval mode."""
    import torch

    if steps < 1:
        raise ConfigurationError("fit_sequences needs at least one step")
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    pad = tokenizer.pad_token_id
    losses = []
    model.train()
    for _ in progress(range(steps), "warm start", enabled=None if show else False):
        batch = sample_batch(rng)
        if not batch or any(len(ids) != len(mask) for ids, mask in batch):
            raise ConfigurationError("each sequence needs a loss mask of its own length")
        ids, attention = right_pad([r for r, _ in batch], pad)
        width = ids.shape[1]
        loss_mask = torch.tensor(
            [list(m) + [0] * (width - len(m)) for _, m in batch], dtype=torch.float32
        )
        logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1]
        targets = ids[:, 1:]
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none"
        ).reshape(targets.shape)
        loss = (nll * loss_mask[:, 1:]).sum() / loss_mask[:, 1:].sum().clamp(min=1)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses
