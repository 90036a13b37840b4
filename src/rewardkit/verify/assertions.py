"""Assert-style tests judged outside the sandbox, on values the program cannot forge unsolved.

A test such as ``{"assert": "assert f(2) == 4 and f(3) in (9, -9)"}`` is
split into a *structure* (``and``, ``or``, ``not``, comparisons, literals),
which stays outside, and *leaves* (``f(2)``, ``f(3)``: every other
expression), which the sandbox evaluates. Inside the sandbox a harness
process forks; the child runs the program, then evaluates the leaves and
sends their ``repr`` through a pipe; the parent, which alone reads the run's
random nonce from stdin (after the fork, with ptrace and ``/proc`` access to
itself turned off), prints ``nonce + values`` as one line. Outside, each
value is parsed with ``ast.literal_eval`` and the structure is evaluated
with plain comparisons.

So the program never sees the expected literals (they are not in its
process), never sees the nonce, and cannot pass by exiting early (no values),
by returning an object whose ``__eq__`` is always True (not a literal), by
printing a fake result line (no nonce) or by reading its own source (the
literals are not there). What stays program-controlled: a comparison whose
*both* sides are computed by the program (``assert f(x) == g(x)``) is judged
on two values the program reported.

Example:
    >>> plan = plan_assertions("assert f(2) == 4 and not g(1)")
    >>> plan.leaves
    ['f(2)', 'g(1)']
    >>> plan.judge([("ok", "4"), ("ok", "False")])
    True
    >>> plan.judge([("ok", "4"), ("error", "NameError")])
    False
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardkit.core.errors import BatchError

__all__ = ["AssertPlan", "harness_source", "plan_assertions", "read_report"]

Reported = tuple[str, str]  # ("ok", repr) or ("error", exception name)


class _Unjudgeable(Exception):  # noqa: N818 - internal control flow, never raised out
    """A value needed by the judgement is missing, not plain, or of the wrong kind."""


@dataclass
class _Node:
    kind: str  # "literal", "leaf", "and", "or", "not", "compare"
    value: Any = None  # the literal, or the leaf's index
    children: list[_Node] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)


@dataclass
class AssertPlan:
    """What the sandbox runs (``steps``: statements and leaf groups) and how to judge it."""

    steps: list[tuple[str, Any]]  # ("exec", source) or ("leaves", [source, ...])
    asserts: list[_Node]
    leaves: list[str]

    def judge(self, reported: Sequence[Reported]) -> bool:
        """True if every assert holds on the reported leaf values."""
        if len(reported) != len(self.leaves):
            return False
        cache: dict[int, Any] = {}

        def leaf(index: int) -> Any:
            if index not in cache:
                status, text = reported[index]
                if status != "ok":
                    raise _Unjudgeable(text)
                try:
                    cache[index] = ast.literal_eval(text)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    raise _Unjudgeable("not a plain value") from None
            return cache[index]

        try:
            return all(bool(_evaluate(node, leaf)) for node in self.asserts)
        except _Unjudgeable:
            return False


def _evaluate(node: _Node, leaf: Callable[[int], Any]) -> Any:
    if node.kind == "literal":
        return node.value
    if node.kind == "leaf":
        return leaf(node.value)
    if node.kind == "not":
        return not bool(_evaluate(node.children[0], leaf))
    if node.kind == "and":
        return all(bool(_evaluate(child, leaf)) for child in node.children)
    if node.kind == "or":
        return any(bool(_evaluate(child, leaf)) for child in node.children)
    values = [_evaluate(node.children[0], leaf)]
    for operator, child in zip(node.operators, node.children[1:], strict=True):
        values.append(_evaluate(child, leaf))
        if not _compare(operator, values[-2], values[-1]):
            return False
    return True


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same kind (an int for a float is fine, True for 1 is not)."""
    if _numbers(a, b):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        if not isinstance(item, str):
            raise _Unjudgeable("str containment of a non-string")
        return item in container
    if isinstance(container, dict):
        return any(_same(item, key) for key in container)
    if isinstance(container, list | tuple | set | frozenset):
        return any(_same(item, element) for element in container)
    raise _Unjudgeable("containment in a non-container")


def _compare(operator: str, a: Any, b: Any) -> bool:
    if operator == "==":
        return _same(a, b)
    if operator == "!=":
        return not _same(a, b)
    if operator == "in":
        return _contains(b, a)
    if operator == "not in":
        return not _contains(b, a)
    if operator in ("is", "is not"):  # only against None, True, False (see _structure)
        return (a is b) == (operator == "is")
    orderable = _numbers(a, b) or (type(a) is type(b) and isinstance(a, str | tuple | list))
    if not orderable:
        raise _Unjudgeable(f"{operator} between {type(a).__name__} and {type(b).__name__}")
    try:
        return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator])
    except TypeError:
        raise _Unjudgeable("unorderable values") from None


_OPERATOR_TEXT = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}
_SINGLETONS = (None, True, False)


def _literal(node: ast.expr) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _structure(node: ast.expr, leaves: list[str]) -> _Node:
    if isinstance(node, ast.BoolOp):
        kind = "and" if isinstance(node.op, ast.And) else "or"
        return _Node(kind, children=[_structure(v, leaves) for v in node.values])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _Node("not", children=[_structure(node.operand, leaves)])
    if isinstance(node, ast.Compare):
        operands = [node.left, *node.comparators]
        for index, operator in enumerate(node.ops):
            if isinstance(operator, ast.Is | ast.IsNot) and not (
                _singleton(operands[index]) or _singleton(operands[index + 1])
            ):
                return _leaf(node, leaves)  # ``a is b`` between objects: only the program can tell
        return _Node(
            "compare",
            children=[_structure(o, leaves) for o in operands],
            operators=[_OPERATOR_TEXT[type(op)] for op in node.ops],
        )
    is_literal, value = _literal(node)
    if is_literal:
        return _Node("literal", value)
    return _leaf(node, leaves)


def _singleton(node: ast.expr) -> bool:
    is_literal, value = _literal(node)
    return is_literal and any(value is singleton for singleton in _SINGLETONS)


def _leaf(node: ast.expr, leaves: list[str]) -> _Node:
    leaves.append(ast.unparse(node))
    return _Node("leaf", len(leaves) - 1)


def plan_assertions(test_source: str) -> AssertPlan:
    """Split a test (statements ending in asserts) into sandbox steps and an outside judge.

    Raises:
        BatchError: the test is not valid Python or has no ``assert``.
    """
    try:
        tree = ast.parse(test_source)
    except SyntaxError as exc:
        raise BatchError(f"an assert test must be Python: {exc}") from None
    steps: list[tuple[str, Any]] = []
    asserts: list[_Node] = []
    leaves: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.Assert):
            first = len(leaves)
            asserts.append(_structure(statement.test, leaves))
            steps.append(("leaves", leaves[first:]))
        else:
            steps.append(("exec", ast.unparse(statement)))
    if not asserts:
        raise BatchError(f"an assert test needs an assert statement, got {test_source!r}")
    return AssertPlan(steps, asserts, leaves)


#: the sandboxed harness: fork; the child runs the program and the leaves, the parent
#: (alone holding the nonce) prints the result line. Standard library only.
_HARNESS = r"""
import ctypes, json, os, sys

PROGRAM = {program!r}
STEPS = {steps!r}


def child(write_end):
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(os.devnull)
    namespace = {{"__name__": "__main__", "__builtins__": __builtins__}}
    exec(compile(PROGRAM, "program.py", "exec"), namespace)
    values = []
    for kind, payload in STEPS:
        if kind == "exec":
            exec(compile(payload, "<test>", "exec"), namespace)
            continue
        for source in payload:
            try:
                values.append(["ok", repr(eval(compile(source, "<test>", "eval"), namespace))])
            except BaseException as exc:
                values.append(["error", type(exc).__name__])
    sys.stdout.flush()
    with os.fdopen(write_end, "w") as channel:
        channel.write(json.dumps(values) + "\n")
    os._exit(0)


def parent():
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no ptrace, no /proc/<pid>/fd
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            child(write_end)
        finally:
            os._exit(1)
    os.close(write_end)
    nonce = sys.stdin.readline().strip()
    with os.fdopen(read_end) as channel:
        report = channel.readline(1 << 22)  # not read(): a forked daemon may hold the pipe
    os.waitpid(pid, 0)
    sys.stdout.write("\n" + nonce + " " + report.strip() + "\n")
    sys.stdout.flush()


parent()
"""


def harness_source(code: str, plan: AssertPlan) -> str:
    """The program to run in the sandbox for ``plan`` (the nonce comes on stdin)."""
    return _HARNESS.format(program=code, steps=plan.steps)


def read_report(stdout: str, nonce: str) -> list[Reported] | None:
    """The leaf values the harness reported after ``nonce``, or None if it never did."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(nonce + " "):
            try:
                values = json.loads(line[len(nonce) + 1 :])
            except json.JSONDecodeError:
                return None
            if isinstance(values, list) and all(
                isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)
                for v in values
            ):
                return [(v[0], v[1]) for v in values]
            return None
    return None
