"""The verifiers on SmolLM2's own answers: rewardkit's math verifier and math-verify, each
as a training loop calls it, against the corpus's labels (scored as verify-math scores)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewardkit_bench.verify_math_corpus import Item
from rewardkit_bench.verify_math_scoring import math_verify_each, metrics, score_items

__all__ = ["TIMEOUT", "verify_corpus"]

TIMEOUT = 5.0


def verify_corpus(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Agreement, false positives and outcomes of both verifiers on the labelled rows."""
    items = [
        Item(
            task=row["task"],
            gold=row["gold"],
            completion=row["completion"],
            label="correct" if row["label"] == 1 else "wrong",
            variant=row["status"],
            prompt=row["question"],
        )
        for row in rows
        if row["label"] is not None
    ]
    scored = {
        "rewardkit": score_items(items, TIMEOUT),
        "math-verify": math_verify_each(items, TIMEOUT),
    }
    result = {name: metrics(items, found) for name, found in scored.items()}
    for found in result.values():
        found["disagreements"] = found["disagreements"][:40]
    return {"labelled": len(items), "verifiers": result}
