"""A model's training mode, held for a block: eval (dropout off) inside, as it was after.

Example:
    >>> import torch
    >>> layer = torch.nn.Dropout(0.5)
    >>> with evaluating(layer):
    ...     layer.training
    False
    >>> layer.training
    True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["evaluating"]


@contextlib.contextmanager
def evaluating(model: Any) -> Iterator[None]:
    """``model`` in eval mode for the block, then back in the mode it was in (a model
    without ``training``/``eval``, e.g. a plain function, is left as it is)."""
    was_training = bool(getattr(model, "training", False))
    if hasattr(model, "eval"):
        model.eval()
    try:
        yield
    finally:
        if hasattr(model, "train"):
            model.train(was_training)
