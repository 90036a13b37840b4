"""PEAR: a phase-dependent entropy reward for shorter reasoning at equal accuracy.

"PEAR: Phase Entropy Aware Reward for Efficient Reasoning" (Huang et al.,
arXiv:2510.08026): the thinking phase (before ``</think>``, position k) of a
long answer runs at high entropy, the answer phase at low entropy. With the
per-token entropies H_t of the sampling policy,

    H̄_think  = mean_{t<k} H_t        H̄_answer = mean_{t>k} H_t   (the delimiter excluded)
    P(y)     = max(0, H̄_think − α·H̄_answer)                       (Eq. 7, α = 1)
    r(y)     = min(1, s − P(y))   if y is correct,   r_fmt otherwise

with s = 1 and r_fmt = 0; a completion without the delimiter is all thinking
(k = T, H̄_answer = 0). It is the thinking phase's excess entropy that is
penalised, relative to the answer's (the paper's Eq. 7; the issue's summary
had the phases the other way round). A correctness that is not applicable
(NaN) stays not applicable.

Example:
    >>> round(phase_entropy_penalty([1.0, 0.6, 0.2, 0.3, 0.1], delimiter_index=2, alpha=1.0), 3)
    0.6
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.term import Term
from rewardkit.lm.tokens import encode
from rewardkit.signals._policy import PolicySignalTerm, split_at

__all__ = ["PhaseEntropyReward", "phase_entropy_penalty"]


def phase_entropy_penalty(
    entropies: Any, delimiter_index: int | None, alpha: float = 1.0, delimiter_length: int = 1
) -> float:
    """P(y) = max(0, H̄_think − α·H̄_answer) of one completion's token entropies.

    Args:
        entropies: (T,) entropies of the completion's tokens.
        delimiter_index: the delimiter's first token position k (its tokens are
            excluded from both phases); None: no delimiter, all thinking.
        alpha: α.
        delimiter_length: how many tokens the delimiter takes (``</think>`` may be several).
    """
    h = np.asarray(entropies, dtype=np.float64)
    if h.size == 0:
        return float("nan")
    k = h.size if delimiter_index is None else int(delimiter_index)
    think = h[:k]
    answer = h[k + delimiter_length :] if delimiter_index is not None else h[:0]
    think_mean = float(think.mean()) if think.size else 0.0
    answer_mean = float(answer.mean()) if answer.size else 0.0
    return max(0.0, think_mean - alpha * answer_mean)


class PhaseEntropyReward(PolicySignalTerm):
    """PEAR: correctness minus the thinking phase's excess entropy.

    Args:
        model: the policy that sampled (its entropies are read at scoring time).
        tokenizer: its tokenizer.
        correct: the correctness term (1 right, 0 wrong, NaN not applicable).
        delimiter: the end of thinking (``"</think>"``; ``">"`` in the arithmetic lab).
        alpha: α of the penalty (the paper: 1).
        score: s, the reward of a correct answer before the penalty.
        format_score: r_fmt, the reward of a wrong one.
        max_tokens: longer rows are not applicable (default: the model's limit).
        batch_size: rows per forward pass.
        name: the term's name; its parts are ``correct`` and ``phase_entropy_penalty``.
    """

    columns = ("prompt", "completion")

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        correct: Term,
        delimiter: str = "</think>",
        alpha: float = 1.0,
        score: float = 1.0,
        format_score: float = 0.0,
        max_tokens: int | None = None,
        batch_size: int = 32,
        name: str = "pear",
    ) -> None:
        super().__init__(model, tokenizer, name, max_tokens, batch_size)
        if not delimiter:
            raise ConfigurationError("PEAR needs the delimiter that ends the thinking phase")
        self.correct, self.delimiter = correct, delimiter
        self.alpha, self.score_value, self.format_score = alpha, score, format_score

    def _compute(self, batch: Batch) -> RewardOutput:
        verdict = self.correct(batch)
        prompts, completions = get_column(batch, "prompt"), self.texts(batch)
        n = len(completions)
        contexts, continuations, marks = [], [], []
        delimiter_ids = encode(self.tokenizer, self.delimiter)
        for prompt, text in zip(prompts, completions, strict=True):
            think, answer, found = split_at(text, self.delimiter)
            think_ids = encode(self.tokenizer, think)
            tail = delimiter_ids + encode(self.tokenizer, answer)
            contexts.append(self.prompt_ids(prompt))
            continuations.append(think_ids + (tail if found else []))
            marks.append(len(think_ids) if found else None)
        penalty = np.full(n, np.nan)
        unscored: list[str | None] = [None] * n
        for i, scored in enumerate(self.score(contexts, continuations)):
            if scored is None:
                unscored[i] = self.too_long(i)
            else:
                penalty[i] = phase_entropy_penalty(
                    scored.entropies, marks[i], self.alpha, len(delimiter_ids)
                )
                if np.isnan(penalty[i]):
                    unscored[i] = "empty completion: no entropy to read"
        right = verdict.total > 0.5
        total = np.where(right, np.minimum(1.0, self.score_value - penalty), self.format_score)
        # a wrong answer gets r_fmt whatever its entropy; a right one needs its penalty
        status = verdict.status.copy()
        messages = list(verdict.messages or (None,) * n)
        for i in range(n):
            if right[i] and np.isnan(penalty[i]) and status[i] == Status.OK:
                status[i], messages[i] = Status.NOT_APPLICABLE, unscored[i]
        total = np.where(np.isnan(verdict.total) | (status != Status.OK), np.nan, total)
        terms = {"correct": verdict.total, "phase_entropy_penalty": penalty}
        return RewardOutput(total, terms, status, tuple(messages))

    def update(self, batch: Batch) -> Mapping[str, float]:
        """The correctness term's own update (a stateful verifier keeps learning)."""
        return dict(self.correct.update(batch) or {})
