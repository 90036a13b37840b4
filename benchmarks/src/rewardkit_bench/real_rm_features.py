"""What ``rewardkit bench real-rm`` reads from SmolLM2 once: each completion's features at
the studied layers, the probes' features, the completion's own mean token log-prob, and
SmolLM2's zero-shot judgement of each completion and probe (P(Yes), see
:class:`rewardkit.models.JudgeTemplate`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Read", "chat_prompt", "prefix_states", "read_features", "value_head_scores"]


@dataclass
class Read:
    """What one pass over the corpus reads (see the module docs).

    Attributes:
        features: layer → (N, 2d) features of each row.
        probe_features: layer → (P·len(probes), 2d), prompt-major.
        probe_prompts: the P problems' (task, question).
        self_logprob: (N,) each completion's mean token log-prob.
        judge: (N,) SmolLM2's P(Yes) that the answer is correct, zero-shot.
        probe_judge: (P·len(probes),) the same for each probe.
        judge_states: (N, d) the judge's final hidden state at its answer position, which
            the yes and no rows of its output layer read.
        probe_judge_states: (P·len(probes), d) the same for each probe.
        value_states: SmolLM2's last-layer state after every prefix of each row's
            completion, read in the same pass (for a value head per split).
        probe_value_states: the same for each probe.
    """

    features: dict[int, np.ndarray]
    probe_features: dict[int, np.ndarray]
    probe_prompts: list[tuple[str, str]]
    self_logprob: np.ndarray
    judge: np.ndarray
    probe_judge: np.ndarray
    judge_states: np.ndarray
    probe_judge_states: np.ndarray
    value_states: Any
    probe_value_states: Any


def chat_prompt(tokenizer: Any, question: str) -> str:
    """The text SmolLM2 was sampled from: the question in its chat template."""
    chat = [{"role": "user", "content": question}]
    text: str = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    return text


def read_features(
    rows: Sequence[dict[str, Any]], layers: Sequence[int], probes: Sequence[str]
) -> Read:
    """Features of every row and of every (prompt, probe), each row's mean log-prob, and
    the zero-shot judge's score of both (see :class:`Read`)."""
    import torch

    from rewardkit import lm
    from rewardkit.models.frozen_head import hidden_features
    from rewardkit.models.generative import GenerativeRewardModel, JudgeTemplate

    torch.set_num_threads(2)
    model, tokenizer = lm.load("smollm2-135m-instruct")
    prompts = [chat_prompt(tokenizer, row["question"]) for row in rows]
    completions = [row["completion"] for row in rows]
    found = hidden_features(
        model, tokenizer, prompts, completions, layers, 2048, log_probs=True, prefix_states=True
    )
    first: dict[tuple[str, str], str] = {}
    for row, prompt in zip(rows, prompts, strict=True):
        first.setdefault((row["task"], row["question"]), prompt)
    probe_prompts = list(first)
    probe_texts = [first[key] for key in probe_prompts for _ in probes]
    probe_completions = [probe for _ in probe_prompts for probe in probes]
    probe_found = hidden_features(
        model, tokenizer, probe_texts, probe_completions, layers, 2048, prefix_states=True
    )
    assert found.mean_log_prob is not None
    judge = GenerativeRewardModel(model, tokenizer, template=JudgeTemplate.instruct())
    questions = [row["question"] for row in rows]
    judged, judge_states, _ = judge.judge_states(questions, completions, batch_size=16)
    probe_questions = [question for _, question in probe_prompts for _ in probes]
    probe_judged, probe_judge_states, _ = judge.judge_states(
        probe_questions, probe_completions, batch_size=16
    )
    return Read(
        found.by_layer, probe_found.by_layer, probe_prompts, found.mean_log_prob,
        judged, probe_judged, judge_states, probe_judge_states,
        prefix_states(found.prefix_states), prefix_states(probe_found.prefix_states),
    )  # fmt: skip


def prefix_states(states: list[np.ndarray] | None) -> Any:
    """Per-text prefix states (:func:`rewardkit.models.frozen_head.hidden_features`) as the
    :class:`rewardkit.models.value.PrefixStates` a value head fits on."""
    import torch

    from rewardkit.models.value import PrefixStates

    assert states is not None
    return PrefixStates(
        torch.from_numpy(np.concatenate(states)), np.array([len(s) for s in states], dtype=np.int64)
    )


def value_head_scores(
    rows: Sequence[dict[str, Any]],
    states: Any,
    probe_states: Any,
    train: Sequence[int],
    test: Sequence[int],
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """A :class:`rewardkit.models.PolicyValueHead` on SmolLM2, fitted on the labelled ``train``
    rows (every prefix of a completion regressed on its outcome), and its value after
    each ``test`` row's completion (NaN elsewhere) and after each probe, prompt-major; from
    the states :func:`read_features` read."""
    import torch

    from rewardkit import lm
    from rewardkit.models.value import PolicyValueHead

    torch.set_num_threads(2)
    model, tokenizer = lm.load("smollm2-135m-instruct")
    value = PolicyValueHead(model, tokenizer, seed=seed)
    labelled = [i for i in train if rows[i]["label"] is not None]  # unclear: no outcome
    outcomes = [float(rows[i]["label"] == 1) for i in labelled]
    value.fit_states(states.select(labelled), outcomes)
    scores = np.full(len(rows), np.nan)
    scores[list(test)] = value.values_of(states.select(list(test)))
    return scores, value.values_of(probe_states)
