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
from rewardkit.verify.assertions import harness_source, plan_assertions, read_report
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


def _test_job(code: str, test: Mapping[str, Any]) -> tuple[str, str, Judge]:
    """(source, stdin, judge) for one test.

    An assert-style test runs in a harness that evaluates the test's
    expressions after the program in a forked child and reports their values
    under a nonce only the harness's parent reads; the asserts are judged here,
    outside, on those plain values (see :mod:`rewardkit.verify.assertions`).
    An I/O test compares the program's stdout with the expected output here.
    """
    if "assert" in test:
        plan = plan_assertions(str(test["assert"]))
        nonce = secrets.token_hex(16)

        def holds(result: ExecutionResult) -> bool:
            reported = read_report(result.stdout, nonce) if result.status == "ok" else None
            return reported is not None and plan.judge(reported)

        return harness_source(code, plan), nonce + "\n", holds
    if "output" in test:
        expected_output = str(test["output"])
        return (
            code,
            str(test.get("input", "")),
            lambda result: _passed(result, expected_output),
        )
    raise BatchError(f"a test needs 'input'/'output' or 'assert', got keys {sorted(test)}")


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
