"""Verification outcomes, and the number reading the math worker shares.

:class:`Outcome` is what a verification decided. :func:`normalize` strips
markup and units from an answer, :func:`parse_literal` reads a number literal
(``1,234.5``, ``-\\frac{3}{4}``, ``12.5%``) exactly, and :func:`split_top_level`
splits an enumeration at depth 0: the worker uses them to apply
:class:`~rewardkit.verify.math_policy.MathPolicy` around math-verify.

Example:
    >>> parse_literal("3/4")
    (Fraction(3, 4), False)
    >>> split_top_level("(1, 2), 3")
    ['(1, 2)', '3']
"""

from __future__ import annotations

import enum
import re
from fractions import Fraction

__all__ = ["PLAIN_NUMBER", "Outcome", "normalize", "parse_literal", "split_top_level"]

#: a bare decimal number as written: 42, -0.5, .4, 5. (no separators, no exponent)
PLAIN_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)")


class Outcome(enum.Enum):
    """What a comparison decided."""

    CORRECT = "correct"
    WRONG = "wrong"
    UNPARSEABLE = "unparseable"
    TIMEOUT = "timeout"
    ERROR = "error"
    NO_ANSWER = "no_answer"  # the completion gives no answer: a score (0.0), not a skip


_DELIMITERS = [("$$", "$$"), ("$", "$"), (r"\(", r"\)"), (r"\[", r"\]")]
_REMOVE = re.compile(
    r"\\displaystyle|\\left|\\right|\\!|\\,|\\;|\\:|\\ |~|\\quad|\\qquad|\\mathrm\{\s*\}"
)
_TEXT_COMMAND = re.compile(
    r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}"
)
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\circ|\\degree")
_ASSIGNMENT = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*=\s*([^=]+)$")
_NUMBER_CORE = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_TRAILING_UNITS = re.compile(
    rf"^([+-]?(?:{_NUMBER_CORE})(?:\s*/\s*\d+)?\s*%?)\s+([A-Za-z][A-Za-z\s.]*|\\\w+)$"
)


def normalize(text: str) -> str:
    r"""Canonical form of an answer string.

    Strips math delimiters, spacing commands, ``\left``/``\right``, degree
    signs, ``\text{}`` wrappers, currency, a trailing period, a single
    ``x =`` prefix and trailing unit words after a number.

    Example:
        >>> normalize(r"$x = \dfrac{1}{2}\,\text{cm}$.")
        '\\frac{1}{2} cm'
        >>> normalize("12 apples")
        '12'
    """
    s = text.strip()
    for left, right in _DELIMITERS:
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            s = s[len(left) : len(s) - len(right)].strip()
    s = s.replace(r"\dfrac", r"\frac").replace(r"\tfrac", r"\frac")
    s = s.replace("**", "^").replace("\u2212", "-")  # Python powers, Unicode minus
    s = _TEXT_COMMAND.sub(r" \1 ", s)
    s = _REMOVE.sub(" ", s)
    s = _DEGREES.sub("", s)
    s = s.replace(r"\%", "%").replace(r"\$", "").replace("$", "")
    s = re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    assignment = _ASSIGNMENT.match(s)
    if assignment:
        s = assignment.group(1).strip()
    units = _TRAILING_UNITS.match(s)
    if units:
        s = units.group(1).strip()
    return s


# ----------------------------------------------------------------- literals
_PLAIN = re.compile(rf"^([+-]?)({_NUMBER_CORE})$")
_SCIENTIFIC = re.compile(rf"^([+-]?)({_NUMBER_CORE})\s*[eE]\s*([+-]?\d+)$")
_TIMES_TEN = re.compile(
    rf"^([+-]?)({_NUMBER_CORE})\s*(?:\\times|\\cdot|\*|\u00d7)\s*10\s*\^\s*\{{?\s*([+-]?\d+)\s*\}}?$"
)
_SLASH = re.compile(r"^([+-]?)(\d+)\s*/\s*(\d+)$")
_FRAC = re.compile(r"^([+-]?)\\frac\s*\{\s*([+-]?\d+)\s*\}\s*\{\s*([+-]?\d+)\s*\}$")
_FRAC_SHORT = re.compile(r"^([+-]?)\\frac\s*(\d)\s*(\d)$")


def _decimal(core: str) -> Fraction:
    return Fraction(core.replace(",", ""))


def parse_literal(text: str) -> tuple[Fraction, bool] | None:
    """Exact value of a number literal and whether it had a percent sign.

    Example:
        >>> parse_literal("1,234.5")
        (Fraction(2469, 2), False)
        >>> parse_literal("-\\\\frac{3}{4}")
        (Fraction(-3, 4), False)
        >>> parse_literal("12.5%")
        (Fraction(25, 2), True)
        >>> parse_literal("2+3") is None
        True
    """
    s = text.strip()
    percent = s.endswith("%")
    if percent:
        s = s[:-1].strip()
    value: Fraction | None = None
    if match := _PLAIN.match(s):
        value = _decimal(match.group(2))
        sign = match.group(1)
    elif (match := _SCIENTIFIC.match(s)) or (match := _TIMES_TEN.match(s)):
        exponent = int(match.group(3))
        if abs(exponent) > 400:
            return None
        value = _decimal(match.group(2)) * Fraction(10) ** exponent
        sign = match.group(1)
    elif (match := _SLASH.match(s)) or (match := _FRAC.match(s)) or (match := _FRAC_SHORT.match(s)):
        numerator, denominator = int(match.group(2)), int(match.group(3))
        if denominator == 0:
            return None
        value = Fraction(numerator, denominator)
        sign = match.group(1)
    if value is None:
        return None
    return (-value if sign == "-" else value), percent


# ----------------------------------------------------------------- evaluation
# ----------------------------------------------------------------- parsing


def split_top_level(text: str) -> list[str] | None:
    """Split on commas at nesting depth 0; None if brackets are unbalanced."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if depth:
        return None
    parts.append(text[start:])
    return [p.strip() for p in parts]
