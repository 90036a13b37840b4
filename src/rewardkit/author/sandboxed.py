"""Model-written functions, run only in the sandbox: one program per batch of rows.

The loops of :mod:`rewardkit.author` get Python source from a chat model and must never run
it in this process. :func:`run_function` compiles the source here (:func:`compile` and
:mod:`ast` run nothing: a syntax error and a missing function are found without a sandbox),
then appends a small harness and runs the whole program once in
:class:`~rewardkit.verify.sandbox.Sandbox` (no network, a separate uid, a private
filesystem, CPU, memory and wall-clock limits). The harness reads the rows as JSON on
stdin, calls ``entry(*row)`` for each and prints one line, prefixed by a random marker
(so the function's own prints do not confuse it): for every row its value, or its
exception, or why its output is not a number. One row's failure never costs the others
their values. Back here the values are checked: one per row, finite, and for
``vector=True`` all of one length, an (N, k) array.

Every outcome is a :class:`SandboxRun` status, never an exception: ``ok``,
``syntax_error``, ``no_function``, ``runtime_error``, ``timeout``, ``bad_output`` (a
non-number, NaN/inf, ragged rows), ``bad_input`` (a row that is not JSON) or
``sandbox_error`` (the machine's fault). Where the program ran to its end, the run also
holds each row's value and each row's error (:attr:`SandboxRun.row_values`,
:attr:`SandboxRun.row_errors`); a timeout or crash of the whole program has none.

Example:
    >>> sandbox = Sandbox(SandboxLimits(wall_seconds=5))
    >>> run = run_function(sandbox, "def f(x):\\n    return 2 * x\\n", "f", [[1], [2.5]])
    >>> run.status, run.values.tolist()
    ('ok', [2.0, 5.0])
    >>> run_function(sandbox, "def f(x):\\n    return x / 0\\n", "f", [[1]]).message
    'row 0: ZeroDivisionError: division by zero'
    >>> run = run_function(sandbox, "def f(x):\\n    return 1 / x\\n", "f", [[2], [0], [4]])
    >>> run.status, run.values, run.row_values.tolist(), run.row_errors[1]
    ('runtime_error', None, [0.5, nan, 0.25], 'row 1: ZeroDivisionError: division by zero')
    >>> run_function(sandbox, "def f(x):\\n    return [x, x]\\n", "f", [[1]], vector=True).values
    array([[1., 1.]])
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

import numpy as np

from rewardkit.core.output import RewardOutput, Status, failed_output
from rewardkit.judge.client import ChatRequest, JudgeFailure, Reply
from rewardkit.verify.code import extract_code
from rewardkit.verify.sandbox import Isolation, Sandbox, SandboxLimits

__all__ = [
    "CODE_STOP",
    "ChatModel",
    "ReplyCheck",
    "RunStatus",
    "SandboxRun",
    "SandboxSettings",
    "ask",
    "attempt_counts",
    "batch_limits",
    "check_reply",
    "code_params",
    "example_block",
    "extract_program",
    "find_function",
    "jsonable",
    "reward_stats",
    "run_function",
]

RunStatus = Literal[
    "ok", "syntax_error", "no_function", "runtime_error", "timeout", "bad_output", "bad_input",
    "sandbox_error",
]  # fmt: skip


class ChatModel(Protocol):
    """What the loops need of a model: :meth:`~rewardkit.judge.client.JudgeClient.run`."""

    def run(self, requests: Sequence[ChatRequest]) -> list[Reply | JudgeFailure]: ...


_HARNESS = """

def __rewardkit_run():
    import json, sys, traceback
    marker, entry, vector = {marker!r}, {entry!r}, {vector!r}
    function = globals()[entry]

    def bad(index, value):
        try:
            shown = "%.80r" % (value,)
        except Exception:
            shown = "?"
        return {{"bad": "row %d returned %s: %s" % (index, type(value).__name__, shown)}}

    out = []
    for index, row in json.loads(sys.stdin.read()):
        try:
            value = function(*row)
        except (Exception, SystemExit) as exc:
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            out.append({{"error": "row %d: %s" % (index, text)}})
            continue
        try:
            plain = value.tolist() if hasattr(value, "tolist") else value
            items = list(plain) if vector and isinstance(plain, (list, tuple)) else [plain]
            if not all(isinstance(v, (int, float)) for v in items):
                raise TypeError
            out.append([float(v) for v in items] if vector else float(items[0]))
        except Exception:
            out.append(bad(index, value))
    sys.stdout.flush()
    print("\\n" + marker + json.dumps(out))


__rewardkit_run()
"""


@dataclass(frozen=True)
class SandboxRun:
    """What running generated code over rows gave.

    Attributes:
        status: "ok" (every row gave a value), or why not ("runtime_error",
            "timeout", "bad_output", "bad_input", ...): the first failed row's kind
            where rows failed one by one.
        values: (N,) floats, or (N, k) for vector outputs; None unless ``status == "ok"``.
        message: what went wrong, for the model to read ("" when ok): the first failed
            row's message, and how many more failed.
        seconds: the sandbox's wall time.
        row_values: each row's value, NaN (a row of NaN) where that row failed; None
            where no row has a value of its own (a timeout, a crash of the whole
            program, a syntax error).
        row_errors: for each row, None or why it has no value; () with no ``row_values``.
    """

    status: RunStatus
    values: np.ndarray | None
    message: str
    seconds: float
    row_values: np.ndarray | None = None
    row_errors: tuple[str | None, ...] = ()

    def row_messages(self, count: int) -> list[str | None]:
        """Per row: None where it has a value, else why not (the whole run's failure,
        for every row, where the program did not run to its end)."""
        if self.row_values is not None:
            return list(self.row_errors)
        return [f"{self.status}: {self.message}"] * count

    def output(self, count: int) -> RewardOutput:
        """A scalar run as ``count`` samples' rewards: each row's value, or its failure
        (status ``timeout`` for a whole run past its time limit, ``error`` otherwise)."""
        if self.row_values is None:
            status = Status.TIMEOUT if self.status == "timeout" else Status.ERROR
            return failed_output(count, status, f"{self.status}: {self.message}")
        failed = np.array([m is not None for m in self.row_errors], dtype=bool)
        codes = np.where(failed, Status.ERROR, Status.OK).astype(np.int8)
        return RewardOutput(np.where(failed, np.nan, self.row_values), {}, codes, self.row_errors)


@dataclass(frozen=True)
class SandboxSettings:
    """What defines a :class:`~rewardkit.verify.sandbox.Sandbox`, in a picklable form.

    A sandbox holds a queue and leases, so it does not pickle; a term that holds one
    pickles these settings instead and rebuilds the same sandbox from them. ``python``
    and ``slots`` are None where they were this machine's defaults (the caller's
    interpreter, the CPU count), so a copy on another machine takes that one's.

    Example:
        >>> sandbox = Sandbox(SandboxLimits(wall_seconds=3), slots=2, isolation="full")
        >>> settings = SandboxSettings.of(sandbox)
        >>> rebuilt = settings.build()
        >>> rebuilt.limits.wall_seconds, rebuilt.slots, rebuilt.isolation
        (3, 2, 'full')
    """

    limits: SandboxLimits
    slots: int | None = None
    python: str | None = None
    isolation: Isolation = "full"
    binds: tuple[str, ...] = ()
    kind: type[Sandbox] = Sandbox

    @classmethod
    def of(cls, sandbox: Sandbox) -> SandboxSettings:
        """The settings ``sandbox`` was built with."""
        python = None if sandbox.python == os.path.abspath(sys.executable) else sandbox.python
        slots = None if sandbox.slots == (os.cpu_count() or 1) else sandbox.slots
        return cls(
            sandbox.limits, slots, python, sandbox.isolation, tuple(sandbox.binds), type(sandbox)
        )

    def build(self) -> Sandbox:
        """A sandbox with these settings (it checks its isolation again, here)."""
        return self.kind(
            self.limits,
            slots=self.slots,
            python=self.python,
            isolation=self.isolation,
            binds=self.binds,
        )


def jsonable(value: Any) -> Any:
    """``value`` with numpy arrays and scalars turned into lists and Python numbers."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


_OPENING = re.compile(r"```(?:python|py|python3)?[ \t]*\n", re.IGNORECASE)


def extract_program(text: str) -> tuple[str | None, bool]:
    """The code of a reply, and whether its block was left open (the reply was cut off).

    The last closed ```python (or untagged) block, as
    :func:`~rewardkit.verify.code.extract_code` reads it. Failing that, a block opened but
    never closed (the reply hit ``max_tokens``, or a server dropped the stop string): all
    of it if it compiles, else all but its last top-level statement (the one the cut went
    through) if that compiles, else all of it, to fail the syntax check. Nothing is
    written in, and an error before the cut is never trimmed away. Returns
    (code, left open), or (None, False) without any block.

    Example:
        >>> extract_program("```python\\ndef f(x):\\n    return x\\n\\ndef g(y):\\n    return (y")
        ('def f(x):\\n    return x\\n', True)
    """
    closed = extract_code(text)
    if closed is not None:
        return closed, False
    openings = list(_OPENING.finditer(text))
    body = text[openings[-1].end() :] if openings else ""
    if not body.strip():
        return None, False
    if _compiles(body):
        return body, True
    lines = body.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() and not line[0].isspace()]
    prefix = "".join(lines[: starts[-1]]) if starts else ""
    if prefix.strip() and _compiles(prefix):
        return prefix.rstrip() + "\n", True
    return body, True


def _compiles(code: str) -> bool:
    try:
        compile(code, "<generated>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def find_function(code: str, entry: str) -> tuple[str | None, str]:
    """The function to call, ``entry`` or else the code's only function, and why not.

    Compiles ``code`` (nothing runs): (name, "") or (None, the problem).

    Example:
        >>> find_function("def score(obs):\\n    return 1\\n", "reward")
        ('score', '')
        >>> find_function("def reward(:", "reward")[1][:12]
        'SyntaxError:'
    """
    try:
        compile(code, "<generated>", "exec", dont_inherit=True)
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    names = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    if entry in names:
        return entry, ""
    if len(names) == 1:
        return names[0], ""
    return None, f"no function named {entry!r} (found {names or 'none'})"


def run_function(
    sandbox: Sandbox,
    code: str,
    entry: str,
    rows: Sequence[Sequence[Any]],
    *,
    vector: bool = False,
    limits: SandboxLimits | None = None,
    width: int | None = None,
) -> SandboxRun:
    """Run ``entry(*row)`` for every row in ONE sandboxed program; never raises.

    Each row must be JSON-able after numpy values become lists; a row that is not is
    ``bad_input`` and does not run (the others do). Scalar mode wants a number per row;
    ``vector=True`` a list of numbers per row, all of one length (a number counts as a
    list of one), or of ``width`` where given (then a row of another length fails alone).
    A row that raises, returns a non-number or a non-finite value fails alone too.
    """
    name, problem = find_function(code, entry)
    if name is None:
        kind: RunStatus = "no_function" if problem.startswith("no function") else "syntax_error"
        return SandboxRun(kind, None, problem, 0.0)
    texts, problems = _payloads(rows)
    sent = [index for index, text in enumerate(texts) if text is not None]
    if not sent:
        return _assembled({}, problems, vector, width, 0.0)
    marker = f"@@rewardkit-{secrets.token_hex(8)}@@"
    program = code + _HARNESS.format(marker=marker, entry=name, vector=vector)
    stdin = "[" + ",".join(f"[{index}, {texts[index]}]" for index in sent) + "]"
    run = sandbox.run(program, stdin=stdin, limits=limits)
    if run.status == "timeout":
        return SandboxRun("timeout", None, "the code ran past its time limit", run.seconds)
    if run.status in ("sandbox_error", "output_limit"):
        kind = "sandbox_error" if run.status == "sandbox_error" else "bad_output"
        return SandboxRun(kind, None, f"{run.status}: {run.stderr.strip()[-300:]}", run.seconds)
    found = [line for line in run.stdout.splitlines() if line.startswith(marker)]
    if not found:
        last = (run.stderr.strip().splitlines() or ["the program printed no result"])[-1]
        return SandboxRun("runtime_error", None, last[:300], run.seconds)
    try:  # the program could print the marker itself: its line is read, never trusted
        answer = json.loads(found[-1][len(marker) :])
    except ValueError as exc:
        return SandboxRun("bad_output", None, f"unreadable result: {exc}"[:300], run.seconds)
    if not isinstance(answer, list) or len(answer) != len(sent):
        size = len(answer) if isinstance(answer, list) else "no list of"
        message = f"unreadable result: {size} outputs for {len(sent)} rows"
        return SandboxRun("bad_output", None, message, run.seconds)
    return _assembled(dict(zip(sent, answer, strict=True)), problems, vector, width, run.seconds)


def _payloads(rows: Sequence[Sequence[Any]]) -> tuple[list[str | None], list[str | None]]:
    """Each row's arguments as JSON, or (None and) why they cannot be."""
    texts: list[str | None] = []
    problems: list[str | None] = []
    for index, row in enumerate(rows):
        try:
            texts.append(json.dumps(jsonable(list(row))))
            problems.append(None)
        except (TypeError, ValueError, RecursionError, OverflowError) as exc:
            texts.append(None)
            problems.append(f"row {index}: not JSON ({type(exc).__name__}: {exc})"[:300])
    return texts, problems


_Row = tuple[Any, str | None, RunStatus | None]


def _read_row(index: int, item: Any, vector: bool, width: int | None) -> _Row:
    """One row's value, or (None, why not, the kind of failure)."""
    if isinstance(item, dict):
        if "error" in item:
            return None, str(item["error"])[:300], "runtime_error"
        return None, str(item.get("bad", f"row {index}: unreadable result"))[:300], "bad_output"
    try:
        value = np.asarray(item, dtype=np.float64)
    except (TypeError, ValueError):
        return None, f"row {index}: unreadable result", "bad_output"
    if value.ndim != (1 if vector else 0) or (vector and value.size == 0):
        return None, f"row {index}: returned no number list", "bad_output"
    if width is not None and value.size != width:
        return None, f"row {index} returned {value.size} values, expected {width}", "bad_output"
    if not np.isfinite(value).all():
        return None, f"row {index}: non-finite output {value.tolist()}", "bad_output"
    return value, None, None


def _assembled(
    results: Mapping[int, Any],
    problems: Sequence[str | None],
    vector: bool,
    width: int | None,
    seconds: float,
) -> SandboxRun:
    """The run from each sent row's result and each unsent row's problem."""
    count = len(problems)
    errors = list(problems)
    kinds: list[RunStatus | None] = ["bad_input" if p else None for p in problems]
    values: dict[int, np.ndarray] = {}
    for index, item in results.items():
        value, errors[index], kinds[index] = _read_row(index, item, vector, width)
        if value is not None:
            values[index] = value
    widths = sorted({v.size for v in values.values()}) if vector else []
    if len(widths) > 1:
        return SandboxRun("bad_output", None, f"rows of different lengths {widths}", seconds)
    shape = (count, width or (widths[0] if widths else 0)) if vector else (count,)
    table = np.full(shape, np.nan)
    for index, value in values.items():
        table[index] = value
    failed = [index for index, kind in enumerate(kinds) if kind is not None]
    if not failed:
        return SandboxRun("ok", table, "", seconds, table, tuple(errors))
    more = f" (and {len(failed) - 1} more rows)" if len(failed) > 1 else ""
    first = failed[0]
    kind = cast(RunStatus, kinds[first])
    return SandboxRun(kind, None, f"{errors[first]}{more}", seconds, table, tuple(errors))


def reward_stats(values: np.ndarray) -> dict[str, float]:
    """count, mean, std, min, max and the share of non-zero values."""
    return {
        "count": float(values.size),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "nonzero": float(np.mean(values != 0)),
    }


@dataclass(frozen=True)
class ReplyCheck:
    """A reply, checked: the attempt's fields (``reply``, ``code``, ``truncated``,
    ``compiled``, ``ran``, ``finite``), the outcome (``judge_failure``, ``no_code`` or a
    :data:`RunStatus`), its message, and the values when the outcome is ``ok``."""

    fields: dict[str, Any]
    status: str
    message: str
    values: np.ndarray | None


def check_reply(
    sandbox: Sandbox,
    reply: Reply | JudgeFailure,
    entry: str,
    rows: Sequence[Sequence[Any]],
    *,
    vector: bool = False,
    limits: SandboxLimits | None = None,
) -> ReplyCheck:
    """Extract a reply's code (:func:`extract_program`) and run it on ``rows``."""
    if isinstance(reply, JudgeFailure):
        return ReplyCheck({"reply": ""}, "judge_failure", reply.reason, None)
    code, truncated = extract_program(reply.text)
    fields: dict[str, Any] = {"reply": reply.text, "code": code, "truncated": truncated}
    if code is None:
        return ReplyCheck(fields, "no_code", "the reply has no code block", None)
    run = run_function(sandbox, code, entry, rows, vector=vector, limits=limits)
    fields.update(compiled=run.status not in ("syntax_error", "no_function"),
                  ran=run.status in ("ok", "bad_output"), finite=run.status == "ok")  # fmt: skip
    return ReplyCheck(fields, run.status, run.message, run.values)


#: a stop string that ends a reply at its code block's closing fence (HF servers keep it)
CODE_STOP = "```\n\n"


def batch_limits(wall_seconds: float, memory_mb: int) -> SandboxLimits:
    """The limits of one batch: ``wall_seconds`` (CPU: its ceiling), ``memory_mb``, and room
    for a large batch's output (64 MB)."""
    cpu = max(1, math.ceil(wall_seconds)) if math.isfinite(wall_seconds) else 1
    return SandboxLimits(wall_seconds, cpu, memory_mb, max_output_bytes=64_000_000)


def example_block(example: str | None) -> str:
    """The prompt's lines showing ``example`` as the format to follow ("" for None)."""
    if not example:
        return ""
    return f"An example of the format, for a different task:\n```python\n{example}```\n\n"


def ask(
    model: ChatModel, text: str, system: str | None, seed: int | None, **params: Any
) -> Reply | JudgeFailure:
    """One request to ``model`` (with ``seed`` where not None, and ``params``): its reply."""
    seeded = {} if seed is None else {"seed": seed}
    return model.run([ChatRequest.user(text, system=system, **seeded, **params)])[0]


def code_params(temperature: float | None, stop_after_code: bool) -> dict[str, Any]:
    """The parameters of a request for code: its temperature and the :data:`CODE_STOP`."""
    params: dict[str, Any] = {} if temperature is None else {"temperature": temperature}
    return {**params, "stop": [CODE_STOP]} if stop_after_code else params


def attempt_counts(attempts: Sequence[Any]) -> dict[str, int]:
    """How many attempts had code, compiled, ran, gave finite numbers, passed the checks."""
    return {
        "attempts": len(attempts),
        "with_code": sum(a.code is not None for a in attempts),
        "truncated": sum(a.truncated for a in attempts),
        "compiled": sum(a.compiled for a in attempts),
        "ran": sum(a.ran for a in attempts),
        "finite": sum(a.finite for a in attempts),
        "accepted": sum(a.status == "accepted" for a in attempts),
    }
