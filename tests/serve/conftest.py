"""Terms with known behaviour, and a live server on an ephemeral loopback port."""

import contextlib
import threading
import time

import numpy as np
import pytest

from rewardkit.core import term
from rewardkit.core.output import RewardOutput
from rewardkit.core.term import RewardTerm


@contextlib.contextmanager
def live_server(app):
    """``app`` served by uvicorn in a thread on 127.0.0.1:<free port>; yields its base URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture()
def length_term():
    return term(lambda completion: [float(len(c)) for c in completion], name="length")


class Slow(RewardTerm):
    """A term that sleeps ``seconds`` for each completion containing "slow", raises for
    "boom", returns NaN (not applicable) for "", and counts its calls."""

    def __init__(self, seconds: float) -> None:
        super().__init__("slow")
        self.seconds, self.calls = seconds, 0

    def _compute(self, batch):
        self.calls += 1
        texts = list(batch["completion"])
        if any("boom" in t for t in texts):
            raise RuntimeError("boom")
        if any("slow" in t for t in texts):
            time.sleep(self.seconds)
        total = np.array([float(len(t)) if t else np.nan for t in texts])
        return RewardOutput(total, {"slow": total.copy()})


@pytest.fixture()
def slow_term():
    return Slow(0.6)
