"""``k`` completions of each text prompt, with each sample's log-ratio to a reference.

:func:`sample_completions` draws ``k`` completions of each prompt (batched,
left-padded, :func:`~rewardkit.lm.generation.generate`), cuts each at its EOS
and decodes it, and, given a reference model, returns for every sample

    log π(y | x) − log π_ref(y | x) = Σ_t [log π(y_t | x, y_<t) − log π_ref(y_t | x, y_<t)],

whose mean over samples y ~ π is an unbiased estimate of KL(π‖π_ref)
(Schulman's k1 estimator, summed over the completion's tokens, the EOS
included). Both models are read at the sampling temperature (π is the
distribution the samples came from: plain ancestral sampling, no top-k, top-p
or repetition penalty), with the position ids ``generate`` gave left-padded
prompts (:func:`~rewardkit.lm.logprobs.completion_log_probs`).

Example:
    >>> from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("0123456789+=")
    >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2)
    >>> samples = sample_completions(model, tokenizer, ["1+1="], k=3, max_new_tokens=4,
    ...                              reference=model)
    >>> len(samples.texts), [round(float(v), 6) for v in samples.log_ratio]
    (3, [0.0, 0.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.lm.generation import generate
from rewardkit.lm.logprobs import completion_log_probs
from rewardkit.lm.tokens import cut_at_eos, decode, encode

__all__ = ["Samples", "sample_completions"]


@dataclass(frozen=True)
class Samples:
    """``k`` completions per prompt, prompt-major (the samples of prompt i are i·k … i·k+k−1).

    Attributes:
        texts: the decoded completions, without EOS or padding.
        ids: each completion's token ids, through its EOS.
        lengths: tokens in each completion, its EOS included.
        log_ratio: log π(y|x) − log π_ref(y|x) per sample (NaN without a reference).
    """

    texts: list[str]
    ids: list[list[int]]
    lengths: np.ndarray
    log_ratio: np.ndarray


def sample_completions(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    k: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    reference: Any = None,
    batch_prompts: int = 64,
    seed: int | None = None,
) -> Samples:
    """Sample ``k`` completions of each prompt (see the module docs).

    Args:
        model: a Hugging Face causal LM (its training mode is kept).
        tokenizer: its tokenizer, with pad and EOS tokens.
        prompts: the prompts, as text.
        k: samples per prompt.
        max_new_tokens: tokens per completion at most, its EOS included.
        temperature: the sampling temperature (positive).
        reference: a causal LM over the same vocabulary for ``log_ratio``; ``None``
            leaves it NaN.
        batch_prompts: prompts per ``generate`` call (each gives ``k`` rows).
        seed: seeds torch's global generator once, before the first batch.

    Returns:
        the :class:`Samples`.

    Raises:
        ConfigurationError: ``k`` or ``max_new_tokens`` below 1, or a temperature
            that is not positive.

    Example:
        >>> from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
        >>> tokenizer = build_char_tokenizer("ab")
        >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2)
        >>> first = sample_completions(model, tokenizer, ["a", "b"], 2, 5, seed=7)
        >>> again = sample_completions(model, tokenizer, ["a", "b"], 2, 5, seed=7)
        >>> first.ids == again.ids, bool(first.lengths.max() <= 5)
        (True, True)
    """
    import torch

    if k < 1 or max_new_tokens < 1 or temperature <= 0:
        raise ConfigurationError("k and max_new_tokens must be >= 1 and temperature > 0")
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    texts: list[str] = []
    token_ids: list[list[int]] = []
    lengths: list[int] = []
    ratios: list[float] = []
    was_training = model.training
    model.eval()
    if reference is not None:
        reference.eval()
    if seed is not None:
        torch.manual_seed(seed)
    for begin in range(0, len(prompts), batch_prompts):
        encoded = [encode(tokenizer, p) for p in prompts[begin : begin + batch_prompts]]
        out = generate(
            model, encoded, pad=pad, eos=eos, max_new_tokens=max_new_tokens,
            temperature=temperature, repeat=k,
        )  # fmt: skip
        mask = torch.zeros(out.ids.shape[0], out.ids.shape[1] - out.width, dtype=torch.float32)
        for row, tokens in enumerate(out.completions()):
            kept = cut_at_eos(tokens, eos)
            mask[row, : len(kept)] = 1.0
            lengths.append(len(kept))
            token_ids.append(kept)
            texts.append(decode(tokenizer, kept))
        if reference is None:
            ratios.extend([float("nan")] * len(mask))
            continue
        attention = out.attention(mask.long())
        with torch.no_grad():
            own, _ = completion_log_probs(model, out.ids, attention, out.width, temperature)
            base, _ = completion_log_probs(reference, out.ids, attention, out.width, temperature)
        ratios.extend(((own - base) * mask).sum(1).tolist())
    model.train(was_training)
    return Samples(texts, token_ids, np.asarray(lengths), np.asarray(ratios, dtype=np.float64))
