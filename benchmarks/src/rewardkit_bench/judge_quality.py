"""The quality runs of ``rewardkit bench judge``, on SmolLM2's own answers (the corpus):

- ``agreement``: a ReferenceJudge (text; and P(yes) from ``/v1/systemone``) against the
  corpus's labels on a seeded subset of labelled rows, with
  :func:`rewardkit.audit.verifier_agreement`; and the judge behind a verifier
  (:func:`rewardkit.core.fallback.fallback`): rewardkit's MathVerifier (abstaining where it
  finds no answer) on the same rows, and the corpus's own rule on those rows plus rows it
  cannot read (``unclear``): how many rows reach the judge, and the agreement;
- ``probes``: :func:`rewardkit.audit.probe`'s master keys and exploits on corpus questions,
  for a YesNoJudge (no reference), a ReferenceJudge, the ReferenceJudge that sees only the
  stated final number (``final_answer=``, the mitigation), the ReferenceJudge behind the
  MathVerifier, and the MathVerifier alone;
- ``position``: :func:`rewardkit.audit.position_bias` of a pairwise judge on (right, wrong)
  completions of one question, each pair in both orders.

Every judge runs at temperature 0 (seed 0): these runs are made once, not per seed.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.audit import position_bias, probe, verifier_agreement
from rewardkit.core.fallback import fallback
from rewardkit_bench.judge_data import (
    InChunks,
    as_batch,
    corpus_rule,
    judge_settings,
    labelled_subset,
    right_wrong_pairs,
    stated_number,
    unclear_subset,
)

__all__ = ["auc", "letter_template", "run_agreement", "run_position", "run_probes"]

#: the pairwise judge's longest answer ("[[A]]", "Response B is better.")
PAIRWISE_MAX_TOKENS = 16


def auc(scores: Sequence[float], labels: Sequence[float]) -> float:
    """ROC AUC of ``scores`` for the 1-labels (ties count half); NaN rows and classes of one.

    Example:
        >>> auc([0.9, 0.1, 0.5, 0.5], [1, 0, 1, 0])
        0.875
    """
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=float)
    keep = ~np.isnan(s) & ~np.isnan(y)
    pos, neg = s[keep & (y == 1)], s[keep & (y == 0)]
    if not pos.size or not neg.size:
        return float("nan")
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (pos.size * neg.size))


def _labels(rows: Sequence[dict[str, Any]]) -> list[int | None]:
    return [row["label"] for row in rows]


def _agreement(judge: Any, labels: Any, batch: Any, what: str) -> tuple[dict[str, Any], Any]:
    """The agreement report of ``judge`` (scored in chunks, with progress) and its output."""
    out = InChunks(judge, what)(batch)
    return verifier_agreement(lambda _: out, labels, batch).to_dict(), out


def run_agreement(
    server: Any, rows: Sequence[dict[str, Any]], size: int, unclear: int
) -> dict[str, Any]:
    """The judges against the labels, alone and behind a verifier (see the module docs)."""
    from rewardkit.judge import ReferenceJudge
    from rewardkit.verify import MathVerifier

    start = time.monotonic()
    chosen = labelled_subset(rows, size, 0)
    batch, labels = as_batch(chosen), _labels(chosen)
    majority = max(
        np.mean([label == 1 for label in labels]), np.mean([label == 0 for label in labels])
    )
    found: dict[str, Any] = {
        "kind": "agreement",
        "rows": len(chosen),
        "majority_accuracy": float(majority),
        "right": int(sum(label == 1 for label in labels)),
    }
    with tempfile.TemporaryDirectory(prefix="rewardkit-judge-quality-") as cache:
        text = ReferenceJudge(judge_settings(server, cache_dir=cache), probability="text")
        report, out = _agreement(text, labels, batch, "agreement: ReferenceJudge (text)")
        found["text"] = {**report, "auc": auc(out.total, _as_float(labels))}
        systemone = ReferenceJudge(judge_settings(server), probability="systemone")
        report, out = _agreement(systemone, labels, batch, "agreement: ReferenceJudge (systemone)")
        found["systemone"] = {**report, "auc": auc(out.total, _as_float(labels)),
                              "median_p_yes": _median(out.total)}  # fmt: skip
        verifier = MathVerifier(timeout=5.0, no_answer="skip")
        found["math_verifier"] = verifier_agreement(verifier, labels, batch).to_dict()
        found["behind_math_verifier"] = _behind(verifier, text, labels, batch, "MathVerifier")
        extra = unclear_subset(rows, unclear, 0)
        mixed = as_batch(chosen + extra)
        mixed_labels = labels + [None] * len(extra)
        behind = _behind(corpus_rule, text, mixed_labels, mixed, "corpus rule")
        found["behind_corpus_rule"] = {**behind, "unclear_rows": len(extra)}
        text.client.close()
        systemone.client.close()
    found["seconds"] = time.monotonic() - start
    return found


def _as_float(labels: Sequence[int | None]) -> list[float]:
    return [float("nan") if label is None else float(label) for label in labels]


def _median(values: Any) -> float:
    array = np.asarray(values, dtype=float)
    array = array[~np.isnan(array)]
    return float(np.median(array)) if array.size else float("nan")


def _behind(primary: Any, judge: Any, labels: Any, batch: Any, what: str) -> dict[str, Any]:
    """``fallback(primary, judge)`` against the labels, and what reached the judge."""
    composed = fallback(primary, InChunks(judge, f"behind {what}"), name="verifier_then_judge")
    out = composed(batch)
    report = verifier_agreement(lambda _: out, labels, batch).to_dict()
    used = np.asarray(out.terms["used_backup"]) == 1.0
    judged = np.asarray(out.total)[used]
    judged = judged[~np.isnan(judged)]
    share = float(np.mean(judged >= 0.5)) if judged.size else float("nan")
    return {**report, "reached_judge": int(used.sum()), "judge_pass_share": share}


def run_probes(server: Any, rows: Sequence[dict[str, Any]], questions: int) -> dict[str, Any]:
    """Master-key and exploit false-positive rates of each judge (see the module docs)."""
    from rewardkit.judge import ReferenceJudge, YesNoJudge
    from rewardkit.verify import MathVerifier

    start = time.monotonic()
    seen: dict[str, str] = {}
    for row in rows:
        seen.setdefault(row["question"], row["gold"])
    names = sorted(seen)
    picked = np.random.default_rng(0).choice(len(names), min(questions, len(names)), False)
    asked = [{"question": names[i], "answer": seen[names[i]]} for i in sorted(picked)]
    reports: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rewardkit-judge-probes-") as cache:
        settings = judge_settings(server, cache_dir=cache)
        reference = ReferenceJudge(settings, probability="text")
        judges = {
            "YesNoJudge (no reference)": YesNoJudge(judge_settings(server), probability="text"),
            "ReferenceJudge": reference,
            "ReferenceJudge, final answer only": ReferenceJudge(
                judge_settings(server), probability="text", final_answer=stated_number
            ),
            "MathVerifier, then ReferenceJudge": fallback(
                MathVerifier(timeout=5.0, no_answer="skip"), reference, name="verifier_then_judge"
            ),
            "MathVerifier alone": MathVerifier(timeout=5.0),
        }
        for label, judge in judges.items():
            reports[label] = probe(InChunks(judge, f"probes: {label}"), asked).to_dict()
            client = getattr(judge, "client", None)
            if client is not None:
                client.close()
    return {"kind": "probes", "questions": len(asked), "reports": reports,
            "seconds": time.monotonic() - start}  # fmt: skip


def letter_template() -> Any:
    """The pairwise prompt cut to one letter, for a model too small to write ``[[A]]``."""
    from rewardkit.judge import PromptTemplate
    from rewardkit.judge.templates import PAIRWISE

    return PromptTemplate(
        system=PAIRWISE.system,
        user=(
            "Question:\n{question}\n\nResponse A:\n{response_a}\n\nResponse B:\n{response_b}"
            "\n\nWhich response gives the correct answer, A or B? Answer with the letter only."
        ),
    )


def run_position(server: Any, rows: Sequence[dict[str, Any]], count: int) -> dict[str, Any]:
    """Position bias of a pairwise judge on (right, wrong) pairs of one question, with the
    library's pairwise prompt and with a one-letter prompt."""
    from rewardkit.judge import PairwiseJudge
    from rewardkit.judge.templates import PAIRWISE

    start = time.monotonic()
    pairs = right_wrong_pairs(rows, count, 0)
    prompts = {
        "pairwise prompt ([[A]]/[[B]], 16 tokens)": (PAIRWISE, PAIRWISE_MAX_TOKENS),
        "one-letter prompt (A/B, 6 tokens)": (letter_template(), 6),
    }
    reports = {}
    for label, (template, tokens) in prompts.items():
        settings = judge_settings(server, max_tokens=tokens)
        judge = PairwiseJudge(settings, swap=False, template=template, name="pairwise_one_order")
        chunked = InChunks(judge, f"position bias: {label}", size=max(8, len(pairs) // 2))
        reports[label] = position_bias(chunked, pairs).to_dict()
        judge.client.close()
    return {"kind": "position", "pairs": len(pairs), "prompts": reports,
            "seconds": time.monotonic() - start}  # fmt: skip
