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
import logging
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardkit.core.progress import progress
from rewardkit.verify.math import verify_math_batch
from rewardkit.verify.symbolic import SymbolicPool
from rewardkit_bench.runner import (
    Suite,
    drive,
    environment,
    latency_summary,
    markdown_table,
)
from rewardkit_bench.verify_math_corpus import (
    TASKS,
    Item,
    build_adversarial,
    build_corpus,
    load_regressions,
)

__all__ = ["CORPORA", "VerifyMath", "main", "score_items"]

CORPORA = ("regressions", "reasoning-gym", "adversarial")
TITLES = {
    "regressions": "Math-Verify's regression corpus (outside data)",
    "reasoning-gym": "reasoning-gym corpus (labels are this project's own construction)",
    "adversarial": "adversarial completions (this project's construction; every one must score 0)",
}
SYSTEMS = ("rewardkit", "math_verify", "rewardkit_x2")
PER_TASK, QUICK_PER_TASK = 300, 20
ADVERSARIAL_EVERY, QUICK_ADVERSARIAL_EVERY = 40, 10
#: where the shared corpus lives, relative to the working directory or the project
REGRESSIONS_FILE = "math-verify-regressions.jsonl"
#: the checkout's copy, looked up from the current directory (the checkout's root)
REGRESSIONS = Path("benchmarks") / "corpora" / REGRESSIONS_FILE
DISAGREEMENTS_KEPT = 300


# ----------------------------------------------------------------- scoring
def _expected(item: Item) -> float:
    return 1.0 if item.label == "correct" else 0.0


def _rewardkit_batched(items: Sequence[Item], pool: SymbolicPool, chunk: int = 512) -> list[Any]:
    verdicts: list[Any] = []
    chunks = range(0, len(items), chunk)
    for start in progress(chunks, f"rewardkit (batched, {chunk} a chunk)", log_every=2.0):
        part = items[start : start + chunk]
        verdicts += verify_math_batch(
            [i.gold for i in part],
            [i.completion for i in part],
            prompts=[i.prompt or None for i in part],
            pool=pool,
        )
    return verdicts


def score_items(
    items: Sequence[Item], timeout: float, label: str = "rewardkit (one at a time)"
) -> dict[str, Any]:
    """rewardkit one item at a time with a fresh (cold) pool: outcomes, scores and
    per-item wall latencies. Used in this process and in each of two at once."""
    pool = SymbolicPool(timeout=timeout)
    outcomes, scores, latencies, extracted = [], [], [], []
    try:
        for item in progress(items, label, log_every=2.0):
            start = time.perf_counter()
            (verdict,) = verify_math_batch(
                [item.gold], [item.completion], prompts=[item.prompt or None], pool=pool
            )
            latencies.append(time.perf_counter() - start)
            outcomes.append(verdict.outcome.value)
            scores.append(verdict.score)
            extracted.append(verdict.extracted or verdict.message)
    finally:
        pool.close()
    return {"outcomes": outcomes, "scores": scores, "latencies": latencies, "extracted": extracted}


def _math_verify_each(items: Sequence[Item], timeout: float) -> dict[str, Any]:
    """math-verify as its README calls it, one item at a time, with its own timeouts."""
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    budget = max(1, round(timeout))  # math-verify takes whole seconds
    outcomes, scores, latencies, extracted = [], [], [], []
    for item in progress(items, "math-verify", log_every=2.0):
        start = time.perf_counter()
        answer: list[Any] = []
        try:
            bare = not any(m in item.gold for m in ("$", "\\boxed", "\\(", "\\["))
            gold = parse(f"${item.gold}$" if bare else item.gold, parsing_timeout=budget)
            answer = parse(item.completion, parsing_timeout=budget)
            if not answer:
                outcome = "no_answer"
            else:
                outcome = "correct" if verify(gold, answer, timeout_seconds=budget) else "wrong"
        except Exception:  # math-verify raising is its error outcome: no score, as for rewardkit
            outcome = "error"
        latencies.append(time.perf_counter() - start)
        outcomes.append(outcome)
        scores.append(None if outcome == "error" else float(outcome == "correct"))
        extracted.append(str(answer[-1])[:200] if answer else None)
    return {"outcomes": outcomes, "scores": scores, "latencies": latencies, "extracted": extracted}


def _metrics(items: Sequence[Item], scored: dict[str, Any]) -> dict[str, Any]:
    """Agreement with the labels, false positives, outcomes and latency of one scoring."""
    outcomes, scores, latencies = scored["outcomes"], scored["scores"], scored["latencies"]
    hits = [s == _expected(i) for i, s in zip(items, scores, strict=True)]
    false_positives = sum(
        s == 1.0 and _expected(i) == 0.0 for i, s in zip(items, scores, strict=True)
    )
    disagreements = [
        {
            "gold": item.gold[:200],
            "completion": item.completion[:300],
            "label": item.label,
            "variant": item.variant,
            "task": item.task,
            "outcome": outcome,
            "extracted": None if found is None else str(found)[:200],
        }
        for item, hit, outcome, found in zip(
            items, hits, outcomes, scored["extracted"], strict=True
        )
        if not hit
    ]
    return {
        "items": len(items),
        "agreement": sum(hits) / len(items),
        "false_positives": false_positives,
        "outcomes": dict(Counter(outcomes)),
        "one_at_a_time_per_second": len(items) / max(sum(latencies), 1e-9),
        "latency": latency_summary(latencies),
        "disagreement_count": len(disagreements),
        "disagreement_kinds": _kinds(disagreements),
        "disagreements": disagreements[:DISAGREEMENTS_KEPT],
    }


def _kinds(disagreements: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """Every disagreement counted by (task, variant, label, outcome), most common first."""
    counts = Counter((d["task"], d["variant"], d["label"], d["outcome"]) for d in disagreements)
    return [[*kind, count] for kind, count in counts.most_common()]


def _two_at_once(items: Sequence[Item], timeout: float) -> list[dict[str, Any]]:
    """The corpus scored one at a time by two processes at once, each with a cold pool."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as processes:
        jobs = [
            processes.apply_async(score_items, (list(items), timeout, f"rewardkit process {n}"))
            for n in (1, 2)
        ]
        return [job.get() for job in jobs]


@dataclass(frozen=True)
class Scoring:
    """One unit of work: ``system`` scores ``corpus``."""

    system: str
    corpus: str
    timeout: float


# ----------------------------------------------------------------- report
def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def _corpus_table(result: dict[str, Any]) -> str:
    rk, mv = result["rewardkit"], result.get("math_verify")
    systems = [rk] if mv is None else [rk, mv]

    def row(name: str, key: Any, fmt: str, ratio: str = "") -> list[str]:
        """``ratio``: "peer" (rewardkit / math-verify on this row) or "serial" (rewardkit /
        math-verify's one-at-a-time rate)."""
        values = [key(s) for s in systems]
        cells = ["—" if v is None else format(v, fmt) for v in values]
        if mv is not None:
            peer = mv["one_at_a_time_per_second"] if ratio == "serial" else values[1]
            cells.append(_ratio(values[0], peer) if ratio else "")
        return [name, *cells]

    rows = [
        row("label agreement", lambda s: s["agreement"], ".4f", ratio="peer"),
        row("false positives", lambda s: s["false_positives"], "d"),
        row("no answer", lambda s: s["outcomes"].get("no_answer", 0), "d"),
        row("timeouts", lambda s: s["outcomes"].get("timeout", 0), "d"),
        row("errors", lambda s: s["outcomes"].get("error", 0), "d"),
        row(
            "throughput, batched (items/s; ratio to math-verify one at a time)",
            lambda s: s.get("batched_per_second"),
            ",.0f",
            ratio="serial",
        ),
        row(
            "throughput, one at a time (items/s)",
            lambda s: s["one_at_a_time_per_second"],
            ",.0f",
            ratio="peer",
        ),
        row("latency p50 (ms)", lambda s: s["latency"]["p50_ms"], ".2f"),
        row("latency p99 (ms)", lambda s: s["latency"]["p99_ms"], ".1f"),
        row("latency max (ms)", lambda s: s["latency"]["max_ms"], ".0f"),
    ]
    if "batched_equals_one_at_a_time" in rk:
        same = "yes" if rk["batched_equals_one_at_a_time"] else "NO"
        rows.append(["same verdicts batched and one at a time", same] + [""] * (len(rows[0]) - 2))
    header = ["", "rewardkit"] + ([] if mv is None else ["math-verify", "ratio"])
    return markdown_table(header, rows)


def _two_process_table(results: dict[str, Any]) -> str:
    rows = []
    for corpus in CORPORA:
        result = results["corpora"].get(corpus)
        if not result or "rewardkit_x2" not in result:
            continue
        single = result["rewardkit"]
        for n, run in enumerate(result["rewardkit_x2"], start=1):
            rows.append(
                [
                    corpus,
                    f"process {n}",
                    f"{run['agreement']:.4f} ({single['agreement']:.4f})",
                    run["false_positives"],
                    run["outcomes"].get("timeout", 0),
                    f"{run['latency']['p99_ms']:.1f}",
                    f"{run['latency']['max_ms']:.0f}",
                ]
            )
    header = ["corpus", "", "agreement (alone)", "false positives", "timeouts", "p99 ms", "max ms"]
    return markdown_table(header, rows)


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets, each met or missed with the figure reached."""
    corpora, timeout = results["corpora"], results["config"]["timeout"]
    limit_ms = (timeout + 0.5) * 1000
    met: dict[str, tuple[bool, str]] = {}
    regressions = corpora.get("regressions")
    if regressions:
        rk = regressions["rewardkit"]
        met["regression corpus: agreement >= 0.99, 0 false positives"] = (
            rk["agreement"] >= 0.99 and rk["false_positives"] == 0,
            f"{rk['agreement']:.4f}, {rk['false_positives']} false positives",
        )
    adversarial = corpora.get("adversarial", {}).get("rewardkit")
    if adversarial:
        met["adversarial: 0 false positives"] = (
            adversarial["false_positives"] == 0,
            f"{adversarial['false_positives']} of {adversarial['items']}",
        )
    gym = corpora.get("reasoning-gym", {})
    if "math_verify" in gym and "rewardkit" in gym:
        ratio = (
            gym["rewardkit"]["batched_per_second"] / gym["math_verify"]["one_at_a_time_per_second"]
        )
        met["reasoning-gym throughput >= 10x math-verify one at a time"] = (
            ratio >= 10,
            f"{ratio:.1f}x (batched {gym['rewardkit']['batched_per_second']:,.0f}/s vs "
            f"{gym['math_verify']['one_at_a_time_per_second']:,.0f}/s)",
        )
    alone = [corpora[c]["rewardkit"] for c in corpora if "rewardkit" in corpora[c]]
    if alone:
        worst = max(scored["latency"]["max_ms"] for scored in alone)
        met["max latency <= timeout + 0.5 s, every item"] = (
            worst <= limit_ms,
            f"{worst:,.0f} ms vs {limit_ms:,.0f} ms",
        )
    pairs = [
        (corpora[c]["rewardkit"], run)
        for c in corpora
        if "rewardkit" in corpora[c]
        for run in corpora[c].get("rewardkit_x2", [])
    ]
    if pairs:
        same = all(abs(run["agreement"] - alone["agreement"]) < 1e-12 for alone, run in pairs)
        worst_pair = max(run["latency"]["max_ms"] for _, run in pairs)
        met["2 processes at once: same agreement, max latency <= timeout + 0.5 s"] = (
            same and worst_pair <= limit_ms,
            f"agreement {'identical' if same else 'DIFFERS'}, max {worst_pair:,.0f} ms",
        )
    return {"targets": {name: {"met": m, "detail": d} for name, (m, d) in met.items()}}


def render_disagreements(results: dict[str, Any]) -> str:
    """Every kept disagreement with the labels, per corpus and verifier."""
    lines = ["# verify-math: disagreements with the labels", ""]
    for corpus in CORPORA:
        result = results["corpora"].get(corpus)
        if not result:
            continue
        for system in ("rewardkit", "math_verify"):
            if system not in result:
                continue
            scored = result[system]
            kept = scored["disagreements"]
            kinds = scored.get("disagreement_kinds", [])
            lines += [
                f"## {corpus}: {system} ({scored['disagreement_count']} disagreements"
                + (
                    f", first {len(kept)} shown)"
                    if len(kept) < scored["disagreement_count"]
                    else ")"
                ),
                "",
            ]
            if kinds:
                lines += [
                    markdown_table(["task", "variant", "label", "outcome", "count"], kinds[:40]),
                    "",
                ]
            rows = [
                [
                    d["label"],
                    d["outcome"],
                    f"`{d['gold'][:60]}`",
                    f"`{d['completion'][-100:]}`".replace("\n", " ").replace("|", "\\|"),
                    f"`{d['extracted']}`".replace("|", "\\|")[:80],
                    d["variant"][:40],
                ]
                for d in kept
            ]
            if rows:
                lines += [
                    markdown_table(
                        ["label", "outcome", "gold", "completion (end)", "extracted", "variant"],
                        rows,
                    ),
                    "",
                ]
    return "\n".join(lines) + "\n"


def render_report(results: dict[str, Any]) -> str:
    """The report: each corpus (outside data first), two processes, the targets."""
    config, sizes = results["config"], results["sizes"]
    lines = [
        "# verify-math",
        "",
        f"Regenerate: `{results['command']}`",
        "",
        f"rewardkit `MathVerifier` defaults (math-verify inside killable workers, "
        f"`MathPolicy()`), timeout {config['timeout']} s, "
        f"{results['environment']['cpus']} CPUs. math-verify "
        f"{results['environment'].get('math_verify', '?')}, called as its README shows, one "
        "item at a time, with its own timeouts set to the same budget. rewardkit also gets "
        "each item's prompt, as a training loop passes it. Batched throughput is rewardkit "
        "scoring the whole corpus in chunks of 512; latencies are one item at a time.",
        "",
    ]
    for number, corpus in enumerate(CORPORA, start=1):
        result = results["corpora"].get(corpus)
        lines += [f"## {number}. {TITLES[corpus]}", ""]
        if not result:
            lines += [f"Not run: {results.get('skipped', {}).get(corpus, 'not found')}.", ""]
            continue
        lines += [f"{sizes[corpus]}", "", _corpus_table(result), ""]
    lines += [
        "## Two processes verifying at once",
        "",
        "Each corpus scored one item at a time by two processes at once, each starting its "
        "own pool cold (agreement alone in brackets).",
        "",
        _two_process_table(results),
        "",
        "## Targets",
        "",
    ]
    for name, target in results.get("targets", {}).items():
        lines.append(f"- {name}: {'met' if target['met'] else 'MISSED'} ({target['detail']})")
    lines += [
        "",
        "## Notes",
        "",
        "- Agreement counts a timeout or an error (NaN: the sample is skipped, never scored) "
        "as a disagreement, for both verifiers; false positives are items scored 1 against "
        "a label of 0. math-verify's own timeouts return False, so they count as wrong.",
        "- The reasoning-gym labels count a decimal that differs from the gold in any digit "
        "as wrong; `MathPolicy()`, like math-verify, rounds decimals to 6 places, so changes "
        "beyond the 6th decimal (and any two numbers below 5e-7) score 1 there. "
        "`MathPolicy(float_rounding=...)` or `rel_tol` changes that.",
        "- Every disagreement with the labels, counted by kind and listed, per corpus and "
        "verifier: [disagreements.md](disagreements.md) (also in `results.json`).",
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------- the suite
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
            return record | _metrics(items, _math_verify_each(items, unit.timeout))
        if unit.system == "rewardkit_x2":
            runs = _two_at_once(items, unit.timeout)
            return record | {"runs": [_metrics(items, run) for run in runs]}
        pool = SymbolicPool(timeout=unit.timeout)
        try:
            pool.run([("x", "x")])  # warm: batched throughput is the steady rate
            start = time.perf_counter()
            batched = _rewardkit_batched(items, pool)
            seconds = time.perf_counter() - start
        finally:
            pool.close()
        alone = score_items(items, unit.timeout)
        same = [v.outcome.value for v in batched] == alone["outcomes"]
        return (
            record
            | _metrics(items, alone)
            | {
                "batched_per_second": len(items) / seconds,
                "batched_equals_one_at_a_time": same,
            }
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
