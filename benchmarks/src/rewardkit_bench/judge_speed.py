"""The speed runs of ``rewardkit bench judge``: a ReferenceJudge against a plain loop over the
``openai`` client, same prompts, same parameters, same server, same run; and the disk cache.

Per run (one seed: its own draw of corpus rows), in an order shuffled by the seed so that a
drift of the machine's speed does not favour one arm:

- ``sequential``: ``openai.OpenAI`` (sync), one ``chat.completions.create`` after the other,
  with the very messages and parameters the judge sends (read from the judge itself);
- ``judge xC``: ``ReferenceJudge(probability="text")`` at ``max_concurrency`` C = 1, 4, 16;
- ``cache``: the judge with a fresh ``cache_dir`` on the batch (cold), then again (warm).

At temperature 0 every judge arm should give each row the same verdict: the share of rows
where they all do is recorded (a server that samples anyway shows it here).

Latency is one call's time on the wire: from the request sent to the answer read (the
client's own queue for a slot is not in it), the same measure for the loop and the judge.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.core.output import Status
from rewardkit.judge import ChatRequest, JudgeClient, JudgeFailure, Reply
from rewardkit_bench.judge_data import as_batch, judge_settings, labelled_subset
from rewardkit_bench.reporting import latency_summary

__all__ = ["CONCURRENCY", "TimedClient", "run_speed", "status_counts"]

CONCURRENCY = (1, 4, 16)


def status_counts(status: Any) -> dict[str, int]:
    """Samples per status name (only the statuses that occur)."""
    counts = Counter(Status(int(s)).name.lower() for s in np.asarray(status))
    return dict(sorted(counts.items()))


class TimedClient(JudgeClient):
    """A :class:`rewardkit.judge.JudgeClient` whose ``latencies`` lists each answered call's
    seconds once sent (``Reply.seconds``; cache hits left out). The judge's behaviour is
    unchanged: this only reads what every reply carries."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.latencies: list[float] = []

    async def complete(self, request: ChatRequest) -> Reply | JudgeFailure:
        reply = await super().complete(request)
        if isinstance(reply, Reply) and not reply.cached:
            self.latencies.append(reply.seconds)
        return reply


def _figures(seconds: float, count: int, latencies: Sequence[float]) -> dict[str, Any]:
    return {"seconds": seconds, "per_s": count / seconds if seconds > 0 else float("nan"),
            **latency_summary(latencies), "calls_timed": len(latencies)}  # fmt: skip


def _sequential(server: Any, judge: Any, batch: dict[str, Any]) -> dict[str, Any]:
    """The plain loop: the judge's own requests, one at a time, through ``openai.OpenAI``."""
    import openai

    settings = judge.client.settings
    requests = [judge.calls(row)[0].request for row in judge.rows(batch)]
    client = openai.OpenAI(base_url=server.base_url, api_key="EMPTY",
                           max_retries=settings.retries, timeout=settings.deadline_s)  # fmt: skip
    latencies, failures = [], 0
    start = time.perf_counter()
    try:
        for request in requests:
            began = time.perf_counter()
            try:
                client.chat.completions.create(
                    model=settings.model,
                    messages=[dict(m) for m in request.messages],  # type: ignore[misc]
                    **judge.client.call_parameters(request),
                )
            except openai.OpenAIError:
                failures += 1
            latencies.append(time.perf_counter() - began)
        seconds = time.perf_counter() - start
    finally:
        client.close()
    return {**_figures(seconds, len(requests), latencies), "failures": failures}


def _judged(server: Any, batch: dict[str, Any], concurrency: int, **options: Any) -> Any:
    from rewardkit.judge import ReferenceJudge

    settings = judge_settings(server, max_concurrency=concurrency, **options)
    return ReferenceJudge(TimedClient(settings), probability="text")


def _timed_batch(judge: Any, batch: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    start = time.perf_counter()
    out = judge(batch)
    seconds = time.perf_counter() - start
    figures = _figures(seconds, len(out), judge.client.latencies)
    judge.client.latencies.clear()
    reasons = Counter(" ".join(str(m).split())[:80] for m in out.messages or () if m)
    record = {**figures, "statuses": status_counts(out.status),
              "reasons": dict(reasons.most_common(3))}  # fmt: skip
    return record, out


def _cache(server: Any, batch: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rewardkit-judge-cache-") as folder:
        judge = _judged(server, batch, 4, cache_dir=folder)
        cold, first = _timed_batch(judge, batch)
        warm, second = _timed_batch(judge, batch)
        usage = judge.client.usage.as_dict()
        judge.client.close()
    same = bool(np.array_equal(first.total, second.total, equal_nan=True)
                and np.array_equal(first.status, second.status))  # fmt: skip
    return {"cold": cold, "warm": warm, "speedup": cold["seconds"] / max(warm["seconds"], 1e-9),
            "cache_hits": int(usage["cache_hits"]), "identical": same}  # fmt: skip


def run_speed(
    server: Any, rows: Sequence[dict[str, Any]], size: int, seed: int, mode: str,
    concurrency: Sequence[int] = CONCURRENCY, cache: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """One speed run on ``size`` corpus rows drawn by ``seed`` (see the module docs)."""
    batch = as_batch(labelled_subset(rows, size, 10_000 + seed))
    warm_up = _judged(server, batch, 1)
    warm_up({k: v[:1] for k, v in batch.items()})  # the server's first call is slower
    warm_up.client.close()
    arms: list[Any] = ["sequential", *concurrency] + (["cache"] if cache else [])
    order = [arms[i] for i in np.random.default_rng(seed).permutation(len(arms))]
    found: dict[str, Any] = {"judge": {}}
    verdicts: list[Any] = []
    for arm in order:
        if arm == "sequential":
            found["sequential"] = _sequential(server, _judged(server, batch, 1), batch)
        elif arm == "cache":
            found["cache"] = _cache(server, batch)
        else:
            judge = _judged(server, batch, int(arm))
            found["judge"][str(arm)], out = _timed_batch(judge, batch)
            verdicts.append(out.total)
            judge.client.close()
    stacked = np.nan_to_num(np.array(verdicts), nan=-1.0)
    found["same_verdicts"] = float(np.mean(np.all(stacked == stacked[0], axis=0)))
    base = found["sequential"]["per_s"]
    for figures in found["judge"].values():
        figures["ratio"] = figures["per_s"] / base if base else float("nan")
    return {"kind": "speed", "mode": mode, "seed": seed, "batch": len(batch["prompt"]),
            "order": [str(a) for a in order], **found}  # fmt: skip
