"""SandboxFusion's API for ``rewardkit bench code``: ``rewardkit serve --sandbox-fusion`` under
verl's request (``call_sandbox_api``'s body, reproduced: verl does not install beside the main
venv) from concurrent clients."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rewardkit_bench.reporting import latency_summary
from rewardkit_bench.serve_load_server import CHEAP_SPEC, free_port

__all__ = ["SF_CLIENTS", "SF_REQUESTS", "sandbox_fusion"]

SF_CLIENTS = 16
SF_REQUESTS = 25


def sandbox_fusion(clients: int, requests_each: int) -> dict[str, Any]:
    """``rewardkit serve --sandbox-fusion`` under verl's request from ``clients`` threads,
    ``requests_each`` requests per client: requests/s, p50/p99 latency and requests lost."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="rewardkit-bench-code-"))
    spec = folder / "spec.toml"  # any spec: the route under test is /run_code
    spec.write_text(CHEAP_SPEC)
    server = subprocess.Popen(
        [sys.executable, "-m", "rewardkit", "serve", str(spec), "--port", str(port),
         "--sandbox-fusion", "--max-in-flight", "256"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        if not _healthy(url, server):
            return {"error": "the server did not start"}
        for index in range(4):  # warm the workers
            _run_code(url, index)
        start = time.monotonic()
        with ThreadPoolExecutor(clients) as pool:
            results = list(
                pool.map(lambda index: _run_code(url, index), range(clients * requests_each))
            )
        seconds = time.monotonic() - start
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(folder, ignore_errors=True)
    latencies = sorted(t for _, t in results)
    return {
        "clients": clients,
        "requests": len(results),
        "lost": sum(not ok for ok, _ in results),
        "per_second": len(results) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": latency_summary(latencies)["p99_ms"],
    }


def _healthy(url: str, server: subprocess.Popen[bytes]) -> bool:
    """Whether the server answers ``/healthz`` within 60 s (False once it has exited)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            return True
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                return False
            time.sleep(0.2)


def _run_code(url: str, index: int) -> tuple[bool, float]:
    """One ``/run_code`` request squaring ``index % 97``: (right stdout, seconds)."""
    n = index % 97
    body = json.dumps(
        {
            "compile_timeout": 10,
            "run_timeout": 10,
            "code": "n = int(input())\nprint(n * n)\n",
            "stdin": f"{n}\n",
            "memory_limit_MB": 1024,
            "language": "python",
            "files": {},
            "fetch_files": [],
        }
    ).encode()
    request = urllib.request.Request(
        url + "/run_code",
        data=body,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    except (OSError, urllib.error.HTTPError, ValueError):
        return False, time.monotonic() - start
    ok = answer.get("status") == "Success" and answer["run_result"]["stdout"] == f"{n * n}\n"
    return ok, time.monotonic() - start
