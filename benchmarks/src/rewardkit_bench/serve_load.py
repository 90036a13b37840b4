"""The ``serve-load`` suite: ``rewardkit serve`` under load and under faults, on loopback.

Each workload starts the server as its own process (``python -m rewardkit
serve SPEC`` on 127.0.0.1, a bearer token, a free port), loads it with an
asyncio client (aiohttp) for a fixed time or request count, whichever ends
first, and stops it. The load generator targets only 127.0.0.1 and stops by
itself. Per workload: requests/s and completions/s, p50/p99/max latency,
answers by HTTP code and samples by status, and **lost** requests (sent and
not answered: must be 0). The same spec called in-process on the same batch
gives the server's overhead as a ratio, in the same run.

Workloads: a cheap spec (``think_answer_format`` + ``length_linear``) and the
math verifier (``math_correct``), at 1, 4 and 16 concurrent clients, batch
sizes 1 and 64. Fault runs:

- ``worker_killed``: a math verifier worker process is SIGKILLed mid-batch;
- ``past_deadline``: a term that sleeps past the request's deadline;
- ``bad_requests``: malformed JSON, an oversized body, a batch over the limit,
  a string over the limit, a bad field, a missing and a wrong token, and a
  request beyond ``max_in_flight``, each checked for its status code;
- ``sigterm``: SIGTERM under load; requests in flight must all be answered;
- ``ray_overhead``: the specs scored in process, on a local pool of 2 processes
  and on 2 Ray actors (a local Ray instance), outputs compared: Ray's overhead.

Run: ``rewardkit bench serve-load`` (``--quick``: 1 s per workload).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit_bench.runner import RunFolder, Suite, drive, environment, markdown_table

__all__ = ["LoadSettings", "ServeLoad", "main", "run_load"]

CHEAP_SPEC = """name = "cheap"
[[sum]]
term = "think_answer_format"
[[sum]]
term = "length_linear"
max_length = 512
"""
MATH_SPEC = """name = "math"
term = "math_correct"
timeout = 5.0
"""
SPECS = {"cheap": CHEAP_SPEC, "math": MATH_SPEC}
COMPLETIONS = {
    "cheap": ("<think>2 + 2 is 4</think><answer>4</answer>", None),
    "math": (r"<think>2 + 2</think> The answer is $\boxed{\frac{8}{2}}$.", "4"),
}
CLIENTS = (1, 4, 16)
BATCHES = (1, 64)
FAULTS = ("worker_killed", "past_deadline", "bad_requests", "sigterm", "ray_overhead")
#: a served term that sleeps this long per request (the past_deadline fault)
SLOW_SECONDS = 2.0

#: the serve targets of the issue, on 2 cores
TARGET_REQUESTS_PER_S = 1000.0
TARGET_P99_MS = 50.0
TARGET_COMPLETIONS_PER_S = 5000.0

_SLOW_SERVER = """
import sys, time
import uvicorn
from rewardkit.core import term
from rewardkit.serve import ServeSettings, create_app
slow = term(lambda completion: [time.sleep({seconds}) or 1.0 for _ in completion[:1]]
            + [1.0] * (len(completion) - 1), name="sleepy")
settings = ServeSettings(port=int(sys.argv[1]), token=sys.argv[2], deadline_s=0.5,
                         max_in_flight=2, max_body_bytes=4096, max_batch=8,
                         max_string_chars=100)
uvicorn.run(create_app(slow, settings), host="127.0.0.1", port=settings.port,
            log_level="error", timeout_graceful_shutdown=10)
"""


@dataclass(frozen=True)
class LoadSettings:
    """What a run of the suite depends on (the full run's defaults)."""

    seconds: float = 5.0
    max_requests: int = 100_000
    workers: int = 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Server:
    """A server process on 127.0.0.1: ``rewardkit serve SPEC``, or the slow-term script."""

    def __init__(self, spec: str | None, workers: int, extra: Sequence[str] = ()) -> None:
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.folder = tempfile.TemporaryDirectory(prefix="rewardkit-serve-load-")
        folder = Path(self.folder.name)
        if spec is None:
            script = folder / "slow_server.py"
            script.write_text(_SLOW_SERVER.replace("{seconds}", str(SLOW_SECONDS)))
            command = [sys.executable, str(script), str(self.port), self.token]
        else:
            (folder / "spec.toml").write_text(spec)
            (folder / "token").write_text(self.token)
            command = [sys.executable, "-m", "rewardkit", "serve", str(folder / "spec.toml"),
                       "--port", str(self.port), "--token-file", str(folder / "token"),
                       "--workers", str(workers), *extra]  # fmt: skip
        self.log = (folder / "server.log").open("w+")
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self.log)
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait()

    def _wait(self) -> None:
        import urllib.request

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start within 60 s")

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.seek(0)
        self.counts = _server_counts(self.log.read())
        self.log.close()
        self.folder.cleanup()
        return int(self.process.returncode)


def _server_counts(log: str) -> dict[str, int]:
    """The scoring requests the server says it received and answered (its last log line)."""
    import re

    found = re.findall(r"(\d+) scoring requests received, (\d+) answered", log)
    if not found:
        return {}
    received, answered = found[-1]
    return {"received": int(received), "answered": int(answered)}


def _batch(spec: str, size: int) -> dict[str, Any]:
    text, answer = COMPLETIONS[spec]
    batch: dict[str, Any] = {"completion": [text] * size}
    if answer is not None:
        batch["answer"] = [answer] * size
    return batch


async def _load(
    url: str, headers: dict[str, str], body: dict[str, Any], clients: int, seconds: float,
    max_requests: int,
) -> dict[str, Any]:  # fmt: skip
    """``clients`` loops posting ``body`` for ``seconds`` or ``max_requests`` in all."""
    import aiohttp

    payload = json.dumps(body)
    latencies: list[float] = []
    codes: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    sent = answered = 0
    end = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client() -> None:
            nonlocal sent, answered
            while time.perf_counter() < end and sent < max_requests:
                sent += 1
                start = time.perf_counter()
                try:
                    async with session.post(f"{url}/v1/score", data=payload,
                                            headers={**headers, "Content-Type": "application/json"}
                                            ) as response:  # fmt: skip
                        reply = await response.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    failures[type(exc).__name__] += 1
                    continue
                answered += 1
                codes[str(response.status)] += 1
                if response.status == 200:  # rates and latencies count scored answers only
                    latencies.append(time.perf_counter() - start)
                    statuses.update(json.loads(reply)["status"])

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    samples = len(next(iter(body["batch"].values())))
    ms = np.array(latencies) * 1e3 if latencies else np.array([np.nan])
    return {
        "sent": sent, "answered": answered, "lost": sent - answered, "seconds": elapsed,
        "requests_per_s": len(latencies) / elapsed,
        "completions_per_s": len(latencies) * samples / elapsed,
        "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()), "codes": dict(codes), "statuses": dict(statuses),
        "failures": dict(failures),
    }  # fmt: skip


def _in_process(spec: str, size: int, seconds: float) -> float:
    """Completions/s of the same spec called in this process on the same batch."""
    import tomllib

    from rewardkit.core.spec import build_reward

    term = build_reward(tomllib.loads(SPECS[spec]))
    batch = _batch(spec, size)
    term(batch)  # warm (the math verifier starts its pool)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        term(batch)
        count += size
    return count / (time.perf_counter() - start)


def run_load(unit: tuple[LoadSettings, str, int, int]) -> dict[str, Any]:
    """One workload: ``spec`` at ``clients`` concurrent clients and batch ``size``."""
    settings, spec, clients, size = unit
    server = _Server(SPECS[spec], settings.workers)
    try:
        warm = asyncio.run(_load(server.url, server.headers(), {"batch": _batch(spec, size)},
                                 1, 0.5, 50))  # fmt: skip
        figures = asyncio.run(_load(server.url, server.headers(), {"batch": _batch(spec, size)},
                                    clients, settings.seconds, settings.max_requests))  # fmt: skip
    finally:
        code = server.stop()
    local = _in_process(spec, size, min(settings.seconds, 2.0))
    return {"kind": "load", "spec": spec, "clients": clients, "batch": size, **figures,
            "warm_lost": warm["lost"], "exit_code": code, "in_process_completions_per_s": local,
            "overhead": local / max(figures["completions_per_s"], 1e-9)}  # fmt: skip


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

    server = _Server(SPECS["math"], settings.workers)
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

    server = _Server(None, settings.workers)
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

    server = _Server(None, settings.workers)
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
    server = _Server(SPECS["cheap"], settings.workers)
    body = {"batch": _batch("cheap", 64)}
    load = asyncio.ensure_future(_load(server.url, server.headers(), body, 16, 4.0, 10**9))
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
            batch = _distinct_math_batch(size, 0) if spec == "math" else _batch(spec, size)
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


class ServeLoad(Suite):
    """The serve-load suite (see the module docs)."""

    name = "serve-load"
    description = __doc__
    quick_help = "1 s per workload"
    options = ("rerender",)

    def settings(self, args: argparse.Namespace) -> LoadSettings:
        return LoadSettings(seconds=1.0) if args.quick else LoadSettings()

    def command(self, args: argparse.Namespace) -> str:
        return "rewardkit bench serve-load" + (" --quick" if args.quick else "")

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        if runs:
            return []
        settings = self.settings(args)
        loads = [(settings, spec, c, b) for spec in SPECS for b in BATCHES for c in CLIENTS]
        return [*loads, *((settings, fault) for fault in FAULTS)]

    def run_unit(self, unit: Any) -> dict[str, Any]:
        return run_load(unit) if len(unit) == 4 else run_fault(unit)

    def describe(self, run: dict[str, Any]) -> str:
        if run["kind"] == "load":
            return (f"{run['spec']} x{run['clients']} batch {run['batch']}: "
                    f"{run['requests_per_s']:.0f} req/s, p99 {run['p99_ms']:.1f} ms, "
                    f"lost {run['lost']}")  # fmt: skip
        return f"fault {run['fault']}: {'passed' if run['passed'] else 'FAILED'}"

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"settings": asdict(self.settings(args)), "environment": environment(),
                "runs": runs}  # fmt: skip

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        loads = [r for r in results["runs"] if r["kind"] == "load"]
        faults = {r["fault"]: r for r in results["runs"] if r["kind"] == "fault"}

        def find(spec: str, clients: int, batch: int) -> dict[str, Any]:
            key = (spec, clients, batch)
            return next(r for r in loads if (r["spec"], r["clients"], r["batch"]) == key)

        single, batched = find("cheap", 16, 1), find("cheap", 16, 64)
        lost = sum(r["lost"] for r in results["runs"])
        claims = {
            f"≥ {TARGET_REQUESTS_PER_S:.0f} requests/s at batch 1, p99 < {TARGET_P99_MS:.0f} ms "
            "with 16 clients (cheap spec)": {
                "met": single["requests_per_s"] >= TARGET_REQUESTS_PER_S
                and single["p99_ms"] < TARGET_P99_MS,
                "detail": f"{single['requests_per_s']:.0f} requests/s, p99 "
                f"{single['p99_ms']:.1f} ms"},
            f"≥ {TARGET_COMPLETIONS_PER_S:.0f} completions/s at batch 64 (cheap spec)": {
                "met": batched["completions_per_s"] >= TARGET_COMPLETIONS_PER_S,
                "detail": f"{batched['completions_per_s']:.0f} completions/s (16 clients)"},
            "0 lost in every run, fault runs included": {
                "met": lost == 0, "detail": f"{lost} lost in all"},
            "every auth and limit case answered with the right status code": {
                "met": bool(faults.get("bad_requests", {}).get("passed")),
                "detail": ", ".join(f"{k}: {v['got']}" for k, v in
                                    faults.get("bad_requests", {}).get("cases", {}).items())},
            "a killed verifier worker costs no request (scored or error/timeout, never lost)": {
                "met": bool(faults.get("worker_killed", {}).get("passed")),
                "detail": str(faults.get("worker_killed", {}).get("statuses"))},
            "samples past the deadline come back as timeout, never a score": {
                "met": bool(faults.get("past_deadline", {}).get("passed")),
                "detail": str(faults.get("past_deadline", {}).get("statuses"))},
            "Ray pool: the same outputs as in process and on a local process pool": {
                "met": bool(faults.get("ray_overhead", {}).get("passed")),
                "detail": "; ".join(
                    f"{spec}: in process {f['in_process']:.0f}, local pool of 2 "
                    f"{f['local_pool']:.0f}, 2 Ray actors {f['ray']:.0f} completions/s (local "
                    f"pool / Ray {f['ray_vs_local_pool']:.2f}x)"
                    for spec, f in faults.get("ray_overhead", {}).get("figures", {}).items())},
            "SIGTERM under load: requests in flight are answered": {
                "met": bool(faults.get("sigterm", {}).get("passed")),
                "detail": f"answered {faults.get('sigterm', {}).get('answered')}, refused after "
                f"shutdown {faults.get('sigterm', {}).get('refused')}, lost "
                f"{faults.get('sigterm', {}).get('lost')}"},
        }  # fmt: skip
        return {"claims": claims, "lost": lost}

    def report(self, results: dict[str, Any], plots: list[str]) -> str:
        lines = ["# serve-load", "",
                 f"Regenerate: `{results['command']}` ({results.get('seconds', 0) / 60:.1f} min)",
                 "", "The server and the load generator share this machine's CPUs "
                 f"({os.cpu_count()}); one server process, "
                 f"{results['settings']['workers']} scoring thread(s), "
                 f"{results['settings']['seconds']:g} s per workload.", ""]  # fmt: skip
        header = ["spec", "clients", "batch", "requests/s", "completions/s", "p50 ms", "p99 ms",
                  "max ms", "lost", "codes", "in-process completions/s", "overhead"]  # fmt: skip
        rows = [[r["spec"], str(r["clients"]), str(r["batch"]), f"{r['requests_per_s']:.0f}",
                 f"{r['completions_per_s']:.0f}", f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}",
                 f"{r['max_ms']:.1f}", str(r["lost"]), json.dumps(r["codes"]),
                 f"{r['in_process_completions_per_s']:.0f}", f"{r['overhead']:.1f}x"]
                for r in results["runs"] if r["kind"] == "load"]  # fmt: skip
        lines += [markdown_table(header, rows), "", "## Faults", ""]
        for run in (r for r in results["runs"] if r["kind"] == "fault"):
            shown = {k: v for k, v in run.items() if k not in ("kind", "fault", "passed")}
            lines.append(f"- `{run['fault']}`: {'passed' if run['passed'] else '**FAILED**'} "
                         f"({json.dumps(shown, default=str)})")  # fmt: skip
        lines += ["", "## Claims", ""]
        lines += [f"- {name}: {'**met**' if c['met'] else '**missed**'} ({c['detail']})"
                  for name, c in results["claims"].items()]  # fmt: skip
        return "\n".join(lines) + "\n"

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        return []


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench serve-load``: see the module docs."""
    return drive(ServeLoad(), argv)
