"""Terms with known behaviour, and a live server on an ephemeral loopback port."""

import time

import numpy as np
import pytest

from rewardkit.core import term
from rewardkit.core.output import RewardOutput
from rewardkit.core.term import RewardTerm
from rewardkit.serve.background import app_in_thread

#: any ASGI app on 127.0.0.1:<free port>, in a thread; yields its base URL
live_server = app_in_thread


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
