"""The ``verify-math`` suite: rewardkit's ``MathVerifier`` against math-verify, on three corpora.

1. **Math-Verify's regression corpus** (``benchmarks/corpora``): 247 labelled
   triples, mostly real model outputs. Outside data: nobody here wrote them.
2. **reasoning-gym**: golds from ``reasoning-gym`` generators, rendered as
   correct completions in varied formats and as near-miss wrong ones. The
   labels are this project's own construction.
3. **Adversarial**: completions that must never score (master-key phrases,
   enumerations, empty answers, a power tower, deep braces, a megabyte of
   text, a copy of the question), also this project's construction.

Both verifiers score the same items in the same run. rewardkit gets what a
training loop gives it (the prompt, too); math-verify is called as its README
shows (``verify(parse(gold), parse(completion))``, one at a time, with its own
timeouts set to the same budget). Each corpus is then scored one at a time by
two rewardkit processes at once, each with its own cold pool.

Run: ``rewardkit bench verify-math`` (``--quick`` for small corpora).
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardkit_bench.runner import Suite, drive, environment
from rewardkit_bench.verify_math_corpus import (
    TASKS,
    Item,
    build_adversarial,
    build_corpus,
    load_regressions,
)
from rewardkit_bench.verify_math_report import (
    CORPORA,
    render_disagreements,
    render_report,
    targets,
)
from rewardkit_bench.verify_math_scoring import (
    math_verify_each,
    metrics,
    rewardkit_batched_rate,
    score_items,
    two_at_once,
)

__all__ = ["CORPORA", "VerifyMath", "main", "score_items", "targets"]

SYSTEMS = ("rewardkit", "math_verify", "rewardkit_x2")
PER_TASK, QUICK_PER_TASK = 300, 20
ADVERSARIAL_EVERY, QUICK_ADVERSARIAL_EVERY = 40, 10
#: where the shared corpus lives, relative to the working directory or the project
REGRESSIONS_FILE = "math-verify-regressions.jsonl"
#: the checkout's copy, looked up from the current directory (the checkout's root)
REGRESSIONS = Path("benchmarks") / "corpora" / REGRESSIONS_FILE


@dataclass(frozen=True)
class Scoring:
    """One unit of work: ``system`` scores ``corpus``."""

    system: str
    corpus: str
    timeout: float


class VerifyMath(Suite):
    """The suite: three corpora, each scored by rewardkit, math-verify, and two rewardkit
    processes at once (one unit each)."""

    name = "verify-math"
    description = __doc__
    quick_help = f"small corpora ({QUICK_PER_TASK} golds per task)"
    quick_sets = ("per_task",)
    options = ("seed", "resume", "rerender")

    def __init__(self) -> None:
        self.corpora: dict[str, list[Item]] = {}
        self.skipped: dict[str, str] = {}

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--per-task", type=int, default=PER_TASK, help=f"golds per task (default {PER_TASK})"
        )
        parser.add_argument("--timeout", type=float, default=2.0, help="seconds per item")
        parser.add_argument(
            "--regressions",
            default=None,
            help="Math-Verify's regression corpus (default: $REWARDKIT_CORPORA/"
            f"{REGRESSIONS_FILE}, else {REGRESSIONS} under the current directory)",
        )
        parser.add_argument("--skip-peer", action="store_true", help="do not run math-verify")
        parser.add_argument(
            "--skip-two-processes", action="store_true", help="do not run two processes at once"
        )

    def check(self, args: argparse.Namespace) -> str | None:
        if _per_task(args) <= 0:
            return "--per-task must be positive"
        return "--timeout must be positive" if args.timeout <= 0 else None

    def command(self, args: argparse.Namespace) -> str:
        command = f"rewardkit bench {self.name}" + (" --quick" if args.quick else "")
        if not args.quick and args.per_task != PER_TASK:
            command += f" --per-task {args.per_task}"
        return command

    def prepare(self, args: argparse.Namespace) -> None:
        per_task = _per_task(args)
        path = _regressions_path(args.regressions)
        if path is None:
            self.skipped["regressions"] = (
                f"{REGRESSIONS} not found here (run from the checkout's root, pass "
                "--regressions PATH or set REWARDKIT_CORPORA)"
            )
            print(f"skipping the regression corpus: {self.skipped['regressions']}", flush=True)
        else:
            self.corpora["regressions"] = load_regressions(path)
        print(f"building the corpora ({per_task} golds x {len(TASKS)} tasks)...", flush=True)
        self.corpora["reasoning-gym"] = build_corpus(per_task, args.seed)
        every = QUICK_ADVERSARIAL_EVERY if args.quick else ADVERSARIAL_EVERY
        self.corpora["adversarial"] = build_adversarial(per_task, args.seed, every, every * 10)
        for corpus, items in self.corpora.items():
            print(f"  {corpus}: {len(items)} items", flush=True)

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Scoring]:
        systems = [
            s
            for s in SYSTEMS
            if not (s == "math_verify" and args.skip_peer)
            and not (s == "rewardkit_x2" and args.skip_two_processes)
        ]
        done = {(r["system"], r["corpus"]) for r in runs}
        return [
            Scoring(system, corpus, args.timeout)
            for corpus in self.corpora
            for system in systems
            if (system, corpus) not in done
        ]

    def run_unit(self, unit: Scoring) -> dict[str, Any]:
        items = self.corpora[unit.corpus]
        print(f"{unit.corpus}: {unit.system}", flush=True)
        record: dict[str, Any] = {"system": unit.system, "corpus": unit.corpus}
        if unit.system == "math_verify":
            return record | metrics(items, math_verify_each(items, unit.timeout))
        if unit.system == "rewardkit_x2":
            runs = two_at_once(items, unit.timeout)
            return record | {"runs": [metrics(items, run) for run in runs]}
        batched, per_second = rewardkit_batched_rate(items, unit.timeout)
        alone = score_items(items, unit.timeout)
        same = [v.outcome.value for v in batched] == alone["outcomes"]
        return (
            record
            | metrics(items, alone)
            | {"batched_per_second": per_second, "batched_equals_one_at_a_time": same}
        )

    def describe(self, run: dict[str, Any]) -> str | None:
        if run["system"] == "rewardkit_x2":
            agreements = ", ".join(f"{r['agreement']:.4f}" for r in run["runs"])
            return f"{run['corpus']} two processes: agreement {agreements}"
        return (
            f"{run['corpus']} {run['system']}: agreement {run['agreement']:.4f}, "
            f"false positives {run['false_positives']}, max {run['latency']['max_ms']:,.0f} ms"
        )

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        corpora: dict[str, dict[str, Any]] = {}
        for run in runs:
            body = {k: v for k, v in run.items() if k not in ("system", "corpus")}
            corpora.setdefault(run["corpus"], {})[run["system"]] = body.get("runs", body)
        return {
            "config": {"per_task": _per_task(args), "seed": args.seed, "timeout": args.timeout},
            "environment": environment() | {"math_verify": _math_verify_version()},
            "sizes": {name: _describe(items) for name, items in self.corpora.items()},
            "skipped": self.skipped,
            "corpora": corpora,
        }

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        return targets(results)

    def plot(self, folder: Any, results: dict[str, Any]) -> list[str]:
        folder.write_text("disagreements.md", render_disagreements(results))
        return []

    def report(self, results: dict[str, Any], plots: list[str]) -> str | None:
        return render_report(results)


def _describe(items: Sequence[Item]) -> str:
    labels = Counter(i.label for i in items)
    golds = len({(i.task, i.gold) for i in items})
    return f"{len(items)} items of {golds} gold answers ({dict(labels)})."


def _math_verify_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("math-verify")
    except PackageNotFoundError:
        return "not installed"


def _regressions_path(given: str | None) -> Path | None:
    if given:
        path = Path(given)
        if not path.is_file():
            raise SystemExit(f"--regressions: no file at {path}")
        return path
    folder = os.environ.get("REWARDKIT_CORPORA")
    if folder:
        path = Path(folder) / REGRESSIONS_FILE
        if not path.is_file():
            raise SystemExit(f"REWARDKIT_CORPORA: no {REGRESSIONS_FILE} in {folder}")
        return path
    return REGRESSIONS if REGRESSIONS.is_file() else None


def _per_task(args: argparse.Namespace) -> int:
    return QUICK_PER_TASK if args.quick else int(args.per_task)


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench verify-math``: see the module docs."""
    return drive(VerifyMath(), argv)
