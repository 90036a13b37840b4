"""Model-written functions, run only in the sandbox: one program per batch of rows.

The loops of :mod:`rewardkit.author` get Python source from a chat model and must never run
it in this process. :func:`run_function` compiles the source here (:func:`compile` and
:mod:`ast` run nothing: a syntax error and a missing function are found without a sandbox),
then appends a small harness and runs the whole program once in
:class:`~rewardkit.verify.sandbox.Sandbox` (no network, a separate uid, a private
filesystem, CPU, memory and wall-clock limits). The harness reads the rows as JSON on
stdin, calls ``entry(*row)`` for each and prints one line, prefixed by a random marker
(so the function's own prints do not confuse it): the values, or the first row's
exception, or the first output that is not a number. Back here the values are checked:
one per row, all finite, and for ``vector=True`` all of one length, an (N, k) array.

Every outcome is a :class:`SandboxRun` status, never an exception: ``ok``,
``syntax_error``, ``no_function``, ``runtime_error``, ``timeout``, ``bad_output`` (a
non-number, NaN/inf, ragged rows) or ``sandbox_error`` (the machine's fault).

Example:
    >>> sandbox = Sandbox(SandboxLimits(wall_seconds=5))
    >>> run = run_function(sandbox, "def f(x):\\n    return 2 * x\\n", "f", [[1], [2.5]])
    >>> run.status, run.values.tolist()
    ('ok', [2.0, 5.0])
    >>> run_function(sandbox, "def f(x):\\n    return x / 0\\n", "f", [[1]]).message
    'row 0: ZeroDivisionError: division by zero'
    >>> run_function(sandbox, "def f(x):\\n    return [x, x]\\n", "f", [[1]], vector=True).values
    array([[1., 1.]])
"""

from __future__ import annotations

import ast
import json
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from rewardkit.judge.client import ChatRequest, JudgeFailure, Reply
from rewardkit.verify.code import extract_code
from rewardkit.verify.sandbox import Sandbox, SandboxLimits

__all__ = [
    "CODE_STOP",
    "ChatModel",
    "ReplyCheck",
    "RunStatus",
    "SandboxRun",
    "ask",
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
    "ok", "syntax_error", "no_function", "runtime_error", "timeout", "bad_output", "sandbox_error"
]


class ChatModel(Protocol):
    """What the loops need of a model: :meth:`~rewardkit.judge.client.JudgeClient.run`."""

    def run(self, requests: Sequence[ChatRequest]) -> list[Reply | JudgeFailure]: ...


_HARNESS = """

def __rewardkit_run():
    import json, sys, traceback
    marker, entry, vector = {marker!r}, {entry!r}, {vector!r}
    function = globals()[entry]
    values = []
    for index, row in enumerate(json.loads(sys.stdin.read())):
        try:
            value = function(*row)
        except Exception as exc:
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            print(marker + json.dumps({{"error": "row %d: %s" % (index, text)}}))
            return
        value = value.tolist() if hasattr(value, "tolist") else value
        items = list(value) if vector and isinstance(value, (list, tuple)) else [value]
        if not all(isinstance(v, (int, float)) for v in items):
            bad = "row %d returned %s: %.80r" % (index, type(value).__name__, value)
            print(marker + json.dumps({{"bad": bad}}))
            return
        values.append([float(v) for v in items] if vector else float(items[0]))
    print(marker + json.dumps({{"values": values}}))


__rewardkit_run()
"""


@dataclass(frozen=True)
class SandboxRun:
    """What running generated code over rows gave.

    Attributes:
        status: "ok", or why not ("runtime_error", "timeout", "bad_output", ...).
        values: (N,) floats, or (N, k) for vector outputs; None unless ``status == "ok"``.
        message: what went wrong, for the model to read ("" when ok).
        seconds: the sandbox's wall time.
    """

    status: RunStatus
    values: np.ndarray | None
    message: str
    seconds: float


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
) -> SandboxRun:
    """Run ``entry(*row)`` for every row in ONE sandboxed program; never raises.

    ``rows`` must be JSON-able after numpy values become lists. Scalar mode wants a number
    per row; ``vector=True`` a list of numbers per row, all of one length (a number counts
    as a list of one). A non-finite output is ``bad_output``.
    """
    name, problem = find_function(code, entry)
    if name is None:
        kind: RunStatus = "no_function" if problem.startswith("no function") else "syntax_error"
        return SandboxRun(kind, None, problem, 0.0)
    marker = f"@@rewardkit-{secrets.token_hex(8)}@@"
    program = code + _HARNESS.format(marker=marker, entry=name, vector=vector)
    run = sandbox.run(program, stdin=json.dumps(jsonable(list(rows))), limits=limits)
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
        if "error" in answer or "bad" in answer:
            kind = "runtime_error" if "error" in answer else "bad_output"
            text = str(answer.get("error", answer.get("bad")))[:300]
            return SandboxRun(kind, None, text, run.seconds)
        return _checked(list(answer["values"]), len(rows), vector, run.seconds)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return SandboxRun("bad_output", None, f"unreadable result: {exc}"[:300], run.seconds)


def _checked(raw: list[Any], count: int, vector: bool, seconds: float) -> SandboxRun:
    if len(raw) != count:
        return SandboxRun("bad_output", None, f"{len(raw)} outputs for {count} rows", seconds)
    widths = sorted({len(v) for v in raw}) if vector else []
    if len(widths) > 1 or widths == [0]:
        return SandboxRun("bad_output", None, f"rows of different lengths {widths}", seconds)
    values = np.asarray(raw, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values.reshape(count, -1)).all(axis=1))
    if bad.size:
        message = f"non-finite output {values[bad[0]]} at rows {bad[:5].tolist()}"
        return SandboxRun("bad_output", None, message, seconds)
    return SandboxRun("ok", values, "", seconds)


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
