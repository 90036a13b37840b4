"""The claims and the markdown report of ``rewardkit bench serve-load``, from its results.json."""

from __future__ import annotations

import json
import os
from typing import Any

from rewardkit_bench.reporting import markdown_table

__all__ = [
    "TARGET_COMPLETIONS_PER_S",
    "TARGET_P99_MS",
    "TARGET_REQUESTS_PER_S",
    "render",
    "summarize",
]

#: the serve targets of the issue, on 2 cores
TARGET_REQUESTS_PER_S = 1000.0
TARGET_P99_MS = 50.0
TARGET_COMPLETIONS_PER_S = 5000.0


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """The claims of the issue, met or missed, and the requests lost in all."""
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


def render(results: dict[str, Any]) -> str:
    """The markdown report of ``results``."""
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
