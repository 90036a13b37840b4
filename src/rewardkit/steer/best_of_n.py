"""Best-of-N: sample N completions per prompt, score them with any term, keep the best.

The same reward object that trains a policy selects here: a verifier, a
composed spec or a learned reward model. Every score is returned, so an audit
can see the whole distribution (and so inference-time overoptimization, the
best of N under a flawed proxy getting worse on the gold as N grows, can be
measured). A NaN score (the term could not judge a sample) is never chosen
over a scored one; a prompt with no scored sample keeps its first sample and
is counted in ``unscored_prompts``.

Example:
    >>> from rewardkit.core import term
    >>> from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("0123456789+=")
    >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2).eval()
    >>> ones = term(lambda completion: [c.count("1") for c in completion], name="ones")
    >>> result = best_of_n(model, tokenizer, ["1+1=", "2+2="], ones, n=4, max_new_tokens=5)
    >>> [len(s) for s in result.scores], result.reward_evaluations
    ([4, 4], 8)
    >>> select_best(np.array([[0.2, np.nan, 0.7], [np.nan, np.nan, np.nan]])).tolist()
    [2, 0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.term import Term, as_term
from rewardkit.lm.sampling import sample_completions
from rewardkit.steer._rows import check_columns, check_prompts, repeat_columns, repeat_each

__all__ = ["BestOfN", "best_of_n", "select_best"]


@dataclass
class BestOfN:
    """Per prompt: the chosen completion and its index, every sample and every score."""

    completions: list[str]
    chosen: list[int]
    samples: list[list[str]]
    scores: list[np.ndarray]
    tokens_generated: int
    reward_evaluations: int
    unscored_prompts: int


def select_best(scores: np.ndarray) -> np.ndarray:
    """Per row, the index of the highest score (the first on ties; NaN never wins; a row of
    NaN gives 0)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] == 0:
        raise ConfigurationError(f"scores must be (prompts, n) with n >= 1, got {scores.shape}")
    result: np.ndarray = np.argmax(np.nan_to_num(scores, nan=-np.inf), axis=1)
    return result


def best_of_n(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    reward: Term,
    n: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    columns: Mapping[str, Sequence[Any]] | None = None,
    seed: int = 0,
) -> BestOfN:
    """Sample ``n`` completions of each prompt and keep the best under ``reward``.

    Args:
        model, tokenizer: a Hugging Face causal LM and its tokenizer.
        prompts: the prompts, as text.
        reward: any rewardkit term; it sees ``prompt``, ``completion`` and ``columns``.
        n: samples per prompt.
        max_new_tokens: the completion budget.
        temperature: sampling temperature.
        columns: per-prompt extra columns for the term (e.g. ``{"answer": [...]}``).
        seed: seeds the sampling.
    """
    if model is None or tokenizer is None:
        raise ConfigurationError("best_of_n needs a Hugging Face causal LM and its tokenizer")
    check_prompts(prompts, "best_of_n")
    if n < 1:
        raise ConfigurationError(f"n must be at least 1, got {n}")
    check_columns(columns, len(prompts))
    term = as_term(reward)
    samples = sample_completions(
        model, tokenizer, list(prompts), n, max_new_tokens, temperature, seed=seed
    )
    batch: dict[str, Any] = {
        "prompt": repeat_each(prompts, n),
        "completion": samples.texts,
        **repeat_columns(columns, n),
    }
    out = term(batch)
    scores = np.where(out.ok, out.total, np.nan).reshape(len(prompts), n)
    chosen = select_best(scores)
    texts = [samples.texts[i * n : (i + 1) * n] for i in range(len(prompts))]
    return BestOfN(
        completions=[row[int(c)] for row, c in zip(texts, chosen, strict=True)],
        chosen=[int(c) for c in chosen],
        samples=texts,
        scores=[row.copy() for row in scores],
        tokens_generated=int(samples.lengths.sum()),
        reward_evaluations=len(samples.texts),
        unscored_prompts=int(np.isnan(scores).all(axis=1).sum()),
    )
