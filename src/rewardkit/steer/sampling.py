"""Sampling completions from a causal LM, with each sample's log-ratio to a reference.

:func:`sample_completions` draws ``k`` completions of each prompt (left
padded, batched, ``torch.no_grad``) and, given a reference model, returns for
every sample

    log π(y | x) − log π_ref(y | x) = Σ_t [log π(y_t | x, y_<t) − log π_ref(y_t | x, y_<t)],

whose mean over samples y ~ π is an unbiased estimate of KL(π‖π_ref)
(Schulman's k1 estimator, summed over the completion's tokens, the EOS
included). The overoptimization lab reads d = √KL off it. Both models are
read at the sampling temperature (π is the distribution the samples came
from: plain ancestral sampling, no top-k, top-p or repetition penalty), and
with the position ids ``generate`` gave left-padded prompts.

Example:
    >>> from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
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

__all__ = ["Samples", "completion_log_probs", "sample_completions"]


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
) -> Samples:
    """Sample ``k`` completions of each prompt (see the module docs)."""
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
    for begin in range(0, len(prompts), batch_prompts):
        encoded = [
            tokenizer(p, add_special_tokens=False)["input_ids"]
            for p in prompts[begin : begin + batch_prompts]
        ]
        width = max(len(e) for e in encoded)
        ids = torch.tensor([[pad] * (width - len(e)) + e for e in encoded]).repeat_interleave(k, 0)
        attention = (ids != pad).long()
        with torch.no_grad():
            output = model.generate(
                input_ids=ids, attention_mask=attention, do_sample=True, top_k=0, top_p=1.0,
                repetition_penalty=1.0, temperature=temperature, max_new_tokens=max_new_tokens,
                pad_token_id=pad, eos_token_id=eos,
            )  # fmt: skip
            completion = output[:, width:]
            mask = torch.zeros(completion.shape, dtype=torch.float32)
            for row, tokens in enumerate(completion.tolist()):
                kept = tokens.index(eos) + 1 if eos in tokens else len(tokens)
                mask[row, :kept] = 1.0
                lengths.append(kept)
                token_ids.append(tokens[:kept])
                texts.append(tokenizer.decode([t for t in tokens[:kept] if t not in (eos, pad)]))
            if reference is None:
                ratios.extend([float("nan")] * len(completion))
                continue
            full_attention = torch.cat([attention, mask.long()], dim=1)
            own, _ = completion_log_probs(model, output, full_attention, width, temperature)
            base, _ = completion_log_probs(reference, output, full_attention, width, temperature)
            ratio = ((own - base) * mask).sum(1)
            ratios.extend(ratio.tolist())
    model.train(was_training)
    return Samples(texts, token_ids, np.asarray(lengths), np.asarray(ratios, dtype=np.float64))


def completion_log_probs(
    model: Any, output: Any, attention: Any, width: int, temperature: float = 1.0
) -> tuple[Any, Any]:
    """(log p(token), log p over the vocabulary) at ``temperature`` for every completion
    position of ``output`` (prompts ``width`` wide, left padded: positions count from each
    row's first real token, as ``generate`` counts them). Shapes (N, T) and (N, T, V)."""
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=output, attention_mask=attention, position_ids=positions).logits
    log_probs = (logits[:, width - 1 : -1] / temperature).log_softmax(-1)
    chosen = log_probs.gather(-1, output[:, width:].unsqueeze(-1)).squeeze(-1)
    return chosen, log_probs
