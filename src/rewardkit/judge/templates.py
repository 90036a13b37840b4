"""Judge prompts as replaceable templates with named fields.

A :class:`PromptTemplate` is a user message (and an optional system message)
with ``{field}`` placeholders, filled by :meth:`PromptTemplate.render`. Every
judge takes ``template=`` to replace its default; a template that uses a field
the judge does not provide fails when the judge is built, not mid-run.

Fields the judges provide: ``question`` (the prompt's last message),
``response`` (the completion's answer), ``reference`` (the ``answer``
column), ``low``/``high`` (a score's range), ``labels``, ``criterion``,
``response_a``/``response_b`` (pairwise) and ``responses``/``count`` (group).

Example:
    >>> template = PromptTemplate("Is {response} the capital of {question}? Answer yes or no.")
    >>> template.fields
    ('response', 'question')
    >>> template.render({"question": "France", "response": "Paris"})[-1]["content"]
    'Is Paris the capital of France? Answer yes or no.'
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rewardkit.core.errors import ConfigurationError

__all__ = [
    "GROUP",
    "LABEL",
    "PAIRWISE",
    "REFERENCE",
    "RUBRIC_CRITERION",
    "SCORE",
    "YES_NO",
    "PromptTemplate",
]


@dataclass(frozen=True)
class PromptTemplate:
    """A judge prompt: ``user`` (and ``system``) text with ``{field}`` placeholders."""

    user: str
    system: str | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        """The placeholders, in order of first use (system, then user)."""
        seen: dict[str, None] = {}
        for text in (self.system or "", self.user):
            for _, name, _, _ in string.Formatter().parse(text):
                if name is not None:
                    if not name.isidentifier():
                        raise ConfigurationError(
                            f"template field {{{name}}} is not a plain name; "
                            "write literal braces as {{ and }}"
                        )
                    seen[name] = None
        return tuple(seen)

    def require(self, provided: Iterable[str], judge: str) -> None:
        """Fail now if the template uses a field ``judge`` does not fill."""
        missing = sorted(set(self.fields) - set(provided))
        if missing:
            raise ConfigurationError(
                f"{judge}'s template uses {missing}, which it does not provide; "
                f"it fills {sorted(provided)}"
            )

    def render(self, values: Mapping[str, Any]) -> list[dict[str, str]]:
        """Chat messages with every field filled from ``values``."""
        messages = []
        if self.system:
            messages.append({"role": "system", "content": self.system.format_map(values)})
        messages.append({"role": "user", "content": self.user.format_map(values)})
        return messages


_SYSTEM = "You are a strict, impartial grader. Judge only what is asked."

SCORE = PromptTemplate(
    system=_SYSTEM,
    user=(
        "Question:\n{question}\n\nResponse:\n{response}\n\n"
        "Rate how well the response answers the question, from {low} (useless or wrong) "
        "to {high} (fully correct and complete). Reply with one line: Score: <number>"
    ),
)

LABEL = PromptTemplate(
    system=_SYSTEM,
    user=(
        "Question:\n{question}\n\nResponse:\n{response}\n\n"
        "Classify the response as one of: {labels}. Reply with the label only."
    ),
)

YES_NO = PromptTemplate(
    system=_SYSTEM,
    user=(
        "Question:\n{question}\n\nResponse:\n{response}\n\n"
        "Does the response answer the question correctly? Reply Yes or No."
    ),
)

REFERENCE = PromptTemplate(
    system=_SYSTEM,
    user=(
        "Question:\n{question}\n\nReference answer: {reference}\n\n"
        "Student response:\n{response}\n\n"
        "Does the student's final answer match the reference answer? "
        "A response that gives no final answer does not match. Reply Yes or No."
    ),
)

RUBRIC_CRITERION = PromptTemplate(
    system=_SYSTEM,
    user=(
        "Question:\n{question}\n\nResponse:\n{response}\n\n"
        "Criterion: {criterion}\n\nDoes the response meet the criterion? Reply Yes or No."
    ),
)

PAIRWISE = PromptTemplate(
    system=_SYSTEM,
    user=(
        "Question:\n{question}\n\nResponse A:\n{response_a}\n\nResponse B:\n{response_b}\n\n"
        "Which response answers the question better? Reply [[A]], [[B]] or [[tie]]."
    ),
)

GROUP = PromptTemplate(
    system=_SYSTEM,
    user=(
        "Question:\n{question}\n\n{count} responses follow.\n\n{responses}\n\n"
        "Score each response from {low} (worst) to {high} (best), relative to the others. "
        'Reply with JSON: {{"scores": [one number per response, in order]}}'
    ),
)
