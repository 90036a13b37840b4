"""What ``rewardkit bench real-rm`` reads from SmolLM2 once: each completion's features at
the studied layers, the probes' features, and the completion's own mean token log-prob."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["chat_prompt", "read_features"]


def chat_prompt(tokenizer: Any, question: str) -> str:
    """The text SmolLM2 was sampled from: the question in its chat template."""
    chat = [{"role": "user", "content": question}]
    text: str = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    return text


def read_features(
    rows: Sequence[dict[str, Any]], layers: Sequence[int], probes: Sequence[str]
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], list[tuple[str, str]], np.ndarray]:
    """Features of every row and of every (prompt, probe), and each row's mean log-prob.

    Returns:
        ``(features, probe_features, probe_prompts, self_logprob)``: layer → (N, 2d);
        layer → (P·len(probes), 2d), prompt-major; the P problems' (task, question); (N,).
    """
    import torch

    from rewardkit import lm
    from rewardkit.models.frozen_head import hidden_features

    torch.set_num_threads(2)
    model, tokenizer = lm.load("smollm2-135m-instruct")
    prompts = [chat_prompt(tokenizer, row["question"]) for row in rows]
    completions = [row["completion"] for row in rows]
    features, _ = hidden_features(model, tokenizer, prompts, completions, layers, 2048)
    first: dict[tuple[str, str], str] = {}
    for row, prompt in zip(rows, prompts, strict=True):
        first.setdefault((row["task"], row["question"]), prompt)
    probe_prompts = list(first)
    probe_texts = [first[key] for key in probe_prompts for _ in probes]
    probe_features, _ = hidden_features(
        model, tokenizer, probe_texts, [p for _ in probe_prompts for p in probes], layers, 2048
    )
    return (
        features,
        probe_features,
        probe_prompts,
        _mean_log_probs(model, tokenizer, prompts, completions),
    )


def _mean_log_probs(
    model: Any, tokenizer: Any, prompts: Sequence[str], completions: Sequence[str], batch: int = 16
) -> np.ndarray:
    """Mean log π(y_t | x, y_<t) over each completion's tokens and its EOS (temperature 1)."""
    import torch

    from rewardkit.lm import completion_log_probs, encode, left_pad, right_pad

    eos = int(tokenizer.eos_token_id)
    out = np.zeros(len(prompts))
    with torch.no_grad():
        for begin in range(0, len(prompts), batch):
            heads = [encode(tokenizer, p) for p in prompts[begin : begin + batch]]
            tails = [[*encode(tokenizer, c), eos] for c in completions[begin : begin + batch]]
            head_ids, head_mask = left_pad(heads, pad=eos)
            tail_ids, tail_mask = right_pad(tails, pad=eos)
            ids = torch.cat([head_ids, tail_ids], dim=1)
            attention = torch.cat([head_mask, tail_mask], dim=1)
            chosen, _ = completion_log_probs(model, ids, attention, head_ids.shape[1])
            mask = tail_mask.to(chosen.dtype)
            out[begin : begin + len(heads)] = ((chosen * mask).sum(1) / mask.sum(1)).numpy()
    return out
