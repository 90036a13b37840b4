"""The two-turn judge unit of ``rewardkit bench rm-lab``: a BR-RM-style judge
(:class:`rewardkit.judge.two_turn.BranchRethinkStyleJudge`: turn 1 picks dimensions and
writes hypotheses, turn 2 rereads and decides) against the one-turn pairwise judge
(:class:`rewardkit.judge.PairwiseJudge`, the library's ``[[A]]/[[B]]`` prompt) on the same
pairs, the same model, the same server.

Data (outside data): SmolLM2-135M-Instruct's own answers to reasoning-gym arithmetic (the
corpus ``benchmarks/corpora/smollm2-arithmetic.jsonl``, labelled by reasoning-gym); the
held-out half of the questions of ``rm-lab``'s split ``seed`` (the half its reward heads
never train on), one (right, wrong) pair per question
(:func:`rewardkit_bench.judge_data.right_wrong_pairs`). The judge model is the same
SmolLM2-135M-Instruct behind ``transformers serve`` on a loopback port, temperature 0.

Each pair is judged in both orders (right shown as A, then as B), each order one
judgment (``swap=False``), so that every figure is per judgment:

- ``accuracy``: judgments preferring the right answer, over all judgments (a failure or a
  tie is not a right preference) and over the judgments read;
- ``failure rate``: judgments with no verdict (a failed call, an unreadable turn 1 or
  turn 2), split by cause for the two-turn judge;
- ``position consistency``: of the pairs read in both orders without a tie, the share
  where the same answer won in both orders (the rest were decided by the position), and
  the share of read verdicts that chose A;
- ``calls``, tokens and wall ``seconds`` of each judge.

What the two-turn judge is not: BR-RM trains its judge with GRPO for these two turns;
here a 135M model is prompted zero-shot, so the figures say how this prompt fares on that
model, not what BR-RM reaches.

Run: ``python -m rewardkit_bench.rm_build_judge`` (``--pairs``, ``--seed``, ``--corpus``,
``--json``). 60 pairs: about 12.5 minutes on two cores shared with other jobs (load about
5), the two-turn judge most of it (its turn 1 writes up to 64 tokens); less on idle cores.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit.core.progress import progress
from rewardkit_bench.judge_data import corpus_path, judge_settings, right_wrong_pairs
from rewardkit_bench.rm_build_real import _split, labelled_rows

__all__ = ["PAIRS", "TWO_TURN_TOKENS", "held_out_pairs", "render", "run_two_turn"]

#: (right, wrong) pairs judged by default, each in both orders
PAIRS = 60
#: the two-turn judge's longest answers: turn 1 (a dimensions line and two one-line
#: hypotheses), turn 2 (a short recheck and the verdict line)
TWO_TURN_TOKENS = (64, 48)
#: the one-turn judge's longest answer, as in ``rewardkit bench judge`` ("[[A]]", a phrase)
ONE_TURN_TOKENS = 16
ONE_TURN = "one-turn pairwise (PairwiseJudge)"
TWO_TURN = "two-turn BR-RM-style (untrained)"
#: conversations judged between progress lines
CHUNK = 20


def held_out_pairs(rows: Sequence[dict[str, Any]], count: int, seed: int) -> list[Any]:
    """Up to ``count`` (question, right, wrong) triples from the held-out questions of
    rm-lab's split ``seed`` (the half its heads do not train on)."""
    test = [row for row, train in zip(rows, _split(rows, seed), strict=True) if not train]
    return right_wrong_pairs(test, count, seed)


def _orders(pairs: Sequence[Any]) -> list[tuple[str, str, str, str]]:
    """Every pair in both orders: (question, A, B, which of A/B is right)."""
    shown = [(q, right, wrong, "A") for q, right, wrong in pairs]
    return shown + [(q, wrong, right, "B") for q, right, wrong in pairs]


def _one_turn(settings: Any, shown: Sequence[tuple[str, str, str, str]]) -> list[dict[str, Any]]:
    """Each order judged once by PairwiseJudge (the row's completion shown as A)."""
    from rewardkit.judge import PairwiseJudge

    judge = PairwiseJudge(settings, swap=False, name="one_turn")
    found = []
    for start in progress(range(0, len(shown), CHUNK), ONE_TURN, log_every=15.0):
        part = shown[start : start + CHUNK]
        batch = {"prompt": [s[0] for s in part], "completion": [s[1] for s in part],
                 "baseline": [s[2] for s in part]}  # fmt: skip
        out = judge(batch)
        for k in range(len(part)):
            value, message = out.total[k], (out.messages or (None,) * len(part))[k]
            winner = None if np.isnan(value) else {1.0: "A", 0.0: "B", 0.5: "tie"}[float(value)]
            found.append({"winner": winner, "failure": message, "dimensions": ()})
    found_usage = judge.update({})
    judge.client.close()
    return [dict(f, usage=found_usage) for f in found]


def _two_turn(
    settings: Any, shown: Sequence[tuple[str, str, str, str]], tokens: tuple[int, int]
) -> list[dict[str, Any]]:
    """Each order judged once, in two turns (the judge's own conversations)."""
    from rewardkit.judge.two_turn import BranchRethinkStyleJudge

    judge = BranchRethinkStyleJudge(settings, swap=False, max_tokens=tokens)
    found = []
    for start in progress(range(0, len(shown), CHUNK), TWO_TURN, log_every=15.0):
        part = shown[start : start + CHUNK]
        for judgment in judge.converse_all([s[:3] for s in part]):
            found.append({"winner": judgment.winner, "dimensions": judgment.dimensions,
                          "failure": None if judgment.failure is None else judgment.failure.reason,
                          "turns": judgment.turns})  # fmt: skip
    usage = judge.update({})
    judge.client.close()
    return [dict(f, usage=usage) for f in found]


def _cause(reason: str | None) -> str | None:
    if reason is None:
        return None
    for prefix in ("unparseable turn 1", "unparseable turn 2", "turn 1", "turn 2"):
        if reason.startswith(prefix):
            return prefix if prefix.startswith("unparseable") else f"{prefix}: call failed"
    return "unparseable" if reason.startswith("unparseable") else "call failed"


def figures(
    judged: Sequence[dict[str, Any]], shown: Sequence[tuple[str, str, str, str]]
) -> dict[str, Any]:
    """Accuracy, failures and position consistency of one judge's judgments (module doc)."""
    n, pairs = len(judged), len(judged) // 2
    winners = [j["winner"] for j in judged]
    right = [w == s[3] for w, s in zip(winners, shown, strict=True)]
    read = [w is not None for w in winners]
    decided = [w in ("A", "B") for w in winners]
    both = [k for k in range(pairs) if decided[k] and decided[k + pairs]]
    # the same answer won in both orders: A in the first order is B in the second
    consistent = [k for k in both if winners[k] != winners[k + pairs]]
    dims = Counter(d for j in judged for d in j["dimensions"])
    branched = sum(1 for j in judged if j["dimensions"])
    usage = judged[0]["usage"] if judged else {}
    return {
        "judgments": n,
        "accuracy": sum(right) / n if n else float("nan"),
        "accuracy_read": sum(right) / sum(read) if any(read) else float("nan"),
        "pair_accuracy": sum(right[k] and right[k + pairs] for k in range(pairs)) / max(pairs, 1),
        "failure_rate": 1.0 - sum(read) / n if n else float("nan"),
        "failures": dict(Counter(c for c in (_cause(j["failure"]) for j in judged) if c)),
        "ties": sum(w == "tie" for w in winners),
        "pairs_read_both_orders": len(both),
        "position_consistency": len(consistent) / len(both) if both else float("nan"),
        "share_a": sum(w == "A" for w in winners) / sum(decided) if any(decided) else float("nan"),
        "dimensions": {d: c / branched for d, c in dims.most_common()} if branched else {},
        "calls": int(usage.get("calls", 0)),
        "prompt_tokens": int(usage.get("prompt_tokens", 0)),
        "completion_tokens": int(usage.get("completion_tokens", 0)),
    }


def _examples(judged: Sequence[dict[str, Any]], count: int = 3) -> list[dict[str, Any]]:
    """``count`` two-turn conversations: the first of each outcome, then the next ones."""
    firsts: dict[str, int] = {}
    for k, j in enumerate(judged):
        firsts.setdefault(_cause(j["failure"]) or "read", k)
    rest = [k for k in range(len(judged)) if k not in firsts.values()]
    return [{"outcome": _cause(judged[k]["failure"]) or "read",
             "turns": list(judged[k].get("turns", ())), "failure": judged[k]["failure"]}
            for k in [*firsts.values(), *rest][:count]]  # fmt: skip


def run_two_turn(
    server: Any = None,
    rows: Sequence[dict[str, Any]] | None = None,
    *,
    pairs: int = PAIRS,
    seed: int = 0,
    corpus: str | None = None,
    tokens: tuple[int, int] = TWO_TURN_TOKENS,
) -> dict[str, Any]:
    """The two-turn judge against the one-turn pairwise judge on the same held-out pairs.

    Args:
        server: a running SmolLM2 ``transformers serve`` (:class:`rewardkit.lm.LocalServer`),
            without ``--continuous-batching`` (which samples at temperature 0); None
            starts one and stops it at the end.
        rows: the corpus's labelled rows (None: read from ``corpus``).
        pairs: (right, wrong) pairs, each judged in both orders.
        seed: rm-lab's split (held-out questions) and the pairs' draw.
        corpus: the SmolLM2 corpus (as ``real-rm`` finds it).
        tokens: the two-turn judge's longest answers (turn 1, turn 2).

    Returns:
        ``{"kind": "two_turn_judge", "pairs", "seed", "judges": {name: figures},
        "examples", "seconds", "server_start_s"}``.
    """
    start = time.monotonic()
    rows = list(rows) if rows is not None else labelled_rows(corpus_path(corpus))
    chosen = held_out_pairs(rows, pairs, seed)
    shown = _orders(chosen)
    own = server is None
    started = 0.0
    if own:
        server, started = _start_server()
    try:
        timed: dict[str, tuple[list[dict[str, Any]], float]] = {}
        begin = time.monotonic()
        one = _one_turn(judge_settings(server, max_tokens=ONE_TURN_TOKENS), shown)
        timed[ONE_TURN] = (one, time.monotonic() - begin)
        begin = time.monotonic()
        two = _two_turn(judge_settings(server, max_tokens=max(tokens)), shown, tokens)
        timed[TWO_TURN] = (two, time.monotonic() - begin)
    finally:
        if own:
            server.stop()
    judges = {name: {**figures(found, shown), "seconds": seconds}
              for name, (found, seconds) in timed.items()}  # fmt: skip
    return {"kind": "two_turn_judge", "pairs": len(chosen), "seed": seed,
            "tokens": {"one_turn": ONE_TURN_TOKENS, "two_turn": list(tokens)},
            "judges": judges, "examples": _examples(two), "server_start_s": started,
            "seconds": time.monotonic() - start}  # fmt: skip


def _start_server() -> tuple[Any, float]:
    from rewardkit.lm.serving import LocalServer

    log = Path(tempfile.mkdtemp(prefix="rewardkit-two-turn-")) / "serve.log"
    # no --continuous-batching: there (transformers 5.x) a request at temperature 0 is still
    # sampled (its answers change with the seed), and these figures are for temperature 0;
    # one torch thread, as the server shares two cores with the client
    server = LocalServer("smollm2-135m-instruct", log_path=log, threads=1)
    begin = time.monotonic()
    try:
        server.start()
    except (RuntimeError, TimeoutError) as exc:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"transformers serve did not start: {exc}\n{tail}") from exc
    return server, time.monotonic() - begin


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if np.isnan(value) else f"{value:.2f}"
    return str(value)


def render(record: dict[str, Any]) -> str:
    """The record as a markdown table (one row per judge), the failure causes, the
    dimensions turn 1 chose, and an example conversation."""
    columns = [("accuracy", "accuracy (all)"), ("accuracy_read", "accuracy (read)"),
               ("pair_accuracy", "both orders right"), ("failure_rate", "failure rate"),
               ("position_consistency", "position consistency"), ("share_a", "share A"),
               ("calls", "calls"), ("completion_tokens", "answer tokens"),
               ("seconds", "seconds")]  # fmt: skip
    lines = [
        f"{record['pairs']} held-out (right, wrong) pairs (split seed {record['seed']}), "
        f"each in both orders; SmolLM2-135M-Instruct judging, temperature 0.",
        "",
        "| judge | " + " | ".join(title for _, title in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for name, found in record["judges"].items():
        lines.append(f"| {name} | " + " | ".join(_cell(found[key]) for key, _ in columns) + " |")
    lines.append("")
    for name, found in record["judges"].items():
        lines.append(f"- {name}: failures {found['failures'] or 'none'}; ties {found['ties']}")
        if found["dimensions"]:
            shares = ", ".join(f"{d} {s:.2f}" for d, s in found["dimensions"].items())
            lines.append(f"  - dimensions turn 1 chose (share of read turn 1s): {shares}")
    for example in record["examples"]:
        lines.append(f"\nExample two-turn conversation ({example['outcome']}):")
        for k, text in enumerate(example["turns"], start=1):
            lines.append(f"  turn {k}: {json.dumps(text)[:400]}")
        if example["failure"]:
            lines.append(f"  failure: {example['failure'][:300]}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=PAIRS, help=f"pairs (default {PAIRS})")
    parser.add_argument("--seed", type=int, default=0, help="rm-lab's split and the draw")
    parser.add_argument("--corpus", default=None, help="the SmolLM2 corpus (as real-rm)")
    parser.add_argument("--json", default=None, help="also write the record to this file")
    args = parser.parse_args(argv)
    record = run_two_turn(pairs=args.pairs, seed=args.seed, corpus=args.corpus)
    print(render(record))
    print(f"\ntotal {record['seconds']:.0f} s (server start {record['server_start_s']:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
