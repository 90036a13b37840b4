"""Code-execution rewards: a completion's program against its tests, as the datasets ship them.

The programs run in :class:`~rewardkit.verify.sandbox.Sandbox`, whose contract
(no network, a separate uid, a per-run process limit, a private filesystem, a
clean environment) is enforced or refused: see :mod:`rewardkit.verify.sandbox`.
Inside it, the tests run in a judge process the program cannot reach (see
:mod:`rewardkit.verify._code_harness`): the program's process answers calls
with plain values and holds no test, so tampering with its own globals,
``__main__``, ``builtins``, frames or exit code changes no verdict.

Test formats (``format=``), each read from the dataset's own columns
(:mod:`rewardkit.verify.code_formats`):

- ``"humaneval"``: columns ``test`` (``def check(candidate): ...``),
  ``entry_point`` and, if present, ``prompt`` (trusted helpers; and the start
  of the program with ``program="prompt+completion"``), as HumanEval and
  EvalPlus ship them;
- ``"mbpp"``: ``test_list`` (assert strings), optional ``test_setup_code`` and
  ``test_imports``;
- ``"io"``: ``tests`` as stdin/stdout cases (a list of ``{"input", "output"}``,
  CodeContests' or APPS' parallel lists, or JSON of either), in ``language``;
- ``"call"``: ``tests`` as ``{"args": [...], "kwargs": {...}, "expected": v}``
  calls of ``entry_point`` (column or ``function=``), judged outside;
- ``"auto"`` (default): ``tests`` holds I/O cases, ``{"assert": ...}`` tests or
  call cases, told apart by their keys.

How a completion becomes the program (``program=``): ``"fenced"`` (its last
fenced block, the default), ``"completion"`` (the whole text) or
``"prompt+completion"`` (HumanEval's body completions).

A program that exceeds its time limit fails that test, as a judge's "time
limit exceeded" would (the message says so): looping is no way to dodge a low
score. A program that does not compile scores 0 with "compile error: ..." in
its message. A broken test or a sandbox failure is that sample's error, never
the batch's.

Example:
    >>> term = CodeTests(wall_seconds=5)
    >>> completion = "```python\\nprint(int(input()) ** 2)\\n```"
    >>> term({"completion": [completion], "tests": [[{"input": "3", "output": "9"}]]}).total
    array([1.])
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import BatchError, ConfigurationError, RewardKitWarning
from rewardkit.core.messages import answer_text
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.verify.code_formats import (
    JudgeJob,
    assert_job,
    call_job,
    humaneval_job,
    io_cases,
    io_job,
)
from rewardkit.verify.code_judge import Verdict, judge_many
from rewardkit.verify.code_languages import language as get_language
from rewardkit.verify.sandbox import (
    ExecutionResult,
    Isolation,
    Sandbox,
    SandboxCapabilities,
    SandboxLimits,
    SandboxUnavailableError,
    sandbox_capabilities,
)

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

TestFormat = Literal["auto", "humaneval", "mbpp", "io", "call"]
ProgramFrom = Literal["fenced", "completion", "prompt+completion"]

_FENCE_TAGS = {
    "python": {"python", "py", "python3"},
    "cpp": {"cpp", "c++", "cc", "cxx"},
    "c": {"c"},
    "javascript": {"javascript", "js", "node", "nodejs"},
    "java": {"java"},
}


_BLOCK = re.compile(r"```([\w+#.-]*)[ \t]*\n(.*?)```", re.DOTALL)


def extract_code(text: str, language: str = "python") -> str | None:
    """The last fenced block of a completion (untagged or tagged ``language``), or None.

    Example:
        >>> extract_code("Here:\\n```python\\nprint(1)\\n```")
        'print(1)\\n'
    """
    tags = _FENCE_TAGS.get(language, {language})
    blocks = [body for tag, body in _BLOCK.findall(text) if not tag or tag.lower() in tags]
    return blocks[-1] if blocks and blocks[-1].strip() else None


@register("code_tests")
class CodeTests(RewardTerm):
    """Pass rate (or all-pass) of the completion's program on the sample's tests.

    See the module docstring for the test formats and how the program is read.
    The message of a sample that did not pass names its first failing test,
    with the expected and actual values or the exception.

    Args:
        mode: "pass_rate" (fraction of tests passed) or "all_pass" (1 or 0).
        format: "auto", "humaneval", "mbpp", "io" or "call".
        program: "fenced", "completion" or "prompt+completion".
        language: the programs' language for I/O tests ("python", "c", "cpp",
            "javascript", "java"); function tests are Python.
        function: the function under test for "call" cases without an
            ``entry_point`` column.
        wall_seconds: wall-clock limit per test (CPU limit: one second more).
        memory_mb: memory limit per run (the runtime's heap for node and java).
        slots: concurrent runs (default: CPU count).
        tolerance: absolute or relative tolerance for numbers in outputs and values.
        warm: run on warm sandboxed workers shared by every caller (full isolation;
            see :mod:`rewardkit.verify.code_pool`); False starts a sandbox per program.
        isolation: "full" (default) needs the whole sandbox contract and raises
            :class:`SandboxUnavailableError` here, at construction, when the machine
            cannot enforce it; "minimal" accepts weaker isolation with a warning.
    """

    columns: tuple[str, ...] = ("completion", "tests")

    def __init__(
        self,
        mode: Literal["pass_rate", "all_pass"] = "pass_rate",
        wall_seconds: float = 5.0,
        memory_mb: int = 512,
        slots: int | None = None,
        isolation: Isolation = "full",
        name: str = "code_tests",
        *,
        format: TestFormat = "auto",
        program: ProgramFrom = "fenced",
        language: str = "python",
        function: str | None = None,
        tolerance: float = 1e-6,
        warm: bool = True,
    ) -> None:
        super().__init__(name)
        if mode not in ("pass_rate", "all_pass"):
            raise ConfigurationError(f"mode must be 'pass_rate' or 'all_pass', got {mode!r}")
        if format not in ("auto", "humaneval", "mbpp", "io", "call"):
            raise ConfigurationError(
                f"format must be 'auto', 'humaneval', 'mbpp', 'io' or 'call', got {format!r}"
            )
        if program not in ("fenced", "completion", "prompt+completion"):
            raise ConfigurationError(
                f"program must be 'fenced', 'completion' or 'prompt+completion', got {program!r}"
            )
        if not tolerance >= 0:
            raise ConfigurationError(f"tolerance must be >= 0, got {tolerance}")
        self.language = get_language(language)
        self.language.check()  # a missing toolchain is refused now, not mid-training
        if self.language.name != "python" and format not in ("auto", "io"):
            raise ConfigurationError(
                f"{format!r} tests are Python; {language} programs take 'io' tests"
            )
        self.mode = mode
        self.format: TestFormat = format
        self.program_from: ProgramFrom = program
        self.function = function
        self.tolerance = float(tolerance)
        self.warm = warm
        self.limits = SandboxLimits(
            wall_seconds=wall_seconds,
            cpu_seconds=max(1, int(wall_seconds) + 1),
            memory_mb=memory_mb,
        )
        self.slots = slots
        self.isolation: Isolation = isolation
        self.columns = _columns(format, program)
        self._sandbox = Sandbox(
            self.limits, slots=slots, isolation=isolation, binds=self.language.bind_paths()
        )  # refuse now, not mid-training
        self._warned_no_code = False

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_sandbox", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._sandbox = Sandbox(
            self.limits, slots=self.slots, isolation=self.isolation,
            binds=self.language.bind_paths(),
        )  # fmt: skip

    def _compute(self, batch: Batch) -> RewardOutput:
        completions = get_column(batch, "completion")
        n = len(completions)
        status = np.zeros(n, dtype=np.int8)
        messages: list[str | None] = [None] * n
        work: list[tuple[str, JudgeJob]] = []
        owners: list[int] = []
        for index in range(n):
            try:
                program = self._program(batch, index, completions[index])
                if program is None:
                    status[index] = Status.NOT_APPLICABLE
                    messages[index] = "unparseable: no code block"
                    continue
                job = self._job(batch, index, program)
            except BatchError as exc:
                status[index] = Status.ERROR
                messages[index] = f"bad test: {exc}"
                continue
            work.append((program, job))
            owners.append(index)
        if n and not work and all(m == "unparseable: no code block" for m in messages):
            self._warn_no_code()
        verdicts = judge_many(self._sandbox, work, self.limits, self.tolerance, warm=self.warm)
        values = np.full(n, np.nan)
        for index, verdict in zip(owners, verdicts, strict=True):
            values[index], status[index], messages[index] = self._score(verdict)
        return RewardOutput(values, status=status, messages=tuple(messages))

    def _score(self, verdict: Verdict) -> tuple[float, int, str | None]:
        if verdict.status in ("test_error", "sandbox_error"):
            return np.nan, Status.ERROR, verdict.message
        rate = verdict.pass_rate
        value = rate if self.mode == "pass_rate" else float(rate == 1.0)
        return value, Status.OK, verdict.message

    def _program(self, batch: Batch, index: int, completion: Any) -> str | None:
        text = answer_text(completion)
        if self.program_from == "fenced":
            return extract_code(text, self.language.name)
        if self.program_from == "completion":
            return text
        prompt = get_column(batch, "prompt")[index]
        if not isinstance(prompt, str):
            raise BatchError(
                "program='prompt+completion' needs the prompt as code (a string), got "
                f"{type(prompt).__name__}: a chat prompt's program is in a fenced block"
            )
        return prompt + text

    def _job(self, batch: Batch, index: int, program: str) -> JudgeJob:
        if self.format == "humaneval":
            prompt = _optional(batch, "prompt", index)
            context = prompt if isinstance(prompt, str) else None
            return humaneval_job(
                _string(get_column(batch, "test")[index], "test"),
                get_column(batch, "entry_point")[index],
                context,
            )
        if self.format == "mbpp":
            setup = "\n".join(
                _setup_text(_optional(batch, column, index))
                for column in ("test_imports", "test_setup_code")
            ).strip()
            return assert_job(list(_sequence(get_column(batch, "test_list")[index])), setup)
        tests = get_column(batch, "tests")[index]
        if self.format == "io" or (self.format == "auto" and _looks_io(tests)):
            return io_job(io_cases(tests), program, self.language, self.limits.memory_mb)
        if isinstance(tests, str):
            return assert_job(tests)
        cases = list(_sequence(tests))
        if self.format == "call" or (
            cases and all(isinstance(c, Mapping) and "expected" in c for c in cases)
        ):
            function = self.function or _optional(batch, "entry_point", index)
            if not isinstance(function, str):
                raise BatchError(
                    "call cases need the function's name: an 'entry_point' column or function="
                )
            return call_job(cases, function)
        if cases and all(isinstance(c, Mapping) and "assert" in c for c in cases):
            return assert_job([str(c["assert"]) for c in cases])
        if cases and all(isinstance(c, str) for c in cases):
            return assert_job(cases)
        raise BatchError(
            "tests must be I/O cases {'input', 'output'}, assert tests {'assert': ...} or "
            f"call cases {{'args', 'expected'}}, got {str(tests)[:200]}"
        )

    def _warn_no_code(self) -> None:
        if self._warned_no_code:
            return
        self._warned_no_code = True
        hint = (
            " HumanEval-style body completions: pass program='prompt+completion'."
            if self.program_from == "fenced"
            else ""
        )
        warnings.warn(
            f"{self.name}: no completion in this batch has a fenced {self.language.name} "
            f"code block, so none was run.{hint}",
            RewardKitWarning,
            stacklevel=3,
        )


def _columns(format: str, program: str) -> tuple[str, ...]:
    columns = {
        "humaneval": ("completion", "test", "entry_point"),
        "mbpp": ("completion", "test_list"),
    }
    chosen = columns.get(format, ("completion", "tests"))
    return (*chosen, "prompt") if program == "prompt+completion" else chosen


def _optional(batch: Batch, column: str, index: int) -> Any:
    return batch[column][index] if column in batch else None


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise BatchError(f"{what} must be a string, got {type(value).__name__}")
    return value


def _sequence(value: Any) -> Sequence[Any]:
    if isinstance(value, np.ndarray):
        return list(value)
    if isinstance(value, list | tuple):
        return value
    raise BatchError(f"tests must be a list, got {type(value).__name__}")


def _setup_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return "\n".join(str(v) for v in _sequence(value))


def _looks_io(tests: Any) -> bool:
    if isinstance(tests, Mapping):
        return True
    if isinstance(tests, str):
        try:
            return isinstance(json.loads(tests), list | dict)
        except json.JSONDecodeError:
            return False
    items = list(tests) if isinstance(tests, list | tuple | np.ndarray) else []
    return bool(items) and all(isinstance(c, Mapping) and "output" in c for c in items)
