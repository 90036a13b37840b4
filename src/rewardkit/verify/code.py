"""Code-execution rewards: run a completion's program against tests in the sandbox.

The programs run in :class:`~rewardkit.verify.sandbox.Sandbox`, whose contract
(no network, a separate uid, a per-run process limit, a private filesystem, a
clean environment) is enforced or refused: see :mod:`rewardkit.verify.sandbox`.

A program that exceeds its time limit fails that test, as a judge's
"time limit exceeded" would: otherwise looping would be a way to dodge a low
score. Only failures of the sandbox itself are not applicable. A program
cannot pass an assert-style test by exiting early, and its objects' ``__eq__``
is never trusted (see :func:`_test_job`).

Example:
    >>> term = CodeTests(wall_seconds=5)
    >>> completion = "```python\\nprint(int(input()) ** 2)\\n```"
    >>> term({"completion": [completion], "tests": [[{"input": "3", "output": "9"}]]}).total
    array([1.])
"""

from __future__ import annotations

import ast
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import BatchError, CompositionError
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.verify.sandbox import (
    ExecutionResult,
    Isolation,
    Sandbox,
    SandboxCapabilities,
    SandboxLimits,
    SandboxUnavailableError,
    sandbox_capabilities,
)
from rewardkit.verify.text import completion_text

__all__ = [
    "CodeTests",
    "ExecutionResult",
    "Sandbox",
    "SandboxCapabilities",
    "SandboxLimits",
    "SandboxUnavailableError",
    "extract_code",
    "sandbox_capabilities",
]

_FENCE = re.compile(r"```(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_code(text: str) -> str | None:
    """The last fenced Python block of a completion, or None.

    Example:
        >>> extract_code("Here:\\n```python\\nprint(1)\\n```")
        'print(1)\\n'
    """
    blocks = _FENCE.findall(text)
    return blocks[-1] if blocks and blocks[-1].strip() else None


#: what a judge reads from a finished run: did the test pass
Judge = Callable[[ExecutionResult], bool]

_HARNESS_VALUE = """

import sys as _rk_sys
_rk_nonce = _rk_sys.stdin.readline().strip()
_rk_value = ({expression})
_rk_sys.stdout.write("\\n" + _rk_nonce + " " + repr(_rk_value) + "\\n")
"""
_HARNESS_END = """

import sys as _rk_sys
_rk_nonce = _rk_sys.stdin.readline().strip()
{assertion}
_rk_sys.stdout.write("\\n" + _rk_nonce + "\\n")
"""


#: comparisons done outside the sandbox, on the parsed value
_OPERATORS: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: lambda value, expected: _same(value, expected),
    ast.NotEq: lambda value, expected: not _same(value, expected),
    ast.In: lambda value, expected: any(_same(value, e) for e in expected),
    ast.NotIn: lambda value, expected: not any(_same(value, e) for e in expected),
    ast.Lt: lambda value, expected: _numbers(value, expected) and value < expected,
    ast.LtE: lambda value, expected: _numbers(value, expected) and value <= expected,
    ast.Gt: lambda value, expected: _numbers(value, expected) and value > expected,
    ast.GtE: lambda value, expected: _numbers(value, expected) and value >= expected,
}


def _value_assertion(assertion: str) -> tuple[str, Callable[[Any], bool]] | None:
    """``assert EXPR OP LITERAL`` (OP one of == != in not in < <= > >=) or ``assert EXPR``
    as (EXPR's source, the check to run outside on EXPR's value), else None."""
    try:
        tree = ast.parse(assertion)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return None
    test = tree.body[0].test
    evaluated = test.left if isinstance(test, ast.Compare) else test
    if any(isinstance(node, ast.Compare) for node in ast.walk(evaluated)):
        return None  # a comparison inside EXPR would run the program's own __eq__
    if not isinstance(test, ast.Compare):
        return ast.unparse(test), bool  # the truth of a plain value, as assert takes it
    if len(test.ops) != 1 or type(test.ops[0]) not in _OPERATORS:
        return None
    try:
        expected = ast.literal_eval(test.comparators[0])
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(test.ops[0], ast.In | ast.NotIn) and not isinstance(
        expected, list | tuple | set | frozenset
    ):
        return None
    operator = _OPERATORS[type(test.ops[0])]
    return ast.unparse(test.left), lambda value: bool(operator(value, expected))


def _same(value: Any, expected: Any) -> bool:
    """Equal and of the same kind (an int for a float literal is fine, True for 1 is not),
    compared here on plain values, never by the program's own ``__eq__``."""
    if _numbers(value, expected):
        return bool(value == expected)
    if type(value) is not type(expected):
        return False
    if isinstance(value, list | tuple):
        return len(value) == len(expected) and all(
            _same(v, e) for v, e in zip(value, expected, strict=True)
        )
    if isinstance(value, dict):
        return value.keys() == expected.keys() and all(_same(value[k], expected[k]) for k in value)
    return bool(value == expected)


def _reported(stdout: str, nonce: str) -> str | None:
    """What the harness wrote after the nonce on its last line, or None."""
    lines = stdout.rstrip("\n").splitlines()
    if not lines or not lines[-1].startswith(nonce):
        return None
    return lines[-1][len(nonce) :].strip()


def _test_job(code: str, test: Mapping[str, Any]) -> tuple[str, str, Judge]:
    """(source, stdin, judge) for one test.

    An assert-style test passes only when the harness after the program reaches
    its end and writes a fresh random nonce, which the run gets on stdin: a
    ``sys.exit(0)`` or ``os._exit(0)`` before the asserts fails. ``assert EXPR OP
    LITERAL`` (and ``assert EXPR``) go further: the sandbox only evaluates EXPR
    and prints its ``repr``; the comparison happens here, outside, on the parsed
    plain value, so an object whose ``__eq__`` is always True fails and the
    expected value never enters the sandbox. Other asserts (a comparison inside
    EXPR, as in ``assert f(2) == 4 and f(3) == 9``) run inside and are only
    protected against early exit.
    """
    if "assert" in test:
        assertion = str(test["assert"])
        nonce = secrets.token_hex(16)
        plan = _value_assertion(assertion)
        if plan is not None:
            expression, check = plan

            def same_value(result: ExecutionResult) -> bool:
                reported = _reported(result.stdout, nonce) if result.status == "ok" else None
                if reported is None:
                    return False
                try:
                    value = ast.literal_eval(reported)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    return False  # not a plain value: an object is not an answer
                try:
                    return check(value)
                except TypeError:  # e.g. 3 < "a": the value is not the kind asked for
                    return False

            source = code + _HARNESS_VALUE.format(expression=expression)
            return source, nonce + "\n", same_value

        def reached_the_end(result: ExecutionResult) -> bool:
            return result.status == "ok" and _reported(result.stdout, nonce) == ""

        return code + _HARNESS_END.format(assertion=assertion), nonce + "\n", reached_the_end
    if "output" in test:
        expected_output = str(test["output"])
        return (
            code,
            str(test.get("input", "")),
            lambda result: _passed(result, expected_output),
        )
    raise BatchError(f"a test needs 'input'/'output' or 'assert', got keys {sorted(test)}")


def _numbers(value: Any, expected: Any) -> bool:
    """Both plain numbers (an int result for a float literal is fine, a bool is not)."""
    kinds = (int, float)
    return all(isinstance(v, kinds) and not isinstance(v, bool) for v in (value, expected))


def _passed(result: ExecutionResult, expected: str) -> bool:
    if result.status != "ok":
        return False
    return result.stdout.rstrip().splitlines() == expected.rstrip().splitlines() or (
        result.stdout.split() == expected.split()
    )


@register("code_tests")
class CodeTests(RewardTerm):
    """Pass rate (or all-pass) of the completion's program on the sample's tests.

    Reads ``completion`` (the last fenced Python block is the program) and
    ``tests``: per sample a list of ``{"input": ..., "output": ...}`` stdin/
    stdout tests or ``{"assert": "assert f(2) == 4"}`` tests. A completion
    without a code block is not applicable (unparseable); a sandbox failure is
    an error.

    Args:
        mode: "pass_rate" (fraction of tests passed) or "all_pass" (1 or 0).
        wall_seconds: wall-clock limit per test run (CPU limit: one second more).
        memory_mb: address-space limit per run.
        slots: concurrent runs (default: CPU count).
        isolation: "full" (default) needs the whole sandbox contract and raises
            :class:`SandboxUnavailableError` here, at construction, when the machine
            cannot enforce it; "minimal" accepts weaker isolation with a warning.
    """

    columns = ("completion", "tests")

    def __init__(
        self,
        mode: Literal["pass_rate", "all_pass"] = "pass_rate",
        wall_seconds: float = 5.0,
        memory_mb: int = 512,
        slots: int | None = None,
        isolation: Isolation = "full",
        name: str = "code_tests",
    ) -> None:
        super().__init__(name)
        if mode not in ("pass_rate", "all_pass"):
            raise CompositionError(f"mode must be 'pass_rate' or 'all_pass', got {mode!r}")
        self.mode = mode
        self.limits = SandboxLimits(
            wall_seconds=wall_seconds,
            cpu_seconds=max(1, int(wall_seconds) + 1),
            memory_mb=memory_mb,
        )
        self.slots = slots
        self.isolation: Isolation = isolation
        Sandbox(self.limits, slots=1, isolation=isolation)  # refuse now, not mid-training

    def _compute(self, batch: Batch) -> RewardOutput:
        sandbox = Sandbox(self.limits, slots=self.slots, isolation=self.isolation)
        completions = get_column(batch, "completion")
        tests = get_column(batch, "tests")
        n = len(completions)
        jobs: list[tuple[str, str]] = []
        owners: list[tuple[int, Judge]] = []
        status = np.zeros(n, dtype=np.int8)
        messages: list[str | None] = [None] * n
        for index, (completion, sample_tests) in enumerate(zip(completions, tests, strict=True)):
            code = extract_code(completion_text(completion))
            if code is None or not sample_tests:
                status[index] = Status.NOT_APPLICABLE
                messages[index] = "unparseable: no code block" if code is None else "no tests"
                continue
            for test in sample_tests:
                source, stdin, judge = _test_job(code, test)
                jobs.append((source, stdin))
                owners.append((index, judge))
        results = sandbox.run_many(jobs)
        passed = np.zeros(n)
        total = np.zeros(n)
        for (index, judge), result in zip(owners, results, strict=True):
            total[index] += 1
            if result.status == "sandbox_error":
                status[index] = Status.ERROR
                messages[index] = f"sandbox error: {result.stderr[:200]}"
            passed[index] += judge(result)
            if result.status in ("timeout", "output_limit") and messages[index] is None:
                messages[index] = result.status
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = passed / total
        values = rate if self.mode == "pass_rate" else (rate == 1.0).astype(float)
        values = np.where(status == Status.OK, values, np.nan)
        return RewardOutput(values, status=status, messages=tuple(messages))
