"""The data and the judges of ``rewardkit bench judge``: the SmolLM2 corpus's rows, their
seeded subsets and (right, wrong) pairs, the corpus's own answer rule as a verifier, and the
judge settings every part shares.

Example:
    >>> stated_number("So 3 + 4 = 7, I think.")
    '7'
    >>> stated_number(":") is None
    True
    >>> rule = corpus_rule({"completion": ["The answer is 7.", "Hmm.", "Take 4 and 1."],
    ...                     "answer": ["7", "7", "5"]})
    >>> rule.total.tolist()
    [1.0, 0.0, nan]
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, batch_size, take
from rewardkit.core.output import RewardOutput, concat_outputs
from rewardkit.core.progress import progress
from rewardkit.core.term import RewardTerm, term
from rewardkit_bench.real_rm import _corpus_path
from rewardkit_bench.smollm2_corpus import stated_answer

__all__ = [
    "DEADLINE_S",
    "MAX_TOKENS",
    "InChunks",
    "as_batch",
    "corpus_path",
    "corpus_rule",
    "judge_settings",
    "labelled_subset",
    "load_rows",
    "right_wrong_pairs",
    "stated_number",
    "unclear_subset",
]

#: the text judges' longest answer: "Yes"/"No" and a few words (the pairwise judge gets 16)
MAX_TOKENS = 8
#: a call's deadline once sent (the client's queue is not counted): generous, so that a slow
#: shared machine does not time out (the fault runs set a short one of their own)
DEADLINE_S = 300.0


def corpus_path(given: str | None) -> Path:
    """The SmolLM2 corpus, found as real-rm finds it (``--corpus``, ``$REWARDKIT_CORPORA``)."""
    return _corpus_path(given, suite="judge")


def load_rows(given: str | None) -> list[dict[str, Any]]:
    """Every row of the SmolLM2 arithmetic corpus."""
    with corpus_path(given).open() as handle:
        return [json.loads(line) for line in handle if line.strip()]


def labelled_subset(rows: Sequence[dict[str, Any]], size: int, seed: int) -> list[dict[str, Any]]:
    """``size`` labelled rows (label 1 or 0), drawn without replacement, in corpus order."""
    labelled = [row for row in rows if row["label"] is not None]
    chosen = np.random.default_rng(seed).choice(len(labelled), min(size, len(labelled)), False)
    return [labelled[i] for i in sorted(chosen)]


def unclear_subset(rows: Sequence[dict[str, Any]], size: int, seed: int) -> list[dict[str, Any]]:
    """``size`` rows the corpus's rule could not read (no label), in corpus order."""
    unclear = [row for row in rows if row["status"] == "unclear"]
    chosen = np.random.default_rng(seed).choice(len(unclear), min(size, len(unclear)), False)
    return [unclear[i] for i in sorted(chosen)]


def right_wrong_pairs(
    rows: Sequence[dict[str, Any]], count: int, seed: int
) -> list[tuple[str, str, str]]:
    """Up to ``count`` (question, right, wrong) triples, one per question that has both a
    right and a wrong labelled completion; the questions and completions drawn by ``seed``."""
    by_question: dict[str, tuple[list[str], list[str]]] = {}
    for row in rows:
        if row["label"] is not None:
            right, wrong = by_question.setdefault(row["question"], ([], []))
            (right if row["label"] == 1 else wrong).append(row["completion"])
    both = [(q, r, w) for q, (r, w) in by_question.items() if r and w]
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(both), min(count, len(both)), False)
    triples = []
    for index in sorted(picked):
        question, right, wrong = both[index]
        triples.append((question, right[rng.integers(len(right))], wrong[rng.integers(len(wrong))]))
    return triples


def as_batch(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """The judge's columns of corpus rows: the question, the completion, the gold answer."""
    return {
        "prompt": [row["question"] for row in rows],
        "completion": [row["completion"] for row in rows],
        "answer": [row["gold"] for row in rows],
    }


def stated_number(text: str) -> str | None:
    """The number a completion states, by the corpus's rule, or None: the ``final_answer``
    extractor of the mitigated judge (a master key states nothing, so it scores 0)."""
    status, answer = stated_answer(text)
    return answer if status == "stated" else None


def _same_number(stated: str, gold: str) -> bool:
    try:
        return math.isclose(float(stated), float(gold))
    except ValueError:
        return stated.strip() == gold.strip()


def _corpus_rule(completion: Sequence[str], answer: Sequence[str]) -> list[float | None]:
    """The corpus's own labelling as a verifier: the stated number against the gold (1/0), 0
    where the text holds no number, not applicable where the rule cannot read it (unclear)."""
    values: list[float | None] = []
    for text, gold in zip(completion, answer, strict=True):
        status, stated = stated_answer(text)
        if status == "stated" and stated is not None:
            values.append(float(_same_number(stated, str(gold))))
        else:
            values.append(0.0 if status == "none" else None)
    return values


#: the corpus's labelling rule as a term (reads ``completion`` and ``answer``)
corpus_rule: RewardTerm = term(_corpus_rule, name="corpus_rule")


def judge_settings(server: Any, **options: Any) -> Any:
    """JudgeSettings for ``server``: temperature 0, seed 0, short answers, a long deadline."""
    from rewardkit.judge import JudgeSettings

    values: dict[str, Any] = {
        "max_tokens": MAX_TOKENS,
        "temperature": 0.0,
        "seed": 0,
        "deadline_s": DEADLINE_S,
        "retries": 2,
        "max_concurrency": 4,
    }
    values.update(options)
    return JudgeSettings(model=server.model, base_url=server.base_url, **values)


class InChunks(RewardTerm):
    """``inner`` over a batch a chunk at a time, with a progress line (and an ETA) per chunk;
    the same output as one call, each chunk's calls still concurrent."""

    def __init__(self, inner: Any, description: str, size: int = 16) -> None:
        super().__init__(inner.name)
        self.inner, self.description, self.size = inner, description, int(size)
        self.columns = tuple(getattr(inner, "columns", ()))
        self.needs_answer = False  # the inner term marks its own unanswered rows

    def _compute(self, batch: Batch) -> RewardOutput:
        n = batch_size(batch)
        starts = range(0, n, self.size)
        parts = [
            self.inner(take(batch, np.arange(start, min(start + self.size, n))))
            for start in progress(starts, self.description, total=len(starts), log_every=15.0)
        ]
        return concat_outputs(parts)
