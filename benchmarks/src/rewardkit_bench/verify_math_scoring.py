"""How ``rewardkit bench verify-math`` scores a corpus: rewardkit batched and one at a time,
math-verify as its README calls it, two rewardkit processes at once, and the metrics of one
scoring against the labels."""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rewardkit.core.progress import progress
from rewardkit.verify.math import verify_math_batch
from rewardkit.verify.symbolic import SymbolicPool
from rewardkit_bench.reporting import latency_summary
from rewardkit_bench.verify_math_corpus import Item

__all__ = [
    "DISAGREEMENTS_KEPT",
    "math_verify_each",
    "metrics",
    "rewardkit_batched",
    "rewardkit_batched_rate",
    "score_items",
    "two_at_once",
]

DISAGREEMENTS_KEPT = 300


def _expected(item: Item) -> float:
    return 1.0 if item.label == "correct" else 0.0


def rewardkit_batched(items: Sequence[Item], pool: SymbolicPool, chunk: int = 512) -> list[Any]:
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


def math_verify_each(items: Sequence[Item], timeout: float) -> dict[str, Any]:
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


def metrics(items: Sequence[Item], scored: dict[str, Any]) -> dict[str, Any]:
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


def two_at_once(items: Sequence[Item], timeout: float) -> list[dict[str, Any]]:
    """The corpus scored one at a time by two processes at once, each with a cold pool."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as processes:
        jobs = [
            processes.apply_async(score_items, (list(items), timeout, f"rewardkit process {n}"))
            for n in (1, 2)
        ]
        return [job.get() for job in jobs]


def rewardkit_batched_rate(items: Sequence[Item], timeout: float) -> tuple[list[Any], float]:
    """rewardkit's verdicts on ``items`` in chunks, on a warm pool, and the items per second."""
    pool = SymbolicPool(timeout=timeout)
    try:
        pool.run([("x", "x")])  # warm: batched throughput is the steady rate
        start = time.perf_counter()
        batched = rewardkit_batched(items, pool)
        seconds = time.perf_counter() - start
    finally:
        pool.close()
    return batched, len(items) / seconds
