"""Math-Verify's public regression corpus, copied into benchmarks/corpora.

247 (gold, completion, label) triples, mostly real model outputs that broke an
earlier grader (see benchmarks/corpora/README.md for source, version and
licence). Nobody on this project wrote them, which is the point.
"""

import json
from pathlib import Path

import numpy as np

from rewardkit.core import Status
from rewardkit.verify import MathVerifier

CORPUS = Path(__file__).resolve().parents[2] / "benchmarks" / "corpora"
REGRESSIONS = CORPUS / "math-verify-regressions.jsonl"


def _rows():
    return [json.loads(line) for line in REGRESSIONS.read_text().splitlines() if line.strip()]


def test_the_default_verifier_agrees_with_the_regression_corpus():
    rows = _rows()
    verifier = MathVerifier(timeout=5.0)  # the defaults: math-verify in the pool, MathPolicy()
    out = verifier(
        {"completion": [r["completion"] for r in rows], "answer": [r["gold"] for r in rows]}
    )
    assert (out.status == Status.OK).all(), [m for m in out.messages if m][:5]
    labels = np.array([r["label"] for r in rows], dtype=float)
    agreement = float(np.mean(out.total == labels))
    false_positives = [
        r for r, s in zip(rows, out.total, strict=True) if s == 1 and r["label"] == 0
    ]
    assert agreement >= 0.99, agreement
    assert not false_positives, false_positives
