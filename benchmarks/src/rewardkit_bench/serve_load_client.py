"""The load side of ``rewardkit bench serve-load``: an asyncio client posting a batch from
concurrent loops, a workload against a server process, and the same spec called in process."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit_bench.serve_load_server import SPECS, Server, request_batch

__all__ = ["BATCHES", "CLIENTS", "LoadSettings", "load_server", "run_load"]

CLIENTS = (1, 4, 16)
BATCHES = (1, 64)


@dataclass(frozen=True)
class LoadSettings:
    """What a run of the suite depends on (the full run's defaults)."""

    seconds: float = 5.0
    max_requests: int = 100_000
    workers: int = 1


async def load_server(
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
    batch = request_batch(spec, size)
    term(batch)  # warm (the math verifier starts its pool)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        term(batch)
        count += size
    return count / (time.perf_counter() - start)


def run_load(unit: tuple[LoadSettings, str, int, int]) -> dict[str, Any]:
    """One workload: ``spec`` at ``clients`` concurrent clients and batch ``size``."""
    settings, spec, clients, size = unit
    server = Server(SPECS[spec], settings.workers)
    body = {"batch": request_batch(spec, size)}
    try:
        warm = asyncio.run(load_server(server.url, server.headers(), body, 1, 0.5, 50))
        figures = asyncio.run(load_server(server.url, server.headers(), body, clients,
                                          settings.seconds, settings.max_requests))  # fmt: skip
    finally:
        code = server.stop()
    local = _in_process(spec, size, min(settings.seconds, 2.0))
    return {"kind": "load", "spec": spec, "clients": clients, "batch": size, **figures,
            "warm_lost": warm["lost"], "exit_code": code, "in_process_completions_per_s": local,
            "overhead": local / max(figures["completions_per_s"], 1e-9)}  # fmt: skip
