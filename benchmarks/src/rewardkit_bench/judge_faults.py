"""The fault runs of ``rewardkit bench judge``: the server killed under a batch in flight.

A ReferenceJudge (text, 4 calls at a time, 2 retries, a 120 s deadline) scores a batch of
corpus rows; once its first answers are in, the server is killed (SIGKILL to its process
group, as a crash) and started again on the same port while the batch is still in flight.
Every sample must come back either scored (status ok, a number in [0, 1]) or with a failure
status (timeout, error) and its reason, never a score for a failed call and never missing;
then the same batch, judged again on the restarted server, is scored.
"""

from __future__ import annotations

import concurrent.futures
import math
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.core.output import Status
from rewardkit_bench.judge_data import as_batch, judge_settings, labelled_subset
from rewardkit_bench.judge_speed import status_counts

__all__ = ["FAULT_DEADLINE_S", "account", "run_faults"]

FAULT_DEADLINE_S = 120.0


def account(out: Any, size: int) -> dict[str, Any]:
    """Each sample accounted for: scored (ok and a number in [0, 1]), failed (a non-ok status
    with its reason), or neither: "scored by a failure" (a number on a failed sample, or ok
    without a number) or lost (no row at all, or a failure without a reason).

    Example:
        >>> from rewardkit.core.output import RewardOutput
        >>> out = RewardOutput(np.array([1.0, np.nan, np.nan]), {},
        ...                    np.array([0, 3, 2], np.int8), (None, "boom", None))
        >>> found = account(out, 4)
        >>> found["scored"], found["failed"], found["lost"], found["scored_by_failure"]
        (1, 1, 2, 0)
    """
    total = np.asarray(out.total, dtype=float)
    status = np.asarray(out.status)
    messages = list(out.messages or (None,) * len(total))
    scored = failed = by_failure = unexplained = 0
    for value, code, message in zip(total, status, messages, strict=True):
        if code == Status.OK:
            if math.isfinite(value) and 0.0 <= value <= 1.0:
                scored += 1
            else:
                by_failure += 1
        elif not math.isnan(value):
            by_failure += 1
        elif message:
            failed += 1
        else:
            unexplained += 1
    return {"rows": len(total), "scored": scored, "failed": failed,
            "scored_by_failure": by_failure, "lost": size - len(total) + unexplained}  # fmt: skip


def _reasons(out: Any) -> dict[str, int]:
    messages = out.messages or ()
    found = Counter(" ".join(str(m).split())[:70] for m, s in zip(messages, out.status, strict=True)
                    if s != Status.OK)  # fmt: skip
    return dict(found.most_common(6))


def run_faults(server: Any, rows: Sequence[dict[str, Any]], size: int, seed: int) -> dict[str, Any]:
    """One fault run on ``size`` corpus rows drawn by ``seed`` (see the module docs)."""
    from rewardkit.judge import ReferenceJudge

    batch = as_batch(labelled_subset(rows, size, 20_000 + seed))
    options = {"deadline_s": FAULT_DEADLINE_S, "max_concurrency": 4, "retries": 2}
    judge = ReferenceJudge(judge_settings(server, **options), probability="text")
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        flight = pool.submit(judge, batch)
        while judge.client.usage.calls < 2 and not flight.done():
            if time.monotonic() - start > 120:
                break
            time.sleep(0.05)
        answered_before_kill = judge.client.usage.calls
        in_flight = not flight.done()
        killed_at = time.monotonic() - start
        server.kill()
        restart_start = time.monotonic()
        server.start()
        restart_s = time.monotonic() - restart_start
        out = flight.result(timeout=600)
    batch_s = time.monotonic() - start
    usage = judge.client.usage.as_dict()
    judge.client.close()
    during = account(out, size)
    again = ReferenceJudge(judge_settings(server, **options), probability="text")
    after = again(batch)
    again.client.close()
    after_figures = account(after, size)
    ok = (np.asarray(out.status) == Status.OK) & (np.asarray(after.status) == Status.OK)
    changed = int(np.sum(ok & (np.asarray(out.total) != np.asarray(after.total))))
    unreadable = sum(1 for m in after.messages or () if m and str(m).startswith("unparseable"))
    passed = (in_flight and during["scored_by_failure"] == 0 and during["lost"] == 0
              and after_figures["scored_by_failure"] == 0 and after_figures["lost"] == 0
              and after_figures["scored"] + unreadable == size)  # fmt: skip
    return {"kind": "faults", "seed": seed, "batch": size, "killed_at_s": killed_at,
            "answered_before_kill": int(answered_before_kill), "in_flight_at_kill": in_flight,
            "restart_s": restart_s, "batch_s": batch_s, "during": during,
            "during_statuses": status_counts(out.status), "reasons": _reasons(out),
            "usage": usage, "after": after_figures, "after_statuses": status_counts(after.status),
            "after_unreadable": unreadable, "changed_scores": changed,
            "passed": passed}  # fmt: skip
