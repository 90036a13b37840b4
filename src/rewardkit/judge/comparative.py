"""Comparative judges: pairs in both orders, and a whole group in one call.

:class:`PairwiseJudge` compares each completion with the others of its group
(the ``group`` column, else the completions that share a prompt), or with its
row's ``baseline`` column when the batch has one. Each pair is judged twice,
with the responses swapped, and the two verdicts are averaged from the
completion's side, so a judge that always prefers the first position gives
0.5 rather than a reward decided by the order (position bias, as measured by
:func:`rewardkit.audit.judge.position_bias`). A completion's reward is its
mean win rate (a tie is half a win).

:class:`GroupJudge` is RULER-style (ART's RULER scores whole trajectories, with a
default rubric and an explanation per trajectory; this one shows each completion's
final answer text under the template's rubric): the judge sees all of a group's
responses at once and returns one score each, relative to the others, in one
call per group; scores are rescaled to ``[0, 1]``.

A call that fails or cannot be read leaves every completion it involved with
status ``error`` or ``timeout`` and the reason: never a loss.

Example (no server needed to build one):
    >>> settings = JudgeSettings(model="smollm2", base_url="http://127.0.0.1:8000/v1")
    >>> PairwiseJudge(settings).swap
    True
    >>> win_rate_from_orders("A", "B")  # preferred in both orders
    1.0
    >>> win_rate_from_orders("A", "A")  # always the first shown: no information
    0.5
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, batch_size, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.judge import templates
from rewardkit.judge.base import as_client, prompts_of, row_text
from rewardkit.judge.client import ChatRequest, JudgeClient, JudgeFailure, Reply
from rewardkit.judge.parse import UnparseableAnswerError, parse_group_scores, parse_preference
from rewardkit.judge.settings import JudgeSettings
from rewardkit.judge.templates import PromptTemplate

__all__ = ["GroupJudge", "PairwiseJudge", "groups_of", "win_rate_from_orders"]

Judge = JudgeClient | JudgeSettings | Mapping[str, Any]
_WIN = {"A": 1.0, "B": 0.0, "tie": 0.5}


def win_rate_from_orders(first: str, swapped: str) -> float:
    """The first response's win rate from a verdict and the verdict with the order swapped.

    ``first`` judges (x as A, y as B); ``swapped`` judges (y as A, x as B).
    """
    return 0.5 * (_WIN[first] + 1.0 - _WIN[swapped])


def groups_of(batch: Batch) -> list[list[int]]:
    """Row indices per group: the ``group`` column, else identical prompts."""
    n = batch_size(batch)
    keys = (
        batch["group"]
        if "group" in batch
        else [repr(row_text(p, answer=False)) for p in prompts_of(batch)]
    )
    found: dict[Any, list[int]] = {}
    for index in range(n):
        key = keys[index]
        found.setdefault(key.item() if hasattr(key, "item") else key, []).append(index)
    return list(found.values())


def _failed(reply: Reply | JudgeFailure, read: Any) -> tuple[Any, JudgeFailure | None]:
    if isinstance(reply, JudgeFailure):
        return None, reply
    try:
        return read(reply.text), None
    except UnparseableAnswerError as exc:
        return None, JudgeFailure(Status.ERROR, f"unparseable: {exc}")


class _Comparative(RewardTerm):
    columns: tuple[str, ...] = ("prompt", "completion")

    def __init__(self, judge: Judge, template: PromptTemplate, fields: Sequence[str], name: str):
        super().__init__(name)
        self.client = as_client(judge)
        template.require(fields, type(self).__name__)
        self.template = template

    @staticmethod
    def _output(
        values: np.ndarray, failures: Sequence[JudgeFailure | None], extra: Mapping[str, np.ndarray]
    ) -> RewardOutput:
        status = np.array([0 if f is None else int(f.status) for f in failures], dtype=np.int8)
        total = np.where(status == 0, values, np.nan)
        messages = tuple(None if f is None else f.reason for f in failures)
        return RewardOutput(total, {**extra}, status, messages)

    def update(self, batch: Batch) -> Mapping[str, float]:
        del batch
        return self.client.usage.as_dict()


def _worse(current: JudgeFailure | None, new: JudgeFailure | None) -> JudgeFailure | None:
    if new is None:
        return current
    if current is None or new.status > current.status:
        return new
    return current


@register("judge_pairwise")
class PairwiseJudge(_Comparative):
    """Mean win rate against the group (or the ``baseline`` column), both orders judged."""

    def __init__(
        self,
        judge: Judge,
        *,
        swap: bool = True,
        template: PromptTemplate = templates.PAIRWISE,
        name: str = "judge_pairwise",
    ) -> None:
        super().__init__(judge, template, ("question", "response_a", "response_b"), name)
        self.swap = bool(swap)

    def _request(self, question: str, a: str, b: str) -> ChatRequest:
        values = {"question": question, "response_a": a, "response_b": b}
        return ChatRequest(tuple(self.template.render(values)))

    def pairs(self, batch: Batch) -> list[tuple[int, int | None]]:
        """(row, opponent row) pairs; the opponent None means the ``baseline`` column."""
        if "baseline" in batch:  # a row without a baseline has nothing to be compared with
            return [(i, None) for i, b in enumerate(batch["baseline"]) if not _absent(b)]
        return [pair for group in groups_of(batch) for pair in combinations(group, 2)]

    def _compute(self, batch: Batch) -> RewardOutput:
        n = batch_size(batch)
        prompts = [row_text(p, answer=False) for p in prompts_of(batch)]
        texts = [row_text(c, answer=True) for c in get_column(batch, "completion")]
        baselines = [
            "" if _absent(b) else row_text(b, answer=True) for b in batch.get("baseline", [])
        ]
        pairs = self.pairs(batch)
        requests: list[ChatRequest] = []
        for i, j in pairs:
            other = baselines[i] if j is None else texts[j]
            requests.append(self._request(prompts[i], texts[i], other))
            if self.swap:
                requests.append(self._request(prompts[i], other, texts[i]))
        replies = self.client.run(requests)
        per = 2 if self.swap else 1
        wins = [[] for _ in range(n)]  # type: list[list[float]]
        failures: list[JudgeFailure | None] = [None] * n
        same_position = np.zeros(n)
        swapped_pairs = np.zeros(n)
        for k, (i, j) in enumerate(pairs):
            verdicts = [_failed(r, parse_preference) for r in replies[per * k : per * k + per]]
            failure = next((f for _, f in verdicts if f is not None), None)
            if failure is not None:
                for row in (i, j):
                    if row is not None:
                        failures[row] = _worse(failures[row], failure)
                continue
            first = verdicts[0][0]
            rate = win_rate_from_orders(first, verdicts[1][0]) if self.swap else _WIN[first]
            wins[i].append(rate)
            if j is not None:
                wins[j].append(1.0 - rate)
            if self.swap:  # the same letter twice: the position decided, not the text
                biased = first != "tie" and first == verdicts[1][0]
                for row in (i, j):
                    if row is not None:
                        swapped_pairs[row] += 1
                        same_position[row] += biased
        values = np.array([float(np.mean(w)) if w else math.nan for w in wins])
        for row in range(n):
            if failures[row] is None and not wins[row]:
                reason = "no other completion to compare with"
                failures[row] = JudgeFailure(Status.NOT_APPLICABLE, reason)
        extra: dict[str, np.ndarray] = {}
        if self.swap:
            shares = same_position / np.maximum(swapped_pairs, 1)
            extra["position_bias"] = np.where(swapped_pairs > 0, shares, np.nan)
        return self._output(values, failures, extra)


@register("judge_group")
class GroupJudge(_Comparative):
    """RULER-style: one call scores every response of a group relative to the others."""

    def __init__(
        self,
        judge: Judge,
        *,
        low: float = 0.0,
        high: float = 1.0,
        template: PromptTemplate = templates.GROUP,
        name: str = "judge_group",
        max_group: int = 16,
    ) -> None:
        fields = ("question", "responses", "count", "low", "high")
        super().__init__(judge, template, fields, name)
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ConfigurationError(f"a score range needs low < high, got [{low}, {high}]")
        if max_group < 2:
            raise ConfigurationError(f"max_group must be at least 2, got {max_group}")
        self.low, self.high, self.max_group = float(low), float(high), int(max_group)

    def _compute(self, batch: Batch) -> RewardOutput:
        n = batch_size(batch)
        prompts = [row_text(p, answer=False) for p in prompts_of(batch)]
        texts = [row_text(c, answer=True) for c in get_column(batch, "completion")]
        failures: list[JudgeFailure | None] = [None] * n
        groups = []
        for group in groups_of(batch):  # a group it cannot judge is that group's status
            if len(group) == 1:
                reason = "a group of one: nothing to score it relative to (pass whole groups)"
                failures[group[0]] = JudgeFailure(Status.NOT_APPLICABLE, reason)
            elif len(group) > self.max_group:
                reason = (f"a group of {len(group)} exceeds max_group={self.max_group}; raise "
                          "max_group if the judge's context holds it")  # fmt: skip
                for row in group:
                    failures[row] = JudgeFailure(Status.ERROR, reason)
            else:
                groups.append(group)
        low, high = _fmt(self.low), _fmt(self.high)
        requests = []
        for group in groups:
            shown = "\n\n".join(f"Response {k}:\n{texts[i]}" for k, i in enumerate(group, start=1))
            values = {"question": prompts[group[0]], "responses": shown, "count": len(group),
                      "low": low, "high": high}  # fmt: skip
            requests.append(ChatRequest(tuple(self.template.render(values))))
        replies = self.client.run(requests)
        scores = np.full(n, np.nan)
        for group, reply in zip(groups, replies, strict=True):
            read, failure = _failed(
                reply, lambda t, g=group: parse_group_scores(t, len(g), self.low, self.high)
            )
            for k, row in enumerate(group):
                if failure is not None:
                    failures[row] = failure
                else:
                    scores[row] = (read[k] - self.low) / (self.high - self.low)
        return self._output(scores, failures, {})


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
