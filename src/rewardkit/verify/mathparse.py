"""The fast path of math equivalence: normalize, parse and compare in pure Python.

Most answers are numbers, fractions, tuples or short text; they are decided
here in microseconds. What cannot be decided here (expressions with
variables) is marked ``SYMBOLIC`` and sent to the sympy worker pool.

The gold answer is parsed first and decides how the prediction is read.
When the gold answer is a number literal (``42``, ``3/4``, ``0.75``, ``12%``,
``1.2e5``) the prediction must be a number literal too: an unevaluated
expression such as ``2+3`` or ``10^{10^{10}}`` is wrong, so a model cannot
score by repeating the question's arithmetic.

Example:
    >>> compare(parse_answer("3/4"), parse_answer(r"\\dfrac{3}{4}"))
    <Outcome.CORRECT: 'correct'>
    >>> compare(parse_answer("5"), parse_answer("2+3"))
    <Outcome.WRONG: 'wrong'>
    >>> compare(parse_answer("x^2+1"), parse_answer("1+x^2"))
    <Outcome.SYMBOLIC: 'symbolic'>
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from itertools import permutations

__all__ = [
    "PLAIN_NUMBER",
    "Answer",
    "Outcome",
    "compare",
    "normalize",
    "parse_answer",
    "split_top_level",
]

#: a bare decimal number as written: 42, -0.5, .4, 5. (no separators, no exponent)
PLAIN_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)")
#: exponents beyond this are not evaluated on the fast path
MAX_EXPONENT = 64
#: sets larger than this are compared in order-insensitive mode by sorting only
MAX_SET_PERMUTATION = 6


class Outcome(enum.Enum):
    """What a comparison decided."""

    CORRECT = "correct"
    WRONG = "wrong"
    UNPARSEABLE = "unparseable"
    TIMEOUT = "timeout"
    ERROR = "error"
    NO_ANSWER = "no_answer"  # the completion gives no answer: a score (0.0), not a skip
    SYMBOLIC = "symbolic"  # the fast path cannot decide; ask sympy


@dataclass(frozen=True)
class Answer:
    """A parsed answer.

    Attributes:
        kind: ``number`` (evaluates to a real number), ``sequence`` (tuple,
            interval, set or list), ``expression`` (has variables) or ``text``.
        text: the normalized LaTeX/plain text.
        value: exact value of a number literal, else None.
        approx: numeric value of an evaluable number (literal or not).
        literal: True for a plain number literal (digits, fraction, %, sci).
        percent: written with a percent sign.
        items: the elements of a sequence.
        brackets: the sequence's bracket pair, e.g. ``"()"``, ``"[)"``, ``"{}"``.
    """

    kind: str
    text: str
    value: Fraction | None = None
    approx: float | None = None
    literal: bool = False
    percent: bool = False
    items: tuple[Answer, ...] = ()
    brackets: str = ""


# ----------------------------------------------------------------- normalize
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
class _NotNumericError(Exception):
    """The expression has symbols, or is too large to evaluate safely."""


_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?|\.\d+)|(?P<command>\\[A-Za-z]+)|(?P<op>[-+*/^(){}\[\]])|(?P<other>.))"
)
_CONSTANTS = {r"\pi": math.pi}
_TIMES = {r"\times", r"\cdot"}


class _Evaluator:
    """Recursive-descent evaluator for a small arithmetic LaTeX subset.

    Numbers, + − × ÷ ^, parentheses/braces, \\frac, \\sqrt[n]{}, \\pi and
    implicit multiplication. Anything else (a variable, a function) raises
    _NotNumericError, as does an exponent above MAX_EXPONENT.
    """

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup or "other"
            value = match.group(kind)
            if kind == "other" and not value.strip():
                continue
            if kind == "command" and value in _TIMES:
                kind, value = "op", "*"
            self.tokens.append((kind, value))
        self.position = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.position] if self.position < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if value is not None and token[1] != value:
            raise _NotNumericError(f"expected {value!r}")
        self.position += 1
        return token

    def evaluate(self) -> float:
        result = self.expression()
        if self.peek()[0] != "end":
            raise _NotNumericError("trailing tokens")
        if not math.isfinite(result):
            raise _NotNumericError("not finite")
        return result

    def expression(self) -> float:
        value = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            value = value + self.term() if op == "+" else value - self.term()
        return value

    def term(self) -> float:
        value = self.factor()
        while True:
            kind, token = self.peek()
            if token in ("*", "/"):
                self.take()
                right = self.factor()
                if token == "/":
                    if right == 0:
                        raise _NotNumericError("division by zero")
                    value /= right
                else:
                    value *= right
            elif kind in ("number", "command") or token in ("(", "{"):
                value *= self.factor()  # implicit multiplication: 2\pi, 3(4)
            else:
                return value

    def factor(self) -> float:
        if self.peek()[1] in ("+", "-"):
            sign = -1.0 if self.take()[1] == "-" else 1.0
            return sign * self.factor()
        base = self.primary()
        if self.peek()[1] == "^":
            self.take()
            exponent = self.factor()
            if abs(exponent) > MAX_EXPONENT:
                raise _NotNumericError("exponent too large for the fast path")
            try:
                result = base**exponent
            except (OverflowError, ZeroDivisionError):
                raise _NotNumericError("overflow") from None
            if isinstance(result, complex) or not math.isfinite(result):
                raise _NotNumericError("not a real number")
            return float(result)
        return base

    def group(self) -> float:
        opening = self.take()[1]
        closing = {"(": ")", "{": "}", "[": "]"}.get(opening)
        if closing is None:
            raise _NotNumericError("expected a group")
        value = self.expression()
        self.take(closing)
        return value

    def primary(self) -> float:
        kind, token = self.peek()
        if kind == "number":
            self.take()
            return float(token)
        if token in ("(", "{"):
            return self.group()
        if kind == "command":
            self.take()
            if token in _CONSTANTS:
                return _CONSTANTS[token]
            if token == r"\frac":
                numerator = self.group()
                denominator = self.group()
                if denominator == 0:
                    raise _NotNumericError("division by zero")
                return numerator / denominator
            if token == r"\sqrt":
                degree = self.group() if self.peek()[1] == "[" else 2.0
                radicand = self.group()
                if radicand < 0 or degree == 0:
                    raise _NotNumericError("not a real root")
                return float(radicand ** (1.0 / degree))
        raise _NotNumericError(f"symbol {token!r}")


def evaluate(text: str) -> float | None:
    """Numeric value of an arithmetic LaTeX expression, or None.

    Example:
        >>> round(evaluate(r"2\\sqrt{3}"), 6)
        3.464102
        >>> evaluate("x + 1") is None
        True
        >>> evaluate("10^{10^{10}}") is None
        True
    """
    if len(text) > 500:
        return None
    try:
        return _Evaluator(text).evaluate()
    except (_NotNumericError, RecursionError, ValueError):
        return None


# ----------------------------------------------------------------- parsing
_OPEN = {"(": ")", "[": "]", r"\{": r"\}"}
_WORD = re.compile(r"(?<!\\)\b[A-Za-z]{2,}\b")
_FUNCTIONS = {"sin", "cos", "tan", "log", "ln", "exp", "sqrt", "frac", "pi", "infty", "cup", "cap"}


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


def _sequence(text: str) -> tuple[str, list[str]] | None:
    for opening, _closing in _OPEN.items():
        if text.startswith(opening):
            body_start = len(opening)
            for close in (")", "]", r"\}"):
                if text.endswith(close):
                    body = text[body_start : len(text) - len(close)]
                    parts = split_top_level(body)
                    if parts is None or (len(parts) < 2 and opening != r"\{"):
                        return None
                    left = "{" if opening == r"\{" else opening
                    right = "}" if close == r"\}" else close
                    if (left == "{") != (right == "}"):
                        return None
                    return left + right, parts
    parts = split_top_level(text)
    if parts and len(parts) >= 2 and not re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", text):
        return "", parts
    return None


def _is_text(text: str) -> bool:
    words = [w for w in _WORD.findall(text) if w.lower() not in _FUNCTIONS]
    return bool(words)


def parse_answer(text: str, depth: int = 0) -> Answer:
    """Parse a (gold or predicted) answer string.

    Example:
        >>> parse_answer("(1, 2]").kind, parse_answer("(1, 2]").brackets
        ('sequence', '(]')
        >>> parse_answer("Tuesday").kind
        'text'
    """
    s = normalize(text)
    literal = parse_literal(s)
    if literal is not None:
        value, percent = literal
        return Answer("number", s, value=value, approx=float(value), literal=True, percent=percent)
    if depth < 3 and (sequence := _sequence(s)) is not None:
        brackets, parts = sequence
        items = tuple(parse_answer(p, depth + 1) for p in parts if p)
        return Answer("sequence", s, items=items, brackets=brackets)
    approx = evaluate(s)
    if approx is not None:
        return Answer("number", s, approx=approx)
    if _is_text(s):
        return Answer("text", s)
    return Answer("expression", s)


def _text_key(text: str) -> str:
    return re.sub(r"[\s.,;:!?'\"()\[\]{}\\]", "", text).casefold()


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _compare_numbers(gold: Answer, pred: Answer) -> Outcome:
    if gold.literal:
        if not pred.literal:
            return Outcome.WRONG  # an unevaluated expression for a number: not accepted
        assert gold.value is not None and pred.value is not None
        candidates = {pred.value}
        if pred.percent:
            candidates.add(pred.value / 100)
        if gold.percent:
            candidates.add(pred.value * 100)
        return Outcome.CORRECT if gold.value in candidates else Outcome.WRONG
    assert gold.approx is not None and pred.approx is not None
    return Outcome.CORRECT if _close(gold.approx, pred.approx) else Outcome.WRONG


def _compare_sequences(gold: Answer, pred: Answer) -> Outcome:
    if pred.kind != "sequence" or len(pred.items) != len(gold.items):
        return Outcome.WRONG
    if gold.brackets and pred.brackets and gold.brackets != pred.brackets:
        return Outcome.WRONG
    if gold.brackets == "{}":  # a set: any order
        if len(gold.items) > MAX_SET_PERMUTATION:
            ordered = sorted(pred.items, key=lambda a: a.text)
            gold_items = sorted(gold.items, key=lambda a: a.text)
            return _all_correct([compare(g, p) for g, p in zip(gold_items, ordered, strict=True)])
        best = Outcome.WRONG
        for order in permutations(pred.items):
            outcome = _all_correct([compare(g, p) for g, p in zip(gold.items, order, strict=True)])
            if outcome is Outcome.CORRECT:
                return outcome
            if outcome is Outcome.SYMBOLIC:
                best = outcome
        return best
    return _all_correct([compare(g, p) for g, p in zip(gold.items, pred.items, strict=True)])


def _all_correct(outcomes: list[Outcome]) -> Outcome:
    if all(o is Outcome.CORRECT for o in outcomes):
        return Outcome.CORRECT
    if any(o is Outcome.WRONG for o in outcomes):
        return Outcome.WRONG
    return Outcome.SYMBOLIC


def compare(gold: Answer, pred: Answer) -> Outcome:
    """Decide ``pred`` against ``gold`` on the fast path, or return SYMBOLIC.

    Example:
        >>> compare(parse_answer("25%"), parse_answer("0.25"))
        <Outcome.CORRECT: 'correct'>
        >>> compare(parse_answer(r"\\{1, 2\\}"), parse_answer(r"\\{2, 1\\}"))
        <Outcome.CORRECT: 'correct'>
    """
    if gold.text == pred.text:
        return Outcome.CORRECT
    if gold.kind == "text":
        return Outcome.CORRECT if _text_key(gold.text) == _text_key(pred.text) else Outcome.WRONG
    if gold.kind == "number":
        if pred.kind == "number":
            return _compare_numbers(gold, pred)
        if gold.literal or pred.kind in ("text", "sequence"):
            return Outcome.WRONG
        return Outcome.SYMBOLIC
    if gold.kind == "sequence":
        return _compare_sequences(gold, pred)
    # gold is an expression with variables
    if pred.kind in ("text", "sequence"):
        return Outcome.WRONG
    return Outcome.SYMBOLIC
