"""Supervised warm start of the tiny policy on the arithmetic task, cached in ``runs/``.

The base policy must solve some problems (the lab aims at 15–40%) so that
GRPO groups have reward variance to learn from. It is trained with teacher
forcing on a mix of completion styles (direct, with steps, restated), the
loss on completion tokens only, and saved once per configuration.

Example:
    >>> spec = WarmStartSpec(sft_steps=2, train_problems=64)
    >>> spec.key() == WarmStartSpec(sft_steps=2, train_problems=64).key()
    True
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rewardkit.envs.arithmetic import STYLES, sft_completion, task_alphabet, task_problems
from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
from rewardkit.train.sft import SequenceBatch, fit_sequences

__all__ = ["WarmStartSpec", "load_or_train_warm_start", "train_warm_start"]


@dataclass(frozen=True)
class WarmStartSpec:
    """Model size and supervised training of the warm start."""

    n_layer: int = 3
    n_embd: int = 128
    n_head: int = 4
    n_positions: int = 48
    train_problems: int = 3000
    sft_steps: int = 100
    batch_size: int = 64
    learning_rate: float = 2e-3
    style_weights: tuple[float, float, float] = (0.4, 0.4, 0.2)
    seed: int = 1234
    task: str = "sums"

    def key(self) -> str:
        fields = asdict(self)
        if fields["task"] == "sums":  # v1 warm starts keep the key they had before tasks
            del fields["task"]
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def train_warm_start(spec: WarmStartSpec) -> tuple[Any, Any]:
    """Build the tokenizer and model and fit them by supervised learning."""
    tokenizer = build_char_tokenizer(task_alphabet(spec.task))
    model = build_tiny_gpt2(
        tokenizer, spec.n_layer, spec.n_embd, spec.n_head, spec.n_positions, seed=spec.seed
    )
    problems = task_problems(spec.task, spec.train_problems, seed=spec.seed)

    def sample_batch(rng: random.Random) -> SequenceBatch:
        batch = []
        for problem in rng.sample(problems, spec.batch_size):
            style = rng.choices(STYLES, weights=spec.style_weights)[0]
            prompt = tokenizer(problem["prompt"], add_special_tokens=False)["input_ids"]
            target = tokenizer(sft_completion(problem, style), add_special_tokens=False)[
                "input_ids"
            ]
            ids = prompt + target + [tokenizer.eos_token_id]
            batch.append((ids, [0] * len(prompt) + [1] * (len(target) + 1)))
        return batch

    fit_sequences(model, tokenizer, sample_batch, spec.sft_steps, spec.learning_rate, spec.seed)
    return model, tokenizer


def load_or_train_warm_start(
    spec: WarmStartSpec, cache_dir: str | Path = "runs/grpo-lab-cache"
) -> tuple[Any, Any]:
    """The warm start for ``spec``: loaded from ``cache_dir`` if saved, else trained and saved."""
    import torch

    path = Path(cache_dir) / f"warmstart-{spec.key()}.pt"
    tokenizer = build_char_tokenizer(task_alphabet(spec.task))
    if path.is_file():
        model = build_tiny_gpt2(tokenizer, spec.n_layer, spec.n_embd, spec.n_head, spec.n_positions)
        model.load_state_dict(torch.load(path, weights_only=True))
        model.eval()
        return model, tokenizer
    print(
        f"warm start: training the tiny policy ({spec.sft_steps} steps, about "
        f"{max(10, round(spec.sft_steps * 0.12))} s on one core; "
        f"cached in {path})",
        flush=True,
    )
    model, tokenizer = train_warm_start(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)  # atomic: parallel jobs never read a half-written file
    return model, tokenizer
