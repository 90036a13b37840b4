"""SandboxFusion's ``/run_code`` API, as verl's ``sandbox_fusion`` reward path calls it.

verl (``verl/utils/reward_score/sandbox_fusion/utils.py``, 0.9.1) posts one
program and one stdin per test case::

    {"code": ..., "stdin": ..., "language": "python" | "cpp" | "nodejs" | "java" | ...,
     "compile_timeout": s, "run_timeout": s, "memory_limit_MB": mb,
     "files": {}, "fetch_files": []}

and reads ``status`` ("Success", "Failed" or "SandboxError"),
``compile_result`` and ``run_result`` (each ``status`` "Finished", "Error" or
"TimeLimitExceeded", ``execution_time``, ``return_code``, ``stdout``,
``stderr``). ``rewardkit serve --sandbox-fusion`` answers that request from
rewardkit's sandbox (full isolation, warm workers), so a verl user sets
``reward_model.sandbox_fusion.url=http://host:port/run_code``. Timeouts and
memory are capped by the server (``sandbox_max_seconds``,
``sandbox_max_memory_mb``); ``files`` and ``fetch_files`` are refused unless
empty, since programs here get no files in and none out.

Example:
    >>> from rewardkit.verify.sandbox import Sandbox, SandboxLimits
    >>> request = RunCodeRequest(code="print(input()[::-1])", stdin="abc", language="python")
    >>> answer = run_code(Sandbox(SandboxLimits(wall_seconds=5)), request)
    >>> answer["status"], answer["run_result"]["stdout"]
    ('Success', 'cba\\n')
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rewardkit.verify.code_judge import StepResult, run_program
from rewardkit.verify.code_languages import LANGUAGES
from rewardkit.verify.sandbox import Sandbox, SandboxLimits

__all__ = ["LANGUAGE_NAMES", "RunCodeRequest", "run_code"]

#: SandboxFusion's language names → rewardkit's
LANGUAGE_NAMES = {"python": "python", "cpp": "cpp", "c": "c", "nodejs": "javascript",
                  "javascript": "javascript", "java": "java"}  # fmt: skip


class RunCodeRequest(BaseModel):
    """The body of ``POST /run_code`` (SandboxFusion's ``RunCodeRequest``)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    code: str
    language: str = "python"
    stdin: str | None = None
    compile_timeout: float = Field(default=10.0, gt=0)
    run_timeout: float = Field(default=10.0, gt=0)
    memory_limit_mb: int = Field(default=-1, alias="memory_limit_MB")
    files: dict[str, Any] = Field(default_factory=dict)
    fetch_files: list[str] = Field(default_factory=list)


def _command(step: StepResult | None) -> dict[str, Any] | None:
    if step is None:
        return None
    status = {"ok": "Finished", "runtime_error": "Finished", "timeout": "TimeLimitExceeded"}
    return {
        "status": status.get(step.status, "Error"),
        "execution_time": step.seconds,
        "return_code": step.returncode,
        "stdout": step.stdout,
        "stderr": step.stderr,
    }


def run_code(
    sandbox: Sandbox,
    request: RunCodeRequest,
    max_seconds: float = 30.0,
    max_memory_mb: int = 2048,
) -> dict[str, Any]:
    """SandboxFusion's ``RunCodeResponse`` for ``request``, run in ``sandbox``."""
    language = LANGUAGE_NAMES.get(request.language)
    if language is None or language not in LANGUAGES:
        return _sandbox_error(f"language {request.language!r} is not served here; served: "
                              f"{', '.join(sorted(LANGUAGE_NAMES))}")  # fmt: skip
    if request.files or request.fetch_files:
        return _sandbox_error("files and fetch_files are not supported: programs get none")
    memory = max_memory_mb if request.memory_limit_mb <= 0 else min(request.memory_limit_mb,
                                                                    max_memory_mb)  # fmt: skip
    limits = SandboxLimits(
        wall_seconds=min(request.run_timeout, max_seconds),
        cpu_seconds=max(1, int(min(request.run_timeout, max_seconds)) + 1),
        memory_mb=memory,
    )
    try:
        run = run_program(sandbox, request.code, request.stdin or "", language, limits,
                          compile_seconds=min(request.compile_timeout, max_seconds))  # fmt: skip
    except Exception as exc:  # a missing toolchain, a bug of ours: the client sees SandboxError
        return _sandbox_error(f"{type(exc).__name__}: {exc}")
    if run.problem is not None:
        return _sandbox_error(run.problem)
    compiled, ran = _command(run.compiled), _command(run.ran)
    succeeded = ran is not None and run.ran is not None and run.ran.status == "ok"
    return {
        "status": "Success" if succeeded else "Failed",
        "message": "" if succeeded else _why(run.compiled, run.ran),
        "compile_result": compiled,
        "run_result": ran,
        "executor_pod_name": None,
        "files": {},
    }


def _why(compiled: StepResult | None, ran: StepResult | None) -> str:
    if ran is None and compiled is not None:
        return f"compile {compiled.status}"
    return ran.status if ran is not None else "no result"


def _sandbox_error(message: str) -> dict[str, Any]:
    return {"status": "SandboxError", "message": message, "compile_result": None,
            "run_result": None, "executor_pod_name": None, "files": {}}  # fmt: skip
