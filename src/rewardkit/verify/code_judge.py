"""Run a :class:`~rewardkit.verify.code_formats.JudgeJob` in the sandbox and read its verdicts.

The sandboxed program is :mod:`rewardkit.verify._code_harness` (its text, with
the program to test embedded); the tests and a fresh nonce go on stdin, which
only the harness's pid 1 can read. The report is trusted only after that nonce.

Example:
    >>> from rewardkit.verify.code_formats import assert_job
    >>> from rewardkit.verify.sandbox import Sandbox, SandboxLimits
    >>> sandbox = Sandbox(SandboxLimits(wall_seconds=5))
    >>> verdict = judge(sandbox, "def f(x):\\n    return x * 2\\n",
    ...                 assert_job(["assert f(2) == 4", "assert f(3) == 9"]))
    >>> verdict.passed, verdict.message
    ([True, False], 'test 2/2: failed: assert f(3) == 9: expected 9, got 6 from f(3)')
"""

from __future__ import annotations

import functools
import json
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rewardkit.verify._code_harness import CodecError, decode
from rewardkit.verify.code_formats import JudgeJob, same_output, same_value
from rewardkit.verify.code_pool import WorkerError, shared_pool
from rewardkit.verify.sandbox import ExecutionResult, RunStatus, Sandbox, SandboxLimits

__all__ = [
    "ProgramRun",
    "StepResult",
    "Verdict",
    "harness_program",
    "judge",
    "judge_many",
    "run_program",
]

VerdictStatus = Literal["ok", "timeout", "compile_error", "test_error", "sandbox_error"]
_HARNESS = Path(__file__).with_name("_code_harness.py")


@functools.lru_cache(maxsize=1)
def _harness_text() -> str:
    return _HARNESS.read_text(encoding="utf-8")


def harness_program(program: str | None) -> str:
    """The sandboxed source: the harness, then ``main(program)``."""
    return _harness_text() + f"\n\nmain({program!r})\n"


@dataclass(frozen=True)
class Verdict:
    """One sample's tests.

    Attributes:
        passed: per test, whether it passed (tests not run count as failed).
        status: "ok" (the program was judged: every test passed or failed),
            "timeout" (a test hit the time limit), "compile_error", "test_error"
            (the test itself is broken: not the program's fault), "sandbox_error".
        message: the first failing test and why, or the problem; None when all passed.
        seconds: wall time of the sandbox run.
        compile_seconds: time spent compiling (stdin/stdout programs in C, C++, Java).
    """

    passed: list[bool]
    status: VerdictStatus
    message: str | None
    seconds: float
    compile_seconds: float = 0.0

    @property
    def pass_rate(self) -> float:
        return sum(self.passed) / len(self.passed) if self.passed else 0.0


def _run_limits(job: JudgeJob, limits: SandboxLimits, compile_seconds: float) -> SandboxLimits:
    """Limits of the whole run: the per-test limits times the tests, plus compiling."""
    tests = max(1, job.units)
    return SandboxLimits(
        wall_seconds=limits.wall_seconds * tests + compile_seconds + 2.0,
        cpu_seconds=int(limits.cpu_seconds * tests + compile_seconds + 2),
        memory_mb=max(limits.memory_mb, int(job.spec.get("address_space_mb", 0))),
        max_processes=max(limits.max_processes, int(job.spec.get("max_processes", 0))),
        max_output_bytes=limits.max_output_bytes,
        scratch_mb=limits.scratch_mb,
    )


def _stdin(job: JudgeJob, nonce: str, limits: SandboxLimits, compile_seconds: float) -> str:
    spec = dict(job.spec, seconds=limits.wall_seconds, compile_seconds=compile_seconds)
    spec["cap"] = limits.max_output_bytes
    return nonce + "\n" + json.dumps(spec) + "\n"


def _report(result: ExecutionResult, nonce: str) -> dict[str, Any] | None:
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(nonce + " "):
            try:
                report = json.loads(line[len(nonce) + 1 :])
            except (json.JSONDecodeError, RecursionError):
                return None
            return report if isinstance(report, dict) else None
    return None


def _verdict(
    job: JudgeJob, result: ExecutionResult, report: dict[str, Any] | None, tolerance: float
) -> Verdict:
    units = job.units
    failed = [False] * units
    seconds = result.seconds
    if result.status == "sandbox_error":
        return Verdict(failed, "sandbox_error", f"sandbox error: {result.stderr[:200]}", seconds)
    if report is None:
        if result.status == "timeout":
            return Verdict(failed, "timeout", "time limit exceeded", seconds)
        why: str = result.status if result.status != "ok" else "no report"
        return Verdict(failed, "ok", f"the run ended without a verdict ({why})", seconds)
    if "problem" in report:
        return Verdict(failed, "test_error", str(report["problem"])[:500], seconds)
    if "compile_error" in report:
        return Verdict(
            failed, "compile_error", "compile error: " + str(report["compile_error"])[:500], seconds
        )
    rows = report.get("results")
    if not isinstance(rows, list) or len(rows) > units:
        return Verdict(failed, "ok", "the run ended without a verdict (bad report)", seconds)
    passed: list[bool] = []
    status: VerdictStatus = "ok"
    message: str | None = None
    for index, row in enumerate(rows):
        ok, why, row_status = _unit(job, index, row, tolerance)
        passed.append(ok)
        if row_status != "ok" and status == "ok":
            status = row_status
        if not ok and message is None:
            message = f"test {index + 1}/{units}: {why}" if units > 1 else why
    passed += [False] * (units - len(passed))
    if message is None and len(rows) < units:
        message = "the run ended before every test ran"
    compiled = report.get("compile_seconds", 0.0)
    compile_seconds = float(compiled) if isinstance(compiled, int | float) else 0.0
    return Verdict(passed, status, message, seconds, compile_seconds)


def _unit(job: JudgeJob, index: int, row: Any, tolerance: float) -> tuple[bool, str, VerdictStatus]:
    """(passed, why not, status) of one reported test."""
    if not isinstance(row, list) or not row or not isinstance(row[0], str):
        return False, "had no result", "ok"
    kind = row[0]
    detail = str(row[1]) if len(row) > 1 else ""
    if kind == "test_error":
        return False, detail, "test_error"
    if kind == "timeout":
        return False, detail or "time limit exceeded", "timeout"
    if job.spec["mode"] == "stdio":
        return _io_unit(job, index, row, tolerance)
    if kind != "pass":
        if kind == "raise":
            return False, f"{job.labels[index]} raised {detail}", "ok"
        return False, detail, "ok"
    if not job.expected:  # the judge decided (check, assert)
        return True, "", "ok"
    try:
        value = decode(row[2])
    except (CodecError, IndexError, RecursionError):
        return False, "returned a value that cannot be read", "ok"
    want = job.expected[index]
    if same_value(value, want, tolerance):
        return True, "", "ok"
    return False, f"{job.labels[index]}: expected {_short(want)}, got {_short(value)}", "ok"


def _io_unit(
    job: JudgeJob, index: int, row: list[Any], tolerance: float
) -> tuple[bool, str, VerdictStatus]:
    kind = row[0]
    out = str(row[1]) if len(row) > 1 else ""
    err = str(row[2]) if len(row) > 2 else ""
    if kind == "timeout":
        return False, "time limit exceeded", "timeout"
    if kind != "ok":
        last = err.strip().splitlines()[-1:] or [kind]
        return False, f"({job.labels[index]}) {kind}: {last[0][:200]}", "ok"
    want = job.expected[index]
    if same_output(out, want, tolerance):
        return True, "", "ok"
    return False, f"({job.labels[index]}) expected {_short(want)}, got {_short(out)}", "ok"


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def judge(
    sandbox: Sandbox,
    program: str,
    job: JudgeJob,
    limits: SandboxLimits | None = None,
    tolerance: float = 1e-6,
    compile_seconds: float = 30.0,
    warm: bool = True,
) -> Verdict:
    """Run ``program`` against ``job`` in ``sandbox``; per-test limits are ``limits``."""
    return judge_many(sandbox, [(program, job)], limits, tolerance, compile_seconds, warm)[0]


def _rlimits(job: JudgeJob, limits: SandboxLimits) -> dict[str, int]:
    """The program process's own limits in a warm worker (the job's, not the worker's)."""
    tests = max(1, job.units)
    return {
        "RLIMIT_AS": limits.memory_mb * 1024 * 1024,
        "RLIMIT_CPU": int(limits.cpu_seconds * tests + 1),
        "RLIMIT_FSIZE": limits.max_output_bytes,
        "RLIMIT_CORE": 0,
    }


def judge_many(
    sandbox: Sandbox,
    work: Sequence[tuple[str, JudgeJob]],
    limits: SandboxLimits | None = None,
    tolerance: float = 1e-6,
    compile_seconds: float = 30.0,
    warm: bool = True,
) -> list[Verdict]:
    """Judge (program, job) pairs concurrently, ``sandbox.slots`` at a time; in order.

    With ``warm`` (and full isolation) the jobs run on the shared warm workers
    (:mod:`rewardkit.verify.code_pool`); otherwise each starts a sandbox of its own.
    """
    runs = _execute(sandbox, work, limits, compile_seconds, warm)
    return [
        _verdict(job, result, report, tolerance)
        for (_, job), (result, report) in zip(work, runs, strict=True)
    ]


Run = tuple[ExecutionResult, dict[str, Any] | None]


def _execute(
    sandbox: Sandbox,
    work: Sequence[tuple[str, JudgeJob]],
    limits: SandboxLimits | None,
    compile_seconds: float,
    warm: bool,
) -> list[Run]:
    """Each job's sandbox run and the harness's report (None if it gave none)."""
    limits = limits or sandbox.limits
    if not work:
        return []
    compiles = [compile_seconds if job.spec["mode"] == "stdio" else 0.0 for _, job in work]
    run_limits = [_run_limits(job, limits, c) for (_, job), c in zip(work, compiles, strict=True)]
    for program, job in work:
        if job.spec["mode"] == "stdio":
            job.spec["program"] = program
            job.spec.setdefault("child_memory_bytes", limits.memory_mb * 1024 * 1024)
    if warm and sandbox.isolation == "full":
        return _execute_warm(sandbox, work, limits, run_limits, compiles)
    nonces = [secrets.token_hex(16) for _ in work]
    runs: list[tuple[str, str, SandboxLimits]] = []
    for (program, job), nonce, seconds, run_limit in zip(
        work, nonces, compiles, run_limits, strict=True
    ):
        embedded = None if job.spec["mode"] == "stdio" else program
        runs.append((harness_program(embedded), _stdin(job, nonce, limits, seconds), run_limit))
    with ThreadPoolExecutor(max_workers=sandbox.slots) as executor:
        results = list(
            executor.map(lambda run: sandbox.run(run[0], run[1], run[2], as_init=True), runs)
        )
    return [(result, _report(result, nonce)) for result, nonce in zip(results, nonces, strict=True)]


def _execute_warm(
    sandbox: Sandbox,
    work: Sequence[tuple[str, JudgeJob]],
    limits: SandboxLimits,
    run_limits: list[SandboxLimits],
    compiles: list[float],
) -> list[Run]:
    worker_limits = SandboxLimits(
        wall_seconds=limits.wall_seconds,
        memory_mb=max(r.memory_mb for r in run_limits),
        max_processes=max(r.max_processes for r in run_limits),
        max_output_bytes=limits.max_output_bytes,
        scratch_mb=limits.scratch_mb,
    )
    pool = shared_pool(sandbox, worker_limits, sandbox.slots)

    def one(index: int) -> Run:
        program, job = work[index]
        spec = dict(job.spec, seconds=limits.wall_seconds, compile_seconds=compiles[index])
        spec["cap"] = limits.max_output_bytes
        request = {
            "program": None if job.spec["mode"] == "stdio" else program,
            "spec": spec,
            "rlimits": _rlimits(job, limits),
        }
        start = time.monotonic()
        try:
            report = pool.run(request, timeout=run_limits[index].wall_seconds + 5.0)
        except WorkerError as exc:
            status: RunStatus = "timeout" if "hung" in str(exc) else "sandbox_error"
            return ExecutionResult(status, None, "", str(exc), time.monotonic() - start), None
        return ExecutionResult("ok", 0, "", "", time.monotonic() - start), report

    with ThreadPoolExecutor(max_workers=pool.slots) as executor:
        return list(executor.map(one, range(len(work))))


@dataclass(frozen=True)
class StepResult:
    """One command of a program run (compiling it, or running it), as a sandbox reports it.

    ``status`` is "ok", "runtime_error", "timeout" or "error" (the tool could not start).
    """

    status: str
    seconds: float
    returncode: int | None
    stdout: str
    stderr: str


@dataclass(frozen=True)
class ProgramRun:
    """What :func:`run_program` saw: the compile step (None for interpreted languages),
    the run (None when compiling failed), or the sandbox's own failure in ``problem``."""

    compiled: StepResult | None
    ran: StepResult | None
    problem: str | None = None


def run_program(
    sandbox: Sandbox,
    program: str,
    stdin: str = "",
    language: str = "python",
    limits: SandboxLimits | None = None,
    compile_seconds: float = 30.0,
    warm: bool = True,
) -> ProgramRun:
    """Compile (where needed) and run ``program`` once on ``stdin``; nothing is judged.

    Example:
        >>> from rewardkit.verify.sandbox import Sandbox, SandboxLimits
        >>> run = run_program(Sandbox(SandboxLimits(wall_seconds=5)), "print(input() * 2)", "ab")
        >>> run.ran.status, run.ran.stdout
        ('ok', 'abab\\n')
    """
    from rewardkit.verify.code_formats import io_job

    limits = limits or sandbox.limits
    job = io_job([{"input": stdin, "output": ""}], program, language, limits.memory_mb)
    job.spec["full_stderr"] = True
    ((result, report),) = _execute(sandbox, [(program, job)], limits, compile_seconds, warm)
    if report is None:
        if result.status == "timeout":
            timed_out = StepResult("timeout", result.seconds, None, "", "")
            return ProgramRun(None, timed_out)
        return ProgramRun(None, None, f"sandbox error: {result.stderr[:300] or result.status}")
    if "problem" in report:
        return ProgramRun(None, None, str(report["problem"]))
    compiled = None
    if isinstance(report.get("compile"), list) and len(report["compile"]) == 4:
        status, err, took, code = report["compile"]
        compiled = StepResult(str(status), float(took), code, "", str(err))
    rows = report.get("results") or []
    if not rows:
        return ProgramRun(compiled, None)
    status, out, err, took, code = rows[0]
    return ProgramRun(compiled, StepResult(str(status), float(took), code, str(out), str(err)))
