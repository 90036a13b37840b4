"""Code-execution rewards: run a completion's program against tests in a sandbox.

Each run gets a fresh temporary directory, resource limits (CPU seconds,
address space, processes, file size), no network (a new network namespace
where the machine permits it; :attr:`Sandbox.isolation` says what was
achieved) and a hard kill on wall-clock timeout. As root, each concurrent
slot runs under its own unprivileged uid, so the process limit holds and the
kill reaches every process the program forked, even ones that left the
session.

A program that exceeds its time limit fails that test, as a judge's
"time limit exceeded" would: otherwise looping would be a way to dodge a low
score. Only failures of the sandbox itself are not applicable.

Example:
    >>> sandbox = Sandbox(SandboxLimits(wall_seconds=5))
    >>> sandbox.run("print(input()[::-1])", stdin="abc").stdout
    'cba\\n'
    >>> sandbox.run("while True: pass", limits=SandboxLimits(wall_seconds=0.5)).status
    'timeout'
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import queue
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import BatchError, CompositionError
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.verify.text import completion_text

__all__ = ["CodeTests", "ExecutionResult", "Sandbox", "SandboxLimits", "extract_code"]

_LAUNCHER = str(Path(__file__).with_name("_sandbox_launch.py"))
#: first uid of the per-slot unprivileged users (when running as root)
BASE_UID = 61000
_FENCE = re.compile(r"```(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)

RunStatus = Literal["ok", "runtime_error", "timeout", "output_limit", "sandbox_error"]


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one program run.

    Attributes:
        wall_seconds: wall-clock limit; the program is killed after it.
        cpu_seconds: CPU-time limit (RLIMIT_CPU).
        memory_mb: address-space limit (RLIMIT_AS).
        max_processes: processes the slot's uid may have (RLIMIT_NPROC, as root).
        max_output_bytes: stdout/stderr file-size limit (RLIMIT_FSIZE).
    """

    wall_seconds: float = 5.0
    cpu_seconds: int = 5
    memory_mb: int = 512
    max_processes: int = 32
    max_output_bytes: int = 1_000_000

    def __post_init__(self) -> None:
        for field_name in (
            "wall_seconds",
            "cpu_seconds",
            "memory_mb",
            "max_processes",
            "max_output_bytes",
        ):
            if getattr(self, field_name) <= 0:
                raise CompositionError(f"SandboxLimits.{field_name} must be positive")


@dataclass(frozen=True)
class ExecutionResult:
    """What one run did."""

    status: RunStatus
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float


class Sandbox:
    """Runs Python programs under limits, several at a time.

    Args:
        limits: default limits per run.
        slots: concurrent runs (default: CPU count).
        python: interpreter for the programs. Default: this one, or, as root,
            the first Python that an unprivileged uid can run (a pyenv under
            /root cannot be).
    """

    _isolation_cache: ClassVar[dict[str, dict[str, bool]]] = {}

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        slots: int | None = None,
        python: str | None = None,
    ) -> None:
        self.limits = limits or SandboxLimits()
        self.slots = slots or (os.cpu_count() or 1)
        self._root = os.geteuid() == 0
        self.python = python or _default_python(self._root)
        self._free: queue.Queue[int] = queue.Queue()
        for slot in range(self.slots):
            self._free.put(slot)

    @property
    def _drop_uid(self) -> bool:
        return self._root and _world_executable(self.python)

    @property
    def isolation(self) -> dict[str, bool]:
        """Which isolation steps this machine permits (probed once per interpreter).

        Keys: ``network_namespace``, ``separate_uid``, ``rlimits``. A False
        value means weaker isolation than documented; say so to your users.
        """
        if self.python not in self._isolation_cache:
            config = self._config(0, "", "", self.limits) | {"report": True}
            try:
                done = subprocess.run(
                    [self.python, "-I", "-S", _LAUNCHER, json.dumps(config)],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=True,
                )
                report = json.loads(done.stdout)
            except (subprocess.SubprocessError, json.JSONDecodeError, OSError):
                report = {"network_namespace": False, "separate_uid": False, "rlimits": False}
            self._isolation_cache[self.python] = report
        return dict(self._isolation_cache[self.python])

    def _config(
        self, slot: int, workdir: str, program: str, limits: SandboxLimits
    ) -> dict[str, Any]:
        return {
            "cpu_seconds": int(limits.cpu_seconds),
            "memory_bytes": int(limits.memory_mb) * 1024 * 1024,
            "file_bytes": int(limits.max_output_bytes),
            "max_processes": int(limits.max_processes),
            "uid": BASE_UID + slot if self._drop_uid else None,
            "workdir": workdir,
            "program": program,
            "python": self.python,
        }

    def _kill_slot(self, slot: int, process: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, 9)
        if not self._drop_uid:
            return
        # Processes that left the session still belong to the slot's uid. A fork
        # bomb can create processes while kill(-1) walks the list: repeat until
        # none is alive.
        uid = BASE_UID + slot
        deadline = time.monotonic() + 2.0
        while _live_processes(uid) and time.monotonic() < deadline:
            subprocess.run(
                ["kill", "-9", "-1"], user=uid, group=uid, capture_output=True, check=False
            )

    def run(
        self, source: str, stdin: str = "", limits: SandboxLimits | None = None
    ) -> ExecutionResult:
        """Run ``source`` with ``stdin``; never raises for the program's behaviour."""
        limits = limits or self.limits
        slot = self._free.get()
        workdir = tempfile.mkdtemp(prefix="rewardkit-sandbox-")
        start = time.monotonic()
        try:
            return self._run_in(slot, workdir, source, stdin, limits, start)
        except OSError as exc:
            return ExecutionResult("sandbox_error", None, "", str(exc), time.monotonic() - start)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            self._free.put(slot)

    def _run_in(
        self, slot: int, workdir: str, source: str, stdin: str, limits: SandboxLimits, start: float
    ) -> ExecutionResult:
        program = os.path.join(workdir, "program.py")
        Path(program).write_text(source, encoding="utf-8")
        Path(workdir, "stdin.txt").write_text(stdin, encoding="utf-8")
        if self._drop_uid:
            uid = BASE_UID + slot
            os.chown(workdir, uid, uid)
            os.chown(program, uid, uid)
        config = self._config(slot, workdir, program, limits)
        with (
            open(os.path.join(workdir, "stdin.txt"), "rb") as stdin_file,
            tempfile.TemporaryFile() as out_file,
            tempfile.TemporaryFile() as err_file,
        ):
            process = subprocess.Popen(
                [self.python, "-I", "-S", _LAUNCHER, json.dumps(config)],
                stdin=stdin_file,
                stdout=out_file,
                stderr=err_file,
                start_new_session=True,
                close_fds=True,
            )
            timed_out = False
            try:
                process.wait(timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
            self._kill_slot(slot, process)
            process.wait()
            stdout, out_size = _read_capped(out_file, limits.max_output_bytes)
            stderr, _ = _read_capped(err_file, 64_000)
        seconds = time.monotonic() - start
        returncode = process.returncode
        if timed_out or returncode in (-9, -24):  # SIGKILL by us, SIGXCPU by the CPU limit
            return ExecutionResult("timeout", None, stdout, stderr, seconds)
        if returncode == -25 or out_size >= limits.max_output_bytes:  # SIGXFSZ
            return ExecutionResult("output_limit", returncode, stdout, stderr, seconds)
        status: RunStatus = "ok" if returncode == 0 else "runtime_error"
        return ExecutionResult(status, returncode, stdout, stderr, seconds)

    def run_many(
        self, jobs: Sequence[tuple[str, str]], limits: SandboxLimits | None = None
    ) -> list[ExecutionResult]:
        """Run (source, stdin) jobs concurrently, ``slots`` at a time; results in order."""
        with ThreadPoolExecutor(max_workers=self.slots) as executor:
            return list(executor.map(lambda job: self.run(job[0], job[1], limits), jobs))


def _live_processes(uid: int) -> bool:
    """True if a non-zombie process of ``uid`` exists (read from /proc)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)] and not fields.get(
            "State", ""
        ).strip().startswith(("Z", "X")):
            return True
    return False


def _world_executable(path: str) -> bool:
    """True if any user can execute ``path`` (every parent directory is o+x)."""
    real = Path(os.path.realpath(path))
    try:
        if not real.stat().st_mode & 0o001:
            return False
        return all(parent.stat().st_mode & 0o001 for parent in real.parents)
    except OSError:
        return False


def _default_python(root: bool) -> str:
    if not root or _world_executable(sys.executable):
        return sys.executable
    for candidate in ("/usr/bin/python3", shutil.which("python3") or ""):
        if candidate and _world_executable(candidate):
            return candidate
    return sys.executable  # runs, but without the separate uid (see Sandbox.isolation)


def _read_capped(handle: Any, limit: int) -> tuple[str, int]:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(0)
    return handle.read(limit).decode("utf-8", errors="replace"), size


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
    """

    columns = ("completion", "tests")

    def __init__(
        self,
        mode: Literal["pass_rate", "all_pass"] = "pass_rate",
        wall_seconds: float = 5.0,
        memory_mb: int = 512,
        slots: int | None = None,
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

    def _compute(self, batch: Batch) -> RewardOutput:
        sandbox = Sandbox(self.limits, slots=self.slots)
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
