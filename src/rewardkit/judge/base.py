"""``JudgeTerm``: the shared machinery of the model-graded terms.

A judge term turns each row of a batch into one or more judge calls (one
per part: a rubric's criteria; one per sample: self-consistency), sends them
all at once through a :class:`~rewardkit.judge.client.JudgeClient`, reads
each answer with its kind's parser, and combines a row's parts into its
reward. The per-sample status rule is strict:

- a row is scored only when every one of its calls was answered and read
  (``min_judgments`` relaxes this for self-consistency);
- otherwise its reward is NaN and its status is the worst of its failed
  calls' (``error`` over ``timeout``, as :func:`rewardkit.core.output.worst_status`),
  and its message gives that call's reason (the server's error, the refusal,
  or the answer that could not be read).

``final_answer`` (a function text → answer or None, such as
:func:`rewardkit.verify.extract_boxed`) makes the judge read only the
extracted final answer, the mitigation that "One Token to Fool LLM-as-a-Judge"
motivates: a master key (":", "Thought process:") states no answer, so it is
scored 0.0 ("no answer", status ok, as :class:`~rewardkit.verify.MathVerifier`
does) without a call, and reasoning text cannot sway the judge.

The breakdown (``RewardOutput.terms``) holds each part's value as
``"<part>"`` and, with ``samples > 1``, the spread (standard deviation)
of the judgments as ``"spread"``; :meth:`JudgeTerm.update` returns the
client's usage for the logs.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, batch_size, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.messages import answer_text, last_message_text, unanswered_rows
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.term import RewardTerm
from rewardkit.judge.client import ChatRequest, JudgeClient, JudgeFailure, Reply
from rewardkit.judge.parse import UnparseableAnswerError
from rewardkit.judge.settings import JudgeSettings
from rewardkit.judge.templates import PromptTemplate

__all__ = ["Call", "JudgeTerm", "as_client", "no_answer_is_wrong", "prompts_of", "row_text"]


def as_client(judge: JudgeClient | JudgeSettings | Mapping[str, Any]) -> JudgeClient:
    """A client from settings, or from their fields (a spec file's table)."""
    if isinstance(judge, JudgeClient):
        return judge
    if isinstance(judge, JudgeSettings):
        return JudgeClient(judge)
    if isinstance(judge, Mapping):
        return JudgeClient(JudgeSettings(**judge))
    raise ConfigurationError(
        f"a judge needs JudgeSettings or a JudgeClient, got {type(judge).__name__}"
    )


def row_text(value: Any, *, answer: bool) -> str:
    """A column value as text: a completion's answer, a prompt's last message."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return answer_text(value) if answer else last_message_text(value)


def prompts_of(batch: Batch) -> Any:
    """The ``prompt`` column, else ``question`` (verl passes no prompt; its
    ``extra_info`` often holds the question), else the missing-column error."""
    if "prompt" not in batch and "question" in batch:
        return batch["question"]
    return get_column(batch, "prompt")


@dataclass(frozen=True)
class Call:
    """One judge call of a row: the part it judges and the request."""

    part: str
    request: ChatRequest


class JudgeTerm(RewardTerm):
    """Base of the judge terms; subclasses plan calls and read answers."""

    columns: tuple[str, ...] = ("prompt", "completion")

    def __init__(
        self,
        judge: JudgeClient | JudgeSettings | Mapping[str, Any],
        *,
        name: str,
        samples: int = 1,
        min_judgments: int | None = None,
        final_answer: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(name)
        self.client = as_client(judge)
        if not isinstance(samples, int) or samples < 1:
            raise ConfigurationError(f"samples must be at least 1, got {samples!r}")
        if samples > 1 and self.client.settings.temperature == 0:
            raise ConfigurationError(
                f"samples={samples} judgments at temperature 0 would repeat one answer; "
                "set JudgeSettings(temperature=...) above 0 for self-consistency"
            )
        if min_judgments is not None and not 1 <= min_judgments <= samples:
            raise ConfigurationError(
                f"min_judgments must be between 1 and samples={samples}, got {min_judgments}"
            )
        self.samples = samples
        self.min_judgments = samples if min_judgments is None else min_judgments
        if final_answer is not None and not callable(final_answer):
            raise ConfigurationError("final_answer must be a function text -> answer or None")
        self.final_answer = final_answer

    def use_template(self, template: PromptTemplate, provided: Sequence[str]) -> PromptTemplate:
        """Check ``template``'s fields; a template naming ``reference`` reads ``answer``."""
        template.require(provided, type(self).__name__)
        if "reference" in template.fields and "answer" not in self.columns:
            self.columns = (*self.columns, "answer")
        return template

    # -- what subclasses provide ----------------------------------------------

    @abc.abstractmethod
    def calls(self, row: Mapping[str, Any]) -> list[Call]:
        """The calls judging one row (one per part; samples are added here)."""

    @abc.abstractmethod
    def read(self, part: str, reply: Reply, row: Mapping[str, Any]) -> float:
        """One call's answer as a number; raises UnparseableAnswerError."""

    def part_names(self) -> tuple[str, ...]:
        """The parts each row is judged on (the breakdown's keys when there are several)."""
        return (self.name,)

    def combine(self, parts: Mapping[str, float]) -> float:
        """A row's reward from its parts' values (default: the only part)."""
        return next(iter(parts.values()))

    # -- the engine -----------------------------------------------------------------

    def rows(self, batch: Batch) -> list[dict[str, Any]]:
        n = batch_size(batch)
        table: dict[str, Any] = {}
        for column in self.columns:
            if column == "prompt":
                table[column] = prompts_of(batch)
            else:
                table[column] = batch[column] if column in batch else get_column(batch, column)
        return [{c: values[i] for c, values in table.items()} for i in range(n)]

    def _sampled(self, call: Call, k: int) -> ChatRequest:
        if self.samples == 1:
            return call.request
        params = dict(call.request.params)
        seed = self.client.settings.seed
        params["seed"] = (seed or 0) + k
        return ChatRequest(call.request.messages, params)

    def answers_only(self, rows: list[dict[str, Any]]) -> list[bool]:
        """Replace each completion by its extracted final answer; False where there is none.

        Where ``final_answer`` raises, the row keeps its text and is marked with an
        ``_extract_error`` that :meth:`skipped` turns into status ``error``.
        """
        if self.final_answer is None:
            return [True] * len(rows)
        found = []
        for row in rows:
            try:
                answer = self.final_answer(row_text(row.get("completion"), answer=True))
            except Exception as exc:  # the user's extractor: that row's error, not the batch's
                row["_extract_error"] = f"final_answer raised {type(exc).__name__}: {exc}"
                found.append(True)
                continue
            found.append(answer is not None and bool(str(answer).strip()))
            row["completion"] = "" if answer is None else str(answer)
        return found

    def missing(self, row: Mapping[str, Any]) -> str | None:
        """Why a row cannot be judged at all (None: it can); a subclass's input check."""
        del row
        return None

    def unanswered(self, batch: Batch) -> dict[int, str]:
        """Rows whose chat completion has no final answer (it ends with a tool's message),
        with the reason: not applicable, as every term marks them, so not worth a call."""
        if not self.needs_answer or "completion" not in batch:
            return {}
        return unanswered_rows(batch["completion"])

    def skipped(self, batch: Batch, rows: Sequence[Mapping[str, Any]]) -> dict[int, JudgeFailure]:
        """Rows judged without a call: no answer to judge or an input missing (not
        applicable), or a ``final_answer`` that raised (error); each with its reason."""
        found = {
            i: JudgeFailure(Status.NOT_APPLICABLE, r) for i, r in self.unanswered(batch).items()
        }
        for index, row in enumerate(rows):
            if index in found:
                continue
            if "_extract_error" in row:
                found[index] = JudgeFailure(Status.ERROR, str(row["_extract_error"]))
            elif (reason := self.missing(row)) is not None:
                found[index] = JudgeFailure(Status.NOT_APPLICABLE, reason)
        return found

    def _compute(self, batch: Batch) -> RewardOutput:
        rows = self.rows(batch)
        answered = self.answers_only(rows)
        skipped = self.skipped(batch, rows)
        plan: list[tuple[int, str, ChatRequest]] = []
        for index, row in enumerate(rows):
            if not answered[index] or index in skipped:
                continue
            for call in self.calls(row):
                plan.extend((index, call.part, self._sampled(call, k)) for k in range(self.samples))
        replies = self.client.run([request for _, _, request in plan])
        judged: list[dict[str, list[float]]] = [{} for _ in rows]
        failures: list[list[JudgeFailure]] = [[] for _ in rows]
        for index, failure in skipped.items():
            failures[index].append(failure)
        for (index, part, _), reply in zip(plan, replies, strict=True):
            values = judged[index].setdefault(part, [])
            if isinstance(reply, JudgeFailure):
                failures[index].append(reply)
                continue
            try:
                values.append(float(self.read(part, reply, rows[index])))
            except UnparseableAnswerError as exc:
                failures[index].append(JudgeFailure(Status.ERROR, f"unparseable: {exc}"))
        out = self._assemble(judged, failures)
        if all(answered):
            return out
        return no_answer_is_wrong(out, answered)

    def _assemble(
        self, judged: Sequence[dict[str, list[float]]], failures: Sequence[list[JudgeFailure]]
    ) -> RewardOutput:
        n = len(judged)
        total = np.full(n, np.nan)
        status = np.zeros(n, dtype=np.int8)
        messages: list[str | None] = [None] * n
        # every part has its key, NaN where it was not judged: the logs see the same keys
        # whether or not a batch's calls failed
        parts: dict[str, np.ndarray] = {p: np.full(n, np.nan) for p in self.part_names()}
        spread = np.full(n, np.nan)
        for i, row_parts in enumerate(judged):
            short = [p for p, v in row_parts.items() if len(v) < self.min_judgments]
            if short or not row_parts:
                worst = max(failures[i], key=lambda f: f.status, default=None)
                status[i] = worst.status if worst is not None else Status.ERROR
                messages[i] = worst.reason if worst is not None else "no judgment was made"
                continue
            means = {p: float(np.mean(v)) for p, v in row_parts.items()}
            total[i] = self.combine(means)
            for part, value in means.items():
                parts.setdefault(part, np.full(n, np.nan))[i] = value
            if failures[i]:  # fewer than `samples` judgments, at least min_judgments
                asked = self.samples * len(row_parts)
                messages[i] = (
                    f"{len(failures[i])} of {asked} judgments failed: {failures[i][0].reason}"
                )
            elif self.samples > 1:  # the spread of a full set of judgments only
                spread[i] = float(np.mean([np.std(v) for v in row_parts.values()]))
            if not math.isfinite(total[i]):
                status[i], messages[i] = Status.ERROR, "the judgments combined to a non-number"
        terms = {self.name: total}
        if len(parts) > 1:
            terms.update(parts)
        if self.samples > 1:
            terms["spread"] = spread
        return RewardOutput(total, terms, status, tuple(messages))

    def update(self, batch: Batch) -> Mapping[str, float]:
        """The client's usage so far (calls, cache hits, tokens, failures, cost)."""
        del batch
        return self.client.usage.as_dict()


def no_answer_is_wrong(out: RewardOutput, answered: Sequence[bool]) -> RewardOutput:
    """Rows without a final answer: 0.0, status ok, message "no answer" (as MathVerifier)."""
    missing = ~np.asarray(answered, dtype=bool)
    total = np.where(missing, 0.0, out.total)
    status = np.where(missing, Status.OK, out.status).astype(np.int8)
    messages = tuple(
        "no answer: no final answer to judge (scored 0 without a call)" if m else message
        for m, message in zip(missing, out.messages or (None,) * len(total), strict=True)
    )
    terms = {key: np.where(missing, np.nan, values) for key, values in out.terms.items()}
    terms[next(iter(out.terms))] = total
    return RewardOutput(total, terms, status, messages)
