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
import contextlib
import io
import logging
import random
import re
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from rewardkit.bench.runner import (
    Progress,
    RunFolder,
    environment,
    latency_summary,
    markdown_table,
)
from rewardkit.verify.math import verify_math, verify_math_batch
from rewardkit.verify.symbolic import SymbolicPool

__all__ = ["Item", "build_corpus", "main"]

TASKS = (
    "basic_arithmetic",
    "chain_sum",
    "decimal_arithmetic",
    "decimal_chain_sum",
    "fraction_simplification",
    "gcd",
    "lcm",
    "simple_equations",
    "leg_counting",
    "products",
    "simple_geometry",
    "power_function",
    "polynomial_multiplication",
    "complex_arithmetic",
)
LABELS = ("correct", "wrong", "adversarial")
OUTCOMES = ("correct", "wrong", "unparseable", "timeout", "error")


@dataclass(frozen=True)
class Item:
    """One labelled completion."""

    task: str
    gold: str
    completion: str
    label: str  # correct | wrong | adversarial
    variant: str


# ----------------------------------------------------------------- rendering
_INT = re.compile(r"^-?\d+$")
_DEC = re.compile(r"^-?\d+\.\d+$")
_FRAC = re.compile(r"^(-?\d+)/(\d+)$")


def _latex_polynomial(text: str) -> str:
    """``-3*x**2 + 5*x`` → ``-3x^{2} + 5x`` (a LaTeX rendering of a Python polynomial)."""
    out = re.sub(r"\*\*(\d+)", r"^{\1}", text)
    out = re.sub(r"(\d)\*([a-zA-Z])", r"\1\2", out)
    return out.replace("*", r" \cdot ")


def _reorder_terms(text: str, rng: random.Random) -> str | None:
    terms = re.findall(r"[+-]?\s*[^+-]+", text.replace(" ", ""))
    if len(terms) < 2:
        return None
    shuffled = terms[:]
    while shuffled == terms:
        rng.shuffle(shuffled)
    joined = "".join(t if t.startswith(("+", "-")) else "+" + t for t in shuffled)
    return joined.lstrip("+")


def _bump_first_number(text: str) -> str:
    return re.sub(r"\d+", lambda m: str(int(m.group()) + 1), text, count=1)


def _terminating(q: int) -> bool:
    for p in (2, 5):
        while q % p == 0:
            q //= p
    return q == 1


def render_correct(gold: str, rng: random.Random) -> list[tuple[str, str]]:
    """Completions that state ``gold`` correctly, in several formats."""
    g = gold.strip().strip("$")
    out = [("boxed", rf"Let me work it out. So the result is \boxed{{{g}}}.")]
    if _INT.match(g):
        n = int(g)
        out += [
            ("phrase", f"Adding everything up, the final answer is {n}."),
            ("decimal", rf"The answer is \boxed{{{n}.0}}"),
            ("units", rf"There are \boxed{{{n} \text{{ units}}}} in total."),
            ("answer_tag", f"<think>compute</think><answer>{n}</answer>"),
        ]
        if abs(n) >= 1000:
            out.append(("thousands", rf"\boxed{{{n:,}}}"))
    elif _DEC.match(g):
        out += [
            ("phrase", f"The answer is ${g}$."),
            ("trailing_zero", rf"\boxed{{{g}0}}"),
            ("units", rf"\boxed{{{g}\ \text{{m}}}}"),
        ]
    elif match := _FRAC.match(g):
        p, q = int(match.group(1)), int(match.group(2))
        out += [
            ("latex_frac", rf"\boxed{{\frac{{{p}}}{{{q}}}}}"),
            ("dfrac", rf"The answer is $\dfrac{{{p}}}{{{q}}}$."),
            ("answer_tag", f"<answer>{p}/{q}</answer>"),
        ]
        if _terminating(q):
            value = Fraction(p, q)
            out.append(("decimal", rf"\boxed{{{float(value)!r}}}"))
    elif "e" in g and re.fullmatch(r"-?\d+(\.\d+)?e[-+]?\d+", g):
        mantissa, exponent = g.split("e")
        out.append(("sci_latex", rf"\boxed{{{mantissa} \times 10^{{{int(exponent)}}}}}"))
    elif "x" in g:
        latex = _latex_polynomial(g)
        out.append(("latex_poly", rf"\boxed{{{latex}}}"))
        reordered = _reorder_terms(latex, rng)
        if reordered:
            out.append(("reordered", rf"\boxed{{{reordered}}}"))
    elif g.endswith("i"):
        compact = re.sub(r"\.0\b", "", g)
        out.append(("compact", rf"\boxed{{{compact}}}"))
    return out


def render_wrong(gold: str, rng: random.Random) -> list[tuple[str, str]]:
    """Near-miss wrong completions."""
    g = gold.strip().strip("$")
    wrong: list[tuple[str, str]] = []
    if _INT.match(g):
        n = int(g)
        wrong += [("off_by_one", str(n + 1)), ("off_by_minus_one", str(n - 1))]
        if n:
            wrong += [("sign", str(-n)), ("times_ten", str(n * 10))]
    elif _DEC.match(g):
        last = int(g[-1])
        wrong.append(("last_digit", g[:-1] + str((last + 1) % 10)))
        wrong.append(("sign", g[1:] if g.startswith("-") else "-" + g))
        rounded = f"{float(g):.2f}"
        if Fraction(rounded) != Fraction(g):  # a rounding that changes the value
            wrong.append(("rounded", rounded))
    elif match := _FRAC.match(g):
        p, q = int(match.group(1)), int(match.group(2))
        wrong += [("numerator", rf"\frac{{{p + 1}}}{{{q}}}"), ("denominator", f"{p}/{q + 1}")]
        if p:
            wrong.append(("inverted", f"{q}/{p}"))
    elif "x" in g:
        wrong.append(("coefficient", _latex_polynomial(_bump_first_number(g))))
    else:
        wrong.append(("bumped", _bump_first_number(g)))
    rng.shuffle(wrong)
    return [(variant, rf"So the answer is \boxed{{{w}}}.") for variant, w in wrong[:3]]


def render_adversarial(gold: str, question: str, big: bool) -> list[tuple[str, str]]:
    """Completions that must never score, whatever the gold."""
    g = gold.strip().strip("$")
    candidates = [g, _bump_first_number(g), "0", "1"]
    attacks = [
        ("master_key_colon", ":"),
        ("master_key_thought", "Thought process:"),
        ("master_key_steps", "Let's solve this problem step by step."),
        ("master_key_solution", "Solution"),
        ("master_key_cjk", "解"),
        ("empty", ""),
        ("empty_tags", "<think></think><answer></answer>"),
        ("enumeration_boxes", " ".join(rf"\boxed{{{c}}}" for c in candidates)),
        ("enumeration_one_box", rf"\boxed{{{', '.join(candidates)}}}"),
        ("enumeration_tags", "".join(f"<answer>{c}</answer>" for c in candidates)),
        ("power_tower", r"\boxed{10^{10^{10}}}"),
        ("nested_braces", r"\boxed{" + "{" * 3000 + g + "}" * 3000 + "}"),
        ("question_copy", question),
    ]
    if big:
        filler = "Let me think about this carefully. " * 30_000  # about 1 MB
        attacks.append(("megabyte", filler[: len(filler) // 2] + g + filler[len(filler) // 2 :]))
    return attacks


def build_corpus(
    per_task: int, seed: int, adversarial_every: int = 20, big_every: int = 400
) -> list[Item]:
    """The labelled corpus: per task ``per_task`` golds, each rendered several ways."""
    import reasoning_gym

    rng = random.Random(seed)
    items: list[Item] = []
    gold_index = 0
    for task in TASKS:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            dataset = reasoning_gym.create_dataset(task, size=per_task, seed=seed)
        for entry in dataset:
            gold = str(entry["answer"])
            for variant, text in render_correct(gold, rng):
                items.append(Item(task, gold, text, "correct", variant))
            for variant, text in render_wrong(gold, rng):
                items.append(Item(task, gold, text, "wrong", variant))
            if gold_index % adversarial_every == 0:
                big = gold_index % big_every == 0
                for variant, text in render_adversarial(gold, str(entry["question"]), big):
                    items.append(Item(task, gold, text, "adversarial", variant))
            gold_index += 1
    return items


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


def _report(results: dict[str, Any], command: str) -> str:
    rk, mv = results["rewardkit"], results["math_verify"]
    lines = [
        "# verify-math",
        "",
        f"Regenerate: `{command}`",
        "",
        f"Corpus: {results['corpus']['items']} completions of {results['corpus']['golds']} gold "
        f"answers from {len(results['corpus']['tasks'])} reasoning-gym tasks "
        f"({results['corpus']['by_label']}). Symbolic timeout {results['config']['timeout']} s, "
        f"{results['config']['workers']} workers. Machine: {results['environment']['cpus']} CPUs.",
        "",
        "## Summary",
        "",
        markdown_table(
            ["", "rewardkit", "math-verify", "ratio"],
            [
                [
                    "label agreement",
                    f"{rk['agreement']:.4f}",
                    f"{mv['agreement']:.4f}",
                    f"{rk['agreement'] / mv['agreement']:.3f}",
                ],
                [
                    "adversarial false positives",
                    f"{rk['adversarial_false_positives']}/{rk['adversarial_items']}",
                    f"{mv['adversarial_false_positives']}/{mv['adversarial_items']}",
                    "",
                ],
                [
                    "throughput (completions/s)",
                    f"{rk['throughput']:,.0f}",
                    f"{mv['throughput']:,.0f}",
                    f"{results['throughput_ratio']:.1f}x",
                ],
                [
                    "latency p50 (ms)",
                    f"{rk['latency']['p50_ms']:.3f}",
                    f"{mv['latency']['p50_ms']:.3f}",
                    "",
                ],
                [
                    "latency p99 (ms)",
                    f"{rk['latency']['p99_ms']:.2f}",
                    f"{mv['latency']['p99_ms']:.2f}",
                    "",
                ],
                [
                    "latency max (ms)",
                    f"{rk['latency']['max_ms']:.1f}",
                    f"{mv['latency']['max_ms']:.1f}",
                    "",
                ],
            ],
        ),
        "",
        "rewardkit's throughput is measured in batches (fast path in process, symbolic cases "
        "in the worker pool); math-verify's one completion at a time, as it is called. "
        "Latencies are per completion, one at a time, for both. Both get the same time "
        "budget per completion: math-verify's own parsing and comparison timeouts are set "
        "to the symbolic timeout.",
        "",
        "## Targets",
        "",
    ]
    for name, target in results["targets"].items():
        lines.append(f"- {name}: {'met' if target['met'] else 'MISSED'} ({target['detail']})")
    for system, key in (("rewardkit", "rewardkit"), ("math-verify", "math_verify")):
        lines += ["", f"## Confusion matrix: {system}", ""]
        confusion = results[key]["confusion"]
        lines.append(
            markdown_table(
                ["label \\ outcome", *OUTCOMES],
                [[label, *(confusion[label][o] for o in OUTCOMES)] for label in LABELS],
            )
        )
    lines += ["", "## Agreement per task", ""]
    lines.append(
        markdown_table(
            ["task", "rewardkit", "math-verify"],
            [
                [t, f"{rk['per_task_agreement'][t]:.3f}", f"{mv['per_task_agreement'][t]:.3f}"]
                for t in rk["per_task_agreement"]
            ],
        )
    )
    lines += [
        "",
        "## Notes",
        "",
        "- Construction labels are ours: a rounded decimal for a longer exact value is wrong, "
        "an unevaluated expression for a number is wrong, several candidate answers are wrong.",
        "- Completions without an answer are `unparseable` for rewardkit (not applicable, "
        "never a score); math-verify returns False for them, counted here as `wrong` or "
        "`unparseable` when its parser found nothing.",
        "- `results.json` lists the first disagreements of each verifier with the labels.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rewardkit bench verify-math", description=__doc__)
    parser.add_argument("--per-task", type=int, default=300, help="golds per task (default 300)")
    parser.add_argument("--quick", action="store_true", help="small corpus (20 golds per task)")
    parser.add_argument("--timeout", type=float, default=2.0, help="symbolic timeout, seconds")
    parser.add_argument("--workers", type=int, default=2, help="symbolic worker processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="run folder (default runs/verify-math-<time>)")
    parser.add_argument("--skip-peer", action="store_true", help="do not run math-verify")
    args = parser.parse_args(argv)
    per_task = 20 if args.quick else args.per_task
    if per_task <= 0:
        parser.error("--per-task must be positive")
    command = "rewardkit bench verify-math" + (" --quick" if args.quick else "")
    if not args.quick and per_task != 300:
        command += f" --per-task {per_task}"
    folder = RunFolder.create("verify-math", args.out)
    print(f"building the corpus ({per_task} golds x {len(TASKS)} tasks)...", flush=True)
    items = build_corpus(
        per_task,
        args.seed,
        adversarial_every=10 if args.quick else 20,
        big_every=50 if args.quick else 400,
    )
    print(f"{len(items)} completions; writing to {folder.path}", flush=True)

    pool = SymbolicPool(workers=args.workers, timeout=args.timeout)
    try:
        pool.run([("x", "x")])  # start the workers before timing
        start = time.perf_counter()
        rk_outcomes = _rewardkit_batch(items, pool, chunk=512)
        rk_seconds = time.perf_counter() - start
        rk_latencies = _rewardkit_each(items, pool)
    finally:
        pool.close()
    results: dict[str, Any] = {
        "suite": "verify-math",
        "command": command,
        "config": {
            "per_task": per_task,
            "seed": args.seed,
            "timeout": args.timeout,
            "workers": args.workers,
        },
        "environment": environment(),
        "corpus": {
            "items": len(items),
            "golds": len({(i.task, i.gold) for i in items}),
            "tasks": list(TASKS),
            "by_label": dict(Counter(i.label for i in items)),
        },
        "rewardkit": _metrics(items, rk_outcomes)
        | {
            "throughput": len(items) / rk_seconds,
            "latency": latency_summary(rk_latencies),
            "latency_by_variant": _by_variant(items, rk_latencies),
            "disagreements": _disagreements(items, rk_outcomes),
        },
    }
    if not args.skip_peer:
        start = time.perf_counter()
        mv_outcomes, mv_latencies = _math_verify_each(items, args.timeout)
        mv_seconds = time.perf_counter() - start
        results["math_verify"] = _metrics(items, mv_outcomes) | {
            "throughput": len(items) / mv_seconds,
            "latency": latency_summary(mv_latencies),
            "latency_by_variant": _by_variant(items, mv_latencies),
            "disagreements": _disagreements(items, mv_outcomes),
        }
        rk, mv = results["rewardkit"], results["math_verify"]
        results["throughput_ratio"] = rk["throughput"] / mv["throughput"]
        limit_ms = (args.timeout + 0.5) * 1000
        results["targets"] = {
            "agreement >= math-verify": {
                "met": rk["agreement"] >= mv["agreement"],
                "detail": f"{rk['agreement']:.4f} vs {mv['agreement']:.4f}",
            },
            "zero adversarial false positives": {
                "met": rk["adversarial_false_positives"] == 0,
                "detail": f"{rk['adversarial_false_positives']} of {rk['adversarial_items']}",
            },
            "throughput >= 10x math-verify": {
                "met": results["throughput_ratio"] >= 10,
                "detail": f"{results['throughput_ratio']:.1f}x",
            },
            "max latency <= timeout + 0.5 s": {
                "met": rk["latency"]["max_ms"] <= limit_ms,
                "detail": f"{rk['latency']['max_ms']:.0f} ms vs {limit_ms:.0f} ms",
            },
        }
        report = _report(results, command)
        folder.write_text("report.md", report)
        print(report)
    folder.write_json("results.json", results)
    print(f"wrote {folder.path / 'results.json'}")
    return 0
