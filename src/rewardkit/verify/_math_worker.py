"""The math worker: a ``python -m`` process that answers jobs over two pipes.

It is started as its own program (``python -m rewardkit.verify._math_worker
READ_FD WRITE_FD MEMORY_MB``), never by ``multiprocessing``, so it does not
re-import the caller's ``__main__``: a training script without an
``if __name__ == "__main__":`` guard, or a notebook cell, can verify. It
imports sympy and the LaTeX parser first and then says ``ready``; the pool
starts a job's clock only then, so start-up is never charged to a job.

Each job is ``(job_id, kind, args)``; the reply is ``(job_id, outcome,
message)``. Output the job prints goes to stderr, never into the pipe.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import resource
import sys
from collections.abc import Callable
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import Any

import sympy

from rewardkit.verify.math_policy import MathPolicy
from rewardkit.verify.mathparse import PLAIN_NUMBER, normalize, parse_literal, split_top_level

try:  # the math-verify backend, where installed (the ``llm`` extra)
    from latex2sympy2_extended.latex2sympy2 import NormalizationConfig
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
except ImportError:  # pragma: no cover - the verifier refuses to start without it
    parse = verify = None


def _jobs() -> dict[str, Callable[..., tuple[Any, ...]]]:
    return {"math_verify": math_verify_job}


#: inline math ($…$ or \(…\)) that opens or closes on a line break is not an answer:
#: math-verify's regression tests label "Answer $\n 9 \n$" as no answer, and renderers
#: (pandoc, KaTeX's auto-render) do not read such spans as math either
_LINE_BROKEN_INLINE_MATH = re.compile(
    r"(?<!\$)\$(?!\$)[ \t]*\n[^$]*?\n[ \t]*(?<!\$)\$(?!\$)|\\\([ \t]*\n.*?\n[ \t]*\\\)", re.S
)


#: x**2: a Python power (reasoning-gym writes polynomials so); not markdown bold
_PYTHON_POWER = re.compile(r"(?<=[\w)])\*\*(?=[\w(])")
#: 1e3, 2.5E-4: a number in scientific notation (math-verify reads 1e3 as 1·e·3)
_SCIENTIFIC = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w.])")


def _decimal(match: re.Match[str]) -> str:
    """1e3 → 1000 (huge exponents are left as they are)."""
    if abs(int(match.group(2))) > 100:
        return match.group(0)
    return format(Decimal(match.group(0)), "f")


#: a number followed by a percent sign
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*\\?%")
#: 3,5 (one comma between digit runs, not part of a longer list)
_DECIMAL_COMMA = re.compile(r"(?<![\d,.])(\d+),(\d+)(?![\d,])")
#: 7,425,000: a comma before a group of three digits
_THOUSANDS = re.compile(r"(\d),(?=\d{3}(?!\d))")
#: a degree sign: ^\circ, ^{\circ}, \degree or °
_DEGREE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\degree|°")


def _rewritten(text: str, policy: dict[str, Any]) -> str:
    """The text with the policy's number-format rules applied (before parsing)."""
    if policy["decimal_comma"]:
        text = _DECIMAL_COMMA.sub(r"\1.\2", text)
    elif not policy["thousands_separator"]:
        text = _THOUSANDS.sub(r"\1, ", text)
    if policy["percent"] == "strict":
        text = _PERCENT.sub(r"\\frac{\1}{100}", text)
    return text


#: LaTeX nested deeper than this is not an answer (parsing it only burns the timeout)
MAX_BRACE_DEPTH = 100
#: a number raised to an integer power above this is "huge" (10^100000 has 100001 digits)
MAX_EXPONENT = 100_000


def _malformed(text: str) -> bool:
    """Unbalanced braces or brackets, or not a letter or digit in it: no answer to match."""
    opened = text.count("(") + text.count("[")
    closed = text.count(")") + text.count("]")
    balanced = text.count("{") == text.count("}") and opened == closed
    return not balanced or not any(char.isalnum() for char in text)


def _brace_depth(text: str) -> int:
    """The deepest ``{`` nesting in ``text`` (a linear scan)."""
    depth = deepest = 0
    for char in text:
        if char == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif char == "}":
            depth = max(0, depth - 1)
    return deepest


def _huge_power(value: Any) -> bool:
    """A number with a power tower (``10^{10^{10}}``) or an integer exponent above
    MAX_EXPONENT: comparing it would evaluate a number with billions of digits."""
    if not isinstance(value, sympy.Basic):
        return False
    for power in value.atoms(sympy.Pow):
        if not power.is_number:
            continue
        exponent = power.exp
        if exponent.has(sympy.Pow) or (exponent.is_Integer and abs(exponent) > MAX_EXPONENT):
            return True
    return False


def _last_answer_tag(completion: str) -> str | None:
    """The content of the last ``<answer>…</answer>``, or None without one.

    R1-style prompts (TRL's and reasoning-gym's) ask for the answer in these tags;
    math-verify alone finds no answer in ``<answer>3/4</answer>``."""
    end = completion.rfind("</answer>")
    start = completion.rfind("<answer>", 0, max(end, 0))
    if end < 0 or start < 0:
        return None
    return completion[start + len("<answer>") : end].strip()


def _math_forms(text: str) -> tuple[str, ...]:
    """How to read a bare answer: as math first, then as prose."""
    delimited = any(mark in text for mark in ("\\boxed", "$", "\\(", "\\["))
    return (text,) if delimited else (f"${text}$", f"\\boxed{{{text}}}", text)


#: a bare gold such as 1,22: read as math-verify reads a number in plain text (1.22)
_COMMA_NUMBER = re.compile(r"[-+]?\d+,\d+")


@functools.lru_cache(maxsize=4096)
def _parse_gold(gold: str, units: bool) -> tuple[Any, ...]:
    """A bare gold answer is math, not prose: ``1,2,3`` is a list, not 1.2.

    Cached: a GRPO group shares its gold, so it is parsed once per group."""

    config = _extraction_config(units)
    forms = (gold,) if _COMMA_NUMBER.fullmatch(gold.strip()) else _math_forms(gold)
    for form in forms:
        parsed = parse(form, extraction_config=config, parsing_timeout=None, raise_on_error=True)
        if parsed:
            return tuple(parsed)
    return ()


@functools.lru_cache(maxsize=4)
def _extraction_config(units: bool) -> Any:

    normalization = NormalizationConfig(
        basic_latex=True,
        units=units,
        malformed_operators=True,
        nits=True,
        boxed="all",
        equations=False,
    )
    return [LatexExtractionConfig(normalization_config=normalization), ExprExtractionConfig()]


def math_verify_job(
    gold: str,
    completion: str,
    question: str | None = None,
    policy: dict[str, Any] | None = None,
) -> tuple[str, str | None] | tuple[str, str | None, str | None]:
    """Extract and compare with math-verify under ``policy`` (``MathPolicy.as_dict()``).

    math-verify's own SIGALRM timeouts are off (the pool kills a job that runs
    over), so a timeout is never read as a wrong answer. Returns (outcome,
    message): ``correct``/``wrong`` with the extracted answer, ``no_answer``,
    or ``error`` naming a gold answer that cannot be parsed.
    """

    policy = policy or MathPolicy().as_dict()
    config = _extraction_config(policy["units"])
    gold = _PYTHON_POWER.sub("^", _SCIENTIFIC.sub(_decimal, gold))
    gold_parsed = list(_parse_gold(_rewritten(gold, policy), policy["units"]))
    if not gold_parsed or (
        all(isinstance(value, str) for value in gold_parsed) and _malformed(gold)
    ):  # math-verify compares a well-formed gold it cannot parse as text, as here
        return "error", f"the gold answer {gold[:200]!r} cannot be parsed: the sample is skipped"
    completion = _SCIENTIFIC.sub(_decimal, _LINE_BROKEN_INLINE_MATH.sub(" ", completion))
    completion = _PYTHON_POWER.sub("^", completion)
    depth = _brace_depth(completion) if completion.count("{") > MAX_BRACE_DEPTH else 0
    if depth > MAX_BRACE_DEPTH:
        return "wrong", f"braces nested {depth} deep: not an answer", None
    tagged = _last_answer_tag(completion)
    if tagged is not None and completion.count("<answer>") > 1:
        return "wrong", "several <answer> tags: an enumeration is not an answer", tagged[:200]
    answer = []
    for text in (completion,) if tagged is None else _math_forms(tagged):
        answer = parse(
            _rewritten(text, policy),
            extraction_config=config,
            parsing_timeout=None,
            raise_on_error=True,
        )
        if answer:
            break
    if not answer:
        return "no_answer", "no answer"

    def equal_under_math_verify(left: list[Any], right: list[Any]) -> bool:
        # math-verify's own fallbacks (a string comparison where sympy cannot evaluate) stay on
        return bool(
            verify(
                left,
                right,
                float_rounding=policy["float_rounding"],
                strict=policy["strict"],
                allow_set_relation_comp=policy["set_relation"],
                timeout_seconds=None,
            )
        )

    if _huge_power(answer[0]) and not _huge_power(gold_parsed[0]):
        return "wrong", "a power tower too large to evaluate is not the gold", str(answer[-1])[:200]
    equal = equal_under_math_verify(gold_parsed, answer) or _same_decimal(
        str(gold_parsed[-1]), str(answer[-1])
    )
    if equal and not _exactly_equal(gold_parsed[0], answer[0]):
        equal = False  # 1/2006! is not 1/2004!, however close in 15 digits
    elif not equal and _has_symbol_i(gold_parsed[0], answer[0]):
        equal = equal_under_math_verify(_with_imaginary_i(gold_parsed), _with_imaginary_i(answer))
    equal = _policy_verdict(equal, gold_parsed, answer, policy, equal_under_math_verify)
    if equal and question and not policy["question_expressions"]:
        copied = _copied_expression(str(answer[-1]), question)
        if copied:
            note = f"{copied[:100]!r} is the question's own expression, not an answer"
            return "wrong", note, copied[:200]
    return ("correct" if equal else "wrong"), None, str(answer[-1])[:200]


def _copied_expression(answer: str, question: str) -> str | None:
    """The answer, when it is an unevaluated expression that the question contains
    (``1663 * 5242`` for "Solve 1663 * 5242."); a number is never "copied"."""
    expression = answer.strip().rstrip(".").strip()
    if len(expression) < 3 or parse_literal(normalize(expression)) is not None:
        return None
    squeeze = re.compile(r"\s+")
    return expression if squeeze.sub("", expression) in squeeze.sub("", question) else None


def _policy_verdict(
    equal: bool,
    gold: list[Any],
    answer: list[Any],
    policy: dict[str, Any],
    equal_under_math_verify: Callable[[list[Any], list[Any]], bool],
) -> bool:
    """math-verify's verdict changed by the rules that are not its defaults."""

    gold_value, answer_value = gold[0], answer[0]
    gold_text, answer_text = str(gold[-1]), str(answer[-1])
    numbers = all(
        isinstance(v, sympy.Expr) and v.is_number and v.is_finite is True
        for v in (gold_value, answer_value)
    )
    if policy["rel_tol"] is not None and numbers:
        candidates = [(gold_value, answer_value)]
        if policy["percent"] == "lenient":
            if "%" in answer_text:
                candidates.append((gold_value, answer_value * 100))
            if "%" in gold_text:
                candidates.append((gold_value * 100, answer_value))
        equal = any(_within(g, a, policy["rel_tol"]) for g, a in candidates)
    if policy["degrees_as_radians"] and not equal and numbers:
        in_degrees = [bool(_DEGREE.search(t)) for t in (gold_text, answer_text)]
        if any(in_degrees) and not all(in_degrees):
            g, a = (
                v * sympy.pi / 180 if d else v
                for v, d in zip((gold_value, answer_value), in_degrees, strict=True)
            )
            equal = abs(complex(sympy.N(g - a))) < 10.0 ** -policy["float_rounding"]
    if not equal:
        return False
    if not policy["assignment"] and isinstance(gold_value, sympy.Eq) != isinstance(
        answer_value, sympy.Eq
    ):
        return False
    gold_is_number = isinstance(gold_value, sympy.Expr) and gold_value.is_number
    if not policy["evaluate"] and gold_is_number and parse_literal(normalize(answer_text)) is None:
        return False  # an unevaluated expression for a gold number
    if policy["ordered_lists"]:
        gold_items, answer_items = split_top_level(gold_text), split_top_level(answer_text)
        if gold_items and answer_items and (len(gold_items) > 1 or len(answer_items) > 1):
            if len(gold_items) != len(answer_items):
                return False
            config = _extraction_config(policy["units"])
            return all(
                equal_under_math_verify(
                    parse(f"${g}$", extraction_config=config, parsing_timeout=None),
                    parse(f"${a}$", extraction_config=config, parsing_timeout=None),
                )
                for g, a in zip(gold_items, answer_items, strict=True)
            )
    return True


def _within(gold: Any, answer: Any, rel_tol: float) -> bool:
    """|gold - answer| <= rel_tol * max(|gold|, |answer|), exactly when rel_tol is 0."""

    if rel_tol == 0:
        return bool(sympy.simplify(gold - answer) == 0)
    g, a = complex(sympy.N(gold, 30)), complex(sympy.N(answer, 30))
    return abs(g - a) <= rel_tol * max(abs(g), abs(a))


def _same_decimal(gold: str, answer: str) -> bool:
    """Two plain decimals with the same value (math-verify reads 897303639322.64140
    and 897303639322.6414 as different floats at 15 digits)."""
    g, a = gold.strip(), answer.strip()
    if not (PLAIN_NUMBER.fullmatch(g) and PLAIN_NUMBER.fullmatch(a)):
        return False
    return Decimal(g) == Decimal(a)


def _exactly_equal(gold: Any, answer: Any) -> bool:
    """For two exact numbers (no floats), exact equality; anything else passes."""

    exact = [
        isinstance(x, sympy.Expr)
        and x.is_number
        and x.is_finite is True
        and not x.atoms(sympy.Float)
        for x in (gold, answer)
    ]
    if not all(exact):
        return True
    return bool(sympy.simplify(gold - answer) == 0)


def _has_symbol_i(*values: Any) -> bool:

    return any(
        isinstance(v, sympy.Basic) and any(s.name == "i" for s in v.free_symbols) for v in values
    )


def _with_imaginary_i(parsed: list[Any]) -> list[Any]:
    """``i`` read as the imaginary unit (math-verify reads it as a variable)."""

    def unit(value: Any) -> Any:
        if not isinstance(value, sympy.Basic):
            return value
        return value.subs({s: sympy.I for s in value.free_symbols if s.name == "i"})

    return [unit(v) for v in parsed]


def _answer(jobs: dict[str, Callable[..., tuple[Any, ...]]], job: Any) -> tuple[Any, ...]:
    """(job_id, outcome, message[, extracted answer])."""
    job_id, kind, args = job
    try:
        return (job_id, *jobs[kind](*args))
    except MemoryError:
        return job_id, "error", "memory limit exceeded"
    except Exception as exc:  # any failure is this job's own, never the pool's
        # math-verify reads anything: an exception is a bug, an error with its name
        return job_id, "error", f"{type(exc).__name__}: {str(exc)[:200]}"


def serve(reader: Connection, writer: Connection, memory_mb: int) -> None:
    """Answer jobs until the pipe closes or a ``None`` job arrives."""
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    jobs = _jobs()
    import latex2sympy2_extended  # noqa: F401  (loaded before "ready", not on a job's clock)

    with contextlib.suppress(ImportError):  # math-verify, where installed
        import math_verify.grader
        import math_verify.parser

        # the pool enforces the timeout; math-verify's notices about that are noise here
        math_verify.parser.TIMEOUT_WARNING_SHOWN = True
        math_verify.grader.TIMEOUT_WARNING_SHOWN = True

    # the first parse and simplify in a process are slow (lazy caches): do them now
    with contextlib.suppress(Exception):
        if parse is not None:
            math_verify_job("x^2+1", r"\boxed{(x+1)^2-2x}", "Expand (x+1)^2")
    writer.send(("ready", os.getpid()))
    while True:
        try:
            job = reader.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            writer.send(_answer(jobs, job))
        except (BrokenPipeError, OSError):
            return


def main(argv: list[str]) -> None:
    read_fd, write_fd, memory_mb = (int(a) for a in argv)
    os.dup2(2, 1)  # stray prints go to stderr; the pipe carries replies only
    serve(Connection(read_fd, writable=False), Connection(write_fd, readable=False), memory_mb)


if __name__ == "__main__":
    main(sys.argv[1:])
