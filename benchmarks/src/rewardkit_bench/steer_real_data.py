"""The problems, gold and learned scorers of ``rewardkit bench steer-real``.

- :func:`problems`: the SmolLM2 corpus's questions, split once into a training
  and a held-out half (by question, seed 0), each with the reasoning-gym
  entry that scores it;
- :func:`gold_label`: 1 where the first answer a text states (the corpus's
  rule, :func:`rewardkit_bench.smollm2_corpus.stated_answer`) is one
  reasoning-gym scores 1.0, else 0 (wrong, none or unclear);
- :class:`StatedAnswerCheck`: the same check as a process potential (an
  oracle: it knows the gold): a prefix scores 1 or 0 once the answer it
  states can no longer change, else it is not judged;
- :func:`shepherd_labels`: Math-Shepherd's soft labels for every step (16
  tokens) of the training half's first two samples of each question, from
  ``rollouts`` continuations by SmolLM2 of each step's prefix (a prefix whose
  stated answer is already settled is labelled by it, with no rollout); the
  last step of every labelled training completion is its own label;
- :func:`fit_scorers`: the PRM (a logistic head on frozen SmolLM2 features,
  :class:`rewardkit.models.FrozenHeadProcessRewardModel`) on those labels and
  a Bradley–Terry head on the same features' last step, from (correct, wrong)
  pairs of the training half; each L2 penalty by two-fold cross-validation
  over training questions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.term import RewardTerm
from rewardkit_bench.smollm2_corpus import TASKS, stated_answer

__all__ = [
    "Problem",
    "Scorers",
    "StatedAnswerCheck",
    "fit_scorers",
    "gold_label",
    "problems",
    "settled",
    "shepherd_labels",
]

STEP_TOKENS = 16
BUDGET = 64
L2_GRID = (1e-2, 1e-1, 1.0, 10.0, 100.0)


@dataclass(frozen=True)
class Problem:
    """A corpus question with what scores it."""

    task: str
    question: str
    prompt: str
    entry: Any
    dataset: Any


def problems(rows: Sequence[dict[str, Any]], tokenizer: Any) -> tuple[list[Problem], list[Problem]]:
    """The corpus's distinct questions as (training half, held-out half), split by seed 0."""
    import reasoning_gym

    from rewardkit_bench.real_rm_features import chat_prompt

    datasets = {
        task: reasoning_gym.create_dataset(task, seed=0, size=200, **settings)
        for task, settings in TASKS.items()
    }
    first: dict[tuple[str, str], int] = {}
    for row in rows:
        first.setdefault((row["task"], row["question"]), int(row["index"]))
    keys = sorted(first)
    built = {
        key: Problem(
            key[0],
            key[1],
            chat_prompt(tokenizer, key[1]),
            datasets[key[0]][first[key]],
            datasets[key[0]],
        )
        for key in keys
    }
    order = np.random.default_rng(0).permutation(len(keys))
    train = [built[keys[i]] for i in order[: len(keys) // 2]]
    held_out = [built[keys[i]] for i in order[len(keys) // 2 :]]
    return train, held_out


def gold_label(problem: Problem, text: str) -> float:
    """1.0 where the text's first stated answer scores 1.0 under reasoning-gym, else 0.0."""
    status, answer = stated_answer(text)
    if status != "stated" or answer is None:
        return 0.0
    return float(float(problem.dataset.score_answer(answer, problem.entry)) == 1.0)


def settled(prefix: str) -> bool:
    """Whether no continuation can change the answer a prefix states: it states one, and
    it stays the same when a digit or more words follow (the corpus's rule reads the first
    statement; a number at the very end could still grow, ``7.`` into ``7.5``).

    Example:
        >>> settled("The answer is 7. So"), settled("The answer is 7."), settled("I think")
        (True, False, False)
    """
    found = stated_answer(prefix)
    return (
        found[0] == "stated"
        and stated_answer(prefix + "0 x") == found
        and stated_answer(prefix + " x.") == found
    )


class StatedAnswerCheck(RewardTerm):
    """The oracle process check (see the module docs): columns ``task`` and ``question``
    name each row's problem in ``by_key``."""

    scores_partial = True
    columns = ("completion", "task", "question")

    def __init__(self, by_key: Mapping[tuple[str, str], Problem], name: str = "stated") -> None:
        super().__init__(name)
        self.by_key = dict(by_key)

    def _compute(self, batch: Batch) -> list[float | None]:
        texts = get_column(batch, "completion")
        tasks, questions = get_column(batch, "task"), get_column(batch, "question")
        partial = batch.get("partial", [False] * len(texts))
        out: list[float | None] = []
        for text, task, question, prefix in zip(texts, tasks, questions, partial, strict=True):
            problem = self.by_key[(task, question)]
            if prefix and not settled(text):
                out.append(None)
            else:
                out.append(gold_label(problem, text))
        return out


def shepherd_labels(
    model: Any,
    tokenizer: Any,
    prm: Any,
    rows: Sequence[dict[str, Any]],
    by_key: Mapping[tuple[str, str], Problem],
    rollouts: int,
    rollout_samples: int = 2,
) -> list[list[float]]:
    """Per row (a labelled training completion), one label per step (NaN: no rollouts)."""
    from rewardkit import lm

    labels: list[list[float]] = []
    wanted: dict[int, list[tuple[int, str]]] = {}  # step end (tokens) -> (row, prefix)
    for r, row in enumerate(rows):
        steps = prm.step_count(row["completion"])
        labels.append([float("nan")] * (steps - 1) + [float(row["label"] == 1)])
        if row["sample"] >= rollout_samples or row["sampling_seed"] != 0:
            continue
        problem = by_key[(row["task"], row["question"])]
        for k, prefix in enumerate(prm.step_prefixes(row["completion"])):
            if settled(prefix):
                labels[r][k] = gold_label(problem, prefix)
            else:
                wanted.setdefault(k, []).append((r, prefix))
    for k, items in sorted(wanted.items()):
        budget = BUDGET - STEP_TOKENS * (k + 1)
        if budget < 1:
            for r, prefix in items:
                labels[r][k] = gold_label(by_key[_key(rows[r])], prefix)
            continue
        texts = [by_key[_key(rows[r])].prompt + prefix for r, prefix in items]
        sampled = lm.sample_completions(
            model, tokenizer, texts, k=rollouts, max_new_tokens=budget, seed=7100 + k
        ).texts
        for i, (r, prefix) in enumerate(items):
            problem = by_key[_key(rows[r])]
            endings = sampled[i * rollouts : (i + 1) * rollouts]
            labels[r][k] = float(np.mean([gold_label(problem, prefix + e) for e in endings]))
    return labels


def _key(row: Mapping[str, Any]) -> tuple[str, str]:
    return row["task"], row["question"]


@dataclass
class Scorers:
    """The fitted learned scorers: the PRM and the BT head (on its features), and what CV chose."""

    prm: Any
    bt_head: Any
    prm_l2: float
    bt_l2: float
    prm_validation_loss: float
    bt_validation_accuracy: float
    labelled_steps: int


def fit_scorers(
    prm: Any, rows: Sequence[dict[str, Any]], features: list[np.ndarray], labels: list[list[float]]
) -> Scorers:
    """Fit the PRM's head and a BT head on the rows' step features (see the module docs)."""
    from rewardkit.models.frozen_head import BradleyTerryHead
    from rewardkit_bench.real_rm import _chosen_l2, logistic_l2, pairs_of

    fold = _folds(rows)
    step_fold = np.concatenate([[fold[r]] * len(f) for r, f in enumerate(features)])
    stacked = np.concatenate(features)
    targets = np.concatenate([np.asarray(x) for x in labels])
    known = ~np.isnan(targets)
    best_l2, best_loss = logistic_l2(stacked, targets, known, step_fold, L2_GRID)
    prm.fit_features(features, [np.asarray(x) for x in labels], best_l2)
    last = np.stack([f[-1] for f in features])
    pairs = pairs_of(list(rows), False)
    bt_l2, bt_validation = _chosen_l2(last, pairs, list(rows), 0)
    bt = BradleyTerryHead.untrained(last.shape[1])
    c, w = np.array(pairs).T
    bt.fit(last[c], last[w], l2=bt_l2)
    return Scorers(prm, bt, best_l2, bt_l2, best_loss, bt_validation, int(known.sum()))


def _folds(rows: Sequence[dict[str, Any]]) -> list[int]:
    """Each row's cross-validation fold (0 or 1), by question."""
    keys = sorted({_key(row) for row in rows})
    order = np.random.default_rng(10_000).permutation(len(keys))
    fold = {keys[i]: n % 2 for n, i in enumerate(order)}
    return [fold[_key(row)] for row in rows]
