"""Padding a batch of token-id lists, and the position ids a padded batch needs.

A causal LM reads a batch as one rectangle. Prompts are **left**-padded (their
last tokens line up, so ``generate`` continues every row at the same column);
whole texts that are scored in one pass may be **right**-padded. Either way the
attention mask is 1 exactly on a row's own tokens, counted from its length, so a
pad id that belongs to a row (a tokenizer whose pad is its EOS, an EOS that
ended an earlier turn) is still attended. With left padding the positions must
count from each row's first real token, as ``generate`` counts them:
:func:`position_ids`.

Example:
    >>> ids, attention = left_pad([[1, 2], [3]], pad=0)
    >>> ids.tolist(), attention.tolist()
    ([[1, 2], [0, 3]], [[1, 1], [0, 1]])
    >>> position_ids(attention).tolist()
    [[0, 1], [0, 0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rewardkit.core.errors import ConfigurationError

if TYPE_CHECKING:
    import torch

__all__ = ["left_pad", "position_ids", "right_pad"]


def left_pad(rows: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad rows of token ids to the longest one.

    Args:
        rows: at least one list of token ids; rows may differ in length (and be empty).
        pad: the id written before the shorter rows.

    Returns:
        ``(input_ids, attention_mask)``, both int64 of shape (N, W), W the longest
        row's length: row i's tokens fill its last ``len(rows[i])`` columns and its
        mask is 1 there, 0 on its padding.

    Raises:
        ConfigurationError: no rows.

    Example:
        >>> ids, attention = left_pad([[5, 6, 7], [8]], pad=0)
        >>> ids.tolist(), attention.tolist()
        ([[5, 6, 7], [0, 0, 8]], [[1, 1, 1], [0, 0, 1]])
    """
    import torch

    width = _width(rows)
    ids = [[pad] * (width - len(row)) + list(row) for row in rows]
    attention = [[0] * (width - len(row)) + [1] * len(row) for row in rows]
    return torch.tensor(ids, dtype=torch.long), torch.tensor(attention, dtype=torch.long)


def right_pad(rows: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad rows of token ids to the longest one.

    Args:
        rows: at least one list of token ids; rows may differ in length (and be empty).
        pad: the id written after the shorter rows.

    Returns:
        ``(input_ids, attention_mask)``, both int64 of shape (N, W): row i's tokens
        fill its first ``len(rows[i])`` columns and its mask is 1 there. Positions
        need no care: a row's tokens sit at 0, 1, ... as they would alone.

    Raises:
        ConfigurationError: no rows.

    Example:
        >>> ids, attention = right_pad([[1, 2], [3]], pad=0)
        >>> ids.tolist(), attention.tolist()
        ([[1, 2], [3, 0]], [[1, 1], [1, 0]])
    """
    import torch

    width = _width(rows)
    ids = [list(row) + [pad] * (width - len(row)) for row in rows]
    attention = [[1] * len(row) + [0] * (width - len(row)) for row in rows]
    return torch.tensor(ids, dtype=torch.long), torch.tensor(attention, dtype=torch.long)


def position_ids(attention: torch.Tensor) -> torch.Tensor:
    """Position ids of a padded batch, counted from each row's first attended token.

    This is how ``generate`` numbers a left-padded prompt and what it continues;
    a forward pass over a left-padded batch needs the same ids to read the model
    as ``generate`` did (GPT-2, for one, would otherwise start every row at 0 on
    its padding). Padding before a row's first token gets 0.

    Args:
        attention: the (N, W) 0/1 attention mask.

    Returns:
        the (N, W) int64 position ids.

    Example:
        >>> import torch
        >>> position_ids(torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 0]])).tolist()
        [[0, 0, 0, 1, 2], [0, 1, 2, 3, 3]]
    """
    positions: torch.Tensor = (attention.cumsum(-1) - 1).clamp(min=0)
    return positions


def _width(rows: Sequence[Sequence[int]]) -> int:
    if isinstance(rows, str) or len(rows) == 0:
        raise ConfigurationError("padding needs at least one row of token ids")
    return max(len(row) for row in rows)
