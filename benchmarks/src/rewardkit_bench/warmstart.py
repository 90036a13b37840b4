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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
from rewardkit.train.sft import SequenceBatch, fit_sequences
from rewardkit_bench.tasks.arithmetic import STYLES, sft_completion, task_alphabet, task_problems

__all__ = ["WarmStartSpec", "cached_weights", "load_or_train_warm_start", "train_warm_start"]


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


def _tokenizer_and_model(spec: WarmStartSpec, seed: int) -> tuple[Any, Any]:
    tokenizer = build_char_tokenizer(task_alphabet(spec.task))
    model = build_tiny_gpt2(
        tokenizer, spec.n_layer, spec.n_embd, spec.n_head, spec.n_positions, seed=seed
    )
    return tokenizer, model


def train_warm_start(spec: WarmStartSpec) -> tuple[Any, Any]:
    """Build the tokenizer and model and fit them by supervised learning."""
    tokenizer, model = _tokenizer_and_model(spec, spec.seed)
    _fit(spec, tokenizer, model)
    return model, tokenizer


def _fit(spec: WarmStartSpec, tokenizer: Any, model: Any) -> None:
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


def cached_weights(path: Path, model: Any, fit: Callable[[Any], None]) -> Any:
    """``model`` with the weights saved at ``path``, or fitted by ``fit(model)`` and saved
    there (atomically: parallel jobs never read a half-written file); in eval mode."""
    import torch

    if path.is_file():
        model.load_state_dict(torch.load(path, weights_only=True))
    else:
        fit(model)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(model.state_dict(), tmp)
        tmp.replace(path)
    model.eval()
    return model


def load_or_train_warm_start(
    spec: WarmStartSpec, cache_dir: str | Path = "runs/grpo-lab-cache"
) -> tuple[Any, Any]:
    """The warm start for ``spec``: loaded from ``cache_dir`` if saved, else trained and saved."""
    path = Path(cache_dir) / f"warmstart-{spec.key()}.pt"
    # a saved model is built with seed 0, as it always was: the global RNG state a caller
    # sees after loading stays what the published runs saw
    tokenizer, model = _tokenizer_and_model(spec, seed=0 if path.is_file() else spec.seed)

    def fit(model: Any) -> None:
        print(
            f"warm start: training the tiny policy ({spec.sft_steps} steps, about "
            f"{max(10, round(spec.sft_steps * 0.12))} s on one core; "
            f"cached in {path})",
            flush=True,
        )
        _fit(spec, tokenizer, model)

    return cached_weights(path, model, fit), tokenizer
