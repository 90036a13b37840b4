"""The ``verify-math`` suite: rewardkit's math verifier against math-verify.

A labelled corpus is built offline from ``reasoning-gym`` generators. Every
gold answer is rendered as completions that are correct in varied formats
(boxed, LaTeX fraction, decimal, with units or text), near-miss wrong
answers, and, for a share of the golds, adversarial completions (master-key
phrases, enumerations of candidates, empty answers, a power tower, deeply
nested braces, a megabyte of text, a copy of the question). Both verifiers
score the same corpus in the same process; the report gives label
agreement, confusion matrices, throughput and per-item latency.

Run: ``rewardkit bench verify-math`` (``--quick`` for a small corpus).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rewardkit.bench.runner import (
    Progress,
    Suite,
    drive,
    environment,
    latency_summary,
    markdown_table,
)
from rewardkit.bench.verify_math_corpus import LABELS, TASKS, Item, build_corpus
from rewardkit.verify.math import verify_math, verify_math_batch
from rewardkit.verify.symbolic import SymbolicPool

__all__ = ["VerifyMath", "main"]

OUTCOMES = ("correct", "wrong", "unparseable", "timeout", "error")
PER_TASK, QUICK_PER_TASK = 300, 20


# ----------------------------------------------------------------- scoring
def _rewardkit_batch(items: Sequence[Item], pool: SymbolicPool, chunk: int) -> list[str]:
    outcomes: list[str] = []
    progress = Progress("rewardkit (batched)", len(items))
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        verdicts = verify_math_batch(
            [i.gold for i in part], [i.completion for i in part], pool=pool
        )
        outcomes += [v.outcome.value for v in verdicts]
        progress.update(len(part))
    return outcomes


def _rewardkit_each(items: Sequence[Item], pool: SymbolicPool) -> list[float]:
    latencies = []
    for item in Progress("rewardkit (one at a time)", len(items)).wrap(items):
        start = time.perf_counter()
        verify_math(item.gold, item.completion, pool=pool)
        latencies.append(time.perf_counter() - start)
    return latencies


def _math_verify_each(items: Sequence[Item], timeout: float) -> tuple[list[str], list[float]]:
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    outcomes, latencies = [], []
    for item in Progress("math-verify", len(items)).wrap(items):
        start = time.perf_counter()
        try:
            budget = max(1, round(timeout))  # math-verify takes whole seconds
            gold = parse(item.gold, parsing_timeout=budget)
            answer = parse(item.completion, parsing_timeout=budget)
            if not answer:
                outcome = "unparseable"
            else:
                outcome = "correct" if verify(gold, answer, timeout_seconds=budget) else "wrong"
        except Exception:  # math-verify raising is its error outcome
            outcome = "error"
        latencies.append(time.perf_counter() - start)
        outcomes.append(outcome)
    return outcomes, latencies


def _by_variant(items: Sequence[Item], latencies: Sequence[float]) -> dict[str, dict[str, float]]:
    grouped: dict[str, list[float]] = defaultdict(list)
    for item, seconds in zip(items, latencies, strict=True):
        grouped[f"{item.label}/{item.variant}"].append(seconds)
    return {key: latency_summary(values) for key, values in sorted(grouped.items())}


def _metrics(items: Sequence[Item], outcomes: Sequence[str]) -> dict[str, Any]:
    confusion: dict[str, Counter[str]] = {label: Counter() for label in LABELS}
    per_task: dict[str, list[bool]] = defaultdict(list)
    agree = 0
    for item, outcome in zip(items, outcomes, strict=True):
        confusion[item.label][outcome] += 1
        hit = (outcome == "correct") == (item.label == "correct")
        agree += hit
        per_task[item.task].append(hit)
    adversarial = [o for i, o in zip(items, outcomes, strict=True) if i.label == "adversarial"]
    return {
        "agreement": agree / len(items),
        "confusion": {label: {o: confusion[label][o] for o in OUTCOMES} for label in LABELS},
        "adversarial_false_positives": sum(o == "correct" for o in adversarial),
        "adversarial_items": len(adversarial),
        "per_task_agreement": {t: sum(v) / len(v) for t, v in sorted(per_task.items())},
    }


def _disagreements(
    items: Sequence[Item], outcomes: Sequence[str], limit: int = 40
) -> list[dict[str, str]]:
    found = []
    for item, outcome in zip(items, outcomes, strict=True):
        if (outcome == "correct") != (item.label == "correct"):
            found.append(
                {
                    "task": item.task,
                    "gold": item.gold,
                    "completion": item.completion[:200],
                    "label": item.label,
                    "variant": item.variant,
                    "outcome": outcome,
                }
            )
            if len(found) >= limit:
                break
    return found


@dataclass(frozen=True)
class Scoring:
    """One unit of work: ``system`` (rewardkit or math_verify) scores the whole corpus."""

    system: str
    timeout: float
    workers: int


def score_rewardkit(items: Sequence[Item], unit: Scoring) -> dict[str, Any]:
    """rewardkit's outcomes in batches (throughput), then one at a time (latency)."""
    pool = SymbolicPool(workers=unit.workers, timeout=unit.timeout)
    try:
        pool.run([("x", "x")])  # start the workers before timing
        start = time.perf_counter()
        outcomes = _rewardkit_batch(items, pool, chunk=512)
        seconds = time.perf_counter() - start
        latencies = _rewardkit_each(items, pool)
    finally:
        pool.close()
    return _scored(items, outcomes, seconds, latencies)


def score_math_verify(items: Sequence[Item], unit: Scoring) -> dict[str, Any]:
    """math-verify's outcomes and latencies, one completion at a time, as it is called."""
    start = time.perf_counter()
    outcomes, latencies = _math_verify_each(items, unit.timeout)
    return _scored(items, outcomes, time.perf_counter() - start, latencies)


def _scored(
    items: Sequence[Item], outcomes: list[str], seconds: float, latencies: list[float]
) -> dict[str, Any]:
    return _metrics(items, outcomes) | {
        "throughput": len(items) / seconds,
        "latency": latency_summary(latencies),
        "latency_by_variant": _by_variant(items, latencies),
        "disagreements": _disagreements(items, outcomes),
    }


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """The throughput ratio and the targets rewardkit has to meet against math-verify."""
    rk, mv = results["rewardkit"], results["math_verify"]
    ratio = rk["throughput"] / mv["throughput"]
    limit_ms = (results["config"]["timeout"] + 0.5) * 1000
    met = {
        "agreement >= math-verify": (
            rk["agreement"] >= mv["agreement"],
            f"{rk['agreement']:.4f} vs {mv['agreement']:.4f}",
        ),
        "zero adversarial false positives": (
            rk["adversarial_false_positives"] == 0,
            f"{rk['adversarial_false_positives']} of {rk['adversarial_items']}",
        ),
        "throughput >= 10x math-verify": (ratio >= 10, f"{ratio:.1f}x"),
        "max latency <= timeout + 0.5 s": (
            rk["latency"]["max_ms"] <= limit_ms,
            f"{rk['latency']['max_ms']:.0f} ms vs {limit_ms:.0f} ms",
        ),
    }
    return {
        "throughput_ratio": ratio,
        "targets": {name: {"met": m, "detail": d} for name, (m, d) in met.items()},
    }


# ----------------------------------------------------------------- report
_METHOD = (
    "rewardkit's throughput is measured in batches (fast path in process, symbolic cases "
    "in the worker pool); math-verify's one completion at a time, as it is called. "
    "Latencies are per completion, one at a time, for both. Both get the same time "
    "budget per completion: math-verify's own parsing and comparison timeouts are set "
    "to the symbolic timeout."
)
_NOTES = [
    "- Construction labels are ours: a rounded decimal for a longer exact value is wrong, "
    "an unevaluated expression for a number is wrong, several candidate answers are wrong.",
    "- Completions without an answer are `unparseable` for rewardkit (not applicable, "
    "never a score); math-verify returns False for them, counted here as `wrong` or "
    "`unparseable` when its parser found nothing.",
    "- `results.json` lists the first disagreements of each verifier with the labels.",
]


def _summary_table(results: dict[str, Any]) -> str:
    rk, mv = results["rewardkit"], results["math_verify"]

    def row(label: str, value: Callable[[dict[str, Any]], str], ratio: str = "") -> list[str]:
        return [label, value(rk), value(mv), ratio]

    rows = [
        row(
            "label agreement",
            lambda s: f"{s['agreement']:.4f}",
            f"{rk['agreement'] / mv['agreement']:.3f}",
        ),
        row(
            "adversarial false positives",
            lambda s: f"{s['adversarial_false_positives']}/{s['adversarial_items']}",
        ),
        row(
            "throughput (completions/s)",
            lambda s: f"{s['throughput']:,.0f}",
            f"{results['throughput_ratio']:.1f}x",
        ),
        row("latency p50 (ms)", lambda s: f"{s['latency']['p50_ms']:.3f}"),
        row("latency p99 (ms)", lambda s: f"{s['latency']['p99_ms']:.2f}"),
        row("latency max (ms)", lambda s: f"{s['latency']['max_ms']:.1f}"),
    ]
    return markdown_table(["", "rewardkit", "math-verify", "ratio"], rows)


def _detail_sections(results: dict[str, Any]) -> list[str]:
    """Targets, both confusion matrices and the agreement per task."""
    lines = ["## Targets", ""]
    for name, target in results["targets"].items():
        lines.append(f"- {name}: {'met' if target['met'] else 'MISSED'} ({target['detail']})")
    for system, key in (("rewardkit", "rewardkit"), ("math-verify", "math_verify")):
        confusion = results[key]["confusion"]
        rows = [[label, *(confusion[label][o] for o in OUTCOMES)] for label in LABELS]
        table = markdown_table(["label \\ outcome", *OUTCOMES], rows)
        lines += ["", f"## Confusion matrix: {system}", "", table]
    rk, mv = (
        results["rewardkit"]["per_task_agreement"],
        results["math_verify"]["per_task_agreement"],
    )
    rows = [[t, f"{rk[t]:.3f}", f"{mv[t]:.3f}"] for t in rk]
    lines += [
        "",
        "## Agreement per task",
        "",
        markdown_table(["task", "rewardkit", "math-verify"], rows),
    ]
    return lines


def render_report(results: dict[str, Any]) -> str:
    """The report of a run that scored both verifiers."""
    corpus, config = results["corpus"], results["config"]
    lines = [
        "# verify-math",
        "",
        f"Regenerate: `{results['command']}`",
        "",
        f"Corpus: {corpus['items']} completions of {corpus['golds']} gold "
        f"answers from {len(corpus['tasks'])} reasoning-gym tasks "
        f"({corpus['by_label']}). Symbolic timeout {config['timeout']} s, "
        f"{config['workers']} workers. Machine: {results['environment']['cpus']} CPUs.",
        "",
        "## Summary",
        "",
        _summary_table(results),
        "",
        _METHOD,
        "",
        *_detail_sections(results),
        "",
        "## Notes",
        "",
        *_NOTES,
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------- the suite
class VerifyMath(Suite):
    """The suite: one corpus, scored by each verifier (one unit each), in this process."""

    name = "verify-math"
    description = __doc__
    quick_help = f"small corpus ({QUICK_PER_TASK} golds per task)"
    options = ("seed", "rerender")

    def __init__(self) -> None:
        self.items: list[Item] = []

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--per-task", type=int, default=PER_TASK, help=f"golds per task (default {PER_TASK})"
        )
        parser.add_argument("--timeout", type=float, default=2.0, help="symbolic timeout, seconds")
        parser.add_argument("--workers", type=int, default=2, help="symbolic worker processes")
        parser.add_argument("--skip-peer", action="store_true", help="do not run math-verify")

    def check(self, args: argparse.Namespace) -> str | None:
        return "--per-task must be positive" if _per_task(args) <= 0 else None

    def command(self, args: argparse.Namespace) -> str:
        command = f"rewardkit bench {self.name}" + (" --quick" if args.quick else "")
        if not args.quick and args.per_task != PER_TASK:
            command += f" --per-task {args.per_task}"
        return command

    def prepare(self, args: argparse.Namespace) -> None:
        per_task = _per_task(args)
        print(f"building the corpus ({per_task} golds x {len(TASKS)} tasks)...", flush=True)
        self.items = build_corpus(
            per_task,
            args.seed,
            adversarial_every=10 if args.quick else 20,
            big_every=50 if args.quick else 400,
        )
        print(f"{len(self.items)} completions", flush=True)

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Scoring]:
        systems = ["rewardkit"] + ([] if args.skip_peer else ["math_verify"])
        done = {r["system"] for r in runs}
        return [Scoring(s, args.timeout, args.workers) for s in systems if s not in done]

    def run_unit(self, unit: Scoring) -> dict[str, Any]:
        score = score_rewardkit if unit.system == "rewardkit" else score_math_verify
        return {"system": unit.system} | score(self.items, unit)

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        items = self.items
        config = {"timeout": args.timeout, "workers": args.workers}
        return {
            "config": {"per_task": _per_task(args), "seed": args.seed} | config,
            "environment": environment(),
            "corpus": {
                "items": len(items),
                "golds": len({(i.task, i.gold) for i in items}),
                "tasks": list(TASKS),
                "by_label": dict(Counter(i.label for i in items)),
            },
        } | {r["system"]: {k: v for k, v in r.items() if k != "system"} for r in runs}

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        return targets(results) if "math_verify" in results else {}

    def report(self, results: dict[str, Any], plots: list[str]) -> str | None:
        return render_report(results) if "math_verify" in results else None


def _per_task(args: argparse.Namespace) -> int:
    return QUICK_PER_TASK if args.quick else int(args.per_task)


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench verify-math``: see the module docs."""
    return drive(VerifyMath(), argv)
