"""The symbolic worker: a ``python -m`` process that answers jobs over two pipes.

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
import os
import re
import resource
import sys
from collections.abc import Callable
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import Any


def _jobs() -> dict[str, Callable[..., tuple[str, str | None]]]:
    from rewardkit.verify.symbolic import symbolic_equal

    def compare(gold: str, pred: str) -> tuple[str, str | None]:
        return ("correct" if symbolic_equal(gold, pred) else "wrong"), None

    return {"symbolic_equal": compare, "math_verify": math_verify_job}


#: inline math ($…$ or \(…\)) that opens or closes on a line break is not an answer:
#: math-verify's regression tests label "Answer $\n 9 \n$" as no answer, and renderers
#: (pandoc, KaTeX's auto-render) do not read such spans as math either
_LINE_BROKEN_INLINE_MATH = re.compile(
    r"(?<!\$)\$(?!\$)[ \t]*\n[^$]*?\n[ \t]*(?<!\$)\$(?!\$)|\\\([ \t]*\n.*?\n[ \t]*\\\)", re.S
)


#: 1e3, 2.5E-4: a number in scientific notation (math-verify reads 1e3 as 1·e·3)
_SCIENTIFIC = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w.])")


def _decimal(match: re.Match[str]) -> str:
    """1e3 → 1000 (huge exponents are left as they are)."""
    if abs(int(match.group(2))) > 100:
        return match.group(0)
    return format(Decimal(match.group(0)), "f")


def math_verify_job(gold: str, completion: str) -> tuple[str, str | None]:
    """Extract and compare with math-verify; its own SIGALRM timeouts are off (the pool
    kills a job that runs over), so a timeout is never read as a wrong answer.

    Returns (outcome, message): ``correct``/``wrong`` with the extracted answer,
    ``no_answer``, or ``error`` naming a gold answer that cannot be parsed.
    """
    from math_verify import parse, verify

    gold_parsed = []
    for form in (gold, f"${gold}$", f"\\boxed{{{gold}}}"):  # a bare gold is math, not prose
        gold_parsed = parse(form, parsing_timeout=None, raise_on_error=True)  # type: ignore[arg-type]
        if gold_parsed:
            break
    if not gold_parsed:
        return "error", f"the gold answer {gold[:200]!r} cannot be parsed: the sample is skipped"
    completion = _SCIENTIFIC.sub(_decimal, _LINE_BROKEN_INLINE_MATH.sub(" ", completion))
    answer = parse(completion, parsing_timeout=None, raise_on_error=True)  # type: ignore[arg-type]
    if not answer:
        return "no_answer", "no answer"
    # math-verify's own fallbacks (a string comparison where sympy cannot evaluate) stay on
    equal = verify(gold_parsed, answer, timeout_seconds=None)
    if equal and not _exactly_equal(gold_parsed[0], answer[0]):
        equal = False  # 1/2006! is not 1/2004!, however close in 15 digits
    elif not equal and _has_symbol_i(gold_parsed[0], answer[0]):
        equal = verify(
            _with_imaginary_i(gold_parsed), _with_imaginary_i(answer), timeout_seconds=None
        )
    return ("correct" if equal else "wrong"), str(answer[-1])[:200]


def _exactly_equal(gold: Any, answer: Any) -> bool:
    """For two exact numbers (no floats), exact equality; anything else passes."""
    import sympy

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
    import sympy

    return any(
        isinstance(v, sympy.Basic) and any(s.name == "i" for s in v.free_symbols) for v in values
    )


def _with_imaginary_i(parsed: list[Any]) -> list[Any]:
    """``i`` read as the imaginary unit (math-verify reads it as a variable)."""
    import sympy

    def unit(value: Any) -> Any:
        if not isinstance(value, sympy.Basic):
            return value
        return value.subs({s: sympy.I for s in value.free_symbols if s.name == "i"})

    return [unit(v) for v in parsed]


def _answer(jobs: dict[str, Callable[..., tuple[str, str | None]]], job: Any) -> tuple[Any, ...]:
    job_id, kind, args = job
    try:
        outcome, message = jobs[kind](*args)
        return job_id, outcome, message
    except MemoryError:
        return job_id, "error", "memory limit exceeded"
    except Exception as exc:  # any parse or sympy failure is this job's own
        return job_id, "unparseable", f"{type(exc).__name__}: {str(exc)[:200]}"


def serve(reader: Connection, writer: Connection, memory_mb: int) -> None:
    """Answer jobs until the pipe closes or a ``None`` job arrives."""
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    jobs = _jobs()
    import latex2sympy2_extended  # noqa: F401  (loaded before "ready", not on a job's clock)
    import sympy  # noqa: F401

    with contextlib.suppress(ImportError):  # the math-verify backend, where installed
        import math_verify.grader
        import math_verify.parser

        # the pool enforces the timeout; math-verify's notices about that are noise here
        math_verify.parser.TIMEOUT_WARNING_SHOWN = True  # type: ignore[attr-defined]
        math_verify.grader.TIMEOUT_WARNING_SHOWN = True  # type: ignore[attr-defined]

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
