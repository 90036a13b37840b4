"""Reading a judge's answer: a schema first, then the plain-text forms, else an error.

Each kind of judgment has a pydantic schema (a score, a label, a verdict, a
preference, a list of scores). Where the answer holds a JSON object, it is
validated against that schema; where it does not (small models rarely write
JSON), a narrow plain-text rule reads it: ``Score: 7``, a single label named
with word boundaries, a leading "Yes"/"No", ``[[A]]``. An answer that fits
neither, names several labels, or refuses raises :class:`UnparseableAnswerError`
with the reason: the sample gets status ``error``, never a guess.

Example:
    >>> parse_score('{"score": 8}', 0, 10)
    8.0
    >>> parse_score("Score: 3/10. The proof skips a case.", 0, 10)
    3.0
    >>> parse_label("The answer is incorrect.", ["correct", "incorrect"])
    'incorrect'
    >>> parse_yes_no("No, the student's answer is 41.")
    'no'
    >>> try:
    ...     parse_score("I think it is fine.", 0, 10)
    ... except UnparseableAnswerError as exc:
    ...     print(exc)
    no score between 0 and 10 in the answer: "I think it is fine."
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any, Literal

import pydantic

__all__ = [
    "GroupScores",
    "LabelAnswer",
    "Preference",
    "ScoreAnswer",
    "UnparseableAnswerError",
    "Verdict",
    "json_object",
    "parse_group_scores",
    "parse_label",
    "parse_preference",
    "parse_score",
    "parse_yes_no",
    "refusal",
]


class UnparseableAnswerError(ValueError):
    """A judge's answer that no rule reads; the message says what was expected."""


class ScoreAnswer(pydantic.BaseModel):
    """``{"score": number}``, optionally with the judge's reasoning."""

    reasoning: str | None = None
    score: float


class LabelAnswer(pydantic.BaseModel):
    """``{"label": one of the allowed labels}``."""

    reasoning: str | None = None
    label: str


class Verdict(pydantic.BaseModel):
    """``{"verdict": "yes" | "no"}`` (any case)."""

    reasoning: str | None = None
    verdict: Literal["yes", "no"]

    @pydantic.field_validator("verdict", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class Preference(pydantic.BaseModel):
    """``{"winner": "A" | "B" | "tie"}`` (any case)."""

    reasoning: str | None = None
    winner: Literal["A", "B", "tie"]

    @pydantic.field_validator("winner", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        value = value.strip()
        return "tie" if value.lower() == "tie" else value.upper()


class GroupScores(pydantic.BaseModel):
    """``{"scores": [number, ...]}``, one per response in the order shown."""

    reasoning: str | None = None
    scores: list[float]


_REFUSALS = re.compile(  # straight or typographic (U+2019) apostrophes
    r"\b(I can(?:no|['\u2019])t (?:help|assist|evaluate|judge|comply)"
    r"|I(?: am|['\u2019]m) (?:sorry|unable)"
    r"|I (?:won['\u2019]t|will not) (?:evaluate|judge|help))\b",
    re.IGNORECASE,
)
_NUMBER = r"[-+]?\d+(?:\.\d+)?"


def _quote(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return json.dumps(text if len(text) <= limit else text[: limit - 3] + "...")


def refusal(text: str) -> str | None:
    """The refusal phrase in ``text`` ("I can't help", "I'm sorry"...), or None."""
    match = _REFUSALS.search(text)
    return match.group(0) if match else None


def json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (fenced or inline), or None.

    The JSON decoder finds where the object ends, so braces inside its strings
    (``"a set {1, 2"``, ``"\\boxed{4}"``) do not cut it short.
    """
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        return value if isinstance(value, dict) else None
    return None


def _schema(text: str, model: type[pydantic.BaseModel]) -> pydantic.BaseModel | None:
    found = json_object(text)
    if found is None:
        return None
    try:
        return model.model_validate(found)
    except pydantic.ValidationError:
        return None


def _check_refusal(text: str) -> None:
    phrase = refusal(text)
    if phrase is not None:
        raise UnparseableAnswerError(f"the judge refused ({phrase!r}): {_quote(text)}")


def _in_range(value: float, low: float, high: float) -> bool:
    return math.isfinite(value) and low <= value <= high


def parse_score(text: str, low: float, high: float) -> float:
    """A score in ``[low, high]``: JSON ``score``, ``Score: x``, ``x/high``, or the only number."""
    found = _schema(text, ScoreAnswer)
    if isinstance(found, ScoreAnswer):  # the judge's stated score: no other number overrides it
        if _in_range(found.score, low, high):
            return float(found.score)
        raise UnparseableAnswerError(
            f"the score {found.score:g} is outside [{_format(low)}, {_format(high)}]: "
            f"{_quote(text)}"
        )
    _check_refusal(text)
    label = r"(?i)\b(?:score|rating|grade)\s*(?:is|of|=|:)?\s*\**\s*"
    labelled = re.findall(label + f"({_NUMBER})", text)
    fractions = re.findall(rf"({_NUMBER})\s*/\s*{re.escape(_format(high))}\b", text)
    for candidates in (labelled, fractions):
        values = {float(v) for v in candidates if _in_range(float(v), low, high)}
        if len(values) == 1:
            return values.pop()
        if len(values) > 1:
            found_values = sorted(values)
            raise UnparseableAnswerError(f"several scores {found_values}: {_quote(text)}")
    alone = re.fullmatch(rf"\s*\**\s*({_NUMBER})\s*\**\s*\.?\s*", text)
    if alone and _in_range(float(alone.group(1)), low, high):  # the whole answer is a number
        return float(alone.group(1))
    raise UnparseableAnswerError(
        f"no score between {_format(low)} and {_format(high)} in the answer: {_quote(text)}"
    )


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _mentions(text: str, labels: Sequence[str]) -> list[str]:
    """Labels named in ``text`` as whole words, longest first so "incorrect" hides "correct"."""
    found: list[str] = []
    remaining = text
    for label in sorted(labels, key=len, reverse=True):
        pattern = re.compile(rf"(?i)(?<![\w-]){re.escape(label)}(?![\w-])")
        if pattern.search(remaining):
            found.append(label)
            remaining = pattern.sub(" ", remaining)
    return found


def parse_label(text: str, labels: Sequence[str]) -> str:
    """One of ``labels``: JSON ``label``, else the only label the text names."""
    by_lower = {label.lower(): label for label in labels}
    found = _schema(text, LabelAnswer)
    if isinstance(found, LabelAnswer):  # the judge's stated label: the text does not override it
        stated = found.label.strip().strip(".!\"'").strip().lower()
        if stated in by_lower:
            return by_lower[stated]
        raise UnparseableAnswerError(
            f"the label {found.label!r} is not one of {list(labels)}: {_quote(text)}"
        )
    _check_refusal(text)
    named = _mentions(text, labels)
    if len(named) == 1:
        return named[0]
    if not named:
        raise UnparseableAnswerError(f"names none of the labels {list(labels)}: {_quote(text)}")
    raise UnparseableAnswerError(f"names several labels {sorted(named)}: {_quote(text)}")


def parse_yes_no(text: str) -> Literal["yes", "no"]:
    """ "yes" or "no": JSON ``verdict``, a leading "Yes."/"No," (the word alone, then
    punctuation or the end), or ``Answer: yes``; anything else is unreadable ("No doubt,
    it is right" is not a "no")."""
    found = _schema(text, Verdict)
    if isinstance(found, Verdict):
        return found.verdict
    _check_refusal(text)
    leading = re.match(r"\W*(yes|no)\s*(?:[.,!:;)\]*]|$)", text, re.IGNORECASE)
    said = r"(?i)\b(?:answer|verdict|judgment|decision)\s*(?:is|[:=-])\s*\**(yes|no)\b"
    stated = re.findall(said, text)
    if leading:
        return "yes" if leading.group(1).lower() == "yes" else "no"
    if len({s.lower() for s in stated}) == 1:
        return "yes" if stated[0].lower() == "yes" else "no"
    raise UnparseableAnswerError(f"no leading Yes or No and no 'Answer: yes/no': {_quote(text)}")


def parse_preference(text: str) -> Literal["A", "B", "tie"]:
    """ "A", "B" or "tie": JSON ``winner``, ``[[A]]``, ``Response A is better``, a lone A/B."""
    found = _schema(text, Preference)
    if isinstance(found, Preference):
        return found.winner
    _check_refusal(text)
    # in running text only a capital A or B names a response ("I prefer a longer one"
    # does not prefer A); the words around it may be in any case
    patterns = (
        (r"\[\[\s*(A|B|tie)\s*\]\]", re.I),
        (
            r"\b(?i:response|answer|output)\s+(A|B)\b\s+(?i:is|was)\s+(?i:the\s+)?"
            r"(?i:better|preferred|more|correct|right|best)",
            0,
        ),
        (
            r"\b(?i:winner|better|prefer(?:red)?|correct|best)\s*(?i:response|answer|one)?\s*"
            r"(?i:is|:)?\s*(?i:response\s+|answer\s+)?(A|B)\b(?![\w'])",
            0,
        ),
        (r"^\W*(A|B)\W*$", re.I | re.M),
    )
    for pattern, flags in patterns:
        hits = {h if h.lower() != "tie" else "tie" for h in re.findall(pattern, text, flags)}
        hits = {h.upper() if h != "tie" else h for h in hits}
        if len(hits) == 1:
            winner = hits.pop()
            return "A" if winner == "A" else "B" if winner == "B" else "tie"
        if len(hits) > 1:
            raise UnparseableAnswerError(f"prefers both A and B: {_quote(text)}")
    tie = r"(?i)^\W*tie\W*$|\b(?:it's|is) a tie\b|\b(?:equally good|both (?:are )?equal)"
    if re.search(tie, text) and not re.search(r"(?i)\bnot\b[^.]*\b(?:tie|equal)", text):
        return "tie"
    raise UnparseableAnswerError(f"names no winner (A, B or tie): {_quote(text)}")


def parse_group_scores(text: str, count: int, low: float, high: float) -> list[float]:
    """``count`` scores in ``[low, high]``: JSON ``scores``, else one ``k: x`` line per response."""
    found = _schema(text, GroupScores)
    if isinstance(found, GroupScores):
        scores = found.scores
    else:
        _check_refusal(text)
        lines = re.findall(rf"(?im)^\W*(?:response\s*)?(\d+)\s*[:.)\]-]+\s*\**\s*({_NUMBER})", text)
        by_index = {int(k): float(v) for k, v in lines}
        if sorted(by_index) != list(range(1, count + 1)):
            raise UnparseableAnswerError(
                f"expected one score for each of responses 1..{count}: {_quote(text)}"
            )
        scores = [by_index[k] for k in range(1, count + 1)]
    if len(scores) != count:
        raise UnparseableAnswerError(f"{len(scores)} scores for {count} responses: {_quote(text)}")
    outside = [s for s in scores if not _in_range(s, low, high)]
    if outside:
        raise UnparseableAnswerError(
            f"scores {outside} outside [{_format(low)}, {_format(high)}]: {_quote(text)}"
        )
    return [float(s) for s in scores]
