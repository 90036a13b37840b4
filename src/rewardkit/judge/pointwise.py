"""Pointwise judges: a score, a label, a yes/no, a reference check, a rubric.

Each reads one completion (with its prompt, and the reference answer where the
kind needs one) and asks the judge model one question per part:

- :class:`ScoreJudge`: a number in ``[low, high]``, rescaled to ``[0, 1]``;
- :class:`LabelJudge`: one label from a set, worth that label's value (or 1
  for a passing label, 0 otherwise);
- :class:`YesNoJudge`: P(yes), from the first answer token's
  log-probabilities where the server returns them (``probability="auto"``),
  from ``transformers serve``'s ``/v1/systemone`` decisions
  (``probability="systemone"``), or 1/0 from the text (``"text"``);
- :class:`ReferenceJudge`: a yes/no on whether the response's final answer
  matches the reference (the ``answer`` column), the "reference-anchored"
  prompt;
- :class:`RubricJudge`: weighted :class:`Criterion` parts, each a yes/no,
  the reward their weighted mean, each part in the breakdown.

Example (no server needed to build one; calling it needs one):
    >>> settings = JudgeSettings(model="smollm2", base_url="http://127.0.0.1:8000/v1")
    >>> judge = RubricJudge(settings, [Criterion("correct", "The final answer is right.", 2.0),
    ...                                Criterion("shows_work", "It shows its steps.")])
    >>> judge.combine({"correct": 1.0, "shows_work": 0.0})
    0.6666666666666666
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.registry import register
from rewardkit.core.term import validate_name
from rewardkit.judge import templates
from rewardkit.judge.base import Call, JudgeTerm, row_text
from rewardkit.judge.client import ChatRequest, JudgeClient, Reply
from rewardkit.judge.parse import (
    LabelAnswer,
    ScoreAnswer,
    UnparseableAnswerError,
    Verdict,
    parse_label,
    parse_score,
    parse_yes_no,
)
from rewardkit.judge.settings import JudgeSettings
from rewardkit.judge.templates import PromptTemplate

__all__ = [
    "Criterion",
    "LabelJudge",
    "ReferenceJudge",
    "RubricJudge",
    "ScoreJudge",
    "YesNoJudge",
    "yes_probability",
]

Judge = JudgeClient | JudgeSettings | Mapping[str, Any]
_FIELDS = ("question", "response", "reference")


def _structured(client: JudgeClient, schema: type[Any]) -> dict[str, Any]:
    if not client.settings.structured_output:
        return {}
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema()},
        }
    }


def _values(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "question": row_text(row.get("prompt"), answer=False),
        "response": row_text(row.get("completion"), answer=True),
        "reference": _reference_text(row.get("answer")),
    }


def _reference_text(value: Any) -> str:
    """A reference answer as text: a number (``4``, ``np.int64(4)``) as it prints, as
    :class:`~rewardkit.verify.MathVerifier` reads it; a string or messages as usual."""
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return row_text(value, answer=False)
    return str(value.item() if hasattr(value, "item") else value)


@register("judge_score")
class ScoreJudge(JudgeTerm):
    """A score in ``[low, high]`` from the judge, rescaled to ``[0, 1]`` (see module doc)."""

    def __init__(
        self,
        judge: Judge,
        *,
        low: float = 0.0,
        high: float = 10.0,
        template: PromptTemplate = templates.SCORE,
        name: str = "judge_score",
        samples: int = 1,
        min_judgments: int | None = None,
        final_answer: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(
            judge,
            name=name,
            samples=samples,
            min_judgments=min_judgments,
            final_answer=final_answer,
        )
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ConfigurationError(f"a score range needs low < high, got [{low}, {high}]")
        self.template = self.use_template(template, (*_FIELDS, "low", "high"))
        self.low, self.high = float(low), float(high)

    def calls(self, row: Mapping[str, Any]) -> list[Call]:
        values = {**_values(row), "low": _num(self.low), "high": _num(self.high)}
        params = _structured(self.client, ScoreAnswer)
        return [Call(self.name, ChatRequest(tuple(self.template.render(values)), params))]

    def read(self, part: str, reply: Reply, row: Mapping[str, Any]) -> float:
        score = parse_score(reply.text, self.low, self.high)
        return (score - self.low) / (self.high - self.low)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@register("judge_label")
class LabelJudge(JudgeTerm):
    """One label from ``labels``: its value (a mapping) or 1 if passing, else 0."""

    def __init__(
        self,
        judge: Judge,
        labels: Mapping[str, float] | Sequence[str],
        *,
        passing: Sequence[str] = (),
        template: PromptTemplate = templates.LABEL,
        name: str = "judge_label",
        samples: int = 1,
        min_judgments: int | None = None,
        final_answer: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(
            judge,
            name=name,
            samples=samples,
            min_judgments=min_judgments,
            final_answer=final_answer,
        )
        if isinstance(labels, Mapping):
            self.values = {str(k): float(v) for k, v in labels.items()}
            if passing:
                raise ConfigurationError("give labels with values, or labels and passing: not both")
        else:
            unknown = sorted(set(passing) - set(labels))
            if unknown or not passing:
                raise ConfigurationError(
                    f"passing must name some of the labels {list(labels)}; got {list(passing)}"
                )
            self.values = {str(k): float(k in passing) for k in labels}
        if len(self.values) < 2:
            raise ConfigurationError(f"a label judge needs at least two labels, got {self.values}")
        self.template = self.use_template(template, (*_FIELDS, "labels"))

    def calls(self, row: Mapping[str, Any]) -> list[Call]:
        values = {**_values(row), "labels": ", ".join(self.values)}
        params = _structured(self.client, LabelAnswer)
        return [Call(self.name, ChatRequest(tuple(self.template.render(values)), params))]

    def read(self, part: str, reply: Reply, row: Mapping[str, Any]) -> float:
        return self.values[parse_label(reply.text, list(self.values))]


def yes_probability(top_logprobs: Mapping[str, float]) -> float | None:
    """P(yes) / (P(yes) + P(no)) over the first token's alternatives, or None.

    Tokens count as "yes"/"no" after stripping spaces and case ("Yes", " yes").

    Example:
        >>> round(yes_probability({"Yes": math.log(0.6), " No": math.log(0.2), "The": -1.0}), 3)
        0.75
    """
    yes = sum(math.exp(v) for k, v in top_logprobs.items() if k.strip().lower() == "yes")
    no = sum(math.exp(v) for k, v in top_logprobs.items() if k.strip().lower() == "no")
    return yes / (yes + no) if yes + no > 0 else None


Probability = Literal["auto", "text", "logprobs", "systemone"]


@register("judge_yes_no")
class YesNoJudge(JudgeTerm):
    """P(yes) for a yes/no question about the response (see module doc)."""

    reference = False

    def __init__(
        self,
        judge: Judge,
        *,
        probability: Probability = "auto",
        template: PromptTemplate | None = None,
        decision: str = "Is the response correct?",
        name: str = "judge_yes_no",
        samples: int = 1,
        min_judgments: int | None = None,
        final_answer: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(
            judge,
            name=name,
            samples=samples,
            min_judgments=min_judgments,
            final_answer=final_answer,
        )
        if probability not in ("auto", "text", "logprobs", "systemone"):
            raise ConfigurationError(
                f"probability must be auto, text, logprobs or systemone, got {probability!r}"
            )
        if probability != "text" and samples > 1:
            raise ConfigurationError(
                f"probability={probability!r} reads P(yes) from the prompt alone, the same for "
                "every sample: use samples=1, or probability='text' for self-consistency"
            )
        default = templates.REFERENCE if self.reference else templates.YES_NO
        self.template = self.use_template(template or default, _FIELDS)
        self.probability, self.decision = probability, decision

    def calls(self, row: Mapping[str, Any]) -> list[Call]:
        params: dict[str, Any] = dict(_structured(self.client, Verdict))
        if self.probability in ("auto", "logprobs"):
            params.update(logprobs=True, top_logprobs=5)
        request = ChatRequest(tuple(self.template.render(_values(row))), params)
        return [Call(self.name, request)]

    def read(self, part: str, reply: Reply, row: Mapping[str, Any]) -> float:
        verdict_first = (reply.first_token or "").strip().lower() in ("yes", "no")
        if self.probability != "text" and reply.top_logprobs and verdict_first:
            # the alternatives of the first token say P(yes) only where that token is the
            # verdict: "The response is wrong, no." starts with "The"
            p = yes_probability(reply.top_logprobs)
            if p is not None:
                return p
        if self.probability == "logprobs":
            raise UnparseableAnswerError(
                "the server returned no yes/no log-probabilities; use probability='text' or 'auto'"
            )
        return 1.0 if parse_yes_no(reply.text) == "yes" else 0.0

    def missing(self, row: Mapping[str, Any]) -> str | None:
        """A reference judge without a reference has nothing to compare with."""
        if not self.reference:
            return None
        value = row.get("answer")
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "no reference answer (answer is missing): nothing to compare with"
        if not _reference_text(value).strip():
            return "no reference answer (answer is empty): nothing to compare with"
        return None

    def _compute(self, batch: Any) -> Any:
        if self.probability != "systemone":
            return super()._compute(batch)
        from rewardkit.judge.decisions import systemone_yes_probabilities

        return systemone_yes_probabilities(self, batch)


@register("judge_reference")
class ReferenceJudge(YesNoJudge):
    """Does the response's final answer match the reference (``answer`` column)?"""

    reference = True

    def __init__(self, judge: Judge, *, name: str = "judge_reference", **options: Any) -> None:
        super().__init__(judge, name=name, **options)


@dataclass(frozen=True)
class Criterion:
    """One rubric item: a name (a logging key), what it asks, and its weight."""

    name: str
    description: str
    weight: float = 1.0

    def __post_init__(self) -> None:
        validate_name(self.name)
        if not math.isfinite(self.weight) or self.weight <= 0:
            raise ConfigurationError(f"criterion {self.name!r} needs a positive weight")


@register("judge_rubric")
class RubricJudge(JudgeTerm):
    """Weighted criteria, each a yes/no judged in its own call; reward = weighted mean."""

    def __init__(
        self,
        judge: Judge,
        criteria: Sequence[Criterion | Mapping[str, Any]],
        *,
        template: PromptTemplate = templates.RUBRIC_CRITERION,
        name: str = "judge_rubric",
        samples: int = 1,
        min_judgments: int | None = None,
        final_answer: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(
            judge,
            name=name,
            samples=samples,
            min_judgments=min_judgments,
            final_answer=final_answer,
        )
        self.criteria = [c if isinstance(c, Criterion) else Criterion(**c) for c in criteria]
        if not self.criteria:
            raise ConfigurationError("a rubric needs at least one criterion")
        names = [c.name for c in self.criteria]
        if len(set(names)) != len(names) or name in names or "spread" in names:
            raise ConfigurationError(f"criterion names must be distinct, not {name!r}: {names}")
        self.template = self.use_template(template, (*_FIELDS, "criterion"))

    def calls(self, row: Mapping[str, Any]) -> list[Call]:
        base = _values(row)
        params = _structured(self.client, Verdict)
        calls = []
        for criterion in self.criteria:
            messages = self.template.render({**base, "criterion": criterion.description})
            calls.append(Call(criterion.name, ChatRequest(tuple(messages), params)))
        return calls

    def read(self, part: str, reply: Reply, row: Mapping[str, Any]) -> float:
        return 1.0 if parse_yes_no(reply.text) == "yes" else 0.0

    def part_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.criteria)

    def combine(self, parts: Mapping[str, float]) -> float:
        weight = sum(c.weight for c in self.criteria)
        return sum(c.weight * parts[c.name] for c in self.criteria) / weight
