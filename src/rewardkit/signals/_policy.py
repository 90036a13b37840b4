"""What the policy-signal terms share: the policy, its tokenizer, and the texts they read.

A prompt is a string (scored as written, as TRL's standard format samples from
it) or a list of chat messages (rendered with the tokenizer's chat template and
its generation prompt, as TRL's conversational format does). A completion is a
string or chat messages (:func:`~rewardkit.core.messages.answer_text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.messages import answer_text, is_messages
from rewardkit.core.term import RewardTerm
from rewardkit.lm.scoring import ContinuationScore, picklable, score_continuations
from rewardkit.lm.tokens import encode

__all__ = ["PolicySignalTerm", "split_at"]


def split_at(text: str, delimiter: str | None) -> tuple[str, str, bool]:
    """``(before, after, found)`` around the first ``delimiter`` (the whole text is
    ``before`` when it is absent or None).

    Example:
        >>> split_at("8,10>10", ">"), split_at("10", ">")
        (('8,10', '10', True), ('10', '', False))
    """
    if delimiter is None or delimiter not in text:
        return text, "", False
    before, after = text.split(delimiter, 1)
    return before, after, True


class PolicySignalTerm(RewardTerm):
    """A term that reads a causal LM's signals (log-probs, entropies, hidden states).

    Args:
        model: the policy (a Hugging Face causal LM); the trainer's own object, so
            the signal follows the policy as it trains.
        tokenizer: its tokenizer.
        name: the term's name.
        max_tokens: a row longer than this (context + scored tokens) is not
            applicable, never scored on a cut; default the model's position limit.
        batch_size: rows per forward pass.
    """

    def __init__(
        self, model: Any, tokenizer: Any, name: str, max_tokens: int | None, batch_size: int
    ) -> None:
        super().__init__(name)
        if model is None or tokenizer is None:
            raise ConfigurationError(f"{name} reads a policy: pass its model and tokenizer")
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        limit = getattr(model.config, "n_positions", None) or getattr(
            model.config, "max_position_embeddings", None
        )
        self.max_tokens = int(max_tokens or limit or 2048)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for key in ("model", "baseline"):  # transformers' capture hooks do not pickle
            if state.get(key) is not None:
                state[key] = picklable(state[key])
        return state

    @property
    def pad(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id)

    def prompt_ids(self, prompt: Any) -> list[int]:
        """The prompt's tokens: chat messages through the chat template, text as written."""
        if is_messages(prompt):
            text = self.tokenizer.apply_chat_template(
                list(prompt), add_generation_prompt=True, tokenize=False
            )
            return encode(self.tokenizer, text)
        if not isinstance(prompt, str):
            raise ConfigurationError(
                f"{self.name}: a prompt must be text or chat messages, got {type(prompt).__name__}"
            )
        return encode(self.tokenizer, prompt)

    def texts(self, batch: Batch, column: str = "completion") -> list[str]:
        return [answer_text(value) for value in get_column(batch, column)]

    def score(
        self,
        contexts: Sequence[list[int]],
        continuations: Sequence[list[int]],
        hidden_layer: int | Sequence[int] | None = None,
        model: Any = None,
    ) -> list[ContinuationScore | None]:
        """Signals of each row, None where a row does not fit ``max_tokens``."""
        fits = [
            len(c) + len(x) <= self.max_tokens and len(c) > 0
            for c, x in zip(contexts, continuations, strict=True)
        ]
        rows = [i for i, ok in enumerate(fits) if ok]
        out: list[ContinuationScore | None] = [None] * len(contexts)
        if rows:
            scored = score_continuations(
                self.model if model is None else model,
                [contexts[i] for i in rows],
                [continuations[i] for i in rows],
                pad=self.pad,
                hidden_layer=hidden_layer,
                batch_size=self.batch_size,
            )
            for i, s in zip(rows, scored, strict=True):
                out[i] = s
        return out

    def too_long(self, index: int) -> str:
        return f"row {index} is longer than max_tokens={self.max_tokens}: not scored on a cut"


def nan_array(n: int) -> np.ndarray:
    return np.full(n, np.nan)
