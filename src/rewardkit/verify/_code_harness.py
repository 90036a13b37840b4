"""The harness that runs inside the sandbox: a judge the program cannot reach.

Standard library only: this file's text is the sandboxed program, with one
``main(...)`` line appended (see :func:`rewardkit.verify.code_judge.harness_program`).
It is imported outside only for its value codec (:func:`encode`, :func:`decode`).

It starts as the sandbox's pid 1 (bwrap ``--as-pid-1``), turns ptrace and
``/proc`` access to itself off, and then, for function tests, forks the
*program process* before it has read anything secret. The program process runs
the program and answers calls; it holds no test, no expected value and no
nonce, and it cannot read the judge's memory, descriptors or stdin, nor kill it
(pid 1 ignores every signal from inside its namespace). The *judge* (this
process) then reads the run's nonce and the tests from stdin, runs the tests'
own Python (HumanEval's ``check``, MBPP's asserts) in its own interpreter, and
reaches the program only through a pipe: arguments go out and plain values
(:func:`encode`) come back, so an object whose ``__eq__`` always holds, a
patched ``builtins``, a rewritten ``__main__`` or an early exit in the program
process changes nothing the judge runs or how it judges. The report goes to
stdout after the nonce.

For stdin/stdout tests the judge compiles the program once (C++, Java) and
runs it on each input in a fresh process; outputs are compared outside.
"""

# Every compile() here passes dont_inherit=True: the program and the tests compile as
# written, without this file's own __future__ flags (annotations would become strings).
from __future__ import annotations

import builtins
import contextlib
import ctypes
import json
import math
import os
import select
import signal
import subprocess
import sys
import time
import traceback

TYPE_CHECKING = False  # typing is not imported at run time (it costs each sandboxed run)
if TYPE_CHECKING:
    import ast
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from types import CodeType
    from typing import Any, NoReturn, NotRequired, TypeAlias, TypedDict

    import numpy

    #: a JSON-ready value: what :func:`encode` makes, :func:`decode` reads, json.loads gives
    Json: TypeAlias = Any

    class Unit(TypedDict):
        """One test of a function job: a "call" case, an "assert", or any other source."""

        kind: str
        source: NotRequired[str]
        function: NotRequired[str]
        args: NotRequired[Json]
        kwargs: NotRequired[Json]

    class Spec(TypedDict):
        """A job as the judge reads it from stdin (rewardkit.verify.code_formats builds it)."""

        mode: str  # "functions" or "stdio"
        seconds: float
        compile_seconds: NotRequired[float]
        cap: NotRequired[int]
        # functions
        context: NotRequired[str]
        names: NotRequired[list[str]]
        setup: NotRequired[list[str]]
        units: NotRequired[list[Unit]]
        # stdio
        program: NotRequired[str]
        inputs: NotRequired[list[str]]
        filename: NotRequired[str]
        compile: NotRequired[list[str] | None]
        run: NotRequired[list[str]]
        child_memory_bytes: NotRequired[int | None]
        compile_memory_bytes: NotRequired[int | None]
        full_stderr: NotRequired[bool]

    class Report(TypedDict, total=False):
        """What the judge reports: per-unit result rows, or the problem that stopped it."""

        results: list[list[Json]]
        problem: str
        compile_seconds: float
        compile: list[Json]
        compile_error: str

    class Job(TypedDict):
        """A warm worker's job: the program (None for stdio jobs), its spec and rlimits."""

        nonce: str
        spec: Spec
        program: NotRequired[str | None]
        rlimits: dict[str, int]

    class SpawnRequest(TypedDict):
        """What the zygote reads before a program's source: its length and rlimits."""

        length: int
        rlimits: NotRequired[dict[str, int]]


MAX_REPLY = 1 << 23
JOB_DIR = "/tmp/job"
MAX_TEXT = 300
MAX_REPLY_TEXT = 2000
_NESTING = 200


class CodecError(ValueError):
    """A value that cannot cross between the program and the judge."""


def encode(value: Any, depth: int = 0) -> Json:
    """A JSON-ready form of a plain value (None, bool, int, float, str, bytes,
    complex, list, tuple, dict, set, frozenset; numbers of other types by value).

    Floats that JSON cannot hold and every non-list container are tagged
    one-key objects, so ``decode(encode(x))`` has ``x``'s exact types.
    """
    if depth > _NESTING:
        raise CodecError("the value is nested too deeply")
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if kind is list:
        return [encode(item, depth + 1) for item in value]
    if kind is tuple:
        return {"tuple": [encode(item, depth + 1) for item in value]}
    if kind is dict:
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if kind is set or kind is frozenset:
        return {kind.__name__: [encode(item, depth + 1) for item in value]}
    if kind is bytes:
        return {"bytes": value.hex()}
    if kind is complex:
        return {"complex": [encode(value.real, depth + 1), encode(value.imag, depth + 1)]}
    if kind.__name__ == "ndarray" and kind.__module__ == "numpy":
        shape = [int(size) for size in value.shape]
        return {"ndarray": [str(value.dtype), shape, encode(value.tolist(), depth + 1)]}
    return encode(_plain(value), depth + 1)


def _plain(value: Any) -> Any:
    """A subclass or a foreign number (numpy's) as the plain value it stands for."""
    import numbers

    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    base: type[Any]
    for base in (bool, int, float, str, bytes, complex, list, tuple, dict, set, frozenset):
        if isinstance(value, base):
            return base(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise CodecError("a value of type " + type(value).__name__ + " is not a plain value")


_TAGS: dict[str, Callable[[Iterable[Any]], Any]] = {
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
}


def decode(data: Json, depth: int = 0) -> Any:
    """The plain value :func:`encode` made; raises :class:`CodecError` on anything else."""
    if depth > _NESTING:
        raise CodecError("the value is nested too deeply")
    kind = type(data)
    if data is None or kind is bool or kind is str or kind is int or kind is float:
        return data
    if kind is list:
        return [decode(item, depth + 1) for item in data]
    if kind is not dict or len(data) != 1:
        raise CodecError("not an encoded value")
    ((tag, payload),) = data.items()
    try:
        if tag in _TAGS and type(payload) is list:
            return _TAGS[tag](decode(item, depth + 1) for item in payload)
        if tag == "dict" and type(payload) is list:
            return {decode(k, depth + 1): decode(v, depth + 1) for k, v in payload}
        if tag == "float" and payload in ("nan", "inf", "-inf"):
            return float(payload)
        if tag == "bytes" and type(payload) is str:
            return bytes.fromhex(payload)
        if tag == "complex" and type(payload) is list and len(payload) == 2:
            return complex(decode(payload[0], depth + 1), decode(payload[1], depth + 1))
        if tag == "ndarray" and type(payload) is list and len(payload) == 3:
            return _array(payload, depth)
    except (TypeError, ValueError) as exc:  # an unhashable key or member, a bad pair
        raise CodecError("not an encoded value: " + str(exc)[:MAX_TEXT]) from None
    raise CodecError("unknown tag " + repr(tag)[:40])


def _array(payload: list[Json], depth: int) -> numpy.ndarray[Any, Any]:
    """A numpy array from its (dtype, shape, nested list) encoding; only numbers,
    booleans, text and plain objects, never a structured or exotic dtype."""
    try:
        import numpy
    except ImportError:
        raise CodecError("a numpy array, but numpy is not installed here") from None
    name, shape, data = payload
    if type(name) is not str or len(name) > 16 or type(shape) is not list:
        raise CodecError("not an encoded array")
    dtype = numpy.dtype(name)
    if dtype.kind not in "biufcUSO" or dtype.fields is not None or dtype.subdtype is not None:
        raise CodecError("an array of dtype " + name + " is not a plain value")
    if not all(type(size) is int and size >= 0 for size in shape):
        raise CodecError("not an encoded array")
    return numpy.array(decode(data, depth + 1), dtype=dtype).reshape(shape)


def short(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------- the program process


def _serve_program(source: str, requests_fd: int, replies_fd: int) -> NoReturn:
    """Run the program, then answer calls until the judge closes the pipe. Never returns."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.stdin = sys.stdout = sys.stderr = open(os.devnull, "w+")  # noqa: SIM115
    requests = os.fdopen(requests_fd, "rb")
    replies = os.fdopen(replies_fd, "wb")
    namespace: dict[str, Any] = {"__name__": "candidate", "__builtins__": builtins}
    failure: str | None = None
    try:
        exec(compile(source, "program.py", "exec", dont_inherit=True), namespace)
    except BaseException as exc:  # a syntax error, SystemExit, anything: a reason, not a crash
        failure = _describe(exc)
    for line in requests:
        try:
            reply: dict[str, Json]
            if failure is not None:
                reply = {"load": failure}
            else:
                request = json.loads(line)
                function = namespace.get(request["name"])
                if function is None:
                    raise NameError("the program defines no " + repr(request["name"]))
                value = function(*decode(request["args"]), **decode(request["kwargs"]))
                reply = {"ok": encode(value)}
        except BaseException as exc:
            reply = {"raise": type(exc).__name__, "message": str(exc)[:MAX_TEXT]}
        try:
            replies.write(json.dumps(reply).encode() + b"\n")
            replies.flush()
        except (OSError, ValueError, RecursionError):
            break
    os._exit(0)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return "SyntaxError: " + str(exc.msg) + " (line " + str(exc.lineno) + ")"
    return type(exc).__name__ + ": " + str(exc)[:MAX_TEXT]


# ---------------------------------------------------------------- the judge


class HarnessStop(BaseException):
    """The run must stop: the program timed out, exited or broke the protocol."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class TestProblem(BaseException):
    """The test itself cannot run as written (a value that cannot cross, a bad spec)."""


class ProgramRaised(Exception):  # noqa: N818
    """The program raised an exception that is not one of Python's built-in ones."""


class Channel:
    """The judge's end of the pipe to the program process."""

    def __init__(self, requests_fd: int, replies_fd: int, deadline: float) -> None:
        self.requests = os.fdopen(requests_fd, "wb")
        self.replies = replies_fd
        self.buffer = b""
        self.deadline = deadline
        self.last: str | None = None
        self.broken: HarnessStop | None = None

    def call(self, name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if self.broken is not None:
            raise self.broken
        try:
            request = {"name": name, "args": encode(list(args)), "kwargs": encode(dict(kwargs))}
        except CodecError as exc:
            raise TestProblem(
                "the test passes a value the program cannot receive: " + str(exc)
            ) from None
        shown = name + "(" + ", ".join([short(a, 60) for a in args]) + ")"
        self.last = shown + " was running"
        try:
            self.requests.write(json.dumps(request).encode() + b"\n")
            self.requests.flush()
        except OSError:
            self._break("fail", "the program process exited during " + shown)
        reply = self._read_line(shown)
        if "load" in reply:
            self._break("fail", "the program failed to load: " + str(reply["load"]))
        if "raise" in reply:
            kind = getattr(builtins, str(reply["raise"]), None)
            message = str(reply.get("message", ""))
            self.last = shown + " raised " + str(reply["raise"]) + ": " + message[:MAX_TEXT]
            if isinstance(kind, type) and issubclass(kind, Exception):
                raise kind(message)
            raise ProgramRaised(str(reply["raise"]) + ": " + message)
        try:
            value = decode(reply["ok"])
        except (CodecError, KeyError, RecursionError) as exc:
            self._break(
                "fail", shown + " returned something that is not a plain value: " + str(exc)
            )
        self.last = shown + " returned " + short(value)
        return value

    def _break(self, status: str, message: str) -> NoReturn:
        self.broken = HarnessStop(status, message)
        raise self.broken

    def _read_line(self, shown: str) -> dict[str, Json]:
        while b"\n" not in self.buffer:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self._break("timeout", "time limit exceeded in " + shown)
            ready, _, _ = select.select([self.replies], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.replies, 1 << 16)
            if not chunk:
                self._break("fail", "the program process exited during " + shown)
            self.buffer += chunk
            if len(self.buffer) > MAX_REPLY:
                self._break("fail", shown + " returned a value over " + str(MAX_REPLY) + " bytes")
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            reply = json.loads(line)
        except (ValueError, RecursionError):
            self._break("fail", "the program process broke the protocol during " + shown)
        if type(reply) is not dict:
            self._break("fail", "the program process broke the protocol during " + shown)
        return reply


class Function:
    """A program-defined function as the tests see it: each call crosses the pipe."""

    def __init__(self, channel: Channel, name: str) -> None:
        self._channel = channel
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._channel.call(self.__name__, args, kwargs)

    def __repr__(self) -> str:
        return "<program function " + self.__name__ + ">"


_SOURCES: dict[str, list[str]] = {}  # judge-side file name -> its lines, for failure messages


def _compile(source: str, filename: str, mode: str = "exec") -> CodeType:
    _SOURCES[filename] = source.splitlines()
    return compile(source, filename, mode, dont_inherit=True)


_BLOCKS = ("FunctionDef", "For", "While", "If", "With", "Try")


def _statement_at(lines: list[str], line: int) -> str:
    """The innermost statement of ``lines`` that spans ``line``, as one line of source."""
    import ast

    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return lines[line - 1].strip() if 0 < line <= len(lines) else ""
    best: ast.AST | None = None
    blocks = tuple(getattr(ast, name) for name in _BLOCKS)
    for node in ast.walk(tree):
        spans = isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or 0)
        if spans and not isinstance(node, blocks):
            best = node
    if best is None:
        return ""
    text = ast.unparse(best)
    return text if len(text) <= 240 else text[:237] + "..."


def _failure(exc: BaseException, channel: Channel) -> str:
    """Why a test failed, in one line: the assert's line, the last call and its value."""
    where = ""
    for frame, line in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename != "<context>":
            where = _statement_at(_SOURCES.get(frame.f_code.co_filename, []), line) or where
    if isinstance(exc, AssertionError):
        text = "failed: " + (where or "assert")
        if str(exc):
            text += " (" + str(exc)[:MAX_TEXT] + ")"
    else:
        text = "raised " + type(exc).__name__ + ": " + str(exc)[:MAX_TEXT]
        if where:
            text += " at " + where
    if channel.last:
        text += "; last call: " + channel.last
    return text[: 4 * MAX_TEXT]


def _compare_message(
    statement: ast.Assert, namespace: dict[str, Any], channel: Channel
) -> str | None:
    """For ``assert A == B``: evaluate both sides once and say which differs."""
    import ast

    test = statement.test
    if not (
        isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
    ):
        return None
    left = eval(compile(ast.Expression(test.left), "<test>", "eval", dont_inherit=True), namespace)
    right = eval(
        compile(ast.Expression(test.comparators[0]), "<test>", "eval", dont_inherit=True), namespace
    )
    if channel.broken is not None:
        raise channel.broken
    if left == right:
        return ""
    return "expected " + short(right) + ", got " + short(left) + " from " + ast.unparse(test.left)


def _run_unit(unit: Unit, namespace: dict[str, Any], channel: Channel) -> tuple[str, str, Json]:
    """One test unit: ("pass"|"fail"|"test_error", message, value)."""
    import ast

    kind, source = unit["kind"], unit.get("source", "")
    _SOURCES["<test>"] = source.splitlines()
    channel.last = None
    try:
        if kind == "call":
            function = Function(channel, unit["function"])
            try:
                args = decode(unit["args"])
                kwargs = decode(unit["kwargs"])
            except CodecError as exc:
                return "test_error", "the case's arguments are not plain values: " + str(exc), None
            return "pass", "", encode(function(*args, **kwargs))
        if kind == "assert":
            tree = ast.parse(source)
            statement = tree.body[0] if len(tree.body) == 1 else None
            if isinstance(statement, ast.Assert):
                message = _compare_message(statement, namespace, channel)
                if message:
                    return "fail", "failed: " + source.strip()[:MAX_TEXT] + ": " + message, None
                if message == "":
                    return "pass", "", None
        exec(_compile(source, "<test>"), namespace)
        if channel.broken is not None:  # the test swallowed the stop with a bare except
            raise channel.broken
        return "pass", "", None
    except (HarnessStop, TestProblem):
        raise
    except BaseException as exc:
        if kind == "call":
            return "raise", type(exc).__name__ + ": " + str(exc)[:MAX_TEXT], None
        return "fail", _failure(exc, channel), None


def _judge_functions(spec: Spec, channel: Channel) -> Report:
    namespace: dict[str, Any] = {"__name__": "__test__", "__builtins__": builtins}
    results: list[list[Json]] = []
    captured = _Capture()
    sys.stdout = sys.stderr = captured
    try:
        try:
            exec(
                compile(spec.get("context", ""), "<context>", "exec", dont_inherit=True), namespace
            )
        except BaseException as exc:
            return {"problem": "the trusted context failed: " + _describe(exc)}
        for name in spec.get("names", []):
            if name in sys.stdlib_module_names:
                try:
                    namespace[name] = __import__(name)
                    continue
                except ImportError:
                    pass
            namespace[name] = Function(channel, name)
        for number, source in enumerate(spec.get("setup", [])):
            try:
                exec(_compile(source, "<setup " + str(number) + ">"), namespace)
            except HarnessStop:
                raise
            except BaseException as exc:
                return {"problem": "the test's setup failed: " + _describe(exc)}
        for unit in spec["units"]:
            try:
                status, message, value = _run_unit(unit, namespace, channel)
            except TestProblem as exc:
                status, message, value = "test_error", str(exc), None
            results.append([status, message, value])
            if status == "test_error":
                break
    except HarnessStop as stop:
        results.append([stop.status, stop.message, None])
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    return {"results": results}


class _Capture:
    """Where the tests' own prints go (not the report's stdout)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


# ---------------------------------------------------------------- stdin/stdout programs


def _sweep() -> None:
    """Kill every other process in this pid namespace (this is its pid 1)."""
    if os.getpid() == 1:
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break


def _run_process(
    command: list[str], stdin_text: str, seconds: float, cap: int, memory_bytes: int | None = None
) -> tuple[str, str, str, float, int | None]:
    start = time.monotonic()

    # lower this child's address space (the sandbox's is the largest any needs)
    def limit() -> None:
        if memory_bytes:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=limit,
        )
    except OSError as exc:
        return "error", "", "cannot start " + command[0] + ": " + str(exc), 0.0, None
    try:
        out, err = process.communicate(stdin_text.encode(), timeout=seconds)
        status = "ok" if process.returncode == 0 else "runtime_error"
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        status = "timeout"
    if process.returncode in (-9, -24) and status == "ok":
        status = "timeout"
    _sweep()
    text = out[:cap].decode("utf-8", "replace")
    took = time.monotonic() - start
    return status, text, err[-2000:].decode("utf-8", "replace"), took, process.returncode


def _judge_stdio(spec: Spec) -> Report:
    compile_command, filename = spec["compile"], spec["filename"]
    run_command = [sys.executable if part == "{python}" else part for part in spec["run"]]
    memory = spec.get("child_memory_bytes")
    os.makedirs(JOB_DIR, exist_ok=True)
    os.chdir(JOB_DIR)
    with open(filename, "w", encoding="utf-8") as handle:
        handle.write(spec["program"])
    seconds = float(spec["seconds"])
    report: Report = {"results": [], "compile_seconds": 0.0}
    if compile_command is not None:
        status, _, err, took, code = _run_process(
            compile_command, "", float(spec["compile_seconds"]), 0, spec.get("compile_memory_bytes")
        )
        report["compile_seconds"] = took
        report["compile"] = [status, err[-MAX_REPLY_TEXT:], took, code]
        if status != "ok":
            report["compile_error"] = (status + ": " + err.strip())[-1500:]
            return report
    for stdin_text in spec["inputs"]:
        status, out, err, took, code = _run_process(
            run_command, stdin_text, seconds, spec["cap"], memory
        )
        keep = MAX_REPLY_TEXT if spec.get("full_stderr") else MAX_TEXT
        report["results"].append([status, out, err.strip()[-keep:], took, code])
    return report


# ---------------------------------------------------------------- entry


def _guard() -> None:
    """No ptrace, no /proc/<pid>/* for the program; as pid 1, no signal from inside."""
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
    for number in range(1, 32):
        if number not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGPIPE, 25):
            with contextlib.suppress(OSError, ValueError):
                signal.signal(number, signal.SIG_DFL)


def _deadline(spec: Spec) -> float:
    return time.monotonic() + float(spec["seconds"]) * max(1, len(spec.get("units", [])))


def main(program: str | None) -> NoReturn:
    """Run one job: fork the program process first, then read the tests and judge."""
    _guard()
    requests_read, requests_write = os.pipe()
    replies_read, replies_write = os.pipe()
    sys.stdout.flush()
    pid = os.fork() if program is not None else 0
    if program is not None and pid == 0:
        os.close(requests_write)
        os.close(replies_read)
        try:
            _serve_program(program, requests_read, replies_write)
        finally:
            os._exit(1)
    os.close(requests_read)
    os.close(replies_write)
    nonce = sys.stdin.readline().strip()
    report: Report
    try:
        spec: Spec = json.loads(sys.stdin.readline())
        if spec["mode"] == "stdio":
            report = _judge_stdio(spec)
        else:
            report = _judge_functions(spec, Channel(requests_write, replies_read, _deadline(spec)))
    except BaseException as exc:
        report = {"problem": "the harness failed: " + _describe(exc)}
    out = os.fdopen(1, "w")
    out.write("\n" + nonce + " " + json.dumps(report) + "\n")
    out.flush()
    os._exit(0)


# ---------------------------------------------------------------- warm workers
#
# A warm worker is one sandbox that runs job after job. Its pid 1 (``serve``) reads
# jobs from stdin. Programs never fork from it, since its memory has held tests:
# they fork from the *zygote*, a fresh interpreter started at the worker's start
# that only ever receives program sources (and the pipe ends, over a Unix socket).
# Each job's judge forks from pid 1. After each job pid 1 kills every process but
# itself and the zygote, and empties /tmp and /dev/shm.


def _zygote(sock_fd: int) -> NoReturn:
    """Fork one program process per request; never sees a test."""
    import socket

    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # reap programs automatically
    sock = socket.socket(fileno=sock_fd)
    while True:
        try:
            header, fds, _, _ = socket.recv_fds(sock, 1024, 2)
        except OSError:
            os._exit(0)
        if not header:
            os._exit(0)
        request: SpawnRequest = json.loads(header)
        source = b""
        while len(source) < request["length"]:
            chunk = sock.recv(min(1 << 20, request["length"] - len(source)))
            if not chunk:
                os._exit(0)
            source += chunk
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _limit_program(request)
                os.chdir(JOB_DIR)
                _serve_program(source.decode("utf-8"), fds[0], fds[1])
            finally:
                os._exit(1)
        for fd in fds:
            os.close(fd)
        sock.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def _limit_program(request: SpawnRequest) -> None:
    import resource

    for name, value in request.get("rlimits", {}).items():
        which = getattr(resource, name)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (value, value))


class _Zygote:
    def __init__(self) -> None:
        import socket

        self.ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-B", sys.argv[0], "zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        theirs.close()
        self.ours.settimeout(5.0)
        self.buffer = b""

    def alive(self) -> bool:
        return self.process.poll() is None

    def spawn(self, source: str, fds: list[int], rlimits: dict[str, int]) -> int:
        import socket

        os.kill(self.process.pid, signal.SIGCONT)  # a program may have stopped it
        data = source.encode("utf-8")
        request: SpawnRequest = {"length": len(data), "rlimits": rlimits}
        header = json.dumps(request).encode()
        socket.send_fds(self.ours, [header], fds)
        self.ours.sendall(data)
        while b"\n" not in self.buffer:
            chunk = self.ours.recv(4096)
            if not chunk:
                raise OSError("the zygote exited")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return int(json.loads(line)["pid"])

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            self.process.wait(2)


def _others(keep: set[int]) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in keep:
            pids.append(int(name))
    return pids


def _reset(zygote: _Zygote) -> None:
    """Kill everything a job left, reap it, and empty the scratch folders."""
    import shutil

    keep = {os.getpid(), zygote.process.pid}
    for _ in range(100):
        others = _others(keep)
        if not others:
            break
        for pid in others:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0 or pid == zygote.process.pid:
                break
        time.sleep(0.0005)
    for folder in ("/tmp", "/dev/shm"):
        with contextlib.suppress(OSError):
            for name in os.listdir(folder):
                if folder == "/tmp" and name == "program.py":
                    continue
                path = os.path.join(folder, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
    os.makedirs(JOB_DIR, exist_ok=True)


def _spawn(zygotes: list[_Zygote], source: str, fds: list[int], rlimits: dict[str, int]) -> int:
    """A program process from the zygote; a zygote that a past program killed or
    stopped is replaced (its death may not show until the first request fails)."""
    for attempt in (1, 2):
        try:
            return zygotes[0].spawn(source, fds, rlimits)
        except (OSError, ValueError):
            zygotes[0].close()
            zygotes[0] = _Zygote()
            if attempt == 2:
                raise
    raise OSError("unreachable")


def _job(zygotes: list[_Zygote], request: Job) -> Report:
    """Run one job: program from the zygote, judge forked from here. The report."""
    spec = request["spec"]
    program = request.get("program")
    report_read, report_write = os.pipe()
    program_pid = None
    requests_read = requests_write = replies_read = replies_write = -1
    if program is not None:
        requests_read, requests_write = os.pipe()
        replies_read, replies_write = os.pipe()
        program_pid = _spawn(zygotes, program, [requests_read, replies_write], request["rlimits"])
        os.close(requests_read)
        os.close(replies_write)
    report: Report
    judge_pid = os.fork()
    if judge_pid == 0:
        try:
            os.close(report_read)
            if spec["mode"] == "stdio":
                report = _judge_stdio(spec)
            else:
                channel = Channel(requests_write, replies_read, _deadline(spec))
                report = _judge_functions(spec, channel)
        except BaseException as exc:
            report = {"problem": "the harness failed: " + _describe(exc)}
        with os.fdopen(report_write, "wb") as out:
            out.write(json.dumps(report).encode())
        os._exit(0)
    os.close(report_write)
    for fd in (requests_write, replies_read):
        if fd >= 0:
            os.close(fd)
    limit = _deadline(spec) + float(spec.get("compile_seconds", 0)) + 1.0
    data = b""
    while True:
        remaining = limit - time.monotonic()
        ready, _, _ = select.select([report_read], [], [], max(0.0, remaining))
        if not ready:
            report = {"results": [["timeout", "time limit exceeded", None]]}
            break
        chunk = os.read(report_read, 1 << 20)
        if not chunk:
            try:
                report = json.loads(data)
            except ValueError:  # the judge catches its own errors: it was killed (same uid)
                report = {"results": [["fail", "the judge was killed during the tests", None]]}
            break
        data += chunk
    os.close(report_read)
    with contextlib.suppress(OSError):
        os.kill(judge_pid, signal.SIGKILL)
    if program_pid is not None:
        with contextlib.suppress(OSError):
            os.kill(program_pid, signal.SIGKILL)
    return report


def serve() -> None:
    """A warm worker's pid 1: one job per stdin line, one ``nonce report`` line out."""
    _guard()
    os.makedirs(JOB_DIR, exist_ok=True)
    zygotes = [_Zygote()]
    out = os.fdopen(1, "w")
    for line in sys.stdin:
        try:
            request: Job = json.loads(line)
            nonce = str(request["nonce"])
        except (ValueError, KeyError, TypeError):
            continue
        try:
            if not zygotes[0].alive():
                zygotes[0].close()
                zygotes[0] = _Zygote()
            report = _job(zygotes, request)
        except BaseException as exc:
            report = {"problem": "the harness failed: " + _describe(exc)}
            zygotes[0].close()
            zygotes[0] = _Zygote()
        _reset(zygotes[0])
        out.write(nonce + " " + json.dumps(report) + "\n")
        out.flush()
    zygotes[0].close()


def entry() -> None:
    """The warm worker's program: pid 1 serves, the zygote forks programs."""
    if sys.argv[1:2] == ["zygote"]:
        _zygote(int(sys.argv[2]))
    else:
        serve()
