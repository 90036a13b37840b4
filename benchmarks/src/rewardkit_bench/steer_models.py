"""The learned scorers of ``steer-lab``, each fitted on the policy's own rollouts.

- :func:`fit_lab_prm`: a process reward model with Math-Shepherd soft labels
  (per step of a sampled completion, the share of ``rollouts`` continuations
  from the step's prefix that the gold verifier accepts), steps split at ``,``;
- :func:`fit_lab_value`: a value head on the frozen policy, every prefix of a
  sampled completion labelled with that completion's gold outcome.

Neither sees the gold at steering time: both are non-oracle scorers, unlike
the lab's step check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rewardkit_bench.rm_lab import RM_SHAPE, completion_budget, gold_term, rows_batch

__all__ = ["fit_lab_prm", "fit_lab_value", "row_columns"]

STEP_SEPARATOR = ","


def row_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The rows' columns other than the prompt, per prompt (what a term reads beside it)."""
    return {key: [r[key] for r in rows] for key in rows[0] if key != "prompt"}


def fit_lab_prm(
    task: str,
    seed: int,
    model: Any,
    tokenizer: Any,
    prompts: int = 600,
    samples: int = 2,
    rollouts: int = 8,
    epochs: int = 8,
    learning_rate: float = 3e-3,
    from_policy: bool = False,
    hard: bool = False,
) -> Any:
    """A PRM on ``samples`` completions of ``prompts`` problems, Math-Shepherd-labelled."""
    import torch

    from rewardkit.models import ProcessRewardModel, ProcessTraining, split_steps, step_labels
    from rewardkit.steer import sample_completions
    from rewardkit_bench.tasks.arithmetic import task_alphabet, task_problems

    rows = task_problems(task, prompts, seed=7000 + seed)
    budget, gold = completion_budget(task), gold_term(task)
    torch.manual_seed(7000 + seed)
    texts = sample_completions(model, tokenizer, [r["prompt"] for r in rows], samples, budget)
    owners = [rows[i // samples] for i in range(len(texts.texts))]
    # every step prefix that does not end the completion is continued ``rollouts`` times,
    # all in one batch; the last one is the completion itself: its own verdict
    pieces = [split_steps(t, STEP_SEPARATOR) for t in texts.texts]
    open_prefixes = sorted({
        row["prompt"] + "".join(steps[: k + 1])
        for row, steps in zip(owners, pieces, strict=True) for k in range(len(steps) - 1)
    })  # fmt: skip
    continuations: dict[str, list[str]] = {}
    if open_prefixes:
        torch.manual_seed(7500 + seed)
        sampled = sample_completions(model, tokenizer, open_prefixes, rollouts, budget).texts
        for index, prefix in enumerate(open_prefixes):
            continuations[prefix] = sampled[index * rollouts : (index + 1) * rollouts]
    examples = []
    for row, text, steps in zip(owners, texts.texts, pieces, strict=True):
        if not steps:
            continue
        prompt = row["prompt"]

        def verifier(full: str, row: Mapping[str, Any] = row, prompt: str = prompt) -> bool:
            batch = rows_batch([row], [full[len(prompt) :]], 1)
            return bool(gold(batch).total[0] == 1.0)

        def rollout(prefix: str, n: int, end: str = prompt + text) -> list[str]:
            return [""] * n if prefix == end else continuations[prefix]

        labels = step_labels(prompt, steps, rollout, verifier, n=rollouts, hard=hard)
        examples.append({"prompt": prompt, "steps": steps, "labels": labels})
    if from_policy:
        prm = ProcessRewardModel.from_policy(model, tokenizer, STEP_SEPARATOR, seed=seed)
    else:
        prm = ProcessRewardModel.tiny(task_alphabet(task), STEP_SEPARATOR, seed=seed, **RM_SHAPE)
    prm.fit(examples, ProcessTraining(epochs=epochs, learning_rate=learning_rate, seed=seed))
    return prm


def fit_lab_value(
    task: str,
    seed: int,
    model: Any,
    tokenizer: Any,
    prompts: int = 1000,
    samples: int = 4,
    epochs: int = 20,
) -> Any:
    """A value head on the frozen ``model``, trained on its ``samples`` completions of
    ``prompts`` problems and their gold outcomes."""
    import torch

    from rewardkit.models import PolicyValueHead, ValueTraining
    from rewardkit.steer import sample_completions
    from rewardkit_bench.tasks.arithmetic import task_problems

    rows = task_problems(task, prompts, seed=8000 + seed)
    torch.manual_seed(8000 + seed)
    sampled = sample_completions(
        model, tokenizer, [r["prompt"] for r in rows], samples, completion_budget(task)
    )
    texts = sampled.texts
    ended = [bool(ids) and ids[-1] == tokenizer.eos_token_id for ids in sampled.ids]
    outcomes = gold_term(task)(rows_batch(rows, texts, samples)).total
    value = PolicyValueHead(model, tokenizer, seed=seed)
    value.fit(
        [r["prompt"] for r in rows for _ in range(samples)],
        texts,
        np.nan_to_num(outcomes, nan=0.0),
        ValueTraining(epochs=epochs, batch_size=256, seed=seed),
        finished=ended,
    )
    return value
