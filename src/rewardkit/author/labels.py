"""ONI-style (classification reward model): states labelled by a model in the background,
distilled into an intrinsic reward.

After Zheng, Henaff et al. 2024 ("Online Intrinsic Rewards for Decision Making
Agents from Large Language Model Feedback", ONI), who caption the agent's
observations (NetHack's messages), send the captions to a language model
server *asynchronously* while the agent keeps stepping, and distil the
labels that have come back so far into a small reward model, which scores
every state at once. The agent never waits for the model, and a state the
model never saw still gets a reward. The paper compares retrieval (a hash
table of labelled captions), classification and ranking reward models;
this module follows the classification one.

What is missing, so this is "ONI-style", not ONI: the reward model here is a
hashed bag-of-words (and bigrams) logistic regression, refit by Newton steps
(warm-started from the last fit) on every label so far inside ``update()``, not
the paper's learned network trained alongside the policy; the retrieval and ranking reward models
are absent; there is no distributed actor/learner system (the caller's trainer
steps the agent, and ``update()`` runs in its loop); the prompt is this
module's own; and nothing here trains an agent.

- :class:`AsyncLabeller` submits each new caption as a yes/no question
  ("is this progress toward the task?") on the judge client's background
  loop (:meth:`~rewardkit.judge.JudgeClient.submit`). :meth:`AsyncLabeller.offer`
  returns at once; at most ``max_pending`` questions are in flight, and a
  caption offered while the queue is full is dropped (counted; it may be
  offered again later). :meth:`AsyncLabeller.collect` takes the answers that
  have arrived, without waiting. A caption is asked once; its failure
  (server error, timeout, an answer that is neither yes nor no) is kept
  with its reason and never turned into a label. A label is 1.0/0.0 from
  the text answer, or, with ``systemone=True``, the model's P(yes) from
  ``transformers serve``'s ``/v1/systemone`` (a soft label: no text is
  generated, and a model that always answers "No" still ranks states).
- :func:`hashed_features` turns captions into signed hashed word and bigram
  counts; :func:`fit_logistic` / :func:`logistic_probability` are the
  distilled classifier (L2-regularised logistic regression, Newton steps;
  soft labels are its targets as they are).
- :class:`LabelReward` is the intrinsic reward term: β·p(yes | caption),
  or β·[p > threshold] (ONI's thresholded classifier). ``update(batch)``
  offers the batch's captions, collects what arrived and refits; the time
  spent inside it is :attr:`LabellerStats.wait_s`. Before any label has
  arrived the term has no model: NaN, status ``not applicable``.

Example:
    >>> x = hashed_features(["you hold the key", "a wall ahead", "you hold the key now"])
    >>> x.shape
    (3, 512)
    >>> w, b = fit_logistic(x[:2], np.array([1.0, 0.0]))
    >>> bool(logistic_probability(x[2:], w, b)[0] > 0.5)   # shares words with the "yes"
    True
    >>> settings = JudgeSettings(model="m", base_url="http://127.0.0.1:9/v1", retries=0,
    ...                          deadline_s=2.0)
    >>> reward = LabelReward(AsyncLabeller(settings, "open the door"))
    >>> reward({"caption": ["a wall ahead"]}).status.tolist()  # no label yet
    [1]
    >>> reward.update({"caption": ["a wall ahead"]})["submitted"]
    1.0
    >>> reward.labeller.drain(timeout_s=10.0)   # nothing on port 9: a failure, no label
    []
    >>> reward.labeller.failures["a wall ahead"].startswith("connection failed")
    True
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import threading
import time
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rewardkit.author.distilled import (
    DistilledClassifier,
    fit_logistic,
    hashed_features,
    logistic_probability,
)
from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import FloatArray, RewardOutput, Status
from rewardkit.core.term import RewardTerm
from rewardkit.judge.base import as_client
from rewardkit.judge.client import ChatRequest, JudgeClient, JudgeFailure, Reply
from rewardkit.judge.decisions import read_yes_probability, systemone_body
from rewardkit.judge.parse import UnparseableAnswerError, parse_yes_no
from rewardkit.judge.settings import JudgeSettings
from rewardkit.judge.templates import PromptTemplate

__all__ = [
    "LABEL_PROMPT",
    "AsyncLabeller",
    "DistilledClassifier",
    "LabelReward",
    "LabellerStats",
    "fit_logistic",
    "hashed_features",
    "logistic_probability",
    "read_label",
]

Judge = JudgeClient | JudgeSettings | Mapping[str, Any]

LABEL_PROMPT = PromptTemplate(
    system="You judge an agent's progress on a task. Answer Yes or No.",
    user=(
        "Task: {task}\n\nObservation: {caption}\n\n"
        "Does this observation show progress toward the task? Reply Yes or No."
    ),
)


@dataclass
class LabellerStats:
    """What the labeller did: captions offered, asked, skipped, answered, and its cost
    to the caller (``wait_s``: seconds spent inside ``offer``/``collect``)."""

    offered: int = 0
    submitted: int = 0
    duplicates: int = 0
    dropped: int = 0
    arrived: int = 0
    failed: int = 0
    wait_s: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


class AsyncLabeller:
    """Labels captions on the judge client's loop, never blocking the caller (module doc).

    Args:
        judge: a client or its settings.
        task: the task, as the model reads it.
        max_pending: questions in flight at most; more are dropped.
        template: the yes/no prompt (fields ``task``, ``caption``).
        max_tokens: the longest answer.
        systemone: label with P(yes) from ``transformers serve``'s
            ``/v1/systemone`` (a soft label in [0, 1], no text generated)
            instead of the text answer's 1/0.
    """

    def __init__(
        self,
        judge: Judge,
        task: str,
        *,
        max_pending: int = 16,
        template: PromptTemplate = LABEL_PROMPT,
        max_tokens: int = 4,
        systemone: bool = False,
    ) -> None:
        if not isinstance(max_pending, int) or max_pending < 1:
            raise ConfigurationError(f"max_pending must be at least 1, got {max_pending!r}")
        template.require(("task", "caption"), "AsyncLabeller")
        self.client = as_client(judge)
        self.task, self.max_pending, self.template = task, max_pending, template
        self.max_tokens, self.systemone = int(max_tokens), bool(systemone)
        self.labels: dict[str, float] = {}
        self.answers: dict[str, str] = {}
        self.failures: dict[str, str] = {}
        self.stats = LabellerStats()
        self._pending: dict[str, concurrent.futures.Future[Any]] = {}
        self._lock = threading.RLock()

    @property
    def pending(self) -> int:
        """Questions in flight now."""
        with self._lock:
            return len(self._pending)

    def snapshot(self) -> dict[str, float]:
        """A copy of the labels so far (safe to read while other threads collect)."""
        with self._lock:
            return dict(self.labels)

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the questions in flight (a copy may offer those captions again)."""
        with self._lock:
            state = {k: v for k, v in self.__dict__.items() if k != "_lock"}
            return {**state, "labels": dict(self.labels), "answers": dict(self.answers),
                    "failures": dict(self.failures), "_pending": {}}  # fmt: skip

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.RLock())

    def request(self, caption: str) -> ChatRequest:
        """The yes/no question about ``caption``."""
        messages = self.template.render({"task": self.task, "caption": caption})
        return ChatRequest(tuple(messages), {"max_tokens": self.max_tokens})

    def _question(self, caption: str) -> Coroutine[Any, Any, Any]:
        request = self.request(caption)
        if not self.systemone:
            return self.client.complete(request)
        state = "\n\n".join(str(m["content"]) for m in request.messages)
        question = str(request.messages[-1]["content"]).split("\n")[-1]
        body = systemone_body(self.client.settings.model, state, question)
        return self.client.post_json("/systemone", body)

    def offer(self, captions: Iterable[str]) -> int:
        """Submit each caption not asked before while there is room; returns the number
        submitted. Never waits for an answer; safe from several threads."""
        start = time.perf_counter()
        submitted = 0
        with self._lock:
            for caption in captions:
                self.stats.offered += 1
                if caption in self.labels or caption in self.failures or caption in self._pending:
                    self.stats.duplicates += 1
                elif len(self._pending) >= self.max_pending:
                    self.stats.dropped += 1
                else:
                    self._pending[caption] = self.client.submit(self._question(caption))
                    submitted += 1
            self.stats.submitted += submitted
            self.stats.wait_s += time.perf_counter() - start
        return submitted

    def collect(self) -> list[tuple[str, float]]:
        """The labels that arrived since the last call, ``(caption, label)``; never waits.
        Safe from several threads: each label is returned to one caller."""
        start = time.perf_counter()
        arrived: list[tuple[str, float]] = []
        with self._lock:
            for caption in [c for c, f in self._pending.items() if f.done()]:
                label = self._read(caption, self._pending.pop(caption))
                if label is not None:
                    arrived.append((caption, label))
            self.stats.wait_s += time.perf_counter() - start
        return arrived

    def _read(self, caption: str, future: concurrent.futures.Future[Any]) -> float | None:
        try:
            answer = future.result()
        except Exception as exc:  # a cancelled or broken future: that caption's failure
            answer = JudgeFailure(Status.ERROR, f"{type(exc).__name__}: {exc}")
        if isinstance(answer, Reply):
            self.answers[caption] = answer.text
        label, reason = read_label(answer, systemone=self.systemone)
        if label is None:
            self.failures[caption] = reason or "no label"
            self.stats.failed += 1
            return None
        self.labels[caption] = label
        self.stats.arrived += 1
        return label

    def ask(self, captions: Sequence[str]) -> list[float | None]:
        """The model's labels of ``captions``, waiting for them (None where it gave none);
        for evaluation: nothing is recorded, and the caller blocks."""

        async def every() -> list[Any]:
            return list(await asyncio.gather(*(self._question(c) for c in captions)))

        answers = self.client.submit(every()).result() if captions else []
        return [read_label(a, systemone=self.systemone)[0] for a in answers]

    def drain(self, timeout_s: float) -> list[tuple[str, float]]:
        """Wait up to ``timeout_s`` for the questions in flight, then :meth:`collect`
        (for the end of a run or an evaluation, not inside the step loop)."""
        with self._lock:
            futures = list(self._pending.values())
        if futures:
            concurrent.futures.wait(futures, timeout=timeout_s)
        return self.collect()

    def close(self) -> None:
        """Cancel the questions in flight (their captions may be offered again)."""
        with self._lock:
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()


def read_label(answer: Any, *, systemone: bool = False) -> tuple[float | None, str | None]:
    """``(label, None)`` from an answer, or ``(None, reason)`` where it holds none: 1.0/0.0
    from a yes/no text, P(yes) from a ``/v1/systemone`` answer (``systemone=True``)."""
    if isinstance(answer, JudgeFailure):
        return None, answer.reason
    try:
        if systemone:
            return read_yes_probability(answer), None
        if not isinstance(answer, Reply):
            return None, f"expected a chat answer, got {type(answer).__name__}"
        return float(parse_yes_no(answer.text) == "yes"), None
    except (UnparseableAnswerError, ValueError) as exc:
        return None, str(exc)


class LabelReward(RewardTerm):
    """The intrinsic reward β·p(yes | caption) of the distilled classifier (module doc).

    Reads ``caption`` (``column=`` renames it). ``threshold`` makes it
    β·[p > threshold]. ``update(batch)`` offers the captions, collects the
    labels that arrived and refits once ``refit_every`` labels arrived since the last fit
    (however they were collected); ``fit_s`` counts the seconds spent fitting.
    """

    def __init__(
        self,
        labeller: AsyncLabeller,
        *,
        column: str = "caption",
        beta: float = 1.0,
        threshold: float | None = None,
        refit_every: int = 1,
        model: DistilledClassifier | None = None,
        name: str = "llm_label_reward",
    ) -> None:
        super().__init__(name)
        if threshold is not None and not 0.0 < threshold < 1.0:
            raise ConfigurationError(f"threshold must be in (0, 1), got {threshold}")
        if not isinstance(refit_every, int) or refit_every < 1:
            raise ConfigurationError(f"refit_every must be at least 1, got {refit_every!r}")
        self.labeller, self.column = labeller, column
        self.columns = (column,)
        self.beta, self.threshold, self.refit_every = float(beta), threshold, refit_every
        self.model = model or DistilledClassifier()
        self.fit_s = 0.0
        self._lock = threading.Lock()

    def scores(self, captions: Sequence[str]) -> FloatArray:
        """The reward of each caption (NaN before the first label)."""
        p = self.model.probability(captions)
        if self.threshold is not None:
            p = np.where(np.isnan(p), np.nan, (p > self.threshold).astype(np.float64))
        result: FloatArray = self.beta * p
        return result

    def _compute(self, batch: Batch) -> RewardOutput:
        captions = [str(c) for c in get_column(batch, self.column)]
        if not self.model.fitted:
            message = "no label from the model has arrived yet, so there is no distilled model"
            return RewardOutput.from_values(
                np.full(len(captions), np.nan), messages=[message] * len(captions)
            )
        return RewardOutput.from_values(self.scores(captions))

    def refit(self) -> bool:
        """Fit the classifier on every label so far; False when there is none."""
        labels = self.labeller.snapshot()
        if not labels:
            return False
        with self._lock:
            start = time.perf_counter()
            self.model.fit(list(labels), list(labels.values()))
            self.fit_s += time.perf_counter() - start
        return True

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    def update(self, batch: Batch) -> dict[str, float]:
        """Offer the batch's captions, collect answers, refit; the labeller's counts."""
        start = time.perf_counter()
        self.labeller.offer(str(c) for c in get_column(batch, self.column))
        self.labeller.collect()
        new = len(self.labeller.snapshot()) - self.model.trained_on
        if new >= self.refit_every or (new > 0 and not self.model.fitted):
            self.refit()
        labels = list(self.labeller.snapshot().values())
        metrics = self.labeller.stats.as_dict()
        metrics.update(
            labels=float(len(labels)),
            mean_label=float(np.mean(labels)) if labels else math.nan,
            pending=float(self.labeller.pending),
            fit_s=self.fit_s,
            update_s=time.perf_counter() - start,
        )
        return metrics
