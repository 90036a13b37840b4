"""The server side of ``rewardkit bench serve-load``: the specs it serves, the requests' batches,
and a server process on 127.0.0.1 (``rewardkit serve SPEC``, or a script serving a slow term)."""

from __future__ import annotations

import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "CHEAP_SPEC",
    "COMPLETIONS",
    "MATH_SPEC",
    "SLOW_SECONDS",
    "SPECS",
    "Server",
    "free_port",
    "request_batch",
]

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

#: a served term that sleeps this long per request (the past_deadline fault)
SLOW_SECONDS = 2.0

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


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """A server process on 127.0.0.1: ``rewardkit serve SPEC``, or the slow-term script."""

    def __init__(self, spec: str | None, workers: int, extra: Sequence[str] = ()) -> None:
        self.port, self.token = free_port(), secrets.token_hex(16)
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
    found = re.findall(r"(\d+) scoring requests received, (\d+) answered", log)
    if not found:
        return {}
    received, answered = found[-1]
    return {"received": int(received), "answered": int(answered)}


def request_batch(spec: str, size: int) -> dict[str, Any]:
    text, answer = COMPLETIONS[spec]
    batch: dict[str, Any] = {"completion": [text] * size}
    if answer is not None:
        batch["answer"] = [answer] * size
    return batch
