"""Answer markers read outside math-verify: ``\\boxed{}``, ``<answer>`` tags and
GSM8K's ``#### N``.

Each returns the answer string or ``None``. They are linear-time scanners,
safe on megabyte inputs and deeply nested braces. Several *different* answers
in one completion (``\\boxed{1} ... \\boxed{2}``) count as none: enumerating
candidates is a known reward hack.

Example:
    >>> extract_boxed(r"so the area is \\boxed{\\frac{1}{2}}.")
    '\\\\frac{1}{2}'
    >>> extract_answer_tag("<think>...</think><answer> 42 </answer>")
    '42'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["GSM8K_SOURCES", "extract_answer_tag", "extract_boxed", "extract_gsm8k"]

#: Boxed content nested deeper than this is treated as unparseable.
MAX_BRACE_DEPTH = 64
#: Answers longer than this are treated as unparseable.
MAX_ANSWER_CHARS = 2_000

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


def _unique(candidates: Sequence[str]) -> str | None:
    cleaned = [c.strip() for c in candidates if c.strip()]
    if not cleaned or len(set(cleaned)) > 1:
        return None
    answer = cleaned[0]
    return answer if len(answer) <= MAX_ANSWER_CHARS else None


def _boxed_contents(text: str) -> list[str] | None:
    """Contents of every outermost ``\\boxed{...}``; None if one is unbalanced or too deep.

    Linear time: the scan resumes after each box, so a box nested in another is
    part of its content, never rescanned (60 nested boxes around 1 MB took 5 s).
    """
    found: list[str] = []
    position = 0
    while (match := _BOXED.search(text, position)) is not None:
        depth, start = 1, match.end()
        index = start
        while index < len(text) and depth:
            char = text[index]
            if char == "\\" and index + 1 < len(text):
                index += 2  # skip escaped characters such as \{ and \}
                continue
            if char == "{":
                depth += 1
                if depth > MAX_BRACE_DEPTH:
                    return None
            elif char == "}":
                depth -= 1
            index += 1
        if depth:
            return None
        found.append(text[start : index - 1])
        position = index
    return found


def extract_boxed(text: str) -> str | None:
    """The content of ``\\boxed{...}`` (nested braces allowed), if exactly one answer.

    Example:
        >>> extract_boxed(r"\\boxed{\\{1, 2\\}}")
        '\\\\{1, 2\\\\}'
        >>> extract_boxed(r"\\boxed{1} or \\boxed{2}") is None
        True
    """
    contents = _boxed_contents(text)
    return None if contents is None else _unique(contents)


def _tag_contents(text: str, tag: str) -> list[str]:
    """Contents of every ``<tag>...</tag>``, in linear time (no regex backtracking)."""
    lowered = text.lower()
    opening, closing = f"<{tag}>", f"</{tag}>"
    found: list[str] = []
    position = 0
    while True:
        start = lowered.find(opening, position)
        if start < 0:
            return found
        end = lowered.find(closing, start + len(opening))
        if end < 0:
            return found
        found.append(text[start + len(opening) : end])
        position = end + len(closing)


def extract_answer_tag(text: str) -> str | None:
    """The content of ``<answer>...</answer>``; a boxed answer inside wins.

    Example:
        >>> extract_answer_tag("<answer>The result is \\\\boxed{7}</answer>")
        '7'
    """
    answer = _unique(_tag_contents(text, "answer"))
    if answer is None:
        return None
    return extract_boxed(answer) or answer


_GSM8K = re.compile(r"#### \$?(-?[0-9.,]+)")
#: data sources whose answers come as GSM8K's ``#### N`` (verl's names among them)
GSM8K_SOURCES = frozenset({"openai/gsm8k", "gsm8k"})
_GSM8K_WINDOW = 300  # as verl's gsm8k scorer: the answer line is at the end


def extract_gsm8k(text: str) -> str | None:
    """GSM8K's final answer, ``#### N``: the last one in the last 300 characters.

    As verl's strict GSM8K scorer reads it (``verl/utils/reward_score/gsm8k.py``),
    with commas and a dollar sign dropped.

    Example:
        >>> extract_gsm8k("48 + 24 = 72 clips\\n#### 72\\n\\nThat took 2 steps.")
        '72'
        >>> extract_gsm8k("#### $1,234.50") , extract_gsm8k("no marker 7")
        ('1234.50', None)
    """
    matches = _GSM8K.findall(text[-_GSM8K_WINDOW:])
    answer = matches[-1].replace(",", "").rstrip(".") if matches else ""
    return answer if any(c.isdigit() for c in answer) else None
