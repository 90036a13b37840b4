"""The fault runs of ``rewardkit bench serve-load``: a killed verifier worker, a term past its
deadline, bad requests, SIGTERM under load, and Ray's overhead against a local process pool."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit_bench.serve_load_client import LoadSettings, load_server
from rewardkit_bench.serve_load_server import SLOW_SECONDS, SPECS, Server, request_batch

__all__ = ["FAULTS", "run_fault"]

FAULTS = ("worker_killed", "past_deadline", "bad_requests", "sigterm", "ray_overhead")


def _math_workers(pid: int) -> list[int]:
    """The math verifier's worker processes among ``pid``'s children (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[1]) == pid and b"_math_worker" in command:
                found.append(int(entry.name))
    return found


def _distinct_math_batch(size: int, offset: int) -> dict[str, Any]:
    """``size`` answers that each need a symbolic comparison (k·4 / k against 4)."""
    ks = range(offset + 2, offset + 2 + size)
    return {"completion": [rf"The answer is $\boxed{{\frac{{{4 * k}}}{{{k}}}}}$." for k in ks],
            "answer": ["4"] * size}  # fmt: skip


async def _worker_killed(settings: LoadSettings) -> dict[str, Any]:
    """A math worker is SIGKILLed while the server scores a batch of 512 distinct answers;
    the request is answered (scored, or error/timeout for the killed worker's jobs), and the
    pool serves the requests after it."""
    import aiohttp

    server = Server(SPECS["math"], settings.workers)
    typed = {"Content-Type": "application/json"}
    url = f"{server.url}/v1/score"

    lost = 0

    async def post(session: Any, batch: dict[str, Any]) -> tuple[int, list[str]]:
        nonlocal lost
        try:
            async with session.post(url, data=json.dumps({"batch": batch}),
                                    headers=typed) as reply:  # fmt: skip
                return reply.status, (await reply.json()).get("status", [])
        except (aiohttp.ClientError, TimeoutError):
            lost += 1
            return 0, []

    try:
        async with aiohttp.ClientSession(headers=server.headers()) as session:
            await post(session, _distinct_math_batch(8, 10_000))  # the pool is up
            workers = _math_workers(server.process.pid)
            request = asyncio.ensure_future(post(session, _distinct_math_batch(512, 0)))
            await asyncio.sleep(0.2)
            killed = workers[0] if workers else None
            if killed is not None:
                os.kill(killed, signal.SIGKILL)
            code, statuses = await request
            after = [await post(session, _distinct_math_batch(64, 1000 * i)) for i in (1, 2)]
    finally:
        exit_code = server.stop()
    counts = Counter(statuses)
    answered = code == 200 and len(statuses) == 512 and set(counts) <= {"ok", "error", "timeout"}
    recovered = after[-1][0] == 200 and set(after[-1][1]) == {"ok"}
    return {"kind": "fault", "fault": "worker_killed", "workers": len(workers),
            "killed_pid": killed, "code": code, "statuses": dict(counts), "lost": lost,
            "after_statuses": [dict(Counter(a[1])) for a in after], "exit_code": exit_code,
            "passed": killed is not None and answered and recovered and lost == 0}  # fmt: skip


async def _past_deadline(settings: LoadSettings) -> dict[str, Any]:
    """A term that sleeps 2 s under a 0.5 s deadline: its samples are timeouts, not scores."""
    import aiohttp

    server = Server(None, settings.workers)
    status, reply, lost = 0, {"status": [], "total": []}, 0
    try:
        async with aiohttp.ClientSession(headers=server.headers()) as session:
            start = time.perf_counter()
            two = {"batch": {"completion": ["a", "b"]}}
            try:
                async with session.post(f"{server.url}/v1/score", json=two) as response:
                    status, reply = response.status, await response.json()
            except (aiohttp.ClientError, TimeoutError):
                lost = 1
            seconds = time.perf_counter() - start
    finally:
        code = server.stop()
    return {"kind": "fault", "fault": "past_deadline", "code": status,
            "statuses": dict(Counter(reply["status"])), "totals": reply["total"],
            "seconds": seconds, "lost": lost, "exit_code": code,
            "passed": status == 200 and set(reply["status"]) == {"timeout"}
            and all(t is None for t in reply["total"]) and seconds < SLOW_SECONDS}  # fmt: skip


async def _bad_requests(settings: LoadSettings) -> dict[str, Any]:
    """Each malformed or unauthorized request gets its status code."""
    import aiohttp

    server = Server(None, settings.workers)
    url, auth = f"{server.url}/v1/score", server.headers()
    json_header = {"Content-Type": "application/json"}
    cases = {
        "malformed JSON": (b'{"batch": {', auth, 400),
        "oversized body": (json.dumps({"batch": {"completion": ["x" * 90] * 60}}).encode(),
                           auth, 413),
        "batch over max_batch": (json.dumps({"batch": {"completion": ["x"] * 9}}).encode(),
                                 auth, 413),
        "string over max_string_chars": (
            json.dumps({"batch": {"completion": ["x" * 101]}}).encode(), auth, 422),
        "bad field": (json.dumps({"batch": {"completion": "x"}}).encode(), auth, 422),
        "missing token": (json.dumps({"batch": {"completion": ["x"]}}).encode(), {}, 401),
        "wrong token": (json.dumps({"batch": {"completion": ["x"]}}).encode(),
                        {"Authorization": "Bearer wrong"}, 403),
    }  # fmt: skip
    results: dict[str, Any] = {}
    lost = 0
    try:
        async with aiohttp.ClientSession() as session:
            for name, (data, headers, expected) in cases.items():
                try:
                    async with session.post(url, data=data,
                                            headers={**headers, **json_header}) as r:  # fmt: skip
                        detail = (await r.json()).get("detail", "")
                    results[name] = {"expected": expected, "got": r.status, "detail": str(detail)}
                except (aiohttp.ClientError, TimeoutError) as exc:
                    lost += 1
                    results[name] = {"expected": expected, "got": None, "detail": repr(exc)}
            # max_in_flight = 2: two slow requests in flight, the third is refused
            body = json.dumps({"batch": {"completion": ["x"]}}).encode()
            slow = [asyncio.ensure_future(session.post(url, data=body,
                                                       headers={**auth, **json_header}))
                    for _ in range(2)]  # fmt: skip
            await asyncio.sleep(0.3)
            async with session.post(url, data=body, headers={**auth, **json_header}) as r:
                results["beyond max_in_flight"] = {
                    "expected": 429,
                    "got": r.status,
                    "retry_after": r.headers.get("Retry-After"),
                }
            answered = [await s for s in slow]
    finally:
        code = server.stop()
    return {"kind": "fault", "fault": "bad_requests", "cases": results, "lost": lost,
            "slow_answered": [r.status for r in answered], "exit_code": code,
            "passed": all(c["expected"] == c["got"] for c in results.values())}  # fmt: skip


async def _sigterm(settings: LoadSettings) -> dict[str, Any]:
    """SIGTERM while 16 clients load the cheap spec: every request in flight is answered;
    later connections are refused (not lost)."""
    server = Server(SPECS["cheap"], settings.workers)
    body = {"batch": request_batch("cheap", 64)}
    load = asyncio.ensure_future(load_server(server.url, server.headers(), body, 16, 4.0, 10**9))
    await asyncio.sleep(1.5)
    server.process.send_signal(signal.SIGTERM)
    figures = await load
    code = server.stop()
    refused = sum(v for k, v in figures["failures"].items() if "Connector" in k)
    # a request the server received and did not answer, or whose answer did not arrive;
    # one reset on a keep-alive connection the server was closing never reached it
    counts = server.counts
    lost = counts.get("received", figures["sent"]) - figures["answered"]
    drained = bool(counts) and counts["received"] == counts["answered"]
    return {"kind": "fault", "fault": "sigterm", **figures, "refused": refused, "lost": lost,
            "server": counts, "exit_code": code, "passed": drained and lost == 0}  # fmt: skip


_POOL_TERM: Any = None


def _set_pool_term(term: Any) -> None:
    global _POOL_TERM
    _POOL_TERM = term


def _score_chunk(chunk: dict[str, Any]) -> Any:
    return _POOL_TERM(chunk)


def _ray_overhead(settings: LoadSettings) -> dict[str, Any]:
    """Completions/s of each spec in this process, on a local pool of 2 processes and on 2
    Ray actors (a local instance with 2 CPUs), with the outputs compared."""
    import concurrent.futures
    import multiprocessing
    import tomllib

    from rewardkit.core.output import concat_outputs
    from rewardkit.core.spec import build_reward
    from rewardkit.distributed import RayScorer, ensure_ray

    ray = ensure_ray(num_cpus=2)
    figures: dict[str, Any] = {}
    identical = True
    try:
        for spec, size, chunk in (("cheap", 8192, 1024), ("math", 1024, 128)):
            term = build_reward(tomllib.loads(SPECS[spec]))
            batch = _distinct_math_batch(size, 0) if spec == "math" else request_batch(spec, size)
            chunks = [{k: v[i : i + chunk] for k, v in batch.items()}
                      for i in range(0, size, chunk)]  # fmt: skip

            def timed(score: Any, size: int = size) -> tuple[float, Any]:
                score()  # warm: pools, actors and verifier workers up
                start, rounds = time.perf_counter(), 0
                while rounds < 2 or time.perf_counter() - start < min(settings.seconds, 3.0):
                    out = score()
                    rounds += 1
                return rounds * size / (time.perf_counter() - start), out

            local_rate, local = timed(lambda term=term, batch=batch: term(batch))
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(
                2, mp_context=context, initializer=_set_pool_term, initargs=(term,)
            ) as pool:
                pool_rate, pooled = timed(
                    lambda pool=pool, chunks=chunks: concat_outputs(
                        list(pool.map(_score_chunk, chunks))
                    )
                )
            scorer = RayScorer(term, actors=2, chunk_size=chunk)
            ray_rate, remote = timed(lambda scorer=scorer, batch=batch: scorer(batch))
            same = bool(np.array_equal(remote.total, local.total, equal_nan=True)
                        and np.array_equal(pooled.total, local.total, equal_nan=True)
                        and np.array_equal(remote.status, local.status))  # fmt: skip
            identical &= same
            figures[spec] = {
                "batch": size, "chunk": chunk, "in_process": local_rate, "local_pool": pool_rate,
                "ray": ray_rate, "ray_vs_local_pool": pool_rate / ray_rate, "identical": same,
            }  # fmt: skip
    finally:
        ray.shutdown()
    return {"kind": "fault", "fault": "ray_overhead", "figures": figures, "lost": 0,
            "passed": identical}  # fmt: skip


def run_fault(unit: tuple[LoadSettings, str]) -> dict[str, Any]:
    settings, fault = unit
    if fault == "ray_overhead":
        return _ray_overhead(settings)
    runner = {"worker_killed": _worker_killed, "past_deadline": _past_deadline,
              "bad_requests": _bad_requests, "sigterm": _sigterm}[fault]  # fmt: skip
    return asyncio.run(runner(settings))
