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
    found = hidden_features(model, tokenizer, prompts, completions, layers, 2048, log_probs=True)
    first: dict[tuple[str, str], str] = {}
    for row, prompt in zip(rows, prompts, strict=True):
        first.setdefault((row["task"], row["question"]), prompt)
    probe_prompts = list(first)
    probe_texts = [first[key] for key in probe_prompts for _ in probes]
    probe_completions = [probe for _ in probe_prompts for probe in probes]
    probe_found = hidden_features(model, tokenizer, probe_texts, probe_completions, layers, 2048)
    assert found.mean_log_prob is not None
    return found.by_layer, probe_found.by_layer, probe_prompts, found.mean_log_prob
