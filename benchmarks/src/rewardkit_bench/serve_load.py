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
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from rewardkit_bench.runner import RunFolder, Suite, drive, environment
from rewardkit_bench.serve_load_client import BATCHES, CLIENTS, LoadSettings, run_load
from rewardkit_bench.serve_load_faults import FAULTS, run_fault
from rewardkit_bench.serve_load_report import render, summarize
from rewardkit_bench.serve_load_server import SPECS

__all__ = [
    "BATCHES",
    "CLIENTS",
    "FAULTS",
    "SPECS",
    "LoadSettings",
    "ServeLoad",
    "main",
    "run_fault",
    "run_load",
]


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
        return summarize(results)

    def report(self, results: dict[str, Any], plots: list[str]) -> str:
        return render(results)

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        return []


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench serve-load``: see the module docs."""
    return drive(ServeLoad(), argv)
